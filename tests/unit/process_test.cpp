#include "common/process.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

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
