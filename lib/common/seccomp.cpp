#include "common/seccomp.hpp"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <memory>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::seccomp {

namespace {

uint32_t parse_action(const std::string& a, const nlohmann::json& errno_ret, const std::string& where) {
  auto ret = [&]() -> uint16_t {
    if (errno_ret.is_null()) return EPERM;
    if (!errno_ret.is_number_integer() || errno_ret.get<int64_t>() < 0 || errno_ret.get<int64_t>() > 4095)
      fail(Errc::invalid, where + ": invalid errnoRet " + errno_ret.dump());
    return static_cast<uint16_t>(errno_ret.get<int64_t>());
  };
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret());
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (a == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret());
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (a == "SCMP_ACT_NOTIFY")
    fail(Errc::failure, where + ": SCMP_ACT_NOTIFY (seccomp user notification) is not supported");
  fail(Errc::invalid, where + ": unknown action \"" + a + "\"");
}

scmp_compare parse_op(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (op == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  fail(Errc::invalid, "seccomp: unknown operator \"" + op + "\"");
}

unsigned parse_flag(const std::string& f) {
  if (f == "SECCOMP_FILTER_FLAG_TSYNC") return SECCOMP_FILTER_FLAG_TSYNC;
  if (f == "SECCOMP_FILTER_FLAG_LOG") return SECCOMP_FILTER_FLAG_LOG;
  if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") return SECCOMP_FILTER_FLAG_SPEC_ALLOW;
#ifdef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
  if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") return SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#endif
  fail(Errc::invalid, "seccomp: unknown flag \"" + f + "\"");
}

uint32_t parse_arch(const std::string& a) {
  std::string n = a.rfind("SCMP_ARCH_", 0) == 0 ? a.substr(10) : a;
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  uint32_t t = seccomp_arch_resolve_name(n.c_str());
  if (t == 0) fail(Errc::invalid, "seccomp: unknown architecture \"" + a + "\"");
  return t;
}

struct CtxFree {
  void operator()(void* c) const { seccomp_release(c); }
};

}  // namespace

Program compile(const nlohmann::json& s) {
  if (!s.is_object()) fail(Errc::invalid, "seccomp: expected an object");
  Program prog;
  if (s.contains("listenerPath") && !s["listenerPath"].is_null() && !s["listenerPath"].get<std::string>().empty())
    fail(Errc::failure, "seccomp: listenerPath (seccomp user notification) is not supported");
  std::string def = s.value("defaultAction", "");
  if (def.empty()) fail(Errc::invalid, "seccomp: defaultAction is required");
  uint32_t def_act = parse_action(def, s.value("defaultErrnoRet", nlohmann::json()), "seccomp defaultAction");
  std::unique_ptr<void, CtxFree> ctx(seccomp_init(def_act));
  if (!ctx) fail(Errc::failure, "seccomp: cannot initialise libseccomp");
  // no_new_privs is the runtime's decision (process.noNewPrivileges), not the filter's.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (auto it = s.find("architectures"); it != s.end() && it->is_array())
    for (auto& a : *it) {
      int rc = seccomp_arch_add(ctx.get(), parse_arch(a.get<std::string>()));
      if (rc != 0 && rc != -EEXIST)
        throw Error(Errc::failure, "seccomp: add architecture " + a.get<std::string>(), -rc);
    }
  if (auto it = s.find("flags"); it != s.end() && it->is_array())
    for (auto& f : *it) prog.flags |= parse_flag(f.get<std::string>());
  if (auto it = s.find("syscalls"); it != s.end() && !it->is_null()) {
    if (!it->is_array()) fail(Errc::invalid, "seccomp: syscalls: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& r = (*it)[i];
      std::string where = "seccomp syscalls[" + std::to_string(i) + "]";
      uint32_t act = parse_action(r.value("action", ""), r.value("errnoRet", nlohmann::json()), where);
      std::vector<scmp_arg_cmp> args;
      if (auto a = r.find("args"); a != r.end() && a->is_array())
        for (auto& c : *a) {
          unsigned idx = c.at("index").get<unsigned>();
          if (idx > 5) fail(Errc::invalid, where + ": argument index " + std::to_string(idx) + " is out of range");
          args.push_back({idx, parse_op(c.at("op").get<std::string>()), c.value("value", uint64_t{0}),
                          c.value("valueTwo", uint64_t{0})});
        }
      if (act == def_act) continue;  // libseccomp refuses rules equal to the default
      for (auto& n : r.at("names")) {
        std::string name = n.get<std::string>();
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {
          log::debug("seccomp: skipping unknown syscall " + name);
          continue;
        }
        // Several conditions on one argument mean "any of them" (runc and
        // crun add each as a rule of its own; libseccomp refuses them in one).
        bool repeated = false;
        for (size_t a = 0; a < args.size() && !repeated; ++a)
          for (size_t b = a + 1; b < args.size(); ++b)
            if (args[a].arg == args[b].arg) repeated = true;
        if (repeated) {
          for (auto& c : args) {
            int rc = seccomp_rule_add_array(ctx.get(), act, nr, 1, &c);
            if (rc != 0) throw Error(Errc::invalid, where + ": add rule for " + name, -rc);
          }
          continue;
        }
        int rc = seccomp_rule_add_array(ctx.get(), act, nr, static_cast<unsigned>(args.size()), args.data());
        if (rc != 0) throw Error(Errc::invalid, where + ": add rule for " + name, -rc);
      }
    }
  }
  fs::UniqueFd fd(memfd_create("ocikit-seccomp", MFD_CLOEXEC));
  if (!fd) throw_errno("seccomp: memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc != 0) throw Error(Errc::failure, "seccomp: export BPF", -rc);
  off_t len = lseek(fd.get(), 0, SEEK_END);
  if (len < 0 || len % sizeof(sock_filter) != 0) fail(Errc::failure, "seccomp: bad BPF size from libseccomp");
  prog.filter.resize(static_cast<size_t>(len) / sizeof(sock_filter));
  if (pread(fd.get(), prog.filter.data(), static_cast<size_t>(len), 0) != len) throw_errno("seccomp: read BPF");
  return prog;
}

int install(const Program& p) noexcept {
  sock_fprog fp{};
  fp.len = static_cast<unsigned short>(p.filter.size());
  fp.filter = const_cast<sock_filter*>(p.filter.data());
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p.flags, &fp) != 0) return -errno;
  return 0;
}

}  // namespace ocikit::seccomp
