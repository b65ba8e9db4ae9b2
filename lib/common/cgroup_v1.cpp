// cgroup v1: linux.resources sections written to per-controller hierarchies,
// and the statistics read back from them.

#include <cerrno>
#include <optional>
#include <sstream>

#include "common/cgroup_util.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::cgroup::v1 {

using util::get_bool;
using util::get_int;
using util::get_str;
using util::get_uint;
using util::write_ctl;

static std::string limit_str(int64_t v) { return v < 0 ? std::string("-1") : std::to_string(v); }

void set_memory(const std::string& dir, const nlohmann::json& m) {
  if (!m.is_object()) fail(Errc::invalid, "linux.resources.memory: expected an object");
  auto limit = get_int(m, "limit", "memory.limit");
  auto swap = get_int(m, "swap", "memory.swap");
  if (get_bool(m, "checkBeforeUpdate", "memory.checkBeforeUpdate").value_or(false) && limit && *limit > 0) {
    uint64_t usage = util::read_u64(dir, "memory.usage_in_bytes");
    if (static_cast<uint64_t>(*limit) < usage)
      fail(Errc::failure,
           "cannot set memory.limit: " + std::to_string(*limit) + " is below the current usage " +
               std::to_string(usage));
  }
  if (limit && swap) {
    // memsw must stay >= limit at every step: raising, write memsw first;
    // lowering, write the limit first. Try one order, fall back to the other.
    try {
      write_ctl(dir, "memory.limit_in_bytes", limit_str(*limit), "memory.limit");
      write_ctl(dir, "memory.memsw.limit_in_bytes", limit_str(*swap), "memory.swap");
    } catch (const Error& e) {
      if (e.sys_errno() != EINVAL) throw;
      write_ctl(dir, "memory.memsw.limit_in_bytes", limit_str(*swap), "memory.swap");
      write_ctl(dir, "memory.limit_in_bytes", limit_str(*limit), "memory.limit");
    }
  } else if (limit) {
    write_ctl(dir, "memory.limit_in_bytes", limit_str(*limit), "memory.limit");
  } else if (swap) {
    write_ctl(dir, "memory.memsw.limit_in_bytes", limit_str(*swap), "memory.swap");
  }
  if (auto v = get_int(m, "reservation", "memory.reservation"))
    write_ctl(dir, "memory.soft_limit_in_bytes", limit_str(*v), "memory.reservation");
  if (auto v = get_int(m, "kernel", "memory.kernel"))
    write_ctl(dir, "memory.kmem.limit_in_bytes", limit_str(*v), "memory.kernel");
  if (auto v = get_int(m, "kernelTCP", "memory.kernelTCP"))
    write_ctl(dir, "memory.kmem.tcp.limit_in_bytes", limit_str(*v), "memory.kernelTCP");
  if (auto v = get_uint(m, "swappiness", "memory.swappiness")) {
    if (*v > 100) fail(Errc::invalid, "memory.swappiness: " + std::to_string(*v) + " is not in 0..100");
    write_ctl(dir, "memory.swappiness", std::to_string(*v), "memory.swappiness");
  }
  if (get_bool(m, "disableOOMKiller", "memory.disableOOMKiller").value_or(false))
    write_ctl(dir, "memory.oom_control", "1", "memory.disableOOMKiller");
  if (auto v = get_bool(m, "useHierarchy", "memory.useHierarchy"))
    write_ctl(dir, "memory.use_hierarchy", *v ? "1" : "0", "memory.useHierarchy");
}

void set_cpu(const std::string& dir, const nlohmann::json& c) {
  if (auto v = get_uint(c, "shares", "cpu.shares"); v && *v)
    write_ctl(dir, "cpu.shares", std::to_string(*v), "cpu.shares");
  // The period first: the kernel checks quota against the current period.
  if (auto v = get_uint(c, "period", "cpu.period"); v && *v)
    write_ctl(dir, "cpu.cfs_period_us", std::to_string(*v), "cpu.period");
  if (auto v = get_int(c, "quota", "cpu.quota"); v && *v)
    write_ctl(dir, "cpu.cfs_quota_us", std::to_string(*v > 0 ? *v : -1), "cpu.quota");
  if (auto v = get_uint(c, "burst", "cpu.burst")) write_ctl(dir, "cpu.cfs_burst_us", std::to_string(*v), "cpu.burst");
  if (auto v = get_uint(c, "realtimePeriod", "cpu.realtimePeriod"); v && *v)
    write_ctl(dir, "cpu.rt_period_us", std::to_string(*v), "cpu.realtimePeriod");
  if (auto v = get_int(c, "realtimeRuntime", "cpu.realtimeRuntime"); v && *v)
    write_ctl(dir, "cpu.rt_runtime_us", std::to_string(*v), "cpu.realtimeRuntime");
  if (auto v = get_int(c, "idle", "cpu.idle")) write_ctl(dir, "cpu.idle", std::to_string(*v), "cpu.idle");
}

void set_blkio(const std::string& dir, const nlohmann::json& b) {
  if (!b.is_object()) fail(Errc::invalid, "linux.resources.blockIO: expected an object");
  // CFQ's blkio.weight is gone from current kernels; BFQ names it blkio.bfq.weight.
  std::string wfile = fs::exists(dir + "/blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
  if (auto v = get_uint(b, "weight", "blockIO.weight"); v && *v) {
    if (!fs::exists(dir + "/" + wfile)) util::unsupported("blockIO.weight", "no blkio weight file in " + dir);
    write_ctl(dir, wfile, std::to_string(*v), "blockIO.weight");
  }
  if (auto v = get_uint(b, "leafWeight", "blockIO.leafWeight"); v && *v)
    write_ctl(dir, "blkio.leaf_weight", std::to_string(*v), "blockIO.leafWeight");
  if (auto it = b.find("weightDevice"); it != b.end() && it->is_array()) {
    for (auto& e : *it) {
      std::string key = util::dev_key(e, "blockIO.weightDevice");
      if (auto w = get_uint(e, "weight", "blockIO.weightDevice.weight"))
        write_ctl(dir, wfile + "_device", key + " " + std::to_string(*w), "blockIO.weightDevice");
      if (auto w = get_uint(e, "leafWeight", "blockIO.weightDevice.leafWeight"))
        write_ctl(dir, "blkio.leaf_weight_device", key + " " + std::to_string(*w), "blockIO.weightDevice");
    }
  }
  static const char* const kFiles[] = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                                       "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
  util::for_each_throttle(b, [&](util::Throttle kind, const std::string& field, const std::string& dev, uint64_t rate) {
    write_ctl(dir, kFiles[static_cast<int>(kind)], dev + " " + std::to_string(rate), field);
  });
}

void set_hugetlb(const std::string& dir, const nlohmann::json& h) {
  util::for_each_hugepage_limit(h, [&](const std::string& size, uint64_t limit) {
    write_ctl(dir, "hugetlb." + size + ".limit_in_bytes", std::to_string(limit), "hugepageLimits." + size);
  });
}

// One OCI device rule as a v1 devices.allow/deny line: "c 1:3 rwm".
static std::string device_line(const nlohmann::json& r) {
  std::string type = get_str(r, "type", "devices.type").value_or("a");
  if (type != "a" && type != "b" && type != "c") fail(Errc::invalid, "devices: invalid device type \"" + type + "\"");
  std::string access = get_str(r, "access", "devices.access").value_or("rwm");
  if (access.empty() || access.find_first_not_of("rwm") != std::string::npos)
    fail(Errc::invalid, "devices: invalid access \"" + access + "\"");
  auto maj = get_int(r, "major", "devices.major"), min = get_int(r, "minor", "devices.minor");
  auto num = [](std::optional<int64_t> v) { return !v || *v < 0 ? std::string("*") : std::to_string(*v); };
  if (type == "a") return "a";
  return type + " " + num(maj) + ":" + num(min) + " " + access;
}

void set_devices(const std::string& dir, const nlohmann::json& d) {
  if (!d.is_array()) fail(Errc::invalid, "linux.resources.devices: expected an array");
  std::vector<std::pair<bool, std::string>> rules;
  for (auto& r : d) {
    if (!r.is_object()) fail(Errc::invalid, "devices: expected an object, got " + r.dump());
    auto allow = get_bool(r, "allow", "devices.allow");
    if (!allow) fail(Errc::invalid, "devices: \"allow\" is required");
    rules.emplace_back(*allow, device_line(r));
  }
  // Start from deny-all (the OCI default), then apply the rules in order,
  // each file opened once.
  util::CtlFile deny(dir, "devices.deny", "devices");
  deny.write("a");
  std::optional<util::CtlFile> allow_file;
  for (auto& [allow, line] : rules) {
    if (!allow) {
      deny.write(line);
      continue;
    }
    if (!allow_file) allow_file.emplace(dir, "devices.allow", "devices");
    allow_file->write(line);
  }
}

void set_net_cls(const std::string& dir, const nlohmann::json& n) {
  auto id = get_uint(n, "classID", "network.classID");
  if (id) write_ctl(dir, "net_cls.classid", std::to_string(*id), "network.classID");
}

void set_net_prio(const std::string& dir, const nlohmann::json& n) {
  for (auto& p : n.at("priorities")) {
    auto name = get_str(p, "name", "network.priorities.name");
    auto prio = get_uint(p, "priority", "network.priorities.priority");
    if (!name || !prio) fail(Errc::invalid, "network.priorities: name and priority are required");
    write_ctl(dir, "net_prio.ifpriomap", *name + " " + std::to_string(*prio), "network.priorities");
  }
}

// ---------------------------------------------------------------- stats

static std::vector<uint64_t> read_list(const std::string& dir, const std::string& file) {
  std::vector<uint64_t> v;
  if (auto s = util::read_ctl(dir, file)) {
    std::istringstream in(*s);
    uint64_t x;
    while (in >> x) v.push_back(x);
  }
  return v;
}

nlohmann::json cpu_stats(const std::string& cpu_dir, const std::string& acct) {
  nlohmann::json usage = {{"total", 0}, {"percpu", nlohmann::json::array()}, {"kernel", 0}, {"user", 0}};
  if (!acct.empty()) {
    usage["total"] = util::read_u64(acct, "cpuacct.usage");
    usage["percpu"] = read_list(acct, "cpuacct.usage_percpu");
    if (fs::exists(acct + "/cpuacct.usage_user")) {
      usage["user"] = util::read_u64(acct, "cpuacct.usage_user");
      usage["kernel"] = util::read_u64(acct, "cpuacct.usage_sys");
      usage["percpu_user"] = read_list(acct, "cpuacct.usage_percpu_user");
      usage["percpu_kernel"] = read_list(acct, "cpuacct.usage_percpu_sys");
    } else {
      // cpuacct.stat counts USER_HZ ticks.
      auto st = util::read_flat_keyed(acct, "cpuacct.stat");
      uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
      usage["user"] = st["user"] * ns_per_tick;
      usage["kernel"] = st["system"] * ns_per_tick;
    }
  }
  nlohmann::json thr = {{"periods", 0}, {"throttledPeriods", 0}, {"throttledTime", 0}};
  if (!cpu_dir.empty()) {
    auto st = util::read_flat_keyed(cpu_dir, "cpu.stat");
    thr = {{"periods", st["nr_periods"]},
           {"throttledPeriods", st["nr_throttled"]},
           {"throttledTime", st["throttled_time"]}};
  }
  return {{"usage", usage}, {"throttling", thr}};
}

static nlohmann::json mem_entry(const std::string& dir, const std::string& prefix) {
  auto u = [&](const char* f) { return util::read_u64(dir, prefix + f); };
  return {{"usage", u("usage_in_bytes")},
          {"max", u("max_usage_in_bytes")},
          {"limit", u("limit_in_bytes")},
          {"failcnt", u("failcnt")}};
}

nlohmann::json memory_stats(const std::string& dir) {
  auto raw = util::read_flat_keyed(dir, "memory.stat");
  nlohmann::json j = {{"usage", mem_entry(dir, "memory.")},
                      {"swap", mem_entry(dir, "memory.memsw.")},
                      {"kernel", mem_entry(dir, "memory.kmem.")},
                      {"kernelTCP", mem_entry(dir, "memory.kmem.tcp.")},
                      {"raw", raw},
                      {"cache", raw.count("total_cache") ? raw["total_cache"] : raw["cache"]}};
  j["use_hierarchy"] = util::read_u64(dir, "memory.use_hierarchy") == 1;
  return j;
}

// "8:0 Read 4096" lines into runc's BlkioEntry objects.
static nlohmann::json blkio_entries(const std::string& dir, const std::string& file) {
  nlohmann::json out = nlohmann::json::array();
  auto s = util::read_ctl(dir, file);
  if (!s) return out;
  std::istringstream in(*s);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string dev, op;
    uint64_t v = 0;
    if (!(ls >> dev >> op >> v)) continue;
    auto colon = dev.find(':');
    if (colon == std::string::npos) continue;
    out.push_back({{"major", std::stoull(dev.substr(0, colon))},
                   {"minor", std::stoull(dev.substr(colon + 1))},
                   {"op", op},
                   {"value", v}});
  }
  return out;
}

nlohmann::json blkio_stats(const std::string& dir) {
  bool cfq = fs::exists(dir + "/blkio.io_service_bytes_recursive");
  std::string p = cfq ? "blkio." : "blkio.throttle.";
  return {{"ioServiceBytesRecursive", blkio_entries(dir, p + "io_service_bytes_recursive")},
          {"ioServicedRecursive", blkio_entries(dir, p + "io_serviced_recursive")}};
}

nlohmann::json hugetlb_stats(const std::string& dir) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& sz : util::hugepage_sizes()) {
    std::string p = "hugetlb." + sz + ".";
    out[sz] = {{"usage", util::read_u64(dir, p + "usage_in_bytes")},
               {"max", util::read_u64(dir, p + "max_usage_in_bytes")},
               {"failcnt", util::read_u64(dir, p + "failcnt")}};
  }
  return out;
}

}  // namespace ocikit::cgroup::v1
