// oci-run manage/record: container records, lookup by name and id prefix.
#include "manage/record.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "common/fs.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;
using namespace ocikit::manage;

TEST_CASE("record: save, load and json round trip") {
  TempDir t;
  StateDir s(t.path);
  Record r;
  r.id = new_id();
  r.name = "web";
  r.image = "busybox:latest";
  r.created = "2026-11-23T12:00:00.000000000Z";
  r.command = {"sh", "-c", "exit 3"};
  r.labels = {{"a", "b"}};
  r.mounts.push_back({"volume", "data", "/data", true, ""});
  r.restart_policy = "on-failure";
  r.restart_max = 3;
  s.save(r);
  Record back = s.load(r.id);
  CHECK(back.name == "web");
  CHECK(back.command == r.command);
  CHECK(back.labels.at("a") == "b");
  REQUIRE(back.mounts.size() == 1);
  CHECK(back.mounts[0].read_only);
  CHECK(back.restart_max == 3);
  CHECK(to_json(back) == to_json(r));
}

TEST_CASE("record: find by name, full id and unique prefix") {
  TempDir t;
  StateDir s(t.path);
  Record a, b;
  a.id = std::string(63, 'a') + "1";
  a.name = "first";
  b.id = std::string(63, 'a') + "2";
  b.name = "second";
  s.save(a);
  s.save(b);
  CHECK(s.find("first") == a.id);
  CHECK(s.find(b.id) == b.id);
  CHECK(s.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2") == b.id);
  CHECK(s.name_taken("second"));
  CHECK_FALSE(s.name_taken("third"));
  try {
    s.find("aaaa");
    FAIL("ambiguous prefix accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "multiple containers match aaaa");
  }
  try {
    s.find("nope");
    FAIL("missing container found");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()) == "no such container: nope");
  }
  CHECK(s.list().size() == 2);
  s.remove(a.id);
  CHECK(s.list().size() == 1);
  CHECK_FALSE(s.try_find("first"));
}

TEST_CASE("record: ids, names and liveness") {
  std::string id = new_id();
  CHECK(id.size() == 64);
  CHECK(id != new_id());
  for (auto [n, ok] : {std::pair{"web", true}, {"a_b.c-d", true}, {"-x", false}, {"", false}, {"a/b", false}}) {
    CAPTURE(n);
    CHECK(valid_name(n) == ok);
  }
  CHECK(pid_alive(getpid(), pid_start_time(getpid())));
  CHECK_FALSE(pid_alive(getpid(), pid_start_time(getpid()) + 1));
  Record r;
  r.status = "running";
  r.pid = 0;
  CHECK(live_status(r) == "exited");
  r.pid = getpid();
  CHECK(live_status(r) == "running");
}
