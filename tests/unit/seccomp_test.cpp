#include "common/seccomp.hpp"

#include <doctest/doctest.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.hpp"

using namespace ocikit;
using nlohmann::json;

namespace {
// Install `p` in a forked child and return what `fn` returns (its exit code).
template <class F>
int in_child(const seccomp::Program& p, F fn) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (seccomp::install(p) != 0) _exit(100);
    _exit(fn());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
}  // namespace

TEST_CASE("seccomp: errno rules with argument conditions") {
  auto p = seccomp::compile(json::parse(R"({
    "defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
    "syscalls":[
      {"names":["uname","no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
      {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO",
       "args":[{"index":1,"value":448,"op":"SCMP_CMP_EQ"}]},
      {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO",
       "args":[{"index":2,"value":448,"op":"SCMP_CMP_EQ"}]}]})"));
  CHECK_FALSE(p.filter.empty());
  CHECK(in_child(p, [] {
          utsname u;
          return uname(&u) < 0 && errno == EACCES ? 0 : 1;
        }) == 0);
  char dir[] = "/tmp/ocikit-seccomp-XXXXXX";
  REQUIRE(mkdtemp(dir));
  std::string a = std::string(dir) + "/a", b = std::string(dir) + "/b";
  CHECK(in_child(p, [&] {
          if (mkdir(a.c_str(), 0700) == 0 || errno != EPERM) return 1;  // mode 0700 denied
          if (mkdir(b.c_str(), 0755) != 0) return 2;  // other modes allowed
          return 0;
        }) == 0);
  rmdir(b.c_str());
  rmdir(dir);
}

TEST_CASE("seccomp: flags and kill actions") {
  auto p = seccomp::compile(json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL_PROCESS"}]})"));
  CHECK(p.flags == SECCOMP_FILTER_FLAG_LOG);
  CHECK(in_child(p, [] { return getppid() > 0 ? 0 : 0; }) == 128 + SIGSYS);
}

TEST_CASE("seccomp: docker default profile") {
  auto prof = seccomp::default_profile();
  CHECK(prof["defaultAction"] == "SCMP_ACT_ERRNO");
  auto p = seccomp::compile(prof);
  CHECK(in_child(p, [] {
          if (syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM) return 1;
          if (unshare(CLONE_NEWNS) != -1 || errno != EPERM) return 2;
          if (syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 3;
          if (syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM) return 6;
          // Normal work: files, fork and wait.
          FILE* f = fopen("/proc/self/status", "r");
          if (!f) return 4;
          fclose(f);
          pid_t c = fork();
          if (c == 0) _exit(7);
          int st = 0;
          if (c < 0 || waitpid(c, &st, 0) != c || WEXITSTATUS(st) != 7) return 5;
          return 0;
        }) == 0);
}

TEST_CASE("seccomp: bad profiles") {
  struct Row {
    const char* in;
    const char* err;
  };
  for (
      Row r : {
          Row{R"({"syscalls":[]})", "seccomp: defaultAction is required"},
          Row{R"({"defaultAction":"SCMP_ACT_BOGUS"})", "seccomp defaultAction: unknown action \"SCMP_ACT_BOGUS\""},
          Row{R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"NOPE"}]})",
              "seccomp syscalls[0]: unknown action \"NOPE\""},
          Row{R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]})",
              "seccomp: unknown operator \"SCMP_CMP_XX\""},
          Row{R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_PDP11"]})",
              "seccomp: unknown architecture \"SCMP_ARCH_PDP11\""},
          Row{R"({"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_X"]})",
              "seccomp: unknown flag \"SECCOMP_FILTER_FLAG_X\""},
          Row{R"({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock"})",
              "seccomp: listenerPath (seccomp user notification) is not supported"},
      }) {
    CAPTURE(r.in);
    CHECK_THROWS_WITH(seccomp::compile(json::parse(r.in)), r.err);
  }
}
