#include "common/error.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

using namespace ocikit;

TEST_CASE("error: categories map to exit codes") {
  struct Row {
    Errc code;
    int exit;
  };
  for (Row r : {Row{Errc::failure, 1}, Row{Errc::usage, 2}, Row{Errc::invalid, 1}, Row{Errc::not_found, 1},
                Row{Errc::io, 1}, Row{Errc::cmd_cannot_run, 126}, Row{Errc::cmd_not_found, 127}}) {
    CAPTURE(static_cast<int>(r.code));
    CHECK(exit_code_for(r.code) == r.exit);
  }
}

TEST_CASE("error: errno text is appended and context prefixed") {
  Error e(Errc::io, "open etc/passwd", EACCES);
  e.prefix("unpack layer sha256:ab");
  CHECK(std::string(e.what()) == "unpack layer sha256:ab: open etc/passwd: Permission denied");
  CHECK(e.sys_errno() == EACCES);
  CHECK(e.code() == Errc::io);
}

TEST_CASE("error: with_context wraps library exceptions") {
  try {
    with_context("read manifest", [] { return nlohmann::json::parse("{bad"); });
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid);
    CHECK(std::string(e.what()).rfind("read manifest: invalid JSON: parse error", 0) == 0);
  }
  try {
    with_context("stat", [] { (void)std::filesystem::file_size("/nonexistent/ocikit"); });
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::io);
    CHECK(std::string(e.what()) == "stat: /nonexistent/ocikit: No such file or directory");
  }
  CHECK(with_context("ok", [] { return 42; }) == 42);
}

TEST_CASE("error: fail keeps the category") {
  CHECK_THROWS_WITH_AS(fail(Errc::not_found, "image foo not found"), "image foo not found", Error);
  try {
    fail(Errc::usage, "bad flag");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::usage);
  }
}
