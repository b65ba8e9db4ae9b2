// oci-build's caches and option parsers: StatCache, LayerCache, --output, --pull.
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <string>

#include "build.hpp"
#include "common/platform.hpp"
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
  CHECK_THROWS_WITH(
      build::parse_output("docker://x/y"),
      "--output docker://x/y: must be oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or -");
  CHECK_THROWS_WITH(
      build::parse_output("store-name"),
      "--output store-name: must be oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or -");
}

TEST_CASE("build: --pull policies") {
  CHECK(build::parse_pull_policy("missing") == build::PullPolicy::missing);
  CHECK(build::parse_pull_policy("always") == build::PullPolicy::always);
  CHECK(build::parse_pull_policy("never") == build::PullPolicy::never);
  CHECK(build::parse_pull_policy("true") == build::PullPolicy::always);
  CHECK_THROWS_WITH(build::parse_pull_policy("sometimes"),
                    "--pull: expected missing, always or never, got \"sometimes\"");
}

TEST_CASE("build: --platform lists") {
  auto host = platform::host();
  auto one = build::parse_platforms("");
  REQUIRE(one.size() == 1);
  CHECK(one[0] == host);
  auto two = build::parse_platforms("linux/amd64, linux/arm64,aarch64,linux/x86_64");
  REQUIRE(two.size() == 2);
  CHECK(two[0].str() == "linux/amd64");
  CHECK(two[1].str() == "linux/arm64");
  auto arm = build::parse_platforms("linux/arm/v6");
  CHECK(arm[0].str() == "linux/arm/v6");
  for (const char* bad : {"linux/amd64,", ",linux/amd64", "linux/amd64,,linux/arm64"}) {
    CAPTURE(bad);
    try {
      build::parse_platforms(bad);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::usage);
      CHECK(std::string(e.what()) == std::string("--platform ") + bad + ": empty platform in the list");
    }
  }
  CHECK_THROWS_WITH(build::parse_platforms("windows/amd64"),
                    "--platform windows/amd64: cannot build for os windows on linux");
  CHECK_THROWS_WITH(build::parse_platforms("linux//x"),
                    "--platform linux//x: invalid platform \"linux//x\": empty component");
}

TEST_CASE("build: the binfmt handler a platform needs") {
  auto host = platform::host();
  CHECK(build::binfmt_handler(host) == "");
  if (host.architecture == "amd64") {
    CHECK(build::binfmt_handler(platform::parse("linux/386")) == "");
    CHECK(build::binfmt_handler(platform::normalize(platform::parse("linux/arm64"))) ==
          "/proc/sys/fs/binfmt_misc/qemu-aarch64");
    CHECK(build::binfmt_handler(platform::normalize(platform::parse("linux/arm/v7"))) ==
          "/proc/sys/fs/binfmt_misc/qemu-arm");
    CHECK(build::binfmt_handler(platform::normalize(platform::parse("linux/mips64le"))) ==
          "/proc/sys/fs/binfmt_misc/qemu-mips64el");
    CHECK(build::binfmt_handler(platform::normalize(platform::parse("linux/loong64"))) ==
          "/proc/sys/fs/binfmt_misc/qemu-loongarch64");
    // A platform nothing emulates.
    CHECK_THROWS_WITH(build::check_runnable(platform::parse("linux/wasm")),
                      "cannot run linux/wasm binaries on linux/amd64: no enabled qemu-user binfmt handler "
                      "/proc/sys/fs/binfmt_misc/qemu-wasm (install qemu-user-static)");
  }
  CHECK_NOTHROW(build::check_runnable(host));
}
