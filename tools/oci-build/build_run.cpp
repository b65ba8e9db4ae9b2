// oci-build: RUN (see builder.hpp). The command runs in an OCI runtime
// (`RUNTIME --root DIR run -b BUNDLE ID`) on an overlay of the stage's layer
// snapshots whose upper dir becomes the layer. RUN --mount adds bind mounts
// (context or a stage, read-only unless rw), cache dirs that persist in the
// build cache, tmpfs and secrets (bind-mounted files, never in a layer or a
// cache key). Mount points the runtime had to create in the image (a
// secret's /run/secrets, /proc in a scratch image) are removed from the
// upper dir afterwards when they are still empty.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <nlohmann/json.hpp>

#include "builder.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/caps.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/process.hpp"
#include "common/runtime_spec.hpp"
#include "common/seccomp.hpp"

namespace ocikit::build {

using nlohmann::json;

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

json bind_mount(const std::string& dst, const std::string& src, bool ro) {
  return {{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", {"rbind", ro ? "ro" : "rw"}}};
}

/// The path components of `dst` (absolute) that do not exist under `rootfs`
/// yet, outermost first: what the runtime will create as mount points.
std::vector<std::string> missing_components(const std::string& rootfs, const std::string& dst) {
  std::vector<std::string> out;
  std::string cur;
  size_t pos = 1;
  bool missing = false;
  while (pos <= dst.size()) {
    size_t slash = dst.find('/', pos);
    if (slash == std::string::npos) slash = dst.size();
    cur += "/" + dst.substr(pos, slash - pos);
    pos = slash + 1;
    struct stat st;
    if (!missing && ::lstat((rootfs + cur).c_str(), &st) != 0) missing = true;
    if (missing) out.push_back(cur);
  }
  return out;
}

/// Lock `path` (created when missing) with flock: without `wait`, an
/// invalid fd when someone else holds it.
fs::UniqueFd lock_file(const std::string& path, bool wait, const std::string& id) {
  fs::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw_errno("open " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return fd;
  if (errno != EWOULDBLOCK) throw_errno("flock " + path);
  if (!wait) return fs::UniqueFd();
  std::fprintf(stderr, "waiting for the cache mount \"%s\" (sharing=locked)\n", id.c_str());
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) throw_errno("flock " + path);
  return fd;
}

}  // namespace

int Builder::exec_runtime(const std::string& bundle, const std::string& id) {
  std::string state = tmp_ + "/runtime-state";
  fs::mkdir_p(state);
  // stdout may carry --output -: the runtime's goes to stderr.
  return process::run(
      {.argv = {o_.runtime, "--root", state, "run", "-b", bundle, id}, .in = process::kDevNull, .out = 2});
}

void Builder::run(const df::Instruction& e, StageState& s, size_t index) {
  auto ro = df::run_options(e);
  auto rc = df::run_command(e, s.shell);
  if (ro.network != "default" && ro.network != "none" && ro.network != "host")
    fail(Errc::invalid, "RUN --network=" + ro.network + ": expected default, none or host");
  // The host's network is the user's choice (--network host), never the
  // Dockerfile's alone (BuildKit's network.host entitlement).
  if (ro.network == "host" && o_.network != "host" && !o_.allow_network_host)
    fail(Errc::failure,
         "RUN --network=host: not allowed without the network.host entitlement (oci-build --allow network.host)");
  const std::string network = ro.network == "default" ? o_.network : ro.network;
  std::string cmd_text = rc.script ? "<<" + rc.script->name + "\n" + rc.script->content
                                   : (e.json_form ? json(rc.argv).dump() : join(rc.argv));
  std::string text = "RUN " + cmd_text;
  // The key: parent, args, command, the mount definitions and the content
  // they expose (bind sources); not secrets, cache dirs or tmpfs contents.
  std::string argstr;
  for (auto& [k, v] : s.args) argstr += k + "=" + v + " ";
  digest::Hasher mh(digest::Algorithm::sha256);
  for (auto& f : e.raw_flags) mh.update(f.data(), f.size());
  StageState img;
  for (auto& m : ro.mounts) {
    if (m.type != df::Mount::Type::bind) continue;
    if (!m.from.empty()) {
      std::string k = "from " + source_state(m.from, index, img).key;
      mh.update(k.data(), k.size());
    } else {
      std::string rel = fs::clean_path("/" + m.source).substr(1);
      hash_source(mh, context_, rel, false);
    }
  }
  std::string key = sha256_str(s.key + "\n" + argstr + "\n" + text + "\n" + mh.finish().str());
  std::string created_by = (s.args.empty() ? "" : "|" + std::to_string(s.args.size()) + " " + argstr) +
      (rc.script         ? text
           : e.json_form ? text
                         : join(rc.argv));
  if (cache_hit(s, key, created_by)) return;
  // A foreign platform runs through a qemu-user binfmt handler (registered
  // with the F flag, so it works inside the container's root too).
  check_runnable(s.platform);

  TempDir b(tmp_);
  std::string upper = b.path + "/upper", wk = b.path + "/work", rootfs = b.path + "/rootfs";
  fs::mkdir_p(upper);
  fs::mkdir_p(wk);
  const auto& c = s.config.config;
  std::vector<std::string> argv = rc.argv;
  // RUN's own mounts, after the standard ones runtime_spec gives every container.
  json mounts = json::array({
      bind_mount("/etc/hosts", b.path + "/hosts", true),
      bind_mount("/etc/resolv.conf", b.path + "/resolv.conf", true),
  });
  std::vector<std::string> env = c.env;
  bool has_path = false;
  for (auto& v : env) has_path |= v.rfind("PATH=", 0) == 0;
  if (!has_path) env.push_back(kDefaultPath);
  for (auto& [k, v] : s.args) {
    bool set = false;
    for (auto& x : env) set |= x.rfind(k + "=", 0) == 0;
    if (!set) env.push_back(k + "=" + v);
  }
  if (rc.script) {
    // BuildKit runs a #! heredoc as a file; /dev is a tmpfs, so its mount
    // point never reaches the layer.
    std::string file = b.path + "/heredoc-" + rc.script->name;
    fs::write_file_atomic(file, rc.script->content, 0755);
    std::string dst = "/dev/pipes/" + rc.script->name;
    mounts.push_back(bind_mount(dst, file, true));
    argv = {dst};
  }
  int code;
  std::vector<std::string> created;  // mount points the runtime is about to create in the image
  {
    std::vector<fs::UniqueFd> cache_locks;  // held until the runtime exits
    Mounts m;
    mount_state(s, rootfs, b.path, m, upper, wk);
    int n = 0;
    bool ssh_env = false;
    for (auto& mt : ro.mounts) {
      std::string target =
          mt.target.empty() && mt.type == df::Mount::Type::bind ? abs_in_workdir(s, ".") : abs_in_workdir(s, mt.target);
      std::string aux = b.path + "/mount-" + std::to_string(n++);
      switch (mt.type) {
        case df::Mount::Type::bind: {
          std::string src;
          if (!mt.from.empty()) {
            mount_state(source_state(mt.from, index, img), aux + "/root", aux, m);
            src = fs::secure_join(aux + "/root", mt.source.empty() ? "/" : mt.source);
          } else {
            src = context_view(mt.source.empty() ? "/" : mt.source, aux);
          }
          struct stat st;
          if (::stat(src.c_str(), &st) != 0) throw_errno("RUN --mount source " + (mt.source.empty() ? "/" : mt.source));
          if (!mt.readonly && S_ISDIR(st.st_mode)) {
            // Writes to a rw bind mount are thrown away, as BuildKit does: an overlay on it.
            std::string up = aux + "/rw-upper", w = aux + "/rw-work", tgt = aux + "/rw";
            for (auto& d : {up, w, tgt}) fs::mkdir_p(d);
            snapshot::mount_rootfs({src}, up, w, tgt);
            m.targets.push_back(tgt);
            src = tgt;
          } else if (!mt.readonly) {
            fs::mkdir_p(aux);
            fs::write_file_atomic(aux + "/file", fs::read_file(src), st.st_mode & 07777);
            src = aux + "/file";
          }
          mounts.push_back(bind_mount(target, src, mt.readonly));
          break;
        }
        case df::Mount::Type::cache: {
          // sharing=shared: used by any number of RUNs at once; locked: one
          // RUN at a time (flock on <dir>.lock, held until the RUN ends);
          // private: a RUN that finds the dir in use takes the next free
          // instance <dir>.1, <dir>.2, ... (created empty, kept).
          std::string id = mt.id.empty() ? target : mt.id;
          std::string base = cache_dir_ + "/mounts/" + digest::of(id).hex, dir = base;
          fs::mkdir_p(cache_dir_ + "/mounts");
          if (mt.sharing == "locked") {
            cache_locks.push_back(lock_file(base + ".lock", true, id));
          } else if (mt.sharing == "private") {
            for (int k = 0;; ++k) {
              std::string inst = k == 0 ? base : base + "." + std::to_string(k);
              if (auto fd = lock_file(inst + ".lock", false, id); fd.get() >= 0) {
                cache_locks.push_back(std::move(fd));
                dir = inst;
                break;
              }
            }
          }
          if (!fs::exists(dir)) {
            fs::mkdir_p(dir);
            ::chmod(dir.c_str(), mt.mode.value_or(0755));
            if (::chown(dir.c_str(), mt.uid.value_or(0), mt.gid.value_or(0)) != 0) throw_errno("chown " + dir);
          }
          mounts.push_back(bind_mount(target, dir, mt.readonly));
          break;
        }
        case df::Mount::Type::tmpfs: {
          json opts = {"nosuid", "nodev", "mode=1777"};
          if (mt.size) opts.push_back("size=" + std::to_string(*mt.size));
          mounts.push_back({{"destination", target}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", opts}});
          break;
        }
        case df::Mount::Type::secret: {
          std::string id = mt.id.empty() ? mt.target.substr(mt.target.rfind('/') + 1) : mt.id;
          auto it = o_.secrets.find(id);
          if (it == o_.secrets.end()) {
            if (mt.required)
              fail(Errc::not_found, "secret \"" + id + "\": not given (--secret id=" + id + ",src=FILE)");
            break;
          }
          if (!mt.env.empty()) env.push_back(mt.env + "=" + fs::read_file(it->second));
          if (mt.target.empty() && !mt.env.empty()) break;
          std::string dst = mt.target.empty() ? "/run/secrets/" + id : target;
          mounts.push_back(bind_mount(dst, it->second, true));
          break;
        }
        case df::Mount::Type::ssh: {
          // The agent socket itself is bound in (mode, uid and gid are not applied).
          auto it = o_.ssh.find(mt.id);
          if (it == o_.ssh.end()) {
            if (mt.required) fail(Errc::not_found, "ssh \"" + mt.id + "\": not given (--ssh " + mt.id + "[=SOCKET])");
            break;
          }
          mounts.push_back(bind_mount(target, it->second, false));
          if (!ssh_env) {
            ssh_env = true;
            std::erase_if(env, [](const std::string& v) { return v.rfind("SSH_AUTH_SOCK=", 0) == 0; });
            env.push_back("SSH_AUTH_SOCK=" + target);
          }
          break;
        }
      }
    }
    fs::write_file_atomic(b.path + "/hosts",
                          "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    std::string resolv;
    try {
      resolv = fs::read_file("/etc/resolv.conf");
    } catch (const Error&) {
    }
    // In its own network namespace the host's loopback resolvers are out of reach.
    if (network != "host") {
      std::vector<std::string> search, options;
      std::istringstream in(resolv);
      for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        std::string key;
        ls >> key;
        auto& to = key == "search" ? search : options;
        if (key == "search" || key == "options")
          for (std::string w; ls >> w;) to.push_back(w);
      }
      resolv = net::render_resolv(net::reachable_nameservers(resolv), search, options);
    }
    fs::write_file_atomic(b.path + "/resolv.conf", resolv);
    // What `oci-run run` gives a container (runtime_spec: the image's user,
    // groups and working dir, docker's capabilities, seccomp profile,
    // masked and read-only paths, namespaces), with RUN's command and
    // environment, BuildKit's host name and RUN's mounts.
    runtime_spec::Options so;
    so.entrypoint = std::vector<std::string>{};
    so.cmd = argv;
    so.env = env;
    so.hostname = "buildkitsandbox";
    for (auto& m : mounts) so.mounts.push_back(m);
    // Its own network namespace unless the host's was asked for; connected
    // to an oci-net network (NAT outbound) through the runtime's hooks
    // unless "none". The hooks leave hosts and resolv.conf to us.
    so.network = network == "default" ? "bridge" : network;
    if (so.network != "host" && so.network != "none") {
      static const std::string oci_net = cli::find_tool("oci-net", cli::self_dir(), "OCIKIT_NET", {"OCI_NET"});
      so.net_tool = oci_net;
      so.net_args = {"--no-etc"};
    }
    nlohmann::ordered_json spec = runtime_spec::from_image(s.config, rootfs, "rootfs", so);
    for (auto& mj : spec["mounts"]) {
      std::string dst = mj["destination"];
      if (dst == "/dev" || dst.rfind("/dev/", 0) == 0) continue;
      for (auto& p : missing_components(rootfs, dst)) created.push_back(p);
    }
    fs::write_file_atomic(b.path + "/config.json", spec.dump(2));
    std::string id = "okt-build-" + std::to_string(getpid()) + "-" + std::to_string(++runs_);
    code = exec_runtime(b.path, id);
  }
  // Remove the created mount points again, innermost first, where still empty.
  std::sort(created.begin(), created.end(), [](auto& x, auto& y) { return x.size() > y.size(); });
  for (auto& p : created) {
    std::string up = upper + p;
    struct stat st;
    if (::lstat(up.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) ::rmdir(up.c_str());
    else if (S_ISREG(st.st_mode) && st.st_size == 0) ::unlink(up.c_str());
  }
  if (code != 0) {
    // One line: a multi-line command (heredoc) is cut at its first newline.
    std::string shown = text.substr(0, text.find('\n'));
    if (shown.size() < text.size()) shown += " ...";
    fail(Errc::failure, shown + ": exit code " + std::to_string(code));
  }
  commit_layer(s, upper, key, created_by);
}

}  // namespace ocikit::build
