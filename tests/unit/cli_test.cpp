#include "common/cli.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "common/log.hpp"

using namespace ocikit;

namespace {
int parse_args(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  auto rc = cli::parse(app, static_cast<int>(argv.size()), argv.data());
  return rc ? *rc : -1;
}
}  // namespace

TEST_CASE("cli: help and version exit 0, usage errors exit 2") {
  log::set_tool("oci-test");
  struct Row {
    std::vector<std::string> args;
    int rc;
  };
  for (const Row& r : {Row{{"t", "--help"}, 0}, Row{{"t", "--version"}, 0}, Row{{"t", "--nope"}, 2}, Row{{"t"}, -1},
                       Row{{"t", "--log-level", "debug"}, -1}}) {
    CAPTURE(r.args.back());
    CLI::App app{"test"};
    cli::LogOptions o;
    cli::add_log_flags(app, o);
    CHECK(parse_args(app, r.args) == r.rc);
  }
  CHECK(cli::version_text("oci-test") == "oci-test version 0.1.0\nspec: 1.2.0");
}

TEST_CASE("cli: run_main maps errors to exit codes") {
  CHECK(cli::run_main("oci-test", [] { return 0; }) == 0);
  CHECK(cli::run_main("oci-test", []() -> int { fail(Errc::usage, "x"); }) == 2);
  CHECK(cli::run_main("oci-test", []() -> int { fail("x"); }) == 1);
  CHECK(cli::run_main(
            "oci-test", []() -> int { fail("x"); }, 125) == 125);
  CHECK(cli::run_main("oci-test", []() -> int { throw std::runtime_error("boom"); }) == 1);
}

TEST_CASE("cli: bad log level is a usage error") {
  cli::LogOptions o;
  o.level = "loud";
  try {
    cli::apply_log_flags(o);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::usage);
  }
}

TEST_CASE("cli: getenv_compat reads the OCIKIT_ name, else an old one") {
  unsetenv("OKT_NEW");
  setenv("OKT_OLD", "old", 1);
  CHECK(std::string(cli::getenv_compat("OKT_NEW", {"OKT_OLD"})) == "old");
  setenv("OKT_NEW", "new", 1);
  CHECK(std::string(cli::getenv_compat("OKT_NEW", {"OKT_OLD"})) == "new");
  unsetenv("OKT_NEW");
  unsetenv("OKT_OLD");
  CHECK(cli::getenv_compat("OKT_NEW", {"OKT_OLD"}) == nullptr);
}

TEST_CASE("cli: find_tool takes the variable, then the build tree beside the binary, then PATH") {
  setenv("OKT_TOOL", "/x/y", 1);
  CHECK(cli::find_tool("okt-tool", "", "OKT_TOOL") == "/x/y");
  unsetenv("OKT_TOOL");
  CHECK(cli::find_tool("sh", "", "OKT_TOOL").ends_with("/sh"));
  CHECK_THROWS_WITH(cli::find_tool("okt-no-such-tool", "/nonexistent", "OKT_TOOL"),
                    doctest::Contains("okt-no-such-tool not found (set $OKT_TOOL or put it in $PATH)"));
}
