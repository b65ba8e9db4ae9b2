#include "common/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/cgroup_util.hpp"
#include "common/device_filter.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::cgroup {

// ---------------------------------------------------------------- helpers

namespace util {

void unsupported(const std::string& field, const std::string& why) {
  fail(Errc::failure, "cannot set " + field + ": " + why);
}

CtlFile::CtlFile(const std::string& dir, const std::string& file, std::string field)
    : path_(dir + "/" + file), field_(std::move(field)) {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd_) {
    if (errno == ENOENT) unsupported(field_, path_ + " does not exist (controller not available)");
    throw Error(Errc::io, "cannot set " + field_ + ": open " + path_, errno);
  }
}

void CtlFile::write(const std::string& value) {
  ssize_t n;
  do {
    n = ::write(fd_.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw Error(Errc::io, "cannot set " + field_ + ": write \"" + value + "\" to " + path_, errno);
}

void write_ctl(const std::string& dir, const std::string& file, const std::string& value, const std::string& field) {
  CtlFile(dir, file, field).write(value);
}

std::optional<std::string> read_ctl(const std::string& dir, const std::string& file) {
  std::string path = dir + "/" + file;
  fs::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("open " + path);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Some files (memory.kmem.* on new kernels) refuse reads: treat as absent.
      if (errno == EOPNOTSUPP || errno == EINVAL) return std::nullopt;
      throw_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

uint64_t read_u64(const std::string& dir, const std::string& file) {
  auto s = read_ctl(dir, file);
  if (!s || s->empty()) return 0;
  if (*s == "max") return UINT64_MAX;
  try {
    if ((*s)[0] == '-') return 0;
    return std::stoull(*s);
  } catch (...) {
    return 0;
  }
}

std::map<std::string, uint64_t> read_flat_keyed(const std::string& dir, const std::string& file) {
  std::map<std::string, uint64_t> m;
  auto s = read_ctl(dir, file);
  if (!s) return m;
  std::istringstream in(*s);
  std::string k, v;
  while (in >> k >> v) {
    try {
      m[k] = v == "max" ? UINT64_MAX : std::stoull(v);
    } catch (...) {
    }
  }
  return m;
}

static const nlohmann::json* member(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<int64_t> get_int(const nlohmann::json& obj, const char* key, const std::string& field) {
  auto* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) fail(Errc::invalid, field + ": expected an integer, got " + v->dump());
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    fail(Errc::invalid, field + ": value out of range: " + v->dump());
  return v->get<int64_t>();
}

std::optional<uint64_t> get_uint(const nlohmann::json& obj, const char* key, const std::string& field) {
  auto* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<int64_t>() < 0))
    fail(Errc::invalid, field + ": expected an unsigned integer, got " + v->dump());
  return v->get<uint64_t>();
}

std::optional<std::string> get_str(const nlohmann::json& obj, const char* key, const std::string& field) {
  auto* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) fail(Errc::invalid, field + ": expected a string, got " + v->dump());
  return v->get<std::string>();
}

std::optional<bool> get_bool(const nlohmann::json& obj, const char* key, const std::string& field) {
  auto* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) fail(Errc::invalid, field + ": expected a boolean, got " + v->dump());
  return v->get<bool>();
}

std::vector<std::string> hugepage_sizes() {
  std::vector<std::string> out;
  DIR* d = opendir("/sys/kernel/mm/hugepages");
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;  // hugepages-2048kB
    if (n.rfind("hugepages-", 0) != 0) continue;
    uint64_t kb = std::strtoull(n.c_str() + 10, nullptr, 10);
    static const char* units[] = {"KB", "MB", "GB", "TB"};
    int u = 0;
    while (kb >= 1024 && kb % 1024 == 0 && u < 3) {
      kb /= 1024;
      ++u;
    }
    out.push_back(std::to_string(kb) + units[u]);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string dev_key(const nlohmann::json& e, const std::string& field) {
  if (!e.is_object()) fail(Errc::invalid, field + ": expected an object, got " + e.dump());
  auto maj = get_int(e, "major", field + ".major");
  auto min = get_int(e, "minor", field + ".minor");
  if (!maj || !min) fail(Errc::invalid, field + ": major and minor are required");
  return std::to_string(*maj) + ":" + std::to_string(*min);
}

void for_each_throttle(const nlohmann::json& b,
                       const std::function<void(Throttle, const std::string&, const std::string&, uint64_t)>& fn) {
  static const std::pair<const char*, Throttle> kLists[] = {
      {"throttleReadBpsDevice", Throttle::read_bps},
      {"throttleWriteBpsDevice", Throttle::write_bps},
      {"throttleReadIOPSDevice", Throttle::read_iops},
      {"throttleWriteIOPSDevice", Throttle::write_iops},
  };
  for (auto [key, kind] : kLists) {
    auto it = b.find(key);
    if (it == b.end() || it->is_null()) continue;
    std::string field = std::string("blockIO.") + key;
    if (!it->is_array()) fail(Errc::invalid, field + ": expected an array");
    for (auto& e : *it) {
      auto rate = get_uint(e, "rate", field + ".rate");
      if (!rate) fail(Errc::invalid, field + ": rate is required");
      fn(kind, field, dev_key(e, field), *rate);
    }
  }
}

void for_each_hugepage_limit(const nlohmann::json& h, const std::function<void(const std::string&, uint64_t)>& fn) {
  if (!h.is_array()) fail(Errc::invalid, "linux.resources.hugepageLimits: expected an array");
  for (auto& e : h) {
    auto size = get_str(e, "pageSize", "hugepageLimits.pageSize");
    auto lim = get_uint(e, "limit", "hugepageLimits.limit");
    if (!size || !lim) fail(Errc::invalid, "hugepageLimits: pageSize and limit are required");
    fn(*size, *lim);
  }
}

}  // namespace util

// ---------------------------------------------------------------- layout

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::v1: return "v1";
    case Mode::hybrid: return "hybrid";
    case Mode::v2: return "v2";
  }
  return "?";
}

static Mode parse_mode(const std::string& s) {
  if (s == "v1") return Mode::v1;
  if (s == "hybrid") return Mode::hybrid;
  if (s == "v2") return Mode::v2;
  fail(Errc::invalid, "unknown mode \"" + s + "\"");
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
static std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

Hierarchies detect_hierarchies() {
  Hierarchies l;
  std::ifstream in("/proc/self/mountinfo");
  if (!in) throw_errno("open /proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mnt, opts, f;
    ls >> id >> parent >> devno >> root >> mnt >> opts;
    while (ls >> f && f != "-") {
    }
    std::string fstype, source, super;
    ls >> fstype >> source >> super;
    mnt = unescape_mountinfo(mnt);
    if (fstype == "cgroup2") {
      if (l.unified.empty() || mnt == "/sys/fs/cgroup") l.unified = mnt;
    } else if (fstype == "cgroup") {
      std::istringstream ss(super);
      std::string o;
      while (std::getline(ss, o, ',')) {
        if (o == "rw" || o == "ro" || o.rfind("release_agent=", 0) == 0 || o == "clone_children" || o == "noprefix" ||
            o == "xattr" || o == "cpuset_v2_mode" || o == "favordynmods")
          continue;
        if (!l.v1.count(o)) l.v1[o] = mnt;
      }
    }
  }
  bool any_controller = false;
  for (auto& [c, _] : l.v1)
    if (c.rfind("name=", 0) != 0) any_controller = true;
  if (!any_controller && !l.unified.empty()) l.mode = Mode::v2;
  else if (!l.unified.empty()) l.mode = Mode::hybrid;
  else l.mode = Mode::v1;
  if (l.mode == Mode::v2) l.v1.clear();
  return l;
}

Mode detect_mode() { return detect_hierarchies().mode; }

// systemd slice "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice.
static std::string expand_slice(const std::string& slice) {
  const std::string suffix = ".slice";
  if (slice.size() <= suffix.size() || slice.compare(slice.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      slice.find('/') != std::string::npos)
    fail(Errc::invalid, "invalid systemd slice \"" + slice + "\"");
  std::string name = slice.substr(0, slice.size() - suffix.size());
  if (name == "-") return "/";
  std::string path, prefix;
  std::istringstream ss(name);
  std::string comp;
  while (std::getline(ss, comp, '-')) {
    if (comp.empty()) fail(Errc::invalid, "invalid systemd slice \"" + slice + "\"");
    path += "/" + prefix + comp + suffix;
    prefix += comp + "-";
  }
  return path;
}

std::string resolve_path(const std::string& cgroups_path, const std::string& id) {
  if (cgroups_path.empty()) {
    if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..")
      fail(Errc::invalid, "invalid container id for a cgroup path: \"" + id + "\"");
    return "/ocikit/" + id;
  }
  if (cgroups_path[0] != '/' && std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2) {
    auto a = cgroups_path.find(':'), b = cgroups_path.find(':', a + 1);
    std::string slice = cgroups_path.substr(0, a), prefix = cgroups_path.substr(a + 1, b - a - 1),
                name = cgroups_path.substr(b + 1);
    if (name.empty() || name.find('/') != std::string::npos || prefix.find('/') != std::string::npos)
      fail(Errc::invalid, "invalid systemd cgroupsPath \"" + cgroups_path + "\"");
    std::string unit = name;
    if (unit.size() < 6 || unit.compare(unit.size() - 6, 6, ".slice") != 0)
      unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
    std::string base = expand_slice(slice.empty() ? "system.slice" : slice);
    return (base == "/" ? "" : base) + "/" + unit;
  }
  bool rel = cgroups_path[0] != '/';
  std::string c = fs::clean_path(rel ? "/" + cgroups_path : cgroups_path);
  // clean_path stops ".." at "/", so compare component counts to catch escapes.
  std::string probe = rel ? "/" + cgroups_path : cgroups_path;
  int depth = 0;
  std::istringstream ss(probe);
  std::string comp;
  while (std::getline(ss, comp, '/')) {
    if (comp == "..") --depth;
    else if (!comp.empty() && comp != ".") ++depth;
    if (depth < 0) fail(Errc::invalid, "cgroupsPath \"" + cgroups_path + "\" escapes the cgroup root");
  }
  if (c == "/") fail(Errc::invalid, "cgroupsPath \"" + cgroups_path + "\" is the cgroup root");
  return rel ? c.substr(1) : c;
}

// The runtime's own cgroup per hierarchy (for relative cgroupsPath), from
// /proc/self/cgroup: "N:ctrl1,ctrl2:/path" and "0::/path" for cgroup2.
static std::map<std::string, std::string> own_cgroups() {
  std::map<std::string, std::string> m;
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctrls.empty()) {
      m[""] = path;
      continue;
    }
    std::istringstream ss(ctrls);
    std::string c;
    while (std::getline(ss, c, ',')) m[c] = path;
  }
  return m;
}

Manager Manager::create(const std::string& cgroups_path, const std::string& id) {
  return create(cgroups_path, id, detect_hierarchies());
}

Manager Manager::create(const std::string& cgroups_path, const std::string& id, const Hierarchies& layout) {
  Manager m;
  m.mode_ = layout.mode;
  std::string p = resolve_path(cgroups_path, id);
  bool rel = p[0] != '/';
  std::map<std::string, std::string> own;
  if (rel) own = own_cgroups();
  auto join = [&](const std::string& mnt, const std::string& key) {
    std::string base = rel ? own[key] : std::string();
    if (base == "/") base.clear();
    return fs::clean_path(mnt + base + (rel ? "/" + p : p));
  };
  m.path_ = rel ? p : p;
  if (layout.mode != Mode::v2)
    for (auto& [c, mnt] : layout.v1) m.mounts_[m.v1_[c] = join(mnt, c)] = fs::clean_path(mnt);
  if (!layout.unified.empty() && layout.mode != Mode::v1)
    m.mounts_[m.unified_ = join(layout.unified, "")] = fs::clean_path(layout.unified);
  if (m.v1_.empty() && m.unified_.empty()) fail(Errc::failure, "no cgroup hierarchy is mounted");
  return m;
}

Manager Manager::from_json(const nlohmann::json& j) {
  return with_context("cgroup state", [&] {
    Manager m;
    if (!j.is_object()) fail(Errc::invalid, "expected an object");
    m.mode_ = parse_mode(j.at("mode").get<std::string>());
    m.path_ = j.at("path").get<std::string>();
    if (j.contains("v1")) m.v1_ = j.at("v1").get<std::map<std::string, std::string>>();
    if (j.contains("unified")) m.unified_ = j.at("unified").get<std::string>();
    if (j.contains("enabled")) m.enabled_ = j.at("enabled").get<std::vector<std::pair<std::string, std::string>>>();
    return m;
  });
}

nlohmann::json Manager::to_json() const {
  nlohmann::json j = {{"mode", mode_name(mode_)}, {"path", path_}, {"v1", v1_}, {"unified", unified_}};
  if (!enabled_.empty()) j["enabled"] = enabled_;
  return j;
}

std::string Manager::v1_dir(const std::string& controller) const {
  auto it = v1_.find(controller);
  return it == v1_.end() ? std::string() : it->second;
}

// ---------------------------------------------------------------- apply

[[maybe_unused]] static bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Create `dir` level by level below `mnt`. `on_level(parent, child)` runs
// before each missing child is made (v2: enable controllers) and after.
template <class Before, class After>
static void make_levels(const std::string& mnt, const std::string& dir, Before before, After after) {
  std::string cur = mnt;
  std::string rest = dir.substr(mnt.size());
  std::istringstream ss(rest);
  std::string comp;
  while (std::getline(ss, comp, '/')) {
    if (comp.empty()) continue;
    std::string next = cur + "/" + comp;
    before(cur);
    if (::mkdir(next.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + next);
    after(cur, next);
    cur = next;
  }
}

// The cgroup mount root above `dir`: the first prefix, walking down from
// "/", that holds a cgroup.procs file (the dir itself may not exist yet).
static std::string mount_of(const std::string& dir) {
  size_t pos = 0;
  while ((pos = dir.find('/', pos + 1)) != std::string::npos) {
    std::string p = dir.substr(0, pos);
    if (fs::exists(p + "/cgroup.procs")) return p;
  }
  return dir;
}

std::string Manager::mount_for(const std::string& dir) const {
  auto it = mounts_.find(dir);
  // A cgroups_path that climbs out of its mount ("..") is not below it.
  if (it != mounts_.end() && (dir == it->second || dir.rfind(it->second + "/", 0) == 0)) return it->second;
  return mount_of(dir);
}

void Manager::apply(pid_t pid) {
  std::set<std::string> done;
  std::string pidstr = std::to_string(pid);
  for (auto& [ctrl, dir] : v1_) {
    if (!done.insert(dir).second) continue;
    bool cpuset = v1_dir("cpuset") == dir;
    with_context("create cgroup " + dir, [&, &dir = dir] {
      make_levels(
          mount_for(dir), dir, [](const std::string&) {},
          [&](const std::string& parent, const std::string& child) {
            // A new v1 cpuset starts with empty cpus/mems and refuses tasks.
            if (!cpuset) return;
            for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
              auto cur = util::read_ctl(child, f);
              if (cur && cur->empty()) {
                auto p = util::read_ctl(parent, f);
                if (p) util::write_ctl(child, f, *p, f);
              }
            }
          });
      if (pid > 0) util::write_ctl(dir, "cgroup.procs", pidstr, "cgroup.procs");
    });
  }
  if (!unified_.empty()) {
    with_context("create cgroup " + unified_, [&] {
      std::string mnt = mount_for(unified_);
      make_levels(
          mnt, unified_, [](const std::string&) {}, [](const std::string&, const std::string&) {});
      // A v2 host: every available controller, as runc does, so that the
      // container's limits and statistics work. A hybrid host keeps its
      // cgroup2 tree as it is (see enable_v2).
      if (mode_ == Mode::v2)
        if (auto avail = util::read_ctl(mnt, "cgroup.controllers")) {
          std::istringstream ss(*avail);
          std::string c;
          while (ss >> c) {
            try {
              enable_v2(c, c);
            } catch (const Error& e) {
              log::debug(std::string("cgroup: enable ") + c + ": " + e.what());
            }
          }
        }
      if (pid > 0) util::write_ctl(unified_, "cgroup.procs", pidstr, "cgroup.procs");
    });
  }
}

static bool has_word(const std::optional<std::string>& list, const std::string& w) {
  return list && (" " + *list + " ").find(" " + w + " ") != std::string::npos;
}

void Manager::enable_v2(const std::string& ctrl, const std::string& field) {
  std::string mnt = mount_for(unified_);
  if (!has_word(util::read_ctl(mnt, "cgroup.controllers"), ctrl))
    util::unsupported(field, "the cgroup2 hierarchy at " + mnt + " has no " + ctrl + " controller");
  // Every ancestor of the container's cgroup, from the mount root down.
  std::string cur = mnt;
  std::istringstream ss(unified_.substr(mnt.size()));
  std::string comp;
  while (std::getline(ss, comp, '/')) {
    if (comp.empty()) continue;
    if (!has_word(util::read_ctl(cur, "cgroup.subtree_control"), ctrl)) {
      util::write_ctl(cur, "cgroup.subtree_control", "+" + ctrl, field);
      enabled_.emplace_back(cur, ctrl);
    }
    cur += "/" + comp;
  }
}

// ---------------------------------------------------------------- set

void Manager::set(const nlohmann::json& r) {
  if (r.is_null()) return;
  if (!r.is_object()) fail(Errc::invalid, "linux.resources: expected an object");
  auto section = [&](const char* key) -> const nlohmann::json* {
    auto it = r.find(key);
    if (it == r.end() || it->is_null()) return nullptr;
    return &*it;
  };
  // Which backend a controller uses: its v1 hierarchy, else the unified dir.
  auto pick = [&](const char* ctrl, const char* field) -> std::pair<std::string, bool> {
    std::string d = v1_dir(ctrl);
    if (!d.empty()) return {d, true};
    if (!unified_.empty()) {
      // Only what this resource needs, on a hybrid host (v2 enabled all in apply).
      if (mode_ == Mode::hybrid) enable_v2(std::strcmp(ctrl, "blkio") == 0 ? "io" : ctrl, field);
      return {unified_, false};
    }
    util::unsupported(field, std::string("the ") + ctrl + " controller is not mounted");
  };
  if (auto* m = section("memory")) {
    auto [d, is1] = pick("memory", "memory");
    is1 ? v1::set_memory(d, *m) : v2::set_memory(d, *m);
  }
  if (auto* c = section("cpu")) {
    if (!c->is_object()) fail(Errc::invalid, "linux.resources.cpu: expected an object");
    nlohmann::json cpu = *c, cs = nlohmann::json::object();
    for (const char* k : {"cpus", "mems"})
      if (cpu.contains(k)) {
        cs[k] = cpu[k];
        cpu.erase(k);
      }
    if (!cpu.empty()) {
      auto [d, is1] = pick("cpu", "cpu");
      is1 ? v1::set_cpu(d, cpu) : v2::set_cpu(d, cpu);
    }
    if (!cs.empty()) {
      auto [d, is1] = pick("cpuset", "cpu.cpus");
      (void)is1;
      if (auto v = util::get_str(cs, "cpus", "cpu.cpus"); v && !v->empty())
        util::write_ctl(d, "cpuset.cpus", *v, "cpu.cpus");
      if (auto v = util::get_str(cs, "mems", "cpu.mems"); v && !v->empty())
        util::write_ctl(d, "cpuset.mems", *v, "cpu.mems");
    }
  }
  if (auto* p = section("pids")) {
    auto lim = util::get_int(*p, "limit", "pids.limit");
    if (lim) {
      auto [d, is1] = pick("pids", "pids.limit");
      (void)is1;
      util::write_ctl(d, "pids.max", *lim > 0 ? std::to_string(*lim) : "max", "pids.limit");
    }
  }
  if (auto* b = section("blockIO")) {
    auto [d, is1] = pick("blkio", "blockIO");
    is1 ? v1::set_blkio(d, *b) : v2::set_io(d, *b);
  }
  if (auto* h = section("hugepageLimits"); h && !h->empty()) {
    auto [d, is1] = pick("hugetlb", "hugepageLimits");
    is1 ? v1::set_hugetlb(d, *h) : v2::set_hugetlb(d, *h);
  }
  if (auto* dv = section("devices")) {
    std::string d = v1_dir("devices");
    if (!d.empty()) v1::set_devices(d, *dv);
    else if (!unified_.empty()) device_filter::attach(unified_, *dv);
    else util::unsupported("devices", "no devices controller is mounted");
  }
  if (auto* n = section("network")) {
    if (n->contains("classID") && !(*n)["classID"].is_null()) {
      std::string d = v1_dir("net_cls");
      if (d.empty()) util::unsupported("network.classID", "the net_cls controller is not mounted");
      v1::set_net_cls(d, *n);
    }
    if (n->contains("priorities") && !(*n)["priorities"].empty()) {
      std::string d = v1_dir("net_prio");
      if (d.empty()) util::unsupported("network.priorities", "the net_prio controller is not mounted");
      v1::set_net_prio(d, *n);
    }
  }
  if (auto* rd = section("rdma"); rd && !rd->empty()) util::unsupported("rdma", "the rdma controller is not supported");
  if (auto* u = section("unified"); u && !u->empty()) {
    if (unified_.empty()) util::unsupported("unified", "no cgroup2 hierarchy is mounted");
    v2::set_unified(unified_, *u);
  }
}

// ---------------------------------------------------------------- freeze

std::string Manager::procs_dir() const {
  for (const char* c : {"freezer", "pids", "memory", "cpu"})
    if (auto d = v1_dir(c); !d.empty()) return d;
  if (!unified_.empty()) return unified_;
  if (!v1_.empty()) return v1_.begin()->second;
  return {};
}

static void freeze_wait(const std::string& what, const std::function<void()>& request,
                        const std::function<bool()>& done) {
  // The kernel may report FREEZING for a while (tasks in uninterruptible
  // sleep); re-request periodically, give up after ~10 s.
  for (int i = 0; i < 1000; ++i) {
    if (i % 10 == 0) request();
    if (done()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fail(Errc::failure, what + ": timed out waiting for the cgroup to change state");
}

// Freeze (true) or thaw through the v1 freezer, else cgroup2's cgroup.freeze.
static void change_freezer(const Manager& m, bool freeze) {
  const char* what = freeze ? "freeze" : "thaw";
  if (auto d = m.v1_dir("freezer"); !d.empty()) {
    const char* want = freeze ? "FROZEN" : "THAWED";
    freeze_wait(
        std::string(what) + " " + d, [&] { util::write_ctl(d, "freezer.state", want, "freezer.state"); },
        [&] { return util::read_ctl(d, "freezer.state").value_or("") == want; });
  } else if (const std::string& u = m.unified_dir(); !u.empty()) {
    freeze_wait(
        std::string(what) + " " + u, [&] { util::write_ctl(u, "cgroup.freeze", freeze ? "1" : "0", "cgroup.freeze"); },
        [&] { return m.frozen() == freeze; });
  } else {
    fail(Errc::failure, std::string("cannot ") + what + ": no freezer controller is mounted");
  }
}

void Manager::freeze() { change_freezer(*this, true); }

void Manager::thaw() { change_freezer(*this, false); }

bool Manager::frozen() const {
  if (auto d = v1_dir("freezer"); !d.empty()) return util::read_ctl(d, "freezer.state").value_or("") == "FROZEN";
  if (!unified_.empty()) return util::read_flat_keyed(unified_, "cgroup.events")["frozen"] == 1;
  return false;
}

// ---------------------------------------------------------------- pids, kill

static void collect_pids(const std::string& dir, std::vector<pid_t>& out) {
  if (auto s = util::read_ctl(dir, "cgroup.procs")) {
    std::istringstream in(*s);
    pid_t p;
    while (in >> p) out.push_back(p);
  }
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subs;
  while (auto* e = readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      subs.push_back(dir + "/" + e->d_name);
  closedir(d);
  for (auto& s : subs) collect_pids(s, out);
}

std::vector<pid_t> Manager::pids() const {
  std::vector<pid_t> out;
  std::string d = procs_dir();
  if (!d.empty()) collect_pids(d, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Manager::kill_all(int sig) {
  if (sig == SIGKILL && v1_dir("freezer").empty() && !unified_.empty() && fs::exists(unified_ + "/cgroup.kill")) {
    util::write_ctl(unified_, "cgroup.kill", "1", "cgroup.kill");
    return;
  }
  bool can_freeze = !v1_dir("freezer").empty() || !unified_.empty();
  bool was_frozen = can_freeze && frozen();
  if (can_freeze && !was_frozen) freeze();
  for (pid_t p : pids())
    if (::kill(p, sig) != 0 && errno != ESRCH) {
      int err = errno;
      if (can_freeze && !was_frozen) thaw();
      throw_errno("kill " + std::to_string(p), err);
    }
  if (can_freeze && !was_frozen) thaw();
}

// ---------------------------------------------------------------- stats

nlohmann::json Manager::stats() const {
  nlohmann::json s = nlohmann::json::object();
  std::string cpu = v1_dir("cpu"), acct = v1_dir("cpuacct");
  if (!cpu.empty() || !acct.empty()) s["cpu"] = v1::cpu_stats(cpu, acct);
  else if (!unified_.empty()) s["cpu"] = v2::cpu_stats(unified_);
  if (auto d = v1_dir("memory"); !d.empty()) s["memory"] = v1::memory_stats(d);
  else if (!unified_.empty()) s["memory"] = v2::memory_stats(unified_);
  std::string pd = v1_dir("pids").empty() ? unified_ : v1_dir("pids");
  if (!pd.empty() && fs::exists(pd + "/pids.current")) {
    uint64_t lim = util::read_u64(pd, "pids.max");
    s["pids"] = {{"current", util::read_u64(pd, "pids.current")}, {"limit", lim == UINT64_MAX ? 0 : lim}};
  } else {
    s["pids"] = {{"current", pids().size()}, {"limit", 0}};
  }
  if (auto d = v1_dir("blkio"); !d.empty()) s["blkio"] = v1::blkio_stats(d);
  else if (!unified_.empty()) s["blkio"] = v2::io_stats(unified_);
  if (auto d = v1_dir("hugetlb"); !d.empty()) s["hugetlb"] = v1::hugetlb_stats(d);
  else if (!unified_.empty()) s["hugetlb"] = v2::hugetlb_stats(unified_);
  if (auto d = v1_dir("cpuset"); !d.empty()) {
    s["cpuset"] = {{"cpus", util::read_ctl(d, "cpuset.effective_cpus").value_or("")},
                   {"mems", util::read_ctl(d, "cpuset.effective_mems").value_or("")}};
  } else if (!unified_.empty()) {
    s["cpuset"] = {{"cpus", util::read_ctl(unified_, "cpuset.cpus.effective").value_or("")},
                   {"mems", util::read_ctl(unified_, "cpuset.mems.effective").value_or("")}};
  }
  return s;
}

// ---------------------------------------------------------------- OOM

OomWatch::OomWatch(const Manager& m) {
  if (std::string d = m.v1_dir("memory"); !d.empty()) {
    // cgroup v1: "<eventfd> <fd of memory.oom_control>" into cgroup.event_control.
    fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) throw_errno("eventfd");
    ctl_fd_ = ::open((d + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (ctl_fd_ < 0) {
      int e = errno;
      ::close(fd_);
      throw_errno("open " + d + "/memory.oom_control", e);
    }
    try {
      util::write_ctl(d, "cgroup.event_control", std::to_string(fd_) + " " + std::to_string(ctl_fd_),
                      "OOM notification");
    } catch (...) {
      ::close(fd_);
      ::close(ctl_fd_);
      throw;
    }
    return;
  }
  if (m.unified_dir().empty() || !fs::exists(m.unified_dir() + "/memory.events"))
    fail(Errc::failure, "cannot watch for OOM events: no memory controller in the container's cgroup");
  events_ = m.unified_dir();
  fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd_ < 0) throw_errno("inotify_init1");
  if (::inotify_add_watch(fd_, (events_ + "/memory.events").c_str(), IN_MODIFY) < 0) {
    int e = errno;
    ::close(fd_);
    throw_errno("watch " + events_ + "/memory.events", e);
  }
  last_kills_ = util::read_flat_keyed(events_, "memory.events")["oom_kill"];
}

OomWatch::~OomWatch() {
  if (fd_ >= 0) ::close(fd_);
  if (ctl_fd_ >= 0) ::close(ctl_fd_);
}

uint64_t OomWatch::consume() {
  if (events_.empty()) {
    uint64_t n = 0;  // the eventfd counter: OOM events since the last read
    if (::read(fd_, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return 0;
    return n;
  }
  char buf[4096];
  while (::read(fd_, buf, sizeof buf) > 0) {
  }
  uint64_t kills = util::read_flat_keyed(events_, "memory.events")["oom_kill"];
  uint64_t n = kills > last_kills_ ? kills - last_kills_ : 0;
  last_kills_ = kills;
  return n;
}

// ---------------------------------------------------------------- destroy

static void remove_tree(const std::string& dir) {
  // Usually an empty leaf: one rmdir, no listing.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return;
    throw_errno("open " + dir);
  }
  std::vector<std::string> subs;
  while (auto* e = readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      subs.push_back(dir + "/" + e->d_name);
  closedir(d);
  for (auto& s : subs) remove_tree(s);
  // rmdir gives EBUSY while exiting tasks are still being reaped.
  for (int i = 0;; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY || i >= 200) throw_errno("remove cgroup " + dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Manager::destroy() {
  std::set<std::string> dirs;
  for (auto& [_, d] : v1_) dirs.insert(d);
  if (!unified_.empty()) dirs.insert(unified_);
  std::optional<Error> first;
  for (auto& d : dirs) {
    try {
      remove_tree(d);
    } catch (const Error& e) {
      if (!first) first = e;
    }
  }
  if (first) throw *first;
  // Undo our "+controller" writes, deepest first, unless another cgroup
  // below that parent still has processes (it may use the controller).
  for (auto it = enabled_.rbegin(); it != enabled_.rend(); ++it) {
    const auto& [dir, ctrl] = *it;
    bool busy = false;
    if (DIR* d = opendir(dir.c_str())) {
      while (auto* e = readdir(d))
        if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
            util::read_flat_keyed(dir + "/" + e->d_name, "cgroup.events")["populated"] == 1)
          busy = true;
      closedir(d);
    }
    if (busy) continue;
    try {
      util::write_ctl(dir, "cgroup.subtree_control", "-" + ctrl, "cgroup.subtree_control");
    } catch (const Error& e) {
      log::debug("cgroup: disable " + ctrl + " in " + dir + ": " + e.what());
    }
  }
  enabled_.clear();
}

}  // namespace ocikit::cgroup
