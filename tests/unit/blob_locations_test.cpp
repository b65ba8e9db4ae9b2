#include "common/blob_locations.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using blobloc::BlobLocations;

namespace {
std::string dg(const std::string& s) { return digest::of(s).str(); }
}  // namespace

TEST_CASE("blobloc: recorded repositories come back newest first, per host") {
  testing::TempDir t;
  std::string path = t.path + "/cache/blob-locations";  // the directory is created
  {
    BlobLocations c(path);
    CHECK(c.repositories("reg:5000", dg("a")).empty());
    c.record("reg:5000", "lib/base", {dg("a"), dg("b")});
    c.record("reg:5000", "team/app", {dg("a")});
    c.record("reg:50001", "other/x", {dg("a")});
    CHECK(c.repositories("reg:5000", dg("a")) == std::vector<std::string>{"team/app", "lib/base"});
  }
  BlobLocations again(path);  // what a later process sees
  CHECK(again.repositories("reg:5000", dg("a")) == std::vector<std::string>{"team/app", "lib/base"});
  CHECK(again.repositories("reg:5000", dg("b")) == std::vector<std::string>{"lib/base"});
  CHECK(again.repositories("reg:50001", dg("a")) == std::vector<std::string>{"other/x"});
  CHECK(again.repositories("reg:5000", dg("a"), 1) == std::vector<std::string>{"team/app"});
  CHECK(again.repositories("reg", dg("a")).empty());
  // Recording a pair again makes it the newest, without a second line.
  again.record("reg:5000", "lib/base", {dg("a")});
  CHECK(again.repositories("reg:5000", dg("a")) == std::vector<std::string>{"lib/base", "team/app"});
  std::string text = fs::read_file(path);
  CHECK(std::count(text.begin(), text.end(), '\n') == 4);  // a/lib, b/lib, a/team, a/other
}

TEST_CASE("blobloc: records merge with what another process saved meanwhile") {
  testing::TempDir t;
  std::string path = t.path + "/blob-locations";
  BlobLocations one(path), two(path);
  one.record("h", "r1", {dg("x")});
  two.record("h", "r2", {dg("x")});  // two was opened before one saved
  CHECK(BlobLocations(path).repositories("h", dg("x")) == std::vector<std::string>{"r2", "r1"});
}

TEST_CASE("blobloc: at most kMaxEntries, the oldest go first") {
  testing::TempDir t;
  std::string path = t.path + "/blob-locations";
  BlobLocations c(path);
  c.record("h", "first", {dg("old")});
  std::vector<std::string> many;
  for (size_t i = 0; i < BlobLocations::kMaxEntries; ++i) many.push_back(dg(std::to_string(i)));
  c.record("h", "bulk", many);
  BlobLocations back(path);
  CHECK(back.repositories("h", dg("old")).empty());
  CHECK(back.repositories("h", dg("0")) == std::vector<std::string>{"bulk"});
  std::string text = fs::read_file(path);
  CHECK(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) == BlobLocations::kMaxEntries);
}

TEST_CASE("blobloc: a damaged file gives no hints for its bad lines and is repaired on save") {
  testing::TempDir t;
  std::string path = t.path + "/blob-locations";
  std::string good = dg("good") + " h/repo\n";
  fs::write_file_atomic(path,
                        "garbage\n" + good + "sha256:1234 h/short\n" + dg("x") + " nohost\n" + dg("torn") + " h/r");
  BlobLocations c(path);
  CHECK(c.repositories("h", dg("good")) == std::vector<std::string>{"repo"});
  CHECK(c.repositories("h", dg("torn")).empty());
  c.record("h", "new", {dg("n")});
  CHECK(fs::read_file(path) == good + dg("n") + " h/new\n");
}

TEST_CASE("blobloc: a cache that cannot be saved or is disabled never fails the caller") {
  testing::TempDir t;
  fs::write_file_atomic(t.path + "/file", "x");
  BlobLocations blocked(t.path + "/file/blob-locations");  // a file where a directory should be
  CHECK_NOTHROW(blocked.record("h", "r", {dg("a")}));
  CHECK(blocked.repositories("h", dg("a")).empty());

  BlobLocations off("");
  CHECK_NOTHROW(off.record("h", "r", {dg("a")}));
  CHECK(off.repositories("h", dg("a")).empty());
  CHECK(testing::entries(t.path) == std::vector<std::string>{"file"});
}

TEST_CASE("blobloc: default_path honours OCIKIT_BLOB_LOCATIONS") {
  const char* old = std::getenv("OCIKIT_BLOB_LOCATIONS");
  std::string saved = old ? old : "";
  setenv("OCIKIT_BLOB_LOCATIONS", "/x/y", 1);
  CHECK(blobloc::default_path() == "/x/y");
  setenv("OCIKIT_BLOB_LOCATIONS", "", 1);
  CHECK(blobloc::default_path().empty());
  unsetenv("OCIKIT_BLOB_LOCATIONS");
  if (geteuid() == 0) CHECK(blobloc::default_path() == "/var/cache/ocikit/blob-locations");
  if (old) setenv("OCIKIT_BLOB_LOCATIONS", saved.c_str(), 1);
}
