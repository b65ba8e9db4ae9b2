#include "common/events.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;

namespace {

std::vector<events::Event> read_all(const std::string& path, int64_t since = 0, int64_t until = 0,
                                    size_t* bad = nullptr) {
  std::vector<events::Event> out;
  size_t n = events::read(path, since, until, false, [&](const events::Event& e) {
    out.push_back(e);
    return true;
  });
  if (bad) *bad = n;
  return out;
}

}  // namespace

TEST_CASE("events: docker's JSON and text forms round trip") {
  events::Event e{"container", "die", "abc123", {{"exitCode", "3"}, {"image", "busybox"}, {"name", "web"}},
                  1700000000123456789};
  auto j = events::to_json(e);
  CHECK(j["Type"] == "container");
  CHECK(j["Action"] == "die");
  CHECK(j["status"] == "die");
  CHECK(j["id"] == "abc123");
  CHECK(j["from"] == "busybox");
  CHECK(j["Actor"]["Attributes"]["exitCode"] == "3");
  CHECK(j["time"] == 1700000000);
  CHECK(j["timeNano"] == 1700000000123456789);
  auto back = events::from_json_line(j.dump());
  REQUIRE(back);
  CHECK(back->attributes == e.attributes);
  CHECK(back->time_nano == e.time_nano);
  CHECK(events::to_text(e) == "2023-11-14T22:13:20.123456789Z container die abc123 (exitCode=3, image=busybox, name=web)");
  for (const char* bad : {"", "{", "[]", "{\"Type\":\"x\"}", "{\"Type\":1,\"Action\":\"a\",\"Actor\":{},\"timeNano\":1}"})
    CHECK_FALSE(events::from_json_line(bad));
}

TEST_CASE("events: emitted lines are read back, malformed ones skipped and counted") {
  TempDir d;
  std::string path = d.path + "/sub/events.log";
  events::emit({"volume", "create", "v1", {{"driver", "local"}}, 100}, path);
  events::emit({"volume", "destroy", "v1", {}, 200}, path);
  fs::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND));
  fs::write_all(fd.get(), "garbage\n", 8);
  events::emit({"network", "create", "n1", {}, 300}, path);
  size_t bad = 0;
  auto all = read_all(path, 0, 0, &bad);
  REQUIRE(all.size() == 3);
  CHECK(bad == 1);
  CHECK(all[0].action == "create");
  CHECK(all[2].type == "network");
  // since and until bound what is read.
  auto mid = read_all(path, 150, 250);
  REQUIRE(mid.size() == 1);
  CHECK(mid[0].action == "destroy");
  // A journal that cannot be written is a warning, not an error.
  CHECK_NOTHROW(events::emit({"volume", "create", "x", {}, 1}, "/proc/no/such/events.log"));
}

TEST_CASE("events: the journal is rotated past its bound and read across the two files") {
  TempDir d;
  std::string path = d.path + "/events.log";
  std::string big(100000, 'x');
  size_t n = events::kMaxBytes / 100000 + 5;
  for (size_t i = 0; i < n; i++) events::emit({"image", "tag", "i" + std::to_string(i), {{"pad", big}}, int64_t(i + 1)}, path);
  CHECK(fs::exists(path + ".1"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) < events::kMaxBytes);
  auto all = read_all(path);
  CHECK(all.size() <= n);
  CHECK(all.size() > n / 2);
  CHECK(all.back().id == "i" + std::to_string(n - 1));
  for (size_t i = 1; i < all.size(); i++) CHECK(all[i - 1].time_nano < all[i].time_nano);
}

TEST_CASE("events: a follower sees events written after it started, across a rotation") {
  TempDir d;
  std::string path = d.path + "/events.log";
  std::vector<std::string> seen;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    events::emit({"container", "start", "c1", {}, 10}, path);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ::rename(path.c_str(), (path + ".1").c_str());  // as a rotation does
    events::emit({"container", "die", "c1", {}, 20}, path);
  });
  events::read(path, 0, 0, true, [&](const events::Event& e) {
    seen.push_back(e.action);
    return seen.size() < 2;
  });
  writer.join();
  CHECK(seen == std::vector<std::string>{"start", "die"});
}

TEST_CASE("events: --since and --until times") {
  int64_t now = 1700000000000000000;
  CHECK(events::parse_time("1700000000", now) == 1700000000000000000);
  CHECK(events::parse_time("1700000000.5", now) == 1700000000500000000);
  CHECK(events::parse_time("2023-11-14T22:13:20Z", now) == 1700000000000000000);
  CHECK(events::parse_time("2023-11-14T22:13:20.25Z", now) == 1700000000250000000);
  CHECK(events::parse_time("2023-11-14T23:13:20+01:00", now) == 1700000000000000000);
  CHECK(events::parse_time("10m", now) == now - 600000000000);
  for (const char* bad : {"", "yesterday", "2023-13-45T99:99:99Z", "1.x", "-5m"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(events::parse_time(bad, now), Error);
  }
}
