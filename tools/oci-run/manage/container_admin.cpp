// docker's container commands around a managed container's record and
// filesystem: rename, port, pause/unpause, diff, export.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/process.hpp"
#include "common/snapshot.hpp"
#include "container.hpp"
#include "manage/manage.hpp"
#include "manage/monitor.hpp"
#include "state.hpp"

namespace ocikit::manage {

namespace {

StateDir state_of(const Globals& g) { return StateDir(g.state_dir.empty() ? default_state_dir() : g.state_dir); }

std::string runtime_root_of(const Globals& g, const Record& r) {
  return r.runtime_root.empty() ? g.runtime_root : r.runtime_root;
}

// Write to `file` atomically (temp + rename), or to stdout when it is "":
// docker refuses a terminal there.
template <class F>
void write_output(const std::string& file, F&& fill) {
  if (file.empty()) {
    if (isatty(STDOUT_FILENO)) fail(Errc::usage, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
    fill(STDOUT_FILENO);
    return;
  }
  fs::AtomicFile out(file);
  fill(out.fd());
  out.commit();
}

// rename: the name follows onto the container's networks. The oci-net
// hooks in its bundle name it for its next start, and a running container
// is renamed on its networks now (`oci-net rename-endpoint`), so the others
// resolve the new name, as docker's embedded DNS does.
void rename_on_networks(const StateDir& st, const Record& r, const std::string& name) {
  std::string path = st.bundle_dir(r.id) + "/config.json";
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(fs::read_file(path));
  } catch (const std::exception&) {
    return;  // no bundle: nothing is networked
  }
  if (!cfg.contains("hooks") || !cfg["hooks"].is_object()) return;
  std::optional<process::Spec> call;
  for (auto& [stage, list] : cfg["hooks"].items()) {
    if (!list.is_array()) continue;
    for (auto& h : list) {
      auto& args = h["args"];
      if (!args.is_array() || args.size() < 2 || args[0] != "oci-net" || args[1] != "hook") continue;
      for (size_t i = 0; i + 1 < args.size(); i++)
        if (args[i] == "--name") args[i + 1] = name;
      if (!call) {
        call.emplace();
        call->argv = {h.value("path", ""), "rename-endpoint", r.id, name};
        if (h.contains("env") && h["env"].is_array()) call->env = h["env"].get<std::vector<std::string>>();
      }
    }
  }
  if (!call) return;
  fs::write_file_atomic(path, cfg.dump(2));
  if (live_status(r) != "running") return;
  auto out = process::capture(*call, true, true);
  if (out.status != 0) log::warn("rename: the networks still know the old name: " + out.err);
}

}  // namespace

// ---- rename ----

int container_rename(const Globals& g, const std::string& key, const std::string& new_name) {
  StateDir st = state_of(g);
  if (!valid_name(new_name))
    fail(Errc::usage, "invalid container name \"" + new_name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  Record r;
  std::string old;
  {
    auto lock = st.lock();
    r = st.load(st.find(key));
    old = r.name;
    if (old == new_name) fail(Errc::failure, "Renaming a container with the same name as its current name");
    for (const auto& o : st.list())
      if (o.name == new_name)
        fail(Errc::exists, "Conflict. The container name \"/" + new_name + "\" is already in use by container \"" +
                               o.id + "\". You have to remove (or rename) that container to be able to reuse that name.");
    r.name = new_name;
    st.save(r);
  }
  rename_on_networks(st, r, new_name);
  container_event(r, "rename", {{"oldName", "/" + old}});
  return 0;
}

// ---- port ----

int container_port(const Globals& g, const std::string& key, const std::string& private_port) {
  StateDir st = state_of(g);
  Record r = st.load(st.find(key));
  std::string want_port, want_proto = "tcp";
  if (!private_port.empty()) {
    auto slash = private_port.find('/');
    want_port = private_port.substr(0, slash);
    if (slash != std::string::npos) want_proto = private_port.substr(slash + 1);
    if (want_port.empty() || want_port.find_first_not_of("0123456789") != std::string::npos ||
        (want_proto != "tcp" && want_proto != "udp" && want_proto != "sctp"))
      fail(Errc::usage, "Error: invalid port (" + private_port + "): want PORT[/tcp|udp|sctp]");
    want_port = std::to_string(std::stoul(want_port));
  }
  // As docker: a container's ports are published while it runs.
  std::string live = live_status(r);
  std::vector<net::PortMapping> maps;
  if (live == "running" || live == "restarting") maps = live_ports(g, r);
  std::sort(maps.begin(), maps.end(), [](const net::PortMapping& a, const net::PortMapping& b) {
    return std::tie(a.container_port, a.proto, a.host_ip, a.host_port) <
           std::tie(b.container_port, b.proto, b.host_ip, b.host_port);
  });
  auto host_of = [](const net::PortMapping& m) {
    std::string ip = m.host_ip.empty() ? "0.0.0.0" : m.host_ip;
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    return ip + ":" + std::to_string(m.host_port);
  };
  bool found = false;
  for (const auto& m : maps) {
    std::string proto = m.proto.empty() ? "tcp" : m.proto;
    if (!private_port.empty()) {
      if (std::to_string(m.container_port) != want_port || proto != want_proto) continue;
      std::cout << host_of(m) << "\n";
    } else {
      std::cout << m.container_port << "/" << proto << " -> " << host_of(m) << "\n";
    }
    found = true;
  }
  if (!private_port.empty() && !found)
    fail(Errc::failure, "Error: No public port '" + want_port + "/" + want_proto + "' published for " + key);
  return 0;
}

// ---- pause, unpause ----

int container_pause(const Globals& g, const std::vector<std::string>& keys, bool pause) {
  StateDir st = state_of(g);
  int rc = 0;
  for (const auto& k : keys) {
    try {
      Record r = st.load(st.find(k));
      std::string live = live_status(r);
      if (live != "running") fail(Errc::failure, "Container " + r.id + " is not running");
      std::string root = runtime_root_of(g, r);
      std::string status = run::status_of(run::container_dir(root, r.id), run::load_state(root, r.id));
      if (pause && status == "paused") fail(Errc::failure, "Container " + r.id + " is already paused");
      if (!pause && status != "paused") fail(Errc::failure, "Container " + r.id + " is not paused");
      run::pause_container(root, r.id, pause);
      container_event(r, pause ? "pause" : "unpause");
      std::cout << k << "\n";
    } catch (const Error& e) {
      std::cerr << "oci-run: error: " << e.what() << "\n";
      rc = 1;
    }
  }
  return rc;
}

bool container_paused(const Globals& g, const Record& r) {
  try {
    std::string root = runtime_root_of(g, r);
    if (!fs::exists(run::container_dir(root, r.id) + "/state.json")) return false;
    return run::status_of(run::container_dir(root, r.id), run::load_state(root, r.id)) == "paused";
  } catch (const Error&) {
    return false;
  }
}

// ---- diff ----

namespace {

// What the image's layers (lowest first) hold at `rel`: nullopt when no
// layer has it (or the topmost that has it whites it out).
// Each parent of `rel` is checked to be a real directory in the layer (no
// symlink is ever followed: a layer's links point into the container, not
// the host); a parent that is not one hides the lower layers, as overlayfs.
std::optional<struct stat> lower_stat(const std::vector<std::string>& layers, const std::string& rel) {
  for (size_t i = layers.size(); i-- > 0;) {
    bool missing = false;
    for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
      struct stat d{};
      if (lstat((layers[i] + "/" + rel.substr(0, slash)).c_str(), &d) != 0) {
        missing = true;
        break;
      }
      if (!S_ISDIR(d.st_mode)) return std::nullopt;
    }
    if (missing) continue;
    struct stat s{};
    if (lstat((layers[i] + "/" + rel).c_str(), &s) != 0) continue;
    if (S_ISCHR(s.st_mode) && s.st_rdev == makedev(0, 0)) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

bool is_whiteout(const struct stat& s) { return S_ISCHR(s.st_mode) && s.st_rdev == makedev(0, 0); }

// What the runtime and mounts make in a container's rootfs, which docker
// keeps in its init layer and so never shows.
bool ignored(const std::string& p, const std::set<std::string>& mount_points) {
  static const std::set<std::string> kFiles = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv",
                                               "/etc/mtab", "/dev/init"};
  if (kFiles.count(p) || mount_points.count(p)) return true;
  for (const char* d : {"/dev", "/proc", "/sys"}) {
    std::string dir = d;
    if (p == dir || p.rfind(dir + "/", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int container_diff(const Globals& g, const std::string& key) {
  StateDir st = state_of(g);
  Record r = st.load(st.find(key));
  std::string upper = st.upper_dir(r.id);
  if (!fs::exists(upper)) fail(Errc::failure, "container " + r.id.substr(0, 12) + " has no filesystem changes dir");
  std::set<std::string> mount_points;
  for (const auto& m : r.mounts) mount_points.insert(fs::clean_path(m.destination));
  std::map<std::string, char> changes;  // path -> A, C, D
  std::vector<std::string> dirs_same;  // dirs of the image in upper whose own metadata did not change
  namespace sfs = std::filesystem;
  std::error_code ec;
  sfs::recursive_directory_iterator it(upper, sfs::directory_options::none, ec), end;
  if (ec) fail(Errc::io, "diff: read " + upper + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) fail(Errc::io, "diff: read " + upper + ": " + ec.message());
    std::string rel = sfs::relative(it->path(), upper).string();
    std::string p = "/" + rel;
    if (ignored(p, mount_points)) {
      if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
      continue;
    }
    struct stat s{};
    if (lstat(it->path().c_str(), &s) != 0) continue;
    auto low = lower_stat(r.layers, rel);
    if (is_whiteout(s)) {
      if (low) changes[p] = 'D';
      continue;
    }
    if (!low) {
      changes[p] = 'A';
      continue;
    }
    if (S_ISDIR(s.st_mode) && S_ISDIR(low->st_mode) && s.st_mode == low->st_mode && s.st_uid == low->st_uid &&
        s.st_gid == low->st_gid) {
      char opq[2] = {};
      if (getxattr(it->path().c_str(), "trusted.overlay.opaque", opq, 1) == 1 && opq[0] == 'y')
        changes[p] = 'C';
      else
        dirs_same.push_back(p);
      continue;
    }
    changes[p] = 'C';
  }
  // A directory of the image is changed when something in it is (docker).
  for (const auto& d : dirs_same) {
    auto at = changes.lower_bound(d + "/");
    if (at != changes.end() && at->first.rfind(d + "/", 0) == 0) changes[d] = 'C';
  }
  for (const auto& [p, c] : changes) std::cout << c << " " << p << "\n";
  return 0;
}

// ---- export ----

int container_export(const Globals& g, const std::string& key, const std::string& output) {
  StateDir st = state_of(g);
  Record r = st.load(st.find(key));
  if (output.empty() && isatty(STDOUT_FILENO))
    fail(Errc::usage, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  // A stopped container's rootfs is not mounted: mount a view of it (its
  // changes as the top lower layer, a scratch upper) for the time of the
  // export, so that a start meanwhile is not hurt.
  std::string view = st.rootfs_dir(r.id), scratch;
  std::string live = live_status(r);
  if (live != "running" && live != "restarting") {
    scratch = st.container_dir(r.id) + "/export-" + std::to_string(getpid());
    view = scratch + "/rootfs";
    for (const char* d : {"/rootfs", "/upper", "/work"}) fs::mkdir_p(scratch + d, 0700);
    auto lowers = r.layers;
    lowers.push_back(st.upper_dir(r.id));
    try {
      snapshot::mount_rootfs(lowers, scratch + "/upper", scratch + "/work", view);
    } catch (...) {
      fs::remove_all(scratch);
      throw;
    }
  }
  auto cleanup = [&] {
    if (scratch.empty()) return;
    try {
      snapshot::unmount_rootfs(view);
      fs::remove_all(scratch);
    } catch (const Error& e) {
      log::warn(e.what());
    }
  };
  try {
    fs::TempDir empty("ocikit-export");
    layer::DiffOptions o;
    o.compression = layer::Compression::none;
    write_output(output, [&](int fd) { layer::diff_trees(empty.path(), view, fd, o); });
  } catch (...) {
    cleanup();
    throw;
  }
  cleanup();
  container_event(r, "export");
  return 0;
}

}  // namespace ocikit::manage
