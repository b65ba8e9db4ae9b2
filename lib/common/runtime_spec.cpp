// ocikit::runtime_spec: image config -> runtime config.json (see the header).
#include "common/runtime_spec.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string_view>

#include "common/caps.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/seccomp.hpp"
#include "common/users.hpp"

namespace ocikit::runtime_spec {

using oj = nlohmann::ordered_json;

namespace {

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr const char* kStopSignalAnnotation = "org.opencontainers.image.stopSignal";

oj mount_entry(const char* dest, const char* type, const char* src, oj opts) {
  return oj{{"destination", dest}, {"type", type}, {"source", src}, {"options", std::move(opts)}};
}


// ---- capabilities ----

std::string cap_name(const std::string& in) {
  int n = caps::number(in);
  if (n < 0) fail(Errc::usage, "unknown capability \"" + in + "\"");
  return caps::name(n);
}

bool is_all(const std::string& s) {
  std::string u = s;
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u == "ALL" || u == "CAP_ALL";
}

// Every named capability the running kernel knows.
std::vector<std::string> all_caps() {
  std::vector<std::string> out;
  int last = caps::last_cap();
  for (int c = 0; c <= last; c++) {
    std::string n = caps::name(c);
    if (caps::number(n) == c && n != "CAP_" + std::to_string(c)) out.push_back(n);
  }
  return out;
}

std::vector<std::string> capability_set(const Options& opts) {
  if (opts.privileged) return all_caps();
  bool add_all = std::any_of(opts.cap_add.begin(), opts.cap_add.end(), is_all);
  bool drop_all = std::any_of(opts.cap_drop.begin(), opts.cap_drop.end(), is_all);
  std::vector<std::string> base = add_all ? all_caps() : drop_all ? std::vector<std::string>{} : caps::docker_default();
  std::set<std::string> drop;
  for (auto& c : opts.cap_drop)
    if (!is_all(c)) drop.insert(cap_name(c));
  std::vector<std::string> out;
  for (auto& c : base)
    if (!drop.count(c)) out.push_back(c);
  for (auto& c : opts.cap_add) {
    if (is_all(c)) continue;
    std::string n = cap_name(c);
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

// ---- the process ----

// docker's RLIMIT_NOFILE (1048576), lowered to this process's hard limit
// when that is smaller (as podman does): without CAP_SYS_RESOURCE a
// runtime could not raise it and would fail the container.
uint64_t nofile_limit() {
  constexpr uint64_t kWant = 1048576;
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max < kWant) return rl.rlim_max;
  return kWant;
}

std::vector<std::string> process_args(const image::ContainerConfig& c, const Options& opts) {
  std::vector<std::string> ep, cmd;
  if (opts.entrypoint && !opts.entrypoint->empty()) {
    // docker: a new entrypoint drops the image's Cmd.
    ep = *opts.entrypoint;
    cmd = opts.cmd;
  } else {
    if (!opts.entrypoint && c.entrypoint) ep = *c.entrypoint;
    cmd = !opts.cmd.empty() ? opts.cmd : c.cmd.value_or(std::vector<std::string>{});
  }
  ep.insert(ep.end(), cmd.begin(), cmd.end());
  if (ep.empty()) fail(Errc::usage, "no command specified");
  return ep;
}

std::string env_key(const std::string& kv) { return kv.substr(0, kv.find('=')); }

// Set `kv` in `env`, replacing an entry with the same key.
void set_env(std::vector<std::string>& env, const std::string& kv) {
  std::string key = env_key(kv);
  for (auto& e : env)
    if (env_key(e) == key) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

bool has_env(const std::vector<std::string>& env, const std::string& key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return env_key(e) == key; });
}

std::vector<std::string> process_env(const image::ContainerConfig& c, const Options& opts, const std::string& hostname,
                                     const users::User& user) {
  std::vector<std::string> env;
  if (!has_env(c.env, "PATH") && !has_env(opts.env, "PATH")) env.push_back(kDefaultPath);
  set_env(env, "HOSTNAME=" + hostname);
  for (auto& e : c.env) set_env(env, e);
  for (auto& e : opts.env) {
    if (e.find('=') != std::string::npos) {
      set_env(env, e);
    } else if (const char* v = std::getenv(e.c_str())) {
      set_env(env, e + "=" + v);  // docker: "-e KEY" passes the caller's value
    }
  }
  if (opts.terminal && !has_env(env, "TERM")) env.push_back("TERM=xterm");
  if (!has_env(env, "HOME")) env.push_back("HOME=" + user.home);
  return env;
}

std::string process_cwd(const image::ContainerConfig& c, const Options& opts) {
  std::string cwd = !opts.workdir.empty() ? opts.workdir : c.working_dir;
  if (cwd.empty()) return "/";
  // Image configs may carry a relative WorkingDir; the runtime spec needs an absolute cwd.
  return fs::clean_path(cwd.front() == '/' ? cwd : "/" + cwd);
}

oj seccomp_section(const Options& opts) {
  if (opts.seccomp.empty()) return oj(seccomp::default_profile(capability_set(opts)));
  return with_context("seccomp profile " + opts.seccomp, [&] {
    oj j = oj::parse(fs::read_file(opts.seccomp));
    if (!j.is_object()) fail(Errc::invalid, "not a JSON object");
    return j;
  });
}

// What the caller adds to the image's spec (Options: mounts .. init).
void apply_caller(oj& s, const Options& opts) {
  for (const auto& m : opts.mounts) s["mounts"].push_back(oj::parse(m.dump()));
  if (!opts.init.empty()) {
    s["mounts"].push_back(mount_entry("/dev/init", "bind", opts.init.c_str(), {"bind", "ro"}));
    oj args = {"/dev/init", "--"};
    for (const auto& a : s["process"]["args"]) args.push_back(a);
    s["process"]["args"] = args;
  }
  for (auto& [k, v] : opts.resources.items()) s["linux"]["resources"][k] = oj::parse(v.dump());
  auto& rl = s["process"]["rlimits"];
  for (const auto& l : opts.rlimits) {
    oj entry = {{"type", l.at("type")}, {"hard", l.at("hard")}, {"soft", l.at("soft")}};
    bool replaced = false;
    for (auto& e : rl)
      if (e.value("type", "") == entry["type"].get<std::string>()) {
        e = entry;
        replaced = true;
      }
    if (!replaced) rl.push_back(entry);
  }
  if (opts.network == "host") {
    oj kept = oj::array();
    for (const auto& n : s["linux"]["namespaces"])
      if (n.value("type", "") != "network") kept.push_back(n);
    s["linux"]["namespaces"] = kept;
  } else if (!opts.network.empty() && opts.network != "none") {
    std::vector<std::string> args = {"oci-net", "hook", "STAGE", "--network", opts.network};
    args.insert(args.end(), opts.net_args.begin(), opts.net_args.end());
    std::vector<std::string> env = {kDefaultPath};
    for (const char* name : {"OCIKIT_NET_DIR", "OCIKIT_EVENTS"})
      if (const char* d = std::getenv(name); d && *d) env.push_back(std::string(name) + "=" + d);
    for (std::string stage : {"createRuntime", "poststop"}) {
      args[2] = stage;
      s["hooks"][stage] = oj::array({{{"path", opts.net_tool}, {"args", args}, {"env", env}}});
    }
  }
}

}  // namespace

// ---- public ----

std::vector<std::string> docker_masked_paths() {
  return {"/proc/asound",
          "/proc/acpi",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap"};
}

std::vector<std::string> docker_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

nlohmann::ordered_json from_image(const image::ImageConfig& config, const std::string& rootfs,
                                  const std::string& root_path, const Options& opts) {
  const image::ContainerConfig& c = config.config;
  std::string hostname = opts.hostname.empty() ? "oci-run" : opts.hostname;
  auto args = process_args(c, opts);
  users::User user = users::resolve(rootfs, opts.user.empty() ? c.user : opts.user);

  oj s;
  s["ociVersion"] = "1.0.2";
  oj jus = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) jus["additionalGids"] = user.additional_gids;
  oj caps = capability_set(opts);
  oj proc;
  proc["terminal"] = opts.terminal;
  proc["user"] = jus;
  proc["args"] = args;
  proc["env"] = process_env(c, opts, hostname, user);
  proc["cwd"] = process_cwd(c, opts);
  proc["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  proc["rlimits"] = oj::array({{{"type", "RLIMIT_NOFILE"}, {"hard", nofile_limit()}, {"soft", nofile_limit()}}});
  proc["noNewPrivileges"] = opts.no_new_privileges;
  s["process"] = proc;
  s["root"] = {{"path", root_path}, {"readonly", opts.read_only}};
  s["hostname"] = hostname;

  const char* sys_mode = opts.privileged ? "rw" : "ro";
  oj mounts = oj::array();
  mounts.push_back(mount_entry("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(mount_entry("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(mount_entry("/dev/pts", "devpts", "devpts",
                               {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  mounts.push_back(mount_entry("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(mount_entry("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  mounts.push_back(mount_entry("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_mode}));
  mounts.push_back(
      mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", sys_mode}));
  s["mounts"] = mounts;

  std::map<std::string, std::string> ann = c.labels;
  if (!c.stop_signal.empty()) ann[kStopSignalAnnotation] = c.stop_signal;
  for (auto& [k, v] : opts.annotations) ann[k] = v;
  if (!ann.empty()) s["annotations"] = ann;

  oj linux;
  oj devices = oj::array();
  if (opts.privileged) {
    devices.push_back({{"allow", true}, {"access", "rwm"}});
  } else {
    // docker's default device cgroup rules: mknod anything, use only the standard devices.
    devices.push_back({{"allow", false}, {"access", "rwm"}});
    devices.push_back({{"allow", true}, {"type", "c"}, {"access", "m"}});
    devices.push_back({{"allow", true}, {"type", "b"}, {"access", "m"}});
    for (auto [maj, min] : {std::pair{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {10, 200}})
      devices.push_back({{"allow", true}, {"type", "c"}, {"major", maj}, {"minor", min}, {"access", "rwm"}});
    devices.push_back({{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  }
  linux["resources"] = {{"devices", devices}};
  oj ns = oj::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) ns.push_back({{"type", t}});
  linux["namespaces"] = ns;
  if (!opts.privileged) {
    linux["maskedPaths"] = docker_masked_paths();
    linux["readonlyPaths"] = docker_readonly_paths();
    if (opts.seccomp != "unconfined") linux["seccomp"] = seccomp_section(opts);
  }
  s["linux"] = linux;
  apply_caller(s, opts);
  return s;
}

nlohmann::ordered_json default_spec(bool rootless) {
  // runc's default capability set for `spec` (not docker's, which is wider).
  oj caps = oj::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  oj s;
  s["ociVersion"] = "1.2.0";
  s["process"] = {{"terminal", true},
                  {"user", {{"uid", 0}, {"gid", 0}}},
                  {"args", {"sh"}},
                  {"env", {kDefaultPath, "TERM=xterm"}},
                  {"cwd", "/"},
                  {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
                  {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
                  {"noNewPrivileges", true}};
  s["root"] = {{"path", "rootfs"}, {"readonly", true}};
  s["hostname"] = "oci-run";
  oj mounts = oj::array();
  mounts.push_back(mount_entry("/proc", "proc", "proc", oj::array()));
  mounts.push_back(mount_entry("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(mount_entry("/dev/pts", "devpts", "devpts",
                               rootless
                                   ? oj{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
                                   : oj{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  mounts.push_back(mount_entry("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(mount_entry("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  if (rootless)
    // rro: the host's cgroup v1 hierarchies under /sys/fs/cgroup come along with
    // the rbind and must be read-only too (CVE-2023-25809).
    mounts.push_back(mount_entry("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro", "rro"}));
  else mounts.push_back(mount_entry("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  if (!rootless)
    mounts.push_back(
        mount_entry("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  s["mounts"] = mounts;
  oj linux;
  if (rootless) {
    linux["uidMappings"] = {{{"containerID", 0}, {"hostID", ::getuid()}, {"size", 1}}};
    linux["gidMappings"] = {{{"containerID", 0}, {"hostID", ::getgid()}, {"size", 1}}};
  }
  if (!rootless) linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
  oj ns = oj::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) ns.push_back({{"type", t}});
  if (rootless) ns.push_back({{"type", "user"}});
  linux["namespaces"] = ns;
  linux["maskedPaths"] = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                          "/sys/firmware",       "/proc/scsi"};
  linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  s["linux"] = linux;
  return s;
}

}  // namespace ocikit::runtime_spec
