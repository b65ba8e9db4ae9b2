// docker's health check rules (tools/oci-run/manage/health.hpp): the state
// machine, the merge of image and flags, durations as docker prints them.
#include "manage/health.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/error.hpp"
#include "error_of.hpp"

using namespace ocikit;
using namespace ocikit::manage;
using json = nlohmann::json;

namespace {

json result(int code, const std::string& out = "") {
  return {{"Start", "s"}, {"End", "e"}, {"ExitCode", code}, {"Output", out}};
}

std::string usage_error(const HealthFlags& f) {
  return testing::error_of([&] { merge_healthcheck(std::nullopt, f); }, Errc::usage);
}

}  // namespace

TEST_CASE("health: retries failures in a row make it unhealthy, a success healthy again") {
  json s = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  apply_health_result(s, result(1), false, 3);
  CHECK(s["Status"] == "starting");
  CHECK(s["FailingStreak"] == 1);
  apply_health_result(s, result(0, "ok\n"), false, 3);
  CHECK(s["Status"] == "healthy");
  CHECK(s["FailingStreak"] == 0);
  apply_health_result(s, result(1), false, 3);
  apply_health_result(s, result(2), false, 3);
  CHECK(s["Status"] == "healthy");
  apply_health_result(s, result(-1, "Health check exceeded timeout (1s)"), false, 3);
  CHECK(s["Status"] == "unhealthy");
  CHECK(s["FailingStreak"] == 3);
  // The last five results are kept, oldest first.
  CHECK(s["Log"].size() == 5);
  CHECK(s["Log"][1]["Output"] == "ok\n");
  apply_health_result(s, result(7), false, 3);
  CHECK(s["Log"].size() == 5);
  CHECK(s["Log"][0]["Output"] == "ok\n");
  CHECK(s["Log"][4]["ExitCode"] == 7);
}

TEST_CASE("health: failures in the start period do not count until a success") {
  json s = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  for (int i = 0; i < 5; i++) apply_health_result(s, result(1), true, 1);
  CHECK(s["Status"] == "starting");
  CHECK(s["FailingStreak"] == 0);
  CHECK(s["Log"].size() == 5);
  apply_health_result(s, result(0), true, 1);
  CHECK(s["Status"] == "healthy");
  // Once it was healthy, a failure counts even within the start period.
  apply_health_result(s, result(1), true, 1);
  CHECK(s["Status"] == "unhealthy");
  // retries 0 means docker's default, 3.
  json t = {{"Status", "starting"}, {"FailingStreak", 0}};
  apply_health_result(t, result(1), false, 0);
  apply_health_result(t, result(1), false, 0);
  CHECK(t["Status"] == "starting");
  apply_health_result(t, result(1), false, 0);
  CHECK(t["Status"] == "unhealthy");
}

TEST_CASE("health: the flags change the image's check field by field") {
  image::Healthcheck img;
  img.test = {"CMD", "/bin/check"};
  img.interval = 10'000'000'000;
  img.retries = 5;
  HealthFlags f;
  f.timeout = "2s";
  auto h = merge_healthcheck(img, f);
  REQUIRE(h);
  CHECK(h->test == std::vector<std::string>{"CMD", "/bin/check"});
  CHECK(h->interval == 10'000'000'000);
  CHECK(h->timeout == 2'000'000'000);
  CHECK(h->retries == 5);
  f.cmd = "wget -q localhost";
  f.retries = 1;
  f.interval = "1m30s";
  h = merge_healthcheck(img, f);
  CHECK(h->test == std::vector<std::string>{"CMD-SHELL", "wget -q localhost"});
  CHECK(h->interval == 90'000'000'000);
  CHECK(h->retries == 1);
  CHECK_FALSE(merge_healthcheck(std::nullopt, HealthFlags{}));
  HealthFlags none;
  none.none = true;
  CHECK(merge_healthcheck(img, none)->test == std::vector<std::string>{"NONE"});
  // Round trip through docker's Config.Healthcheck form.
  json j = healthcheck_to_json(*h);
  CHECK(j["Test"] == json({"CMD-SHELL", "wget -q localhost"}));
  CHECK(j["Interval"] == 90'000'000'000);
  CHECK_FALSE(j.contains("StartPeriod"));
  auto back = healthcheck_from_json(j);
  CHECK(back.test == h->test);
  CHECK(back.timeout == h->timeout);
}

TEST_CASE("health: bad flags are usage errors") {
  HealthFlags f;
  f.interval = "soon";
  CHECK(usage_error(f) == "invalid argument \"soon\" for \"--health-interval\" flag: invalid duration");
  f = {};
  f.timeout = "-1s";
  CHECK(usage_error(f) == "--health-timeout cannot be negative");
  f = {};
  f.start_period = "10us";
  CHECK(usage_error(f) == "--health-start-period cannot be less than 1ms");
  f = {};
  f.retries = -2;
  CHECK(usage_error(f) == "--health-retries cannot be negative");
  f = {};
  f.none = true;
  f.cmd = "true";
  CHECK(usage_error(f) == "--no-healthcheck conflicts with --health-* options");
}

TEST_CASE("health: durations as docker prints them (Go's time.Duration)") {
  CHECK(go_duration(0) == "0s");
  CHECK(go_duration(30'000'000'000) == "30s");
  CHECK(go_duration(1'500'000'000) == "1.5s");
  CHECK(go_duration(500'000'000) == "500ms");
  CHECK(go_duration(90'000'000'000) == "1m30s");
  CHECK(go_duration(3'600'000'000'000) == "1h0m0s");
  CHECK(go_duration(1500) == "1.5µs");
}
