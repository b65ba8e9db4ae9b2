// oci-build's caches and option parsers: StatCache, LayerCache, --output, --pull.
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <string>

#include "build.hpp"
#include "build_cache.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "output.hpp"
#include "stat_cache.hpp"

using namespace ocikit;

namespace {

struct Tmp {
  std::string dir;
  Tmp() {
    char t[] = "/tmp/okt-build-unit-XXXXXX";
    REQUIRE(::mkdtemp(t) != nullptr);
    dir = t;
  }
  ~Tmp() { fs::remove_all(dir); }
};

struct stat lstat_of(const std::string& p) {
  struct stat st;
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("stat_cache: digest is the content's; fresh files are re-hashed (racy), old ones are not") {
  Tmp t;
  std::string f = t.dir + "/a";
  fs::write_file_atomic(f, "hello");
  build::StatCache c(t.dir + "/cache");
  CHECK(c.digest(f, lstat_of(f)) == digest::of("hello").hex);
  CHECK(c.hashed() == 1);
  // Changed less than a second before it was hashed: not trusted.
  CHECK(c.digest(f, lstat_of(f)) == digest::of("hello").hex);
  CHECK(c.hashed() == 2);
}

TEST_CASE("stat_cache: entries survive save/load and are used while the stat data match") {
  Tmp t;
  std::string f = t.dir + "/a";
  fs::write_file_atomic(f, "one");
  ::sleep(1);  // let the file's ctime age past the racy window
  ::usleep(100000);
  {
    build::StatCache c(t.dir + "/cache");
    CHECK(c.digest(f, lstat_of(f)) == digest::of("one").hex);
    c.save();
  }
  build::StatCache c(t.dir + "/cache");
  CHECK(c.digest(f, lstat_of(f)) == digest::of("one").hex);
  CHECK(c.hashed() == 0);
  // A changed file (new inode, size, times) is read again.
  fs::write_file_atomic(f, "two!");
  CHECK(c.digest(f, lstat_of(f)) == digest::of("two!").hex);
  CHECK(c.hashed() == 1);
}

TEST_CASE("stat_cache: a malformed cache file is an empty cache") {
  Tmp t;
  fs::write_file_atomic(t.dir + "/cache", "garbage\n1 2 3\n" + std::string(64, 'a') + " x y\n");
  std::string f = t.dir + "/a";
  fs::write_file_atomic(f, "x");
  build::StatCache c(t.dir + "/cache");
  CHECK(c.digest(f, lstat_of(f)) == digest::of("x").hex);
  CHECK(c.hashed() == 1);
}

TEST_CASE("build_cache: records are found while their blob exists, dropped when it is gone") {
  Tmp t;
  auto store = layout::Layout::open_or_create(t.dir + "/store");
  CHECK(build::cache_dir(t.dir + "/store/") == t.dir + "/store.build-cache");
  build::LayerCache cache(build::cache_dir(store.path()));
  auto d = store.put_blob("layer-bytes", "application/vnd.oci.image.layer.v1.tar+gzip");
  std::string key = digest::of("k").str();
  CHECK_FALSE(cache.find(key, store));
  cache.put(key, build::CacheRecord{d, digest::of("diff")});
  auto r = cache.find(key, store);
  REQUIRE(r);
  CHECK(r->layer.digest == d.digest);
  CHECK(r->diff_id == digest::of("diff"));
  CHECK(cache.prune(store) == 0);
  ::unlink(store.blob_path(d.digest).c_str());
  CHECK(cache.prune(store) == 1);
  CHECK_FALSE(fs::exists(build::cache_dir(store.path()) + "/layers/" + digest::of("k").hex));
  CHECK_THROWS_WITH(cache.put("sha256:../x", build::CacheRecord{d, digest::of("diff")}),
                    "invalid cache key \"sha256:../x\"");
}

TEST_CASE("output: spellings") {
  using reference::Transport;
  struct Row {
    const char* in;
    Transport t;
    const char* path;
    const char* tag;
  };
  for (Row r : {Row{"-", Transport::oci_archive, "-", ""}, Row{"oci:/x/y", Transport::oci, "/x/y", ""},
                Row{"oci:/x/y:v1", Transport::oci, "/x/y", "v1"},
                Row{"oci-archive:/a.tar", Transport::oci_archive, "/a.tar", ""},
                Row{"docker-archive:/a.tar:app:1", Transport::docker_archive, "/a.tar", "docker.io/library/app:1"}}) {
    CAPTURE(r.in);
    auto o = build::parse_output(r.in);
    CHECK(o.transport == r.t);
    CHECK(o.path == r.path);
    CHECK(o.tag == r.tag);
  }
  CHECK(build::output_is_stdout(build::parse_output("-")));
  CHECK_FALSE(build::output_is_stdout(build::parse_output("oci:-")));
  CHECK_THROWS_WITH(build::parse_output("docker://x/y"),
                    "--output docker://x/y: must be oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or -");
  CHECK_THROWS_WITH(build::parse_output("store-name"),
                    "--output store-name: must be oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or -");
}

TEST_CASE("build: --pull policies") {
  CHECK(build::parse_pull_policy("missing") == build::PullPolicy::missing);
  CHECK(build::parse_pull_policy("always") == build::PullPolicy::always);
  CHECK(build::parse_pull_policy("never") == build::PullPolicy::never);
  CHECK(build::parse_pull_policy("true") == build::PullPolicy::always);
  CHECK_THROWS_WITH(build::parse_pull_policy("sometimes"), "--pull: expected missing, always or never, got \"sometimes\"");
}
