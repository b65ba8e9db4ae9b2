// cgroup v2: linux.resources written to the unified hierarchy (with runc's
// v1 -> v2 value conversions), statistics, and device rules as an eBPF
// BPF_PROG_TYPE_CGROUP_DEVICE program.

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
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

// ---------------------------------------------------------------- eBPF devices

namespace ocikit::cgroup::detail {

namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

struct Rule {
  bool allow;
  int type;  // 0 any, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
  int access;  // BPF_DEVCG_ACC_* mask
  int64_t major, minor;  // -1 any
};

Rule parse_rule(const nlohmann::json& r) {
  if (!r.is_object()) fail(Errc::invalid, "devices: expected an object, got " + r.dump());
  Rule out{};
  auto allow = util::get_bool(r, "allow", "devices.allow");
  if (!allow) fail(Errc::invalid, "devices: \"allow\" is required");
  out.allow = *allow;
  std::string type = util::get_str(r, "type", "devices.type").value_or("a");
  if (type == "a") out.type = 0;
  else if (type == "b") out.type = BPF_DEVCG_DEV_BLOCK;
  else if (type == "c") out.type = BPF_DEVCG_DEV_CHAR;
  else fail(Errc::invalid, "devices: invalid device type \"" + type + "\"");
  std::string access = util::get_str(r, "access", "devices.access").value_or("rwm");
  if (access.empty()) access = "rwm";
  for (char c : access) {
    if (c == 'r') out.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') out.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') out.access |= BPF_DEVCG_ACC_MKNOD;
    else fail(Errc::invalid, "devices: invalid access \"" + access + "\"");
  }
  out.major = util::get_int(r, "major", "devices.major").value_or(-1);
  out.minor = util::get_int(r, "minor", "devices.minor").value_or(-1);
  if (out.type == 0) out.major = out.minor = -1;
  return out;
}

}  // namespace

// Program layout (ctx = struct bpf_cgroup_dev_ctx in r1):
//   r2 = ctx->access_type & 0xffff (device type)   r3 = access_type >> 16
//   r4 = ctx->major                                r5 = ctx->minor
//   for each rule, last first (the last matching OCI rule wins):
//     if type/access/major/minor do not match -> next rule
//     r0 = allow; exit
//   r0 = 0; exit   (default deny)
std::vector<bpf_insn> build_device_program(const nlohmann::json& devices) {
  if (!devices.is_array()) fail(Errc::invalid, "linux.resources.devices: expected an array");
  std::vector<Rule> rules;
  for (auto& r : devices) rules.push_back(parse_rule(r));
  std::vector<bpf_insn> p;
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));
  p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 3, 2, 0, 0));
  p.push_back(insn(BPF_ALU64 | BPF_RSH | BPF_K, 3, 0, 0, 16));
  p.push_back(insn(BPF_ALU64 | BPF_AND | BPF_K, 2, 0, 0, 0xffff));
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0));
  p.push_back(insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0));
  const int kAll = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const Rule& r = *it;
    std::vector<bpf_insn> b;
    std::vector<size_t> jumps;
    if (r.type) {
      jumps.push_back(b.size());
      b.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, r.type));
    }
    if (r.access != kAll) {
      // The requested access must be a subset of the rule's.
      b.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 3, 0, 0));
      b.push_back(insn(BPF_ALU64 | BPF_AND | BPF_K, 1, 0, 0, r.access));
      jumps.push_back(b.size());
      b.push_back(insn(BPF_JMP | BPF_JNE | BPF_X, 1, 3, 0, 0));
    }
    if (r.major >= 0) {
      jumps.push_back(b.size());
      b.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, static_cast<int32_t>(r.major)));
    }
    if (r.minor >= 0) {
      jumps.push_back(b.size());
      b.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, static_cast<int32_t>(r.minor)));
    }
    b.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r.allow ? 1 : 0));
    b.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : jumps) b[j].off = static_cast<int16_t>(b.size() - j - 1);
    p.insert(p.end(), b.begin(), b.end());
    // A rule matching everything hides every earlier rule.
    if (jumps.empty()) return p;
  }
  p.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
  p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return p;
}

void attach_device_filter(const std::string& dir, const nlohmann::json& devices) {
  auto prog = build_device_program(devices);
  fs::UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) throw_errno("cannot set devices: open " + dir);

  // Programs attached before (by an earlier set) are replaced below.
  uint32_t old_ids[64];
  bpf_attr q{};
  q.query.target_fd = static_cast<uint32_t>(dfd.get());
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
  q.query.prog_cnt = 64;
  uint32_t n_old = sys_bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;

  char log[4096] = "";
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = reinterpret_cast<uint64_t>(prog.data());
  a.insn_cnt = static_cast<uint32_t>(prog.size());
  a.license = reinterpret_cast<uint64_t>("Apache");
  a.log_buf = reinterpret_cast<uint64_t>(log);
  a.log_size = sizeof log;
  a.log_level = 1;
  fs::UniqueFd pfd(static_cast<int>(sys_bpf(BPF_PROG_LOAD, &a)));
  if (!pfd) {
    int err = errno;
    std::string l = log;
    std::replace(l.begin(), l.end(), '\n', ' ');
    throw Error(Errc::failure, "cannot set devices: load the eBPF device program" + (l.empty() ? "" : " (" + l + ")"),
                err);
  }
  bpf_attr at{};
  at.target_fd = static_cast<uint32_t>(dfd.get());
  at.attach_bpf_fd = static_cast<uint32_t>(pfd.get());
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &at) != 0)
    throw Error(Errc::failure, "cannot set devices: attach the eBPF device program to " + dir, errno);
  for (uint32_t i = 0; i < n_old && i < 64; ++i) {
    bpf_attr g{};
    g.prog_id = old_ids[i];
    fs::UniqueFd ofd(static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &g)));
    if (!ofd) continue;
    bpf_attr d{};
    d.target_fd = static_cast<uint32_t>(dfd.get());
    d.attach_bpf_fd = static_cast<uint32_t>(ofd.get());
    d.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &d) != 0 && errno != ENOENT)
      throw Error(Errc::failure, "cannot set devices: detach the previous eBPF device program from " + dir, errno);
  }
}

}  // namespace ocikit::cgroup::detail
