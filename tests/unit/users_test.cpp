#include "common/users.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

#include "rootfs_fixture.hpp"
#include "temp_dir.hpp"
#include "error_of.hpp"

using namespace ocikit;
using namespace ocikit::testing;
using namespace ocikit::users;


TEST_CASE("users: resolve cases") {
  Rootfs r;
  struct Case {
    const char* spec;
    uint32_t uid, gid;
    std::vector<uint32_t> groups;
    const char* home;
  };
  Case cases[] = {
      {"", 0, 0, {0, 10}, "/root"},  // root's passwd entry and its groups
      {"root", 0, 0, {0, 10}, "/root"},
      {"0", 0, 0, {0, 10}, "/root"},
      {"app", 1000, 1001, {10, 29}, "/home/app"},  // supplementary groups naming the user
      {"1000", 1000, 1001, {10, 29}, "/home/app"},  // a uid found in passwd counts as that user
      {"app:staff", 1000, 50, {}, "/home/app"},  // an explicit group: no supplementary groups
      {"app:29", 1000, 29, {}, "/home/app"},
      {"app:4242", 1000, 4242, {}, "/home/app"},  // a numeric gid missing from group is fine
      {"1000:wheel", 1000, 10, {}, "/home/app"},
      {"4000", 4000, 0, {}, "/"},  // a numeric uid missing from passwd: gid 0, home /
      {"4000:4001", 4000, 4001, {}, "/"},
      {"4000:audio", 4000, 29, {}, "/"},
      {"daemon", 1, 1, {}, "/usr/sbin"},
      {"nohome", 1002, 1002, {}, "/"},
  };
  for (auto& c : cases) {
    CAPTURE(c.spec);
    User u = resolve(r.dir.path, c.spec);
    CHECK(u.uid == c.uid);
    CHECK(u.gid == c.gid);
    CHECK(u.additional_gids == c.groups);
    CHECK(u.home == c.home);
  }
}

TEST_CASE("users: resolve errors") {
  Rootfs r;
  Errc code{};
  CHECK(error_of([&] { resolve(r.dir.path, "nobody"); }, &code) ==
        "unable to find user nobody: no matching entries in passwd file");
  CHECK(code == Errc::not_found);
  CHECK(error_of([&] { resolve(r.dir.path, "broken"); }) ==
        "unable to find user broken: no matching entries in passwd file");
  CHECK(error_of([&] { resolve(r.dir.path, "app:nogroup"); }, &code) ==
        "unable to find group nogroup: no matching entries in group file");
  CHECK(code == Errc::not_found);
  CHECK(error_of([&] { resolve(r.dir.path, "4294967296"); }, &code) == "uid 4294967296 is out of range");
  CHECK(code == Errc::invalid);
  CHECK(error_of([&] { resolve(r.dir.path, "0:2147483648"); }) == "gid 2147483648 is out of range");
  CHECK(error_of([&] { resolve(r.dir.path + "/missing", "0"); }).rfind("open " + r.dir.path + "/missing", 0) == 0);
}

TEST_CASE("users: resolve without passwd or group files") {
  TempDir d;
  User u = resolve(d.path, "");
  CHECK(u.uid == 0);
  CHECK(u.gid == 0);
  CHECK(u.additional_gids.empty());
  CHECK(u.home == "/");
  u = resolve(d.path, "123:456");
  CHECK(u.uid == 123);
  CHECK(u.gid == 456);
  CHECK(error_of([&] { resolve(d.path, "app"); }) == "unable to find user app: no matching entries in passwd file");
  CHECK(error_of([&] { resolve(d.path, "0:wheel"); }) ==
        "unable to find group wheel: no matching entries in group file");
}

TEST_CASE("users: resolve stays inside the rootfs") {
  // A host-side passwd with a user the rootfs does not have.
  TempDir host;
  put(host.path + "/etc/passwd", "evil:x:4321:4321::/evil:/bin/sh\n");
  put(host.path + "/etc/group", "evilgrp:x:4321:evil\n");
  TempDir rootfs;
  fs::mkdir_p(rootfs.path + "/etc");
  // Absolute and ../-laden symlinks: followed as if rootfs were "/".
  REQUIRE(::symlink((host.path + "/etc/passwd").c_str(), (rootfs.path + "/etc/passwd").c_str()) == 0);
  REQUIRE(::symlink(("../../../../../../.." + host.path + "/etc/group").c_str(),
                    (rootfs.path + "/etc/group").c_str()) == 0);
  CHECK(error_of([&] { resolve(rootfs.path, "evil"); }) ==
        "unable to find user evil: no matching entries in passwd file");
  CHECK(error_of([&] { resolve(rootfs.path, "0:evilgrp"); }) ==
        "unable to find group evilgrp: no matching entries in group file");
  // The same path exists inside the rootfs: that one is read.
  put(rootfs.path + host.path + "/etc/passwd", "inside:x:77:78::/in:/bin/sh\n");
  User u = resolve(rootfs.path, "inside");
  CHECK(u.uid == 77);
  CHECK(u.gid == 78);
  CHECK(u.home == "/in");
}

TEST_CASE("users: resolve refuses a FIFO passwd") {
  TempDir d;
  fs::mkdir_p(d.path + "/etc");
  REQUIRE(::mkfifo((d.path + "/etc/passwd").c_str(), 0644) == 0);
  Errc code{};
  CHECK(error_of([&] { resolve(d.path, "root"); }, &code) == d.path + "/etc/passwd: not a regular file");
  CHECK(code == Errc::invalid);
}

