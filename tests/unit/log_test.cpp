#include "common/log.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fs.hpp"

using namespace ocikit;

TEST_CASE("log: levels parse and reject unknown names") {
  CHECK(log::parse_level("debug") == log::Level::debug);
  CHECK(log::parse_level("warning") == log::Level::warn);
  CHECK(log::parse_level("error") == log::Level::error);
  CHECK_THROWS_WITH(log::parse_level("loud"), "invalid log level \"loud\" (want debug, info, warn or error)");
  CHECK_THROWS_WITH(log::parse_format("xml"), "invalid log format \"xml\" (want text or json)");
}

TEST_CASE("log: json lines look like runc's") {
  auto line = log::format_json_line(log::Level::info, "hello \"x\"\nnext", "2026-11-23T09:00:00Z");
  CHECK(line == R"({"level":"info","msg":"hello \"x\"\nnext","time":"2026-11-23T09:00:00Z"})");
  CHECK(log::now_rfc3339().size() == 30);
}

TEST_CASE("log: file output honours the threshold") {
  char tmpl[] = "/tmp/ocikit-log-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  std::string path = std::string(tmpl) + "/log.json";
  log::set_level(log::Level::info);
  log::set_file(path, log::Format::json);
  log::debug("hidden");
  log::warn("shown");
  log::set_file("", log::Format::text);
  std::string s = fs::read_file(path);
  auto j = nlohmann::json::parse(s);
  CHECK(j["level"] == "warning");
  CHECK(j["msg"] == "shown");
  CHECK(s.find("hidden") == std::string::npos);
  fs::remove_all(tmpl);
}
