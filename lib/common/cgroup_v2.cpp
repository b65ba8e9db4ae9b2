// cgroup v2: linux.resources written to the unified hierarchy (with runc's
// v1 -> v2 value conversions) and statistics. Device rules become an eBPF
// program in device_filter.cpp.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/cgroup.hpp"
#include "common/cgroup_util.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::cgroup::v2 {

using util::get_bool;
using util::get_int;
using util::get_str;
using util::get_uint;
using util::unsupported;
using util::write_ctl;

static std::string max_or(int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); }

void set_memory(const std::string& dir, const nlohmann::json& m) {
  if (!m.is_object()) fail(Errc::invalid, "linux.resources.memory: expected an object");
  auto limit = get_int(m, "limit", "memory.limit");
  auto swap = get_int(m, "swap", "memory.swap");
  if (limit && *limit != 0) write_ctl(dir, "memory.max", max_or(*limit), "memory.limit");
  // OCI swap is memory+swap (the v1 memsw meaning); memory.swap.max is swap
  // alone. Same conversion as runc, including "unlimited memory implies
  // unlimited swap".
  int64_t mem = limit.value_or(0), sw = swap.value_or(0);
  std::optional<int64_t> v2swap;
  if (mem == -1 && sw == 0) v2swap = -1;
  else if (sw == -1) v2swap = -1;
  else if (sw > 0) {
    if (mem <= 0) unsupported("memory.swap", "a swap limit needs a memory limit on cgroup v2");
    if (sw < mem) fail(Errc::invalid, "memory.swap: memory+swap limit should be >= memory limit");
    v2swap = sw - mem;
  }
  if (v2swap) write_ctl(dir, "memory.swap.max", max_or(*v2swap), "memory.swap");
  if (auto v = get_int(m, "reservation", "memory.reservation"); v && *v != 0)
    write_ctl(dir, "memory.low", max_or(*v), "memory.reservation");
  if (auto v = get_int(m, "kernel", "memory.kernel"); v && *v != 0)
    unsupported("memory.kernel", "kernel memory limits do not exist on cgroup v2");
  if (auto v = get_int(m, "kernelTCP", "memory.kernelTCP"); v && *v != 0)
    unsupported("memory.kernelTCP", "kernel TCP memory limits do not exist on cgroup v2");
  if (auto v = get_uint(m, "swappiness", "memory.swappiness"))
    unsupported("memory.swappiness", "per-cgroup swappiness does not exist on cgroup v2");
  if (get_bool(m, "disableOOMKiller", "memory.disableOOMKiller").value_or(false))
    unsupported("memory.disableOOMKiller", "the OOM killer cannot be disabled on cgroup v2");
  if (get_bool(m, "checkBeforeUpdate", "memory.checkBeforeUpdate").value_or(false) && limit && *limit > 0) {
    uint64_t usage = util::read_u64(dir, "memory.current");
    if (static_cast<uint64_t>(*limit) < usage)
      fail(Errc::failure,
           "cannot set memory.limit: " + std::to_string(*limit) + " is below the current usage " +
               std::to_string(usage));
  }
}

void set_cpu(const std::string& dir, const nlohmann::json& c) {
  // cpu.shares 2..262144 maps linearly onto cpu.weight 1..10000 (runc's formula).
  if (auto v = get_uint(c, "shares", "cpu.shares"); v && *v) {
    uint64_t s = std::clamp<uint64_t>(*v, 2, 262144);
    write_ctl(dir, "cpu.weight", std::to_string(1 + ((s - 2) * 9999) / 262142), "cpu.shares");
  }
  auto quota = get_int(c, "quota", "cpu.quota");
  auto period = get_uint(c, "period", "cpu.period");
  if ((quota && *quota != 0) || (period && *period != 0)) {
    std::string q = quota && *quota > 0 ? std::to_string(*quota) : "max";
    uint64_t p = period && *period ? *period : 100000;
    write_ctl(dir, "cpu.max", q + " " + std::to_string(p), quota ? "cpu.quota" : "cpu.period");
  }
  if (auto v = get_uint(c, "burst", "cpu.burst")) write_ctl(dir, "cpu.max.burst", std::to_string(*v), "cpu.burst");
  if (auto v = get_int(c, "realtimeRuntime", "cpu.realtimeRuntime"); v && *v)
    unsupported("cpu.realtimeRuntime", "realtime scheduling limits do not exist on cgroup v2");
  if (auto v = get_uint(c, "realtimePeriod", "cpu.realtimePeriod"); v && *v)
    unsupported("cpu.realtimePeriod", "realtime scheduling limits do not exist on cgroup v2");
  if (auto v = get_int(c, "idle", "cpu.idle")) write_ctl(dir, "cpu.idle", std::to_string(*v), "cpu.idle");
}

void set_io(const std::string& dir, const nlohmann::json& b) {
  if (!b.is_object()) fail(Errc::invalid, "linux.resources.blockIO: expected an object");
  bool bfq = fs::exists(dir + "/io.bfq.weight");
  // blkio.weight 10..1000 maps onto io.weight 1..10000; io.bfq.weight takes it as is.
  auto conv = [&](uint64_t w) { return bfq ? w : 1 + (std::clamp<uint64_t>(w, 10, 1000) - 10) * 9999 / 990; };
  std::string wfile = bfq ? "io.bfq.weight" : "io.weight";
  if (auto v = get_uint(b, "weight", "blockIO.weight"); v && *v)
    write_ctl(dir, wfile, (bfq ? "" : "default ") + std::to_string(conv(*v)), "blockIO.weight");
  if (auto v = get_uint(b, "leafWeight", "blockIO.leafWeight"); v && *v)
    unsupported("blockIO.leafWeight", "leaf weights do not exist on cgroup v2");
  if (auto it = b.find("weightDevice"); it != b.end() && it->is_array())
    for (auto& e : *it) {
      std::string key = util::dev_key(e, "blockIO.weightDevice");
      if (auto w = get_uint(e, "weight", "blockIO.weightDevice.weight"))
        write_ctl(dir, wfile, key + " " + std::to_string(conv(*w)), "blockIO.weightDevice");
      if (auto w = get_uint(e, "leafWeight", "blockIO.weightDevice.leafWeight"))
        unsupported("blockIO.weightDevice.leafWeight", "leaf weights do not exist on cgroup v2");
    }
  static const char* const kKeys[] = {"rbps", "wbps", "riops", "wiops"};
  util::for_each_throttle(b, [&](util::Throttle kind, const std::string& field, const std::string& dev, uint64_t rate) {
    write_ctl(dir, "io.max", dev + " " + kKeys[static_cast<int>(kind)] + "=" + (rate ? std::to_string(rate) : "max"),
              field);
  });
}

void set_hugetlb(const std::string& dir, const nlohmann::json& h) {
  util::for_each_hugepage_limit(h, [&](const std::string& size, uint64_t limit) {
    write_ctl(dir, "hugetlb." + size + ".max", std::to_string(limit), "hugepageLimits." + size);
  });
}

void set_unified(const std::string& dir, const nlohmann::json& u) {
  if (!u.is_object()) fail(Errc::invalid, "linux.resources.unified: expected an object");
  for (auto& [k, v] : u.items()) {
    if (k.empty() || k.find('/') != std::string::npos || k.find('.') == std::string::npos || k[0] == '.')
      fail(Errc::invalid, "unified: invalid key \"" + k + "\"");
    if (!v.is_string()) fail(Errc::invalid, "unified." + k + ": expected a string, got " + v.dump());
    write_ctl(dir, k, v.get<std::string>(), "unified." + k);
  }
}

// ---------------------------------------------------------------- stats

nlohmann::json cpu_stats(const std::string& dir) {
  auto st = util::read_flat_keyed(dir, "cpu.stat");
  return {{"usage",
           {{"total", st["usage_usec"] * 1000},
            {"percpu", nlohmann::json::array()},
            {"kernel", st["system_usec"] * 1000},
            {"user", st["user_usec"] * 1000}}},
          {"throttling",
           {{"periods", st["nr_periods"]},
            {"throttledPeriods", st["nr_throttled"]},
            {"throttledTime", st["throttled_usec"] * 1000}}}};
}

nlohmann::json memory_stats(const std::string& dir) {
  auto raw = util::read_flat_keyed(dir, "memory.stat");
  auto events = util::read_flat_keyed(dir, "memory.events");
  auto lim = [](uint64_t v) { return v; };
  nlohmann::json usage = {{"usage", util::read_u64(dir, "memory.current")},
                          {"max", util::read_u64(dir, "memory.peak")},
                          {"limit", lim(util::read_u64(dir, "memory.max"))},
                          {"failcnt", events["max"]}};
  nlohmann::json swap = {{"usage", util::read_u64(dir, "memory.swap.current")},
                         {"max", util::read_u64(dir, "memory.swap.peak")},
                         {"limit", util::read_u64(dir, "memory.swap.max")},
                         {"failcnt", util::read_flat_keyed(dir, "memory.swap.events")["fail"]}};
  return {{"usage", usage},
          {"swap", swap},
          {"kernel", {{"usage", raw["kernel"]}, {"max", 0}, {"limit", 0}, {"failcnt", 0}}},
          {"raw", raw},
          {"cache", raw["file"]}};
}

nlohmann::json io_stats(const std::string& dir) {
  nlohmann::json bytes = nlohmann::json::array(), ios = nlohmann::json::array();
  auto s = util::read_ctl(dir, "io.stat");
  if (s) {
    std::istringstream in(*s);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string dev, kv;
      if (!(ls >> dev)) continue;
      auto colon = dev.find(':');
      if (colon == std::string::npos) continue;
      uint64_t maj = std::stoull(dev.substr(0, colon)), min = std::stoull(dev.substr(colon + 1));
      while (ls >> kv) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string k = kv.substr(0, eq);
        uint64_t v = std::strtoull(kv.c_str() + eq + 1, nullptr, 10);
        nlohmann::json e = {{"major", maj}, {"minor", min}, {"value", v}};
        if (k == "rbytes") bytes.push_back((e["op"] = "Read", e));
        else if (k == "wbytes") bytes.push_back((e["op"] = "Write", e));
        else if (k == "rios") ios.push_back((e["op"] = "Read", e));
        else if (k == "wios") ios.push_back((e["op"] = "Write", e));
      }
    }
  }
  return {{"ioServiceBytesRecursive", bytes}, {"ioServicedRecursive", ios}};
}

nlohmann::json hugetlb_stats(const std::string& dir) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& sz : util::hugepage_sizes()) {
    std::string p = "hugetlb." + sz + ".";
    if (!fs::exists(dir + "/" + p + "current")) continue;
    out[sz] = {{"usage", util::read_u64(dir, p + "current")},
               {"max", util::read_u64(dir, p + "max")},
               {"failcnt", util::read_flat_keyed(dir, p + "events")["max"]}};
  }
  return out;
}

}  // namespace ocikit::cgroup::v2
