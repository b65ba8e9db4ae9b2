#include "common/layout.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using layout::Layout;
using testing::entries;
using testing::TempDir;

namespace {
// A one-file tar built with libarchive.
std::string make_tar(const std::string& name, const std::string& content) {
  std::string out;
  out.resize(1 << 16);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
  archive_write_header(a, e);
  archive_write_data(a, content.data(), content.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

// Store a one-layer image and return its manifest descriptor.
image::Descriptor put_image(Layout& l, const std::string& content) {
  std::string tar = make_tar("hello", content);
  auto layer = l.put_blob(tar, std::string(image::media::kOciLayer));
  image::ImageConfig cfg;
  cfg.architecture = "amd64";
  cfg.os = "linux";
  cfg.diff_ids.push_back(layer.digest);
  cfg.config.cmd = std::vector<std::string>{"/hello"};
  auto cd = l.put_json(image::to_json(cfg), std::string(image::media::kOciConfig));
  image::Manifest m;
  m.media_type = image::media::kOciManifest;
  m.config = cd;
  m.layers.push_back(layer);
  return l.put_json(image::to_json(m), std::string(image::media::kOciManifest));
}

bool have_oci_image_tool() { return std::system("command -v oci-image-tool >/dev/null 2>&1") == 0; }

// Run oci-image-tool validate on a layout, for one ref name or (name "")
// for every entry; true when valid. oci-image-tool 1.0.0-rc1's --ref filter
// skips the entry after each one it drops (it erases while indexing
// forward), so with three or more entries it can report a false "not
// unique"; layouts with many entries are validated without --ref, which
// checks every entry.
bool validate(const std::string& dir, const std::string& name) {
  std::string ref = name.empty() ? "" : "--ref 'name=" + name + "' ";
  std::string cmd = "oci-image-tool validate --type image " + ref + dir + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string err_of(auto&& fn, Errc want) {
  try {
    fn();
  } catch (const Error& e) {
    CHECK(e.code() == want);
    return e.what();
  }
  return "(no error)";
}

// Run fn in a forked child, which exits with fn's result (1 if it throws).
pid_t spawn(const std::function<int()>& fn) {
  pid_t p = fork();
  REQUIRE(p >= 0);
  if (p == 0) {
    int rc = 1;
    try {
      rc = fn();
    } catch (...) {
    }
    _exit(rc);
  }
  return p;
}

// Wait for a spawned child: its exit code, -1 when it did not exit.
int exit_code(pid_t p) {
  int st = 0;
  REQUIRE(waitpid(p, &st, 0) == p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

TEST_CASE("layout: default store path") {
  const char* old = std::getenv("OCIKIT_STORE");
  setenv("OCIKIT_STORE", "/x/store", 1);
  CHECK(layout::default_store_path() == "/x/store");
  unsetenv("OCIKIT_STORE");
  if (geteuid() == 0) CHECK(layout::default_store_path() == "/var/lib/ocikit/store");
  if (old) setenv("OCIKIT_STORE", old, 1);
}

TEST_CASE("layout: ref.name grammar") {
  for (const char* ok :
       {"latest", "v1.0", "docker.io/library/alpine:latest", "localhost:5000/a/b:1", "a--b", "a+b@c"}) {
    CAPTURE(ok);
    CHECK(layout::is_valid_ref_name(ok));
  }
  for (const char* bad : {"", ":x", "a:", "a/", "/a", "a//b", "a---b", "a b", "[::1]:5000/x", "a..b"}) {
    CAPTURE(bad);
    CHECK_FALSE(layout::is_valid_ref_name(bad));
  }
}

TEST_CASE("layout: open rejects what is not a layout") {
  TempDir t;
  CHECK(err_of([&] { Layout::open(t.path + "/missing"); }, Errc::not_found) ==
        t.path + "/missing: no such layout directory");
  CHECK(err_of([&] { Layout::open(t.path); }, Errc::not_found) ==
        t.path + ": not an OCI image layout (no oci-layout file)");
  fs::write_file_atomic(t.path + "/oci-layout", "{\"imageLayoutVersion\": 3}");
  CHECK(err_of([&] { Layout::open(t.path); }, Errc::invalid) ==
        t.path + "/oci-layout: invalid oci-layout file: missing \"imageLayoutVersion\"");
  CHECK(err_of([&] { Layout::open_or_create(t.path); }, Errc::invalid) ==
        t.path + "/oci-layout: invalid oci-layout file: missing \"imageLayoutVersion\"");
  fs::write_file_atomic(t.path + "/oci-layout", "{\"imageLayoutVersion\": \"2.0.0\"}");
  CHECK(err_of([&] { Layout::open(t.path); }, Errc::invalid) ==
        t.path + "/oci-layout: unsupported image layout version \"2.0.0\"");
  fs::write_file_atomic(t.path + "/oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}");
  CHECK(err_of([&] { Layout::open(t.path); }, Errc::invalid) == t.path + ": not an OCI image layout (no index.json)");
  fs::write_file_atomic(t.path + "/index.json", "{\"schemaVersion\": 2, \"manifests\": {}}");
  CHECK(err_of([&] { Layout::open(t.path); }, Errc::invalid) ==
        t.path + "/index.json: invalid index: manifests: must be an array");
}

TEST_CASE("layout: blobs are verified, and failed writes leave nothing") {
  TempDir t;
  auto l = Layout::open_or_create(t.path + "/store/");
  CHECK(l.path() == t.path + "/store");
  CHECK(fs::read_file(l.path() + "/oci-layout") == R"({"imageLayoutVersion":"1.0.0"})");
  auto d = l.put_blob("hello", "text/plain");
  CHECK(d.digest == digest::of("hello"));
  CHECK(d.size == 5);
  CHECK(d.media_type == "text/plain");
  CHECK(l.has_blob(d.digest));
  CHECK(l.blob_path(d.digest) == l.path() + "/blobs/sha256/" + d.digest.hex);
  CHECK(l.read_blob(d) == "hello");
  CHECK(l.put_blob("hello", "text/plain").digest == d.digest);  // dedup
  {
    auto fd = l.open_blob(d.digest);
    char buf[8] = {};
    CHECK(read(fd.get(), buf, sizeof buf) == 5);
  }

  // Streaming, with expected digest and size; pieces smaller and larger
  // than the writer's buffer, arriving with it empty and part full.
  std::string big;
  for (int i = 0; big.size() < 300000; ++i) big += std::to_string(i) + ",";
  auto w = l.begin_blob("application/x");
  const size_t pieces[] = {7000, 70000, 1, 65536, 131072, 65535};
  for (size_t off = 0, i = 0; off < big.size(); off += pieces[i++ % 6]) w.write(big.substr(off, pieces[i % 6]));
  CHECK(w.size() == big.size());
  auto bd = w.commit(digest::of(big), static_cast<int64_t>(big.size()));
  CHECK(bd.digest == digest::of(big));
  CHECK(l.read_blob(bd) == big);
  CHECK(err_of([&] { w.commit(); }, Errc::failure) == "blob writer: commit called twice");

  auto before = entries(l.path() + "/blobs/sha256");
  {
    auto w2 = l.begin_blob();
    w2.write("abc");
    CHECK(err_of([&] { w2.commit(digest::of("abd")); }, Errc::invalid) ==
          "digest mismatch: want " + digest::of("abd").str() + ", got " + digest::of("abc").str());
  }
  {
    auto w3 = l.begin_blob();
    w3.write("abc");
    CHECK(err_of([&] { w3.commit(digest::of("abc"), 4); }, Errc::invalid) == "size mismatch: want 4, got 3");
  }
  {
    auto w4 = l.begin_blob();
    w4.write("never committed");
  }
  CHECK(entries(l.path() + "/blobs/sha256") == before);
  CHECK(entries(l.path() + "/ingest").empty());
  CHECK_FALSE(l.has_blob(digest::of("abc")));

  auto missing = digest::of("missing");
  CHECK(err_of([&] { l.read_blob(missing); }, Errc::not_found) == "blob " + missing.str() + ": not found");
  CHECK(err_of([&] { l.open_blob(missing); }, Errc::not_found) == "blob " + missing.str() + ": not found");
  auto wrong = d;
  wrong.size = 6;
  CHECK(err_of([&] { l.read_blob(wrong); }, Errc::invalid) ==
        "blob " + d.digest.str() + ": size mismatch: want 6, got 5");
  fs::write_file_atomic(l.blob_path(d.digest), "HELLO");  // corrupt it
  CHECK(err_of([&] { l.read_blob(d); }, Errc::invalid) ==
        "blob " + d.digest.str() + ": digest mismatch: want " + d.digest.str() + ", got " + digest::of("HELLO").str());
}

TEST_CASE("layout: large blobs go to disk while written, from threads and forked children") {
  // 40 MiB crosses the writer's writeback chunk (8 MiB) and the background
  // flush interval (16 MiB) several times.
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  auto content = [](unsigned seed) {
    std::mt19937_64 rng(seed);
    std::string s(40 << 20, '\0');
    for (size_t i = 0; i + 8 <= s.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(s.data() + i, &v, 8);
    }
    return s;
  };
  auto write = [&](Layout& lo, const std::string& data) {
    auto w = lo.begin_blob();
    const size_t pieces[] = {16384, 1 << 20, 3, 65536, 524288, 100000};
    for (size_t off = 0, i = 0; off < data.size(); off += pieces[i++ % 6])
      w.write(std::string_view(data).substr(off, pieces[i % 6]));
    return w.commit(digest::of(data), static_cast<int64_t>(data.size()));
  };
  std::vector<std::string> data;
  for (unsigned i = 0; i < 3; ++i) data.push_back(content(i));
  std::vector<image::Descriptor> got(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) threads.emplace_back([&, i] { got[i] = write(l, data[i]); });
  for (auto& th : threads) th.join();
  for (size_t i = 0; i < 3; ++i) {
    CHECK(got[i].digest == digest::of(data[i]));
    CHECK(digest::of_file(l.blob_path(got[i].digest)) == got[i].digest);
  }

  // Given up after 20 MiB (writeback and a flush already started): nothing left.
  auto before = entries(t.path + "/blobs/sha256");
  {
    auto w = l.begin_blob();
    w.write(std::string_view(data[0]).substr(0, 20 << 20));
  }
  CHECK(entries(t.path + "/blobs/sha256") == before);

  // A child forked after the writeback thread started writes without it.
  CHECK(exit_code(spawn([&] {
          auto lo = Layout::open(t.path);
          return write(lo, content(7)).digest == digest::of(content(7)) ? 0 : 2;
        })) == 0);
  CHECK(l.has_blob(digest::of(content(7))));
  CHECK(entries(t.path + "/blobs/sha256").size() == before.size() + 1);
}

TEST_CASE("layout: tag, resolve, untag, delete") {
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  auto m1 = put_image(l, "one");
  auto m2 = put_image(l, "two");
  CHECK(l.list().empty());
  l.tag("docker.io/library/alpine:latest", m1);
  l.tag("localhost:5000/app:1", m2);
  l.tag("v1", m2);
  REQUIRE(l.list().size() == 3);
  for (const char* n : {"alpine", "alpine:latest", "library/alpine", "docker.io/library/alpine:latest"}) {
    CAPTURE(n);
    auto r = l.resolve(n);
    REQUIRE(r);
    CHECK(r->digest == m1.digest);
  }
  CHECK(l.resolve("localhost:5000/app:1")->digest == m2.digest);
  CHECK(l.resolve("v1")->digest == m2.digest);
  CHECK(l.resolve(m1.digest.str())->ref_name() == "docker.io/library/alpine:latest");
  CHECK(l.resolve(m1.digest.hex.substr(0, 12))->digest == m1.digest);
  CHECK_FALSE(l.resolve("alpine:3"));
  CHECK_FALSE(l.resolve("localhost:5000/app"));
  CHECK(err_of([&] { l.resolve_or_throw("nope"); }, Errc::not_found) == "image \"nope\" not found in " + t.path);

  // Re-tagging (under either spelling) replaces the entry.
  l.tag("alpine", m2);
  CHECK(l.list().size() == 3);
  CHECK(l.resolve("docker.io/library/alpine:latest")->digest == m2.digest);
  CHECK(err_of([&] { l.tag("bad name", m1); }, Errc::invalid) ==
        "invalid image name \"bad name\" for an OCI layout ref.name");
  auto ghost = m1;
  ghost.digest = digest::of("ghost");
  CHECK(err_of([&] { l.tag("ghost", ghost); }, Errc::not_found) ==
        "tag ghost: blob " + ghost.digest.str() + ": not found");

  CHECK(l.untag("v1"));
  CHECK_FALSE(l.untag("v1"));
  CHECK(l.list().size() == 2);
  l.delete_image(m2.digest.str());  // every name of that manifest
  CHECK(l.list().empty());
  CHECK(err_of([&] { l.delete_image("alpine"); }, Errc::not_found) == "image \"alpine\" not found in " + t.path);

  // Unknown index.json fields and annotations survive updates.
  auto ix = nlohmann::json::parse(fs::read_file(t.path + "/index.json"));
  ix["annotations"] = {{"org.example", "kept"}};
  ix["x-extra"] = 42;
  fs::write_file_atomic(t.path + "/index.json", ix.dump());
  l.tag("v2", m1);
  auto after = nlohmann::json::parse(fs::read_file(t.path + "/index.json"));
  CHECK(after["annotations"]["org.example"] == "kept");
  CHECK(after["x-extra"] == 42);
  CHECK(after["mediaType"] == image::media::kOciIndex);
}

TEST_CASE("layout: gc keeps what index.json and extra roots reach") {
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  auto m1 = put_image(l, "one");
  auto m2 = put_image(l, "two");
  auto cache = l.put_blob("build cache", "application/octet-stream");
  auto orphan = l.put_blob("orphan!", "application/octet-stream");
  l.tag("a", m1);
  // An index entry pointing at a nested index whose child is m2.
  image::Index nested;
  nested.media_type = image::media::kOciIndex;
  nested.manifests.push_back(m2);
  auto nd = l.put_json(image::to_json(nested), std::string(image::media::kOciIndex));
  l.tag("multi", nd);
  fs::mkdir_p(t.path + "/ingest");
  fs::write_file_atomic(t.path + "/ingest/tmp-stale", "partial");
  fs::write_file_atomic(t.path + "/.tmp-stale", "partial");

  auto r = l.gc({cache.digest});
  CHECK(r.blobs == 1);
  CHECK(r.bytes == 7);
  CHECK(r.temps == 2);
  CHECK_FALSE(l.has_blob(orphan.digest));
  CHECK(l.has_blob(cache.digest));
  CHECK(l.has_blob(m2.digest));
  CHECK(l.read_manifest(m1).layers.size() == 1);
  CHECK(entries(t.path + "/ingest").empty());

  // Untagged, everything but the extra root goes: 3 blobs per image + index.
  CHECK(l.untag("a"));
  CHECK(l.untag("multi"));
  r = l.gc({cache.digest});
  CHECK(r.blobs == 7);
  CHECK(entries(t.path + "/blobs/sha256") == std::vector<std::string>{cache.digest.hex});
  r = l.gc();
  CHECK(r.blobs == 1);
  CHECK(entries(t.path + "/blobs/sha256").empty());

  // A reachable manifest that is corrupt aborts gc without removing anything.
  auto m3 = put_image(l, "three");
  l.tag("c", m3);
  l.put_blob("orphan again", "x");
  fs::write_file_atomic(l.blob_path(m3.digest), "{not json");
  CHECK(err_of([&] { l.gc(); }, Errc::invalid).rfind("blob " + m3.digest.str() + ": digest mismatch", 0) == 0);
  CHECK(entries(t.path + "/blobs/sha256").size() == 4);
}

TEST_CASE("layout: written layouts pass oci-image-tool validate") {
  if (!have_oci_image_tool()) {
    MESSAGE("oci-image-tool not installed: skipped");
    return;
  }
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  auto m1 = put_image(l, "one");
  l.tag("docker.io/library/alpine:latest", m1);
  CHECK(validate(t.path, "docker.io/library/alpine:latest"));
  CHECK_FALSE(validate(t.path, "missing"));
  l.tag("latest", put_image(l, "two"));
  CHECK(validate(t.path, "docker.io/library/alpine:latest"));
  CHECK(validate(t.path, "latest"));
  l.put_blob("garbage", "x");
  CHECK(l.gc().blobs == 1);
  CHECK(validate(t.path, "latest"));
  l.tag("v3", put_image(l, "three"));
  CHECK(validate(t.path, ""));
  // Peers read the store as an ordinary layout (the lock files do not bother them).
  if (std::system("command -v skopeo >/dev/null 2>&1") == 0)
    CHECK(std::system(("skopeo copy oci:" + t.path + ":docker.io/library/alpine:latest oci:" + t.path +
                       "-copy:x >/dev/null 2>&1")
                          .c_str()) == 0);
  fs::remove_all(t.path + "-copy");
  if (std::system("command -v umoci >/dev/null 2>&1") == 0)
    CHECK(std::system(("umoci ls --layout " + t.path + " | grep -qx v3").c_str()) == 0);
  // The validator does catch a broken store: a missing layer fails it.
  auto layer = l.read_manifest(*l.resolve("v3")).layers.at(0);
  REQUIRE(unlink(l.blob_path(layer.digest).c_str()) == 0);
  CHECK_FALSE(validate(t.path, ""));
}

TEST_CASE("layout: 8 concurrent writers and a writer killed mid-blob") {
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i) {
    kids.push_back(spawn([&, i] {
      auto lo = Layout::open(t.path);
      for (int k = 0; k < 3; ++k) {
        auto m = put_image(lo, "shared");  // same blobs from every writer
        lo.tag("img" + std::to_string(i) + "-" + std::to_string(k), put_image(lo, "p" + std::to_string(i * 10 + k)));
        lo.tag("shared", m);
      }
      return 0;
    }));
  }
  for (pid_t p : kids) CHECK(exit_code(p) == 0);
  CHECK(l.list().size() == 25);
  for (int i = 0; i < 8; ++i)
    for (int k = 0; k < 3; ++k) CHECK(l.resolve("img" + std::to_string(i) + "-" + std::to_string(k)));
  // 3 blobs per distinct image: 24 + shared
  CHECK(entries(t.path + "/blobs/sha256").size() == 75);

  // A writer killed with SIGKILL halfway through a blob.
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t p = fork();
  REQUIRE(p >= 0);
  if (p == 0) {
    auto lo = Layout::open(t.path);
    auto w = lo.begin_blob();
    std::string half(1 << 20, 'h');
    w.write(half);
    (void)!write(pipefd[1], "x", 1);
    pause();
    _exit(0);
  }
  char c;
  REQUIRE(read(pipefd[0], &c, 1) == 1);
  kill(p, SIGKILL);
  int st = 0;
  waitpid(p, &st, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  CHECK(WIFSIGNALED(st));
  CHECK(entries(t.path + "/blobs/sha256").size() == 75);
  for (const auto& n : entries(t.path + "/blobs/sha256")) {
    CAPTURE(n);
    CHECK(digest::of_file(t.path + "/blobs/sha256/" + n).hex == n);
  }
  auto again = Layout::open(t.path);
  CHECK(again.list().size() == 25);
  CHECK(again.gc().blobs == 0);
  if (have_oci_image_tool()) {
    CHECK(validate(t.path, ""));
  }
}
