#include "spec.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::run {
namespace {

using json = nlohmann::json;

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  fail(Errc::invalid, "config.json: " + field + ": " + why);
}

std::vector<std::string> strings(const json& j, const std::string& field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) bad(field, "want an array of strings");
  for (auto& e : j) {
    if (!e.is_string()) bad(field, "want an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

struct MountOpt {
  const char* name;
  unsigned long flag;
  bool clear;  // the option turns `flag` off
};

constexpr MountOpt kMountOpts[] = {
    {"defaults", 0, false},      {"ro", MS_RDONLY, false},         {"rw", MS_RDONLY, true},
    {"suid", MS_NOSUID, true},   {"nosuid", MS_NOSUID, false},     {"dev", MS_NODEV, true},
    {"nodev", MS_NODEV, false},  {"exec", MS_NOEXEC, true},        {"noexec", MS_NOEXEC, false},
    {"sync", MS_SYNCHRONOUS, false}, {"async", MS_SYNCHRONOUS, true}, {"dirsync", MS_DIRSYNC, false},
    {"remount", MS_REMOUNT, false}, {"mand", MS_MANDLOCK, false},  {"nomand", MS_MANDLOCK, true},
    {"atime", MS_NOATIME, true}, {"noatime", MS_NOATIME, false},   {"diratime", MS_NODIRATIME, true},
    {"nodiratime", MS_NODIRATIME, false}, {"bind", MS_BIND, false}, {"rbind", MS_BIND | MS_REC, false},
    {"relatime", MS_RELATIME, false}, {"norelatime", MS_RELATIME, true},
    {"strictatime", MS_STRICTATIME, false}, {"nostrictatime", MS_STRICTATIME, true},
    {"silent", MS_SILENT, false}, {"loud", MS_SILENT, true},
};

struct PropOpt {
  const char* name;
  unsigned long flag;
};
constexpr PropOpt kPropOpts[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},     {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},       {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RlimitName {
  const char* name;
  int res;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},       {"RLIMIT_CORE", RLIMIT_CORE},     {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},   {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},  {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

std::string absolute_in(const std::string& base, const std::string& p) {
  if (!p.empty() && p[0] == '/') return fs::clean_path(p);
  return fs::clean_path(base + "/" + p);
}

std::vector<Hook> parse_hooks(const json& j, const std::string& field) {
  std::vector<Hook> out;
  if (j.is_null()) return out;
  if (!j.is_array()) bad(field, "want an array");
  for (size_t i = 0; i < j.size(); i++) {
    const json& h = j[i];
    std::string f = field + "[" + std::to_string(i) + "]";
    Hook hk;
    if (!h.contains("path") || !h["path"].is_string()) bad(f + ".path", "missing");
    hk.path = h["path"].get<std::string>();
    if (hk.path.empty() || hk.path[0] != '/') bad(f + ".path", "\"" + hk.path + "\" is not absolute");
    hk.args = strings(h.value("args", json()), f + ".args");
    hk.env = strings(h.value("env", json()), f + ".env");
    hk.timeout = h.value("timeout", 0);
    if (hk.timeout < 0) bad(f + ".timeout", "must be positive");
    out.push_back(std::move(hk));
  }
  return out;
}

std::vector<IdMap> parse_maps(const json& j, const std::string& field) {
  std::vector<IdMap> out;
  if (j.is_null()) return out;
  for (auto& e : j)
    out.push_back({e.at("containerID").get<uint32_t>(), e.at("hostID").get<uint32_t>(), e.at("size").get<uint32_t>()});
  if (out.size() > 340) bad(field, "too many mappings");
  return out;
}

}  // namespace

bool Mount::bind() const { return (flags & MS_BIND) != 0; }

const Namespace* Spec::find_namespace(int flag) const {
  for (auto& n : namespaces)
    if (n.flag == flag) return &n;
  return nullptr;
}

void parse_mount_options(const std::vector<std::string>& options, Mount& m) {
  for (auto& o : options) {
    bool done = false;
    for (auto& d : kMountOpts)
      if (o == d.name) {
        if (d.clear) {
          m.flags &= ~d.flag;
          m.clear |= d.flag;
        } else {
          m.flags |= d.flag;
          m.clear &= ~d.flag;
        }
        done = true;
      }
    for (auto& p : kPropOpts)
      if (o == p.name) {
        m.propagation.push_back(p.flag);
        done = true;
      }
    if (done) continue;
    if (o == "idmap" || o == "ridmap" || o == "tmpcopyup" || o.rfind("X-mount.", 0) == 0 || o == "rro" ||
        o == "rrw" || o == "rnosuid" || o == "rnodev" || o == "rnoexec" || o == "rnosymfollow")
      fail(Errc::invalid, "mount " + m.destination + ": option \"" + o + "\" is not supported by oci-run");
    if (!m.data.empty()) m.data += ",";
    m.data += o;
  }
}

int parse_rlimit_name(const std::string& name) {
  for (auto& r : kRlimits)
    if (name == r.name) return r.res;
  fail(Errc::invalid, "unknown rlimit type \"" + name + "\"");
}

int parse_namespace_type(const std::string& t) {
  if (t == "pid") return CLONE_NEWPID;
  if (t == "network") return CLONE_NEWNET;
  if (t == "mount") return CLONE_NEWNS;
  if (t == "ipc") return CLONE_NEWIPC;
  if (t == "uts") return CLONE_NEWUTS;
  if (t == "user") return CLONE_NEWUSER;
  if (t == "cgroup") return CLONE_NEWCGROUP;
  if (t == "time") return CLONE_NEWTIME;
  fail(Errc::invalid, "unknown namespace type \"" + t + "\"");
}

Process parse_process(const json& p) {
  Process pr;
  if (!p.is_object()) bad("process", "want an object");
  pr.terminal = p.value("terminal", false);
  if (p.contains("consoleSize")) {
    pr.console_height = p["consoleSize"].value("height", 0u);
    pr.console_width = p["consoleSize"].value("width", 0u);
  }
  if (p.contains("user")) {
    const json& u = p["user"];
    pr.uid = u.value("uid", 0u);
    pr.gid = u.value("gid", 0u);
    if (u.contains("umask") && !u["umask"].is_null()) pr.umask = u["umask"].get<mode_t>();
    if (u.contains("additionalGids") && !u["additionalGids"].is_null())
      pr.additional_gids = u["additionalGids"].get<std::vector<gid_t>>();
    if (u.contains("username") && !u["username"].get<std::string>().empty())
      bad("process.user.username", "is for Windows");
  }
  pr.args = strings(p.value("args", json()), "process.args");
  if (pr.args.empty()) bad("process.args", "must not be empty");
  pr.env = strings(p.value("env", json()), "process.env");
  pr.cwd = p.value("cwd", std::string("/"));
  if (pr.cwd.empty() || pr.cwd[0] != '/') bad("process.cwd", "\"" + pr.cwd + "\" is not absolute");
  if (p.contains("capabilities")) pr.capabilities = p["capabilities"];
  if (p.contains("rlimits") && !p["rlimits"].is_null())
    for (auto& r : p["rlimits"])
      pr.rlimits.push_back({parse_rlimit_name(r.at("type").get<std::string>()), r.at("soft").get<uint64_t>(),
                            r.at("hard").get<uint64_t>()});
  pr.no_new_privileges = p.value("noNewPrivileges", false);
  if (p.contains("oomScoreAdj") && !p["oomScoreAdj"].is_null()) pr.oom_score_adj = p["oomScoreAdj"].get<int>();
  pr.apparmor_profile = p.value("apparmorProfile", std::string());
  pr.selinux_label = p.value("selinuxLabel", std::string());
  pr.scheduler = p.value("scheduler", json());
  pr.io_priority = p.value("ioPriority", json());
  return pr;
}

Spec parse_spec(const std::string& text, const std::string& bundle) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string m = e.what();
    if (auto p = m.find("] "); p != std::string::npos) m = m.substr(p + 2);
    fail(Errc::invalid, "config.json: " + m);
  }
  return with_context("config.json", [&] {
    Spec s;
    if (!j.is_object()) fail(Errc::invalid, "want a JSON object");
    s.oci_version = j.value("ociVersion", std::string());
    if (!j.contains("root") || !j["root"].contains("path")) fail(Errc::invalid, "root.path: missing");
    s.root_path = absolute_in(bundle, j["root"]["path"].get<std::string>());
    s.root_readonly = j["root"].value("readonly", false);
    if (!j.contains("process")) fail(Errc::invalid, "process: missing");
    s.process = parse_process(j["process"]);
    s.hostname = j.value("hostname", std::string());
    s.domainname = j.value("domainname", std::string());
    if (j.contains("mounts") && !j["mounts"].is_null())
      for (auto& mj : j["mounts"]) {
        Mount m;
        m.destination = mj.at("destination").get<std::string>();
        if (m.destination.empty() || m.destination[0] != '/')
          fail(Errc::invalid, "mounts: destination \"" + m.destination + "\" is not absolute");
        m.destination = fs::clean_path(m.destination);
        m.type = mj.value("type", std::string());
        m.source = mj.value("source", std::string());
        parse_mount_options(strings(mj.value("options", json()), "mounts.options"), m);
        if (m.type == "bind") {
          m.type.clear();
          m.flags |= MS_BIND;
        }
        if (m.bind()) m.source = absolute_in(bundle, m.source);
        s.mounts.push_back(std::move(m));
      }
    if (j.contains("hooks") && j["hooks"].is_object()) {
      const json& h = j["hooks"];
      s.hooks.prestart = parse_hooks(h.value("prestart", json()), "hooks.prestart");
      s.hooks.create_runtime = parse_hooks(h.value("createRuntime", json()), "hooks.createRuntime");
      s.hooks.create_container = parse_hooks(h.value("createContainer", json()), "hooks.createContainer");
      s.hooks.start_container = parse_hooks(h.value("startContainer", json()), "hooks.startContainer");
      s.hooks.poststart = parse_hooks(h.value("poststart", json()), "hooks.poststart");
      s.hooks.poststop = parse_hooks(h.value("poststop", json()), "hooks.poststop");
    }
    if (j.contains("annotations") && j["annotations"].is_object())
      s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    if (!j.contains("linux")) return s;
    const json& l = j["linux"];
    if (l.contains("namespaces") && !l["namespaces"].is_null())
      for (auto& n : l["namespaces"]) {
        Namespace ns;
        ns.type = n.at("type").get<std::string>();
        ns.flag = parse_namespace_type(ns.type);
        ns.path = n.value("path", std::string());
        for (auto& o : s.namespaces)
          if (o.flag == ns.flag) fail(Errc::invalid, "linux.namespaces: \"" + ns.type + "\" listed twice");
        s.namespaces.push_back(std::move(ns));
      }
    s.uid_mappings = parse_maps(l.value("uidMappings", json()), "linux.uidMappings");
    s.gid_mappings = parse_maps(l.value("gidMappings", json()), "linux.gidMappings");
    if (l.contains("timeOffsets") && l["timeOffsets"].is_object())
      for (auto& [k, v] : l["timeOffsets"].items())
        s.time_offsets[k] = {v.value("secs", int64_t(0)), v.value("nanosecs", 0u)};
    if (l.contains("devices") && !l["devices"].is_null())
      for (auto& d : l["devices"]) {
        Device dv;
        dv.path = fs::clean_path(d.at("path").get<std::string>());
        std::string t = d.at("type").get<std::string>();
        if (t.size() != 1 || std::string("cbup").find(t[0]) == std::string::npos)
          fail(Errc::invalid, "linux.devices: " + dv.path + ": bad type \"" + t + "\"");
        dv.type = t[0];
        dv.major = d.value("major", int64_t(0));
        dv.minor = d.value("minor", int64_t(0));
        dv.mode = d.value("fileMode", 0666u);
        dv.uid = d.value("uid", 0u);
        dv.gid = d.value("gid", 0u);
        s.devices.push_back(std::move(dv));
      }
    s.cgroups_path = l.value("cgroupsPath", std::string());
    s.resources = l.value("resources", json());
    if (l.contains("rootfsPropagation")) {
      std::string p = l["rootfsPropagation"].get<std::string>();
      bool found = p.empty();
      for (auto& o : kPropOpts)
        if (p == o.name) s.rootfs_propagation = o.flag, found = true;
      if (!found) fail(Errc::invalid, "linux.rootfsPropagation: unknown value \"" + p + "\"");
    }
    s.masked_paths = strings(l.value("maskedPaths", json()), "linux.maskedPaths");
    s.readonly_paths = strings(l.value("readonlyPaths", json()), "linux.readonlyPaths");
    if (l.contains("sysctl") && l["sysctl"].is_object()) s.sysctl = l["sysctl"].get<std::map<std::string, std::string>>();
    s.seccomp = l.value("seccomp", json());
    if (l.contains("personality") && l["personality"].is_object()) {
      std::string dom = l["personality"].value("domain", std::string());
      if (dom == "LINUX") s.personality = PER_LINUX;
      else if (dom == "LINUX32") s.personality = PER_LINUX32;
      else fail(Errc::invalid, "linux.personality.domain: unknown value \"" + dom + "\"");
    }
    s.mount_label = l.value("mountLabel", std::string());
    if (l.contains("intelRdt") && !l["intelRdt"].is_null()) fail(Errc::invalid, "linux.intelRdt: not supported by oci-run");
    return s;
  });
}

Spec load_spec(const std::string& bundle) {
  std::string text = with_context("bundle " + bundle, [&] { return fs::read_file(bundle + "/config.json"); });
  return parse_spec(text, bundle);
}

void validate_spec(const Spec& s) {
  auto bad_v = [](const std::string& m) { fail(Errc::invalid, "config.json: " + m); };
  if (!s.oci_version.empty() && s.oci_version[0] != '1') bad_v("ociVersion \"" + s.oci_version + "\" is not 1.x");
  bool userns = s.find_namespace(CLONE_NEWUSER) != nullptr;
  if ((!s.uid_mappings.empty() || !s.gid_mappings.empty()) && !userns)
    bad_v("linux.uidMappings: set without a user namespace");
  if (userns && s.find_namespace(CLONE_NEWUSER)->path.empty() && (s.uid_mappings.empty() || s.gid_mappings.empty()))
    bad_v("linux.namespaces: a new user namespace needs uidMappings and gidMappings");
  auto uts = s.find_namespace(CLONE_NEWUTS);
  if (!s.hostname.empty() && (!uts || !uts->path.empty())) bad_v("hostname: set without a new uts namespace");
  if (!s.domainname.empty() && (!uts || !uts->path.empty())) bad_v("domainname: set without a new uts namespace");
  auto mnt = s.find_namespace(CLONE_NEWNS);
  if (!mnt) bad_v("linux.namespaces: a mount namespace is required");
  if (!mnt->path.empty()) bad_v("linux.namespaces: joining a mount namespace is not supported (the rootfs is set up in a new one)");
  if (!s.time_offsets.empty()) {
    auto t = s.find_namespace(0x80);
    if (!t || !t->path.empty()) bad_v("linux.timeOffsets: set without a new time namespace");
  }
  if (!s.process.apparmor_profile.empty()) bad_v("process.apparmorProfile: AppArmor is not supported by oci-run");
  if (!s.process.selinux_label.empty() || !s.mount_label.empty()) bad_v("process.selinuxLabel: SELinux is not supported by oci-run");
  if (!s.process.scheduler.is_null()) bad_v("process.scheduler: not supported by oci-run");
  for (auto& [k, v] : s.sysctl) {
    // Only namespaced sysctls may be set, and only in a namespace the container owns.
    bool ipc = k.rfind("kernel.msg", 0) == 0 || k.rfind("kernel.sem", 0) == 0 || k.rfind("kernel.shm", 0) == 0 ||
               k.rfind("fs.mqueue.", 0) == 0;
    bool net = k.rfind("net.", 0) == 0;
    bool uts_k = k == "kernel.hostname" || k == "kernel.domainname";
    auto owns = [&](int f) { auto n = s.find_namespace(f); return n && n->path.empty(); };
    if (ipc && owns(CLONE_NEWIPC)) continue;
    if (net && (owns(CLONE_NEWNET) || s.find_namespace(CLONE_NEWNET))) continue;
    if (uts_k && owns(CLONE_NEWUTS)) continue;
    bad_v("linux.sysctl: \"" + k + "\" is not allowed in this container's namespaces");
  }
  for (auto& d : s.devices)
    if (d.path.rfind("/dev/", 0) != 0) bad_v("linux.devices: \"" + d.path + "\" is not under /dev");
}

}  // namespace ocikit::run
