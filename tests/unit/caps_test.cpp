#include "common/caps.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"

using namespace ocikit;
using nlohmann::json;

namespace {
// /proc/self/status "CapEff:\t0000000000000021" -> 0x21.
uint64_t status_field(const std::string& status, const std::string& key) {
  auto p = status.find(key + ":\t");
  REQUIRE(p != std::string::npos);
  return std::stoull(status.substr(p + key.size() + 2, 16), nullptr, 16);
}
}  // namespace

TEST_CASE("caps: names and numbers") {
  CHECK(caps::number("CAP_CHOWN") == 0);
  CHECK(caps::number("net_admin") == 12);
  CHECK(caps::number("CAP_CHECKPOINT_RESTORE") == 40);
  CHECK(caps::number("CAP_FOO") == -1);
  CHECK(caps::name(21) == "CAP_SYS_ADMIN");
  CHECK(caps::name(63) == "CAP_63");
  CHECK(caps::docker_default().size() == 14);
  for (auto& n : caps::docker_default()) {
    CAPTURE(n);
    CHECK(caps::name(caps::number(n)) == n);
  }
}

TEST_CASE("caps: parse") {
  auto s = caps::parse(json::parse(R"({"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],
                                       "permitted":["CAP_CHOWN","CAP_KILL"],"ambient":[]})"));
  CHECK(s.bounding == ((1ull << 0) | (1ull << 5)));
  CHECK(s.effective == (1ull << 5));
  CHECK(s.inheritable == 0);
  CHECK_THROWS_WITH(caps::parse(json::parse(R"({"bounding":["CAP_FOO"]})")), "unknown capability \"CAP_FOO\"");
  CHECK_THROWS_WITH(caps::parse(json::parse(R"({"bounding":["chown"]})")), "unknown capability \"chown\"");
  CHECK_THROWS_WITH(caps::parse(json::parse(R"({"bounding":"CAP_CHOWN"})")),
                    "process.capabilities.bounding: expected an array");
}

TEST_CASE("caps: apply in a forked child and read back /proc/self/status") {
  if (geteuid() != 0) return;
  auto s = caps::parse(json::parse(R"({
    "bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
    "permitted":["CAP_CHOWN","CAP_KILL","CAP_NET_BIND_SERVICE"],
    "effective":["CAP_CHOWN","CAP_KILL"],
    "inheritable":["CAP_KILL","CAP_NET_BIND_SERVICE"],
    "ambient":["CAP_NET_BIND_SERVICE"]})"));
  int pfd[2];
  REQUIRE(pipe(pfd) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(pfd[0]);
    int rc = caps::apply(s);
    if (rc != 0) {
      dprintf(pfd[1], "apply failed: %s", strerror(-rc));
      _exit(1);
    }
    std::string st = fs::read_file("/proc/self/status");
    (void)!write(pfd[1], st.data(), st.size());
    _exit(0);
  }
  close(pfd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(pfd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(pfd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  CAPTURE(out);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  CHECK(status_field(out, "CapBnd") == s.bounding);
  CHECK(status_field(out, "CapPrm") == s.permitted);
  CHECK(status_field(out, "CapEff") == s.effective);
  CHECK(status_field(out, "CapInh") == s.inheritable);
  CHECK(status_field(out, "CapAmb") == s.ambient);
}

TEST_CASE("caps: apply reports kernel refusals as -errno") {
  if (geteuid() != 0) return;
  // Ambient without inheritable is refused with EPERM.
  caps::Sets s;
  s.bounding = s.permitted = s.effective = ~0ull >> (63 - caps::last_cap());
  s.ambient = 1ull << 0;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(caps::apply(s) == -EPERM ? 0 : 1);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WEXITSTATUS(st) == 0);
}
