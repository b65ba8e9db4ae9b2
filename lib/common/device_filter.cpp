// ocikit::device_filter: OCI device cgroup rules as an eBPF
// BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached to a cgroup2
// directory (see the header).
#include "common/device_filter.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/cgroup_util.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::device_filter {

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
  auto allow = cgroup::util::get_bool(r, "allow", "devices.allow");
  if (!allow) fail(Errc::invalid, "devices: \"allow\" is required");
  out.allow = *allow;
  std::string type = cgroup::util::get_str(r, "type", "devices.type").value_or("a");
  if (type == "a") out.type = 0;
  else if (type == "b") out.type = BPF_DEVCG_DEV_BLOCK;
  else if (type == "c") out.type = BPF_DEVCG_DEV_CHAR;
  else fail(Errc::invalid, "devices: invalid device type \"" + type + "\"");
  std::string access = cgroup::util::get_str(r, "access", "devices.access").value_or("rwm");
  if (access.empty()) access = "rwm";
  for (char c : access) {
    if (c == 'r') out.access |= BPF_DEVCG_ACC_READ;
    else if (c == 'w') out.access |= BPF_DEVCG_ACC_WRITE;
    else if (c == 'm') out.access |= BPF_DEVCG_ACC_MKNOD;
    else fail(Errc::invalid, "devices: invalid access \"" + access + "\"");
  }
  out.major = cgroup::util::get_int(r, "major", "devices.major").value_or(-1);
  out.minor = cgroup::util::get_int(r, "minor", "devices.minor").value_or(-1);
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
std::vector<bpf_insn> build_program(const nlohmann::json& devices) {
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

void attach(const std::string& dir, const nlohmann::json& devices) {
  auto prog = build_program(devices);
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

}  // namespace ocikit::device_filter
