#include "spec.hpp"

#include <linux/ioprio.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include <limits>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::run {
namespace {

using json = nlohmann::json;

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

// Errors name the field as the spec spells it ("process.user.uid");
// parse_spec prefixes "config.json: ", exec --process its file name.
[[noreturn]] void bad(const std::string& field, const std::string& why) { fail(Errc::invalid, field + ": " + why); }

// Member `key` of object `o`, or nullptr when absent or null (the spec's
// optional fields may be either).
const json* member(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

const json& want_object(const json& j, const std::string& field) {
  if (!j.is_object()) bad(field, "want an object, got " + j.dump());
  return j;
}

std::string get_string(const json& o, const char* key, const std::string& field, const std::string& def = {}) {
  const json* v = member(o, key);
  if (!v) return def;
  if (!v->is_string()) bad(field, "want a string, got " + v->dump());
  return v->get<std::string>();
}

bool get_bool(const json& o, const char* key, const std::string& field) {
  const json* v = member(o, key);
  if (!v) return false;
  if (!v->is_boolean()) bad(field, "want true or false, got " + v->dump());
  return v->get<bool>();
}

// An integer member within [lo, hi]; `def` when absent.
int64_t get_int(const json& o, const char* key, const std::string& field, int64_t lo, int64_t hi, int64_t def = 0) {
  const json* v = member(o, key);
  if (!v) return def;
  if (!v->is_number_integer()) bad(field, "want an integer, got " + v->dump());
  if (v->is_number_unsigned() ? v->get<uint64_t>() > static_cast<uint64_t>(hi)
                              : v->get<int64_t>() < lo || v->get<int64_t>() > hi)
    bad(field, v->dump() + " is out of range");
  return v->get<int64_t>();
}

uint64_t get_u64(const json& o, const char* key, const std::string& field) {
  const json* v = member(o, key);
  if (!v) return 0;
  if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<int64_t>() < 0))
    bad(field, "want an unsigned integer, got " + v->dump());
  return v->get<uint64_t>();
}

uint32_t get_u32(const json& o, const char* key, const std::string& field, uint32_t def = 0) {
  return static_cast<uint32_t>(get_int(o, key, field, 0, std::numeric_limits<uint32_t>::max(), def));
}

std::vector<std::string> strings(const json* j, const std::string& field) {
  std::vector<std::string> out;
  if (!j) return out;
  if (!j->is_array()) bad(field, "want an array of strings, got " + j->dump());
  for (auto& e : *j) {
    if (!e.is_string()) bad(field, "want an array of strings, got " + e.dump() + " in it");
    out.push_back(e.get<std::string>());
  }
  return out;
}

const json& array_of(const json* j, const std::string& field) {
  static const json empty = json::array();
  if (!j) return empty;
  if (!j->is_array()) bad(field, "want an array, got " + j->dump());
  return *j;
}

std::string at(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }
struct MountOpt {
  const char* name;
  unsigned long flag;
  bool clear;  // the option turns `flag` off
};

constexpr MountOpt kMountOpts[] = {
    {"defaults", 0, false},
    {"ro", MS_RDONLY, false},
    {"rw", MS_RDONLY, true},
    {"suid", MS_NOSUID, true},
    {"nosuid", MS_NOSUID, false},
    {"dev", MS_NODEV, true},
    {"nodev", MS_NODEV, false},
    {"exec", MS_NOEXEC, true},
    {"noexec", MS_NOEXEC, false},
    {"sync", MS_SYNCHRONOUS, false},
    {"async", MS_SYNCHRONOUS, true},
    {"dirsync", MS_DIRSYNC, false},
    {"remount", MS_REMOUNT, false},
    {"mand", MS_MANDLOCK, false},
    {"nomand", MS_MANDLOCK, true},
    {"atime", MS_NOATIME, true},
    {"noatime", MS_NOATIME, false},
    {"diratime", MS_NODIRATIME, true},
    {"nodiratime", MS_NODIRATIME, false},
    {"bind", MS_BIND, false},
    {"rbind", MS_BIND | MS_REC, false},
    {"relatime", MS_RELATIME, false},
    {"norelatime", MS_RELATIME, true},
    {"strictatime", MS_STRICTATIME, false},
    {"nostrictatime", MS_STRICTATIME, true},
    {"silent", MS_SILENT, false},
    {"loud", MS_SILENT, true},
    {"nosymfollow", MS_NOSYMFOLLOW, false},
    {"symfollow", MS_NOSYMFOLLOW, true},
};

// Recursive mount attributes (runc 1.1+): applied to the mount and every
// mount beneath it with mount_setattr(2).
struct RecursiveOpt {
  const char* name;
  uint64_t flag;
  bool clear;
  bool atime;  ///< one of the MOUNT_ATTR__ATIME values
};
constexpr RecursiveOpt kRecursiveOpts[] = {
    {"rro", MOUNT_ATTR_RDONLY, false, false},
    {"rrw", MOUNT_ATTR_RDONLY, true, false},
    {"rnosuid", MOUNT_ATTR_NOSUID, false, false},
    {"rsuid", MOUNT_ATTR_NOSUID, true, false},
    {"rnodev", MOUNT_ATTR_NODEV, false, false},
    {"rdev", MOUNT_ATTR_NODEV, true, false},
    {"rnoexec", MOUNT_ATTR_NOEXEC, false, false},
    {"rexec", MOUNT_ATTR_NOEXEC, true, false},
    {"rnodiratime", MOUNT_ATTR_NODIRATIME, false, false},
    {"rdiratime", MOUNT_ATTR_NODIRATIME, true, false},
    {"rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false, false},
    {"rsymfollow", MOUNT_ATTR_NOSYMFOLLOW, true, false},
    {"rrelatime", MOUNT_ATTR_RELATIME, false, true},
    {"rnoatime", MOUNT_ATTR_NOATIME, false, true},
    {"rstrictatime", MOUNT_ATTR_STRICTATIME, false, true},
};

struct PropOpt {
  const char* name;
  unsigned long flag;
};
constexpr PropOpt kPropOpts[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RlimitName {
  const char* name;
  int res;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

std::string absolute_in(const std::string& base, const std::string& p) {
  if (!p.empty() && p[0] == '/') return fs::clean_path(p);
  return fs::clean_path(base + "/" + p);
}

std::vector<Hook> parse_hooks(const json* j, const std::string& field) {
  std::vector<Hook> out;
  const json& arr = array_of(j, field);
  for (size_t i = 0; i < arr.size(); i++) {
    std::string f = at(field, i);
    const json& h = want_object(arr[i], f);
    Hook hk;
    hk.path = get_string(h, "path", f + ".path");
    if (hk.path.empty()) bad(f + ".path", "missing");
    if (hk.path[0] != '/') bad(f + ".path", "\"" + hk.path + "\" is not absolute");
    hk.args = strings(member(h, "args"), f + ".args");
    hk.env = strings(member(h, "env"), f + ".env");
    hk.timeout = static_cast<int>(get_int(h, "timeout", f + ".timeout", 0, 86400 * 365));
    if (member(h, "timeout") && hk.timeout == 0) bad(f + ".timeout", "must be positive");
    out.push_back(std::move(hk));
  }
  return out;
}

std::vector<IdMap> parse_maps(const json* j, const std::string& field) {
  std::vector<IdMap> out;
  const json& arr = array_of(j, field);
  for (size_t i = 0; i < arr.size(); i++) {
    std::string f = at(field, i);
    const json& e = want_object(arr[i], f);
    for (const char* k : {"containerID", "hostID", "size"})
      if (!member(e, k)) bad(f + "." + k, "missing");
    IdMap m{get_u32(e, "containerID", f + ".containerID"), get_u32(e, "hostID", f + ".hostID"),
            get_u32(e, "size", f + ".size")};
    if (m.size == 0) bad(f + ".size", "must not be 0");
    out.push_back(m);
  }
  // The kernel takes at most 340 lines in uid_map/gid_map.
  if (out.size() > 340) bad(field, "too many mappings (" + std::to_string(out.size()) + ", at most 340)");
  return out;
}

struct NamedInt {
  const char* name;
  long value;
};
constexpr NamedInt kSchedPolicies[] = {
    {"SCHED_OTHER", SCHED_OTHER}, {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
    {"SCHED_BATCH", SCHED_BATCH}, {"SCHED_ISO", 4},           {"SCHED_IDLE", SCHED_IDLE},
    {"SCHED_DEADLINE", 6}};
// linux/sched.h's SCHED_FLAG_* bits.
constexpr NamedInt kSchedFlags[] = {{"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
                                    {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
                                    {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
                                    {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
constexpr NamedInt kIoClasses[] = {{"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT},
                                   {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE},
                                   {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE}};

template <size_t N>
long named(const NamedInt (&table)[N], const std::string& name, const std::string& field) {
  for (auto& e : table)
    if (name == e.name) return e.value;
  bad(field, "unknown value \"" + name + "\"");
}

Scheduler parse_scheduler(const json& j) {
  const json& o = want_object(j, "process.scheduler");
  Scheduler s;
  std::string policy = get_string(o, "policy", "process.scheduler.policy");
  if (policy.empty()) bad("process.scheduler.policy", "missing");
  s.policy = static_cast<uint32_t>(named(kSchedPolicies, policy, "process.scheduler.policy"));
  s.nice = static_cast<int32_t>(get_int(o, "nice", "process.scheduler.nice", -20, 19));
  s.priority = static_cast<uint32_t>(get_int(o, "priority", "process.scheduler.priority", 0, 99));
  for (auto& f : strings(member(o, "flags"), "process.scheduler.flags"))
    s.flags |= static_cast<uint64_t>(named(kSchedFlags, f, "process.scheduler.flags"));
  s.runtime = get_u64(o, "runtime", "process.scheduler.runtime");
  s.deadline = get_u64(o, "deadline", "process.scheduler.deadline");
  s.period = get_u64(o, "period", "process.scheduler.period");
  bool rt = s.policy == SCHED_FIFO || s.policy == SCHED_RR;
  if (rt && s.priority == 0) bad("process.scheduler.priority", "must be 1..99 for " + policy);
  if (!rt && s.priority != 0) bad("process.scheduler.priority", "must be 0 for " + policy);
  if (s.policy == 6 && s.runtime == 0) bad("process.scheduler.runtime", "must be set for SCHED_DEADLINE");
  return s;
}

IoPriority parse_io_priority(const json& j) {
  const json& o = want_object(j, "process.ioPriority");
  IoPriority p;
  std::string cls = get_string(o, "class", "process.ioPriority.class");
  if (cls.empty()) bad("process.ioPriority.class", "missing");
  p.io_class = static_cast<int>(named(kIoClasses, cls, "process.ioPriority.class"));
  p.priority = static_cast<int>(get_int(o, "priority", "process.ioPriority.priority", 0, 7));
  return p;
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
    // runc's extensions: recursive flags (mount_setattr(2) with AT_RECURSIVE)
    // and tmpcopyup; X-mount.* are mount(8)'s userspace options, ignored.
    bool rec = false;
    for (auto& r : kRecursiveOpts)
      if (o == r.name) {
        if (r.atime) {
          m.rec_clr |= MOUNT_ATTR__ATIME;
          m.rec_set = (m.rec_set & ~uint64_t{MOUNT_ATTR__ATIME}) | r.flag;
        } else if (r.clear) {
          m.rec_clr |= r.flag;
          m.rec_set &= ~r.flag;
        } else {
          m.rec_set |= r.flag;
          m.rec_clr &= ~r.flag;
        }
        rec = true;
      }
    if (rec) continue;
    if (o == "tmpcopyup") {
      m.tmpcopyup = true;
      continue;
    }
    if (o.rfind("X-mount.", 0) == 0) continue;
    if (o == "idmap" || o == "ridmap")
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

Process parse_process(const json& j) {
  Process pr;
  const json& p = want_object(j, "process");
  pr.terminal = get_bool(p, "terminal", "process.terminal");
  if (const json* cs = member(p, "consoleSize")) {
    want_object(*cs, "process.consoleSize");
    pr.console_height = static_cast<unsigned>(get_int(*cs, "height", "process.consoleSize.height", 0, 65535));
    pr.console_width = static_cast<unsigned>(get_int(*cs, "width", "process.consoleSize.width", 0, 65535));
  }
  if (const json* uj = member(p, "user")) {
    const json& u = want_object(*uj, "process.user");
    pr.uid = get_u32(u, "uid", "process.user.uid");
    pr.gid = get_u32(u, "gid", "process.user.gid");
    if (member(u, "umask")) pr.umask = static_cast<mode_t>(get_int(u, "umask", "process.user.umask", 0, 0777));
    const json& gids = array_of(member(u, "additionalGids"), "process.user.additionalGids");
    for (size_t i = 0; i < gids.size(); i++) {
      if (!gids[i].is_number_unsigned() || gids[i].get<uint64_t>() > std::numeric_limits<gid_t>::max())
        bad(at("process.user.additionalGids", i), "want a group id, got " + gids[i].dump());
      pr.additional_gids.push_back(gids[i].get<gid_t>());
    }
    if (!get_string(u, "username", "process.user.username").empty()) bad("process.user.username", "is for Windows");
  }
  pr.args = strings(member(p, "args"), "process.args");
  if (pr.args.empty()) bad("process.args", "must not be empty");
  pr.env = strings(member(p, "env"), "process.env");
  pr.cwd = get_string(p, "cwd", "process.cwd", "/");
  if (pr.cwd.empty() || pr.cwd[0] != '/') bad("process.cwd", "\"" + pr.cwd + "\" is not absolute");
  if (const json* c = member(p, "capabilities")) pr.capabilities = want_object(*c, "process.capabilities");
  const json& rl = array_of(member(p, "rlimits"), "process.rlimits");
  for (size_t i = 0; i < rl.size(); i++) {
    std::string f = at("process.rlimits", i);
    const json& r = want_object(rl[i], f);
    Rlimit lim;
    lim.resource = with_context(f + ".type", [&] { return parse_rlimit_name(get_string(r, "type", f + ".type")); });
    lim.soft = get_u64(r, "soft", f + ".soft");
    lim.hard = get_u64(r, "hard", f + ".hard");
    if (lim.soft > lim.hard)
      bad(f, "soft limit " + std::to_string(lim.soft) + " is above the hard limit " + std::to_string(lim.hard));
    for (auto& o : pr.rlimits)
      if (o.resource == lim.resource) bad(f + ".type", "\"" + r["type"].get<std::string>() + "\" listed twice");
    pr.rlimits.push_back(lim);
  }
  pr.no_new_privileges = get_bool(p, "noNewPrivileges", "process.noNewPrivileges");
  if (member(p, "oomScoreAdj"))
    pr.oom_score_adj = static_cast<int>(get_int(p, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000));
  pr.apparmor_profile = get_string(p, "apparmorProfile", "process.apparmorProfile");
  pr.selinux_label = get_string(p, "selinuxLabel", "process.selinuxLabel");
  if (const json* s = member(p, "scheduler")) pr.scheduler = parse_scheduler(*s);
  if (const json* io = member(p, "ioPriority")) pr.io_priority = parse_io_priority(*io);
  return pr;
}

namespace {

Mount parse_mount(const json& j, const std::string& f, const std::string& bundle) {
  const json& mj = want_object(j, f);
  Mount m;
  m.destination = get_string(mj, "destination", f + ".destination");
  if (m.destination.empty()) bad(f + ".destination", "missing");
  if (m.destination[0] != '/') bad(f + ".destination", "\"" + m.destination + "\" is not absolute");
  m.destination = fs::clean_path(m.destination);
  m.type = get_string(mj, "type", f + ".type");
  m.source = get_string(mj, "source", f + ".source");
  with_context(f, [&] { parse_mount_options(strings(member(mj, "options"), "options"), m); });
  if (m.type == "bind") {
    m.type.clear();
    m.flags |= MS_BIND;
  }
  if (m.bind()) {
    if (m.source.empty()) bad(f + ".source", "a bind mount needs a source");
    m.source = absolute_in(bundle, m.source);
  } else if (m.type.empty()) {
    bad(f + ".type", "missing (and the options do not say bind)");
  }
  return m;
}

Device parse_device(const json& j, const std::string& f) {
  const json& d = want_object(j, f);
  Device dv;
  std::string path = get_string(d, "path", f + ".path");
  if (path.empty()) bad(f + ".path", "missing");
  dv.path = fs::clean_path(path);
  std::string t = get_string(d, "type", f + ".type");
  if (t.size() != 1 || std::string("cbup").find(t[0]) == std::string::npos)
    bad(f + ".type", "\"" + t + "\" is not c, b, u or p");
  dv.type = t[0];
  if (dv.type != 'p' && (!member(d, "major") || !member(d, "minor"))) bad(f, "major and minor are required");
  dv.major = get_int(d, "major", f + ".major", 0, 0xfffff);
  dv.minor = get_int(d, "minor", f + ".minor", 0, 0xfffff);
  dv.mode = static_cast<mode_t>(get_int(d, "fileMode", f + ".fileMode", 0, 07777, 0666));
  dv.uid = get_u32(d, "uid", f + ".uid");
  dv.gid = get_u32(d, "gid", f + ".gid");
  return dv;
}

void parse_linux(const json& lj, Spec& s) {
  const json& l = want_object(lj, "linux");
  const json& nss = array_of(member(l, "namespaces"), "linux.namespaces");
  for (size_t i = 0; i < nss.size(); i++) {
    std::string f = at("linux.namespaces", i);
    const json& n = want_object(nss[i], f);
    Namespace ns;
    ns.type = get_string(n, "type", f + ".type");
    ns.flag = with_context(f + ".type", [&] { return parse_namespace_type(ns.type); });
    ns.path = get_string(n, "path", f + ".path");
    if (!ns.path.empty() && ns.path[0] != '/') bad(f + ".path", "\"" + ns.path + "\" is not absolute");
    for (auto& o : s.namespaces)
      if (o.flag == ns.flag) bad("linux.namespaces", "\"" + ns.type + "\" listed twice");
    s.namespaces.push_back(std::move(ns));
  }
  s.uid_mappings = parse_maps(member(l, "uidMappings"), "linux.uidMappings");
  s.gid_mappings = parse_maps(member(l, "gidMappings"), "linux.gidMappings");
  if (const json* t = member(l, "timeOffsets")) {
    for (auto& [k, v] : want_object(*t, "linux.timeOffsets").items()) {
      std::string f = "linux.timeOffsets." + k;
      if (k != "monotonic" && k != "boottime") bad(f, "unknown clock (want monotonic or boottime)");
      want_object(v, f);
      s.time_offsets[k] = {
          get_int(v, "secs", f + ".secs", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()),
          static_cast<uint32_t>(get_int(v, "nanosecs", f + ".nanosecs", 0, 999999999))};
    }
  }
  const json& devs = array_of(member(l, "devices"), "linux.devices");
  for (size_t i = 0; i < devs.size(); i++) s.devices.push_back(parse_device(devs[i], at("linux.devices", i)));
  s.cgroups_path = get_string(l, "cgroupsPath", "linux.cgroupsPath");
  if (const json* r = member(l, "resources")) s.resources = want_object(*r, "linux.resources");
  std::string prop = get_string(l, "rootfsPropagation", "linux.rootfsPropagation");
  if (!prop.empty()) {
    bool found = false;
    for (auto& o : kPropOpts)
      if (prop == o.name) s.rootfs_propagation = o.flag, found = true;
    if (!found) bad("linux.rootfsPropagation", "unknown value \"" + prop + "\"");
  }
  s.masked_paths = strings(member(l, "maskedPaths"), "linux.maskedPaths");
  s.readonly_paths = strings(member(l, "readonlyPaths"), "linux.readonlyPaths");
  for (auto* list : {&s.masked_paths, &s.readonly_paths})
    for (auto& p : *list)
      if (p.empty() || p[0] != '/')
        bad(list == &s.masked_paths ? "linux.maskedPaths" : "linux.readonlyPaths", "\"" + p + "\" is not absolute");
  if (const json* sc = member(l, "sysctl")) {
    for (auto& [k, v] : want_object(*sc, "linux.sysctl").items()) {
      if (!v.is_string()) bad("linux.sysctl." + k, "want a string, got " + v.dump());
      if (k.empty() || k.find('/') != std::string::npos || k.find("..") != std::string::npos)
        bad("linux.sysctl", "invalid name \"" + k + "\"");
      s.sysctl[k] = v.get<std::string>();
    }
  }
  if (const json* sc = member(l, "seccomp")) s.seccomp = want_object(*sc, "linux.seccomp");
  if (const json* pj = member(l, "personality")) {
    std::string dom = get_string(want_object(*pj, "linux.personality"), "domain", "linux.personality.domain");
    if (dom == "LINUX") s.personality = PER_LINUX;
    else if (dom == "LINUX32") s.personality = PER_LINUX32;
    else bad("linux.personality.domain", "unknown value \"" + dom + "\"");
  }
  s.mount_label = get_string(l, "mountLabel", "linux.mountLabel");
  if (member(l, "intelRdt")) bad("linux.intelRdt", "not supported by oci-run");
}

}  // namespace

Spec parse_spec(const std::string& text, const std::string& bundle) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> the human part.
    std::string m = e.what();
    if (auto p = m.find("] "); p != std::string::npos) m = m.substr(p + 2);
    fail(Errc::invalid, "config.json: " + m);
  }
  return parse_spec(j, bundle);
}

Spec parse_spec(const json& j, const std::string& bundle) {
  return with_context("config.json", [&] {
    Spec s;
    if (!j.is_object()) fail(Errc::invalid, "want a JSON object");
    s.oci_version = get_string(j, "ociVersion", "ociVersion");
    const json* root = member(j, "root");
    if (!root) bad("root", "missing");
    want_object(*root, "root");
    std::string rp = get_string(*root, "path", "root.path");
    if (rp.empty()) bad("root.path", "missing");
    s.root_path = absolute_in(bundle, rp);
    s.root_readonly = get_bool(*root, "readonly", "root.readonly");
    // A config without a process may be created (the runtime-spec allows
    // it); `start` then fails, saying so, and the container stops.
    if (const json* proc = member(j, "process")) {
      s.process = parse_process(*proc);
      s.has_process = true;
    }
    s.hostname = get_string(j, "hostname", "hostname");
    s.domainname = get_string(j, "domainname", "domainname");
    const json& mounts = array_of(member(j, "mounts"), "mounts");
    for (size_t i = 0; i < mounts.size(); i++) s.mounts.push_back(parse_mount(mounts[i], at("mounts", i), bundle));
    if (const json* hj = member(j, "hooks")) {
      const json& h = want_object(*hj, "hooks");
      s.hooks.prestart = parse_hooks(member(h, "prestart"), "hooks.prestart");
      s.hooks.create_runtime = parse_hooks(member(h, "createRuntime"), "hooks.createRuntime");
      s.hooks.create_container = parse_hooks(member(h, "createContainer"), "hooks.createContainer");
      s.hooks.start_container = parse_hooks(member(h, "startContainer"), "hooks.startContainer");
      s.hooks.poststart = parse_hooks(member(h, "poststart"), "hooks.poststart");
      s.hooks.poststop = parse_hooks(member(h, "poststop"), "hooks.poststop");
    }
    if (const json* a = member(j, "annotations")) {
      for (auto& [k, v] : want_object(*a, "annotations").items()) {
        if (!v.is_string()) bad("annotations." + k, "want a string, got " + v.dump());
        s.annotations[k] = v.get<std::string>();
      }
    }
    if (const json* l = member(j, "linux")) parse_linux(*l, s);
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
  // A hostname needs a uts namespace of the container's, new or joined (as runc).
  auto uts = s.find_namespace(CLONE_NEWUTS);
  if (!s.hostname.empty() && !uts) bad_v("hostname: set without a uts namespace");
  if (!s.domainname.empty() && !uts) bad_v("domainname: set without a uts namespace");
  // Without a mount namespace the rootfs is set up in the caller's and
  // entered with chroot, as runc does; a joined one gets the same set-up
  // as a new one.
  if (!s.time_offsets.empty()) {
    auto t = s.find_namespace(0x80);
    if (!t || !t->path.empty()) bad_v("linux.timeOffsets: set without a new time namespace");
  }
  if (!s.process.apparmor_profile.empty()) bad_v("process.apparmorProfile: AppArmor is not supported by oci-run");
  // Labels mean nothing on a host without SELinux; runc and crun ignore them there.
  if ((!s.process.selinux_label.empty() || !s.mount_label.empty()) && access("/sys/fs/selinux/enforce", F_OK) == 0)
    bad_v("process.selinuxLabel: SELinux is not supported by oci-run");
  for (auto& [k, v] : s.sysctl) {
    // Only namespaced sysctls may be set, and only in a namespace the container owns.
    bool ipc = k.rfind("kernel.msg", 0) == 0 || k.rfind("kernel.sem", 0) == 0 || k.rfind("kernel.shm", 0) == 0 ||
        k.rfind("fs.mqueue.", 0) == 0;
    bool net = k.rfind("net.", 0) == 0;
    bool uts_k = k == "kernel.hostname" || k == "kernel.domainname";
    auto owns = [&](int f) {
      auto n = s.find_namespace(f);
      return n && n->path.empty();
    };
    if (ipc && owns(CLONE_NEWIPC)) continue;
    if (net && (owns(CLONE_NEWNET) || s.find_namespace(CLONE_NEWNET))) continue;
    if (uts_k && owns(CLONE_NEWUTS)) continue;
    bad_v("linux.sysctl: \"" + k + "\" is not allowed in this container's namespaces");
  }
  for (auto& d : s.devices)
    if (d.path.rfind("/dev/", 0) != 0) bad_v("linux.devices: \"" + d.path + "\" is not under /dev");
}

}  // namespace ocikit::run
