#include "common/process.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "common/error.hpp"

using namespace ocikit;

TEST_CASE("process: exit codes, signals as 128+N, a program looked up in PATH") {
  CHECK(process::run({{"true"}}) == 0);
  CHECK(process::run({{"false"}}) == 1);
  CHECK(process::run({{"/bin/sh", "-c", "exit 7"}}) == 7);
  CHECK(process::run({{"/bin/sh", "-c", "kill -9 $$"}}) == 128 + 9);
}

TEST_CASE("process: capture stdout and stderr apart, both drained together") {
  // more than a pipe buffer on stderr while stdout is written too
  auto r = process::capture({{"/bin/sh", "-c", "head -c 200000 /dev/zero >&2; echo out; echo err >&2"}});
  CHECK(r.status == 0);
  CHECK(r.out == "out\n");
  CHECK(r.err.size() == 200004);
  auto only =
      process::capture({.argv = {"/bin/sh", "-c", "echo o; echo e >&2"}, .err = process::kDevNull}, true, false);
  CHECK(only.out == "o\n");
  CHECK(only.err.empty());
}

TEST_CASE("process: the environment given replaces ours; stdin is /dev/null by default") {
  auto r = process::capture(
      {.argv = {"/bin/sh", "-c", "echo \"$OKT_A:${HOME-unset}\"; cat"}, .env = std::vector<std::string>{"OKT_A=1"}});
  CHECK(r.out == "1:unset\n");
}

TEST_CASE("process: a program that cannot run is an error in the parent, with the reason") {
  CHECK_THROWS_WITH(process::run({{"okt-no-such-program"}}),
                    doctest::Contains("exec okt-no-such-program: No such file or directory"));
  char tmpl[] = "/tmp/okt-process-XXXXXX";
  int fd = mkstemp(tmpl);  // mode 0600: not executable, even for root
  REQUIRE(fd >= 0);
  close(fd);
  std::string want = std::string("exec ") + tmpl + ": Permission denied";
  CHECK_THROWS_WITH(process::run({{tmpl}}), doctest::Contains(want.c_str()));
  unlink(tmpl);
  // path names the program, argv[0] only its name
  auto r = process::capture({.argv = {"okt-name", "-c", "echo $0"}, .path = "/bin/sh"});
  CHECK(r.out == "okt-name\n");
}

TEST_CASE("process: capture_bounded gives stdin, and kills a child that talks too much or too long") {
  process::Bounds b;
  b.input = "line one\nline two";
  b.max_output = 1 << 20;
  b.timeout_ms = 10000;
  auto r = process::capture_bounded({{"/bin/sh", "-c", "cat; echo; echo e >&2"}}, b);
  CHECK(r.status == 0);
  CHECK(r.out == "line one\nline two\n");
  CHECK(r.err == "e\n");
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.too_large);

  // Input larger than a default pipe (64 KiB) still goes in whole.
  b.input.assign(300000, 'x');
  r = process::capture_bounded({{"/bin/sh", "-c", "wc -c"}}, b);
  CHECK(r.out.find("300000") != std::string::npos);

  // A child that does not read its stdin and exits: no SIGPIPE here.
  r = process::capture_bounded({{"true"}}, b);
  CHECK(r.status == 0);

  b.input.clear();
  b.max_output = 100000;
  r = process::capture_bounded({{"/bin/sh", "-c", "exec cat /dev/zero"}}, b);
  CHECK(r.too_large);
  CHECK(r.status == 128 + 9);
  CHECK(r.out.size() + r.err.size() > 100000);

  b.timeout_ms = 200;
  auto t0 = std::chrono::steady_clock::now();
  r = process::capture_bounded({{"/bin/sh", "-c", "exec sleep 30"}}, b);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.timed_out);
  CHECK(r.status == 128 + 9);
  CHECK(ms < 5000);

  // A child that closes its output and stays is killed at the deadline too.
  t0 = std::chrono::steady_clock::now();
  r = process::capture_bounded({{"/bin/sh", "-c", "exec >&- 2>&-; exec sleep 30"}}, b);
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.timed_out);
  CHECK(r.status == 128 + 9);
  CHECK(ms < 5000);

  b.input.assign((1 << 20) + 1, 'x');
  CHECK_THROWS_WITH(process::capture_bounded({{"true"}}, b), "process: input larger than 1 MiB");
}

TEST_CASE("process: controlling_tty gives the child a session whose terminal is its stdin (SIGWINCH on resize)") {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  int slave = ::open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(slave >= 0);
  struct stat st {};
  REQUIRE(fstat(slave, &st) == 0);
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  // Field 7 of /proc/PID/stat is the controlling terminal's device number;
  // a window size set on the master reaches the child as SIGWINCH.
  pid_t pid = process::spawn({.argv = {"/bin/sh", "-c",
                                       "trap 'echo winch; exit 0' WINCH; cut -d' ' -f7 /proc/$$/stat; "
                                       "i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 1"},
                              .in = slave,
                              .out = out[1],
                              .controlling_tty = true});
  ::close(out[1]);
  ::close(slave);
  std::string got;
  char buf[256];
  while (got.find('\n') == std::string::npos) {
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  CHECK(got == std::to_string(st.st_rdev) + "\n");
  struct winsize ws {};
  ws.ws_row = 33;
  ws.ws_col = 111;
  REQUIRE(ioctl(master, TIOCSWINSZ, &ws) == 0);
  CHECK(process::wait(pid) == 0);
  while (ssize_t n = ::read(out[0], buf, sizeof buf)) {
    if (n < 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  CHECK(got == std::to_string(st.st_rdev) + "\nwinch\n");
  ::close(out[0]);
  ::close(master);
}
