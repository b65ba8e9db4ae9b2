#include "common/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using archive::Compression;
using archive::TarReader;
using archive::TarWriter;
using layout::Layout;
using testing::entries;
using testing::TempDir;

namespace {
// Build a tar in memory from (path, data) pairs; a path ending in "/" is a dir.
std::string make_tar(const std::vector<std::pair<std::string, std::string>>& files, Compression c = Compression::none) {
  std::string out;
  TarWriter w([&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); }, c);
  for (const auto& [p, d] : files) {
    if (!p.empty() && p.back() == '/') w.add_dir(p.substr(0, p.size() - 1));
    else w.add_file(p, d);
  }
  w.finish();
  return out;
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

// A one-layer image (layer compressed with `c`) stored in `l`.
image::Descriptor put_image(Layout& l, const std::string& content, Compression c = Compression::gzip, size_t pad = 0) {
  std::string plain = make_tar({{"etc/", ""}, {"etc/hello", content}, {"big", std::string(pad, 'p')}});
  std::string blob = c == Compression::none
      ? plain
      : make_tar({{"etc/", ""}, {"etc/hello", content}, {"big", std::string(pad, 'p')}}, c);
  auto layer = l.put_blob(blob, std::string(image::layer_media_type(c)));
  image::ImageConfig cfg;
  cfg.architecture = "amd64";
  cfg.os = "linux";
  cfg.diff_ids.push_back(digest::of(plain));
  cfg.config.cmd = std::vector<std::string>{"/bin/sh"};
  auto cd = l.put_json(image::to_json(cfg), std::string(image::media::kOciConfig));
  image::Manifest m;
  m.media_type = image::media::kOciManifest;
  m.config = cd;
  m.layers.push_back(layer);
  return l.put_json(image::to_json(m), std::string(image::media::kOciManifest));
}

bool have(const char* cmd) { return std::system(("command -v " + std::string(cmd) + " >/dev/null 2>&1").c_str()) == 0; }
int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// The state an import must not change when it fails.
std::string snapshot(const std::string& dir) {
  std::string s = fs::read_file(dir + "/index.json");
  for (const auto& n : entries(dir + "/blobs/sha256")) s += "\n" + n;
  return s;
}
}  // namespace

TEST_CASE("archive: safe entry paths") {
  struct Row {
    const char* in;
    const char* out;
  };
  for (Row r : {Row{"a", "a"}, Row{"./a//b/", "a/b"}, Row{"blobs/sha256/x", "blobs/sha256/x"}, Row{"a/./b", "a/b"}}) {
    CAPTURE(r.in);
    CHECK(archive::safe_entry_path(r.in) == r.out);
  }
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a/.."}) {
    CAPTURE(bad);
    CHECK(err_of([&] { archive::safe_entry_path(bad); }, Errc::invalid) ==
          "unsafe path \"" + std::string(bad) + "\" in archive");
  }
  CHECK(err_of([] { archive::safe_entry_path("./"); }, Errc::invalid) == "empty path in archive");
}

TEST_CASE("archive: tar write/read round trip, deterministic, compression detected") {
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    CAPTURE(static_cast<int>(c));
    std::string long_name(150, 'n');
    auto t1 = make_tar({{"dir/", ""}, {"dir/f", "hello"}, {long_name, "x"}}, c);
    auto t2 = make_tar({{"dir/", ""}, {"dir/f", "hello"}, {long_name, "x"}}, c);
    CHECK(t1 == t2);
    CHECK(archive::detect_compression(t1) == c);
    if (c == Compression::none) CHECK(t1.size() % 512 == 0);
    TarReader r(t1, "mem");
    archive::Entry e;
    REQUIRE(r.next(e));
    CHECK(r.compression() == c);
    CHECK(e.path == "dir/");
    CHECK(e.type == archive::Entry::Type::dir);
    CHECK(e.mode == 0755);
    REQUIRE(r.next(e));
    CHECK(e.path == "dir/f");
    CHECK(e.type == archive::Entry::Type::file);
    CHECK(e.size == 5);
    CHECK(e.mtime == 0);
    CHECK(e.uid == 0);
    CHECK(r.read_all() == "hello");
    REQUIRE(r.next(e));
    CHECK(e.path == long_name);
    CHECK_FALSE(r.next(e));
  }
  // Streaming a file in pieces through begin_file/write_data.
  std::string out;
  {
    TarWriter w([&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
    w.begin_file("f", 10);
    w.write_data("01234", 5);
    w.write_data("56789", 5);
    w.finish();
  }
  TarReader r(out, "mem");
  archive::Entry e;
  REQUIRE(r.next(e));
  CHECK(r.read_all() == "0123456789");
  CHECK(err_of([&] { r.read_all(); }, Errc::invalid).empty() == false);
}

TEST_CASE("archive: bad tar streams give clear errors") {
  TempDir t;
  auto tar = make_tar({{"a", std::string(5000, 'a')}, {"b", "b"}});
  std::string cut = tar.substr(0, 1200);
  auto read_all = [](TarReader& r) {
    archive::Entry e;
    while (r.next(e)) r.read_all();
  };
  {
    TarReader r(cut, "cut.tar");
    CHECK(err_of([&] { read_all(r); }, Errc::invalid).rfind("cut.tar: truncated tar archive", 0) == 0);
  }
  {
    std::string garbage(2048, 'g');
    CHECK(err_of(
              [&] {
                TarReader r(garbage, "garbage.tar");
                read_all(r);
              },
              Errc::invalid) == "garbage.tar: unrecognized archive format");
  }
  {
    auto gz = make_tar({{"a", std::string(100000, 'a')}}, Compression::gzip);
    std::string gcut = gz.substr(0, gz.size() / 2);
    CHECK(err_of(
              [&] {
                TarReader r(gcut, "cut.tar.gz");
                read_all(r);
              },
              Errc::invalid) == "cut.tar.gz: truncated gzip input");
  }
  CHECK(err_of([&] { TarReader::open(t.path + "/nope.tar"); }, Errc::not_found) == t.path + "/nope.tar: no such file");
}

TEST_CASE("archive: layer diff_id through gzip and zstd") {
  TempDir t;
  auto l = Layout::open_or_create(t.path);
  auto plain = make_tar({{"x", "data"}});
  for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
    auto blob = c == Compression::none ? plain : make_tar({{"x", "data"}}, c);
    auto d = l.put_blob(blob, "x");
    int64_t size = 0;
    CHECK(archive::diff_id(l, d.digest, &size) == digest::of(plain));
    CHECK(size == static_cast<int64_t>(plain.size()));
  }
  auto bad = l.put_blob(std::string("\x1f\x8b\x08\x00garbage", 12), "x");
  CHECK(err_of([&] { archive::diff_id(l, bad.digest); }, Errc::invalid).rfind("layer " + bad.digest.str() + ": ", 0) ==
        0);
}

TEST_CASE("archive: oci-archive export and import round trip") {
  TempDir t;
  auto src = Layout::open_or_create(t.path + "/src");
  auto m1 = put_image(src, "one");
  // gzip: oci-image-tool 1.0.0-rc1 predates the zstd layer media type.
  auto m2 = put_image(src, "two", Compression::gzip, 2 << 20);
  src.put_blob("unrelated", "x");
  for (Compression c : {Compression::none, Compression::gzip}) {
    CAPTURE(static_cast<int>(c));
    std::string file = t.path + "/img.tar";
    archive::export_oci_archive(src, {{{"docker.io/library/one:latest", "v1"}, m1}, {{"two"}, m2}}, file, c);
    // Deterministic: exporting again gives the same bytes.
    std::string first = fs::read_file(file);
    archive::export_oci_archive(src, {{{"docker.io/library/one:latest", "v1"}, m1}, {{"two"}, m2}}, file, c);
    CHECK(fs::read_file(file) == first);

    std::string dd = t.path + (c == Compression::none ? "/dst" : "/dst-gz");
    auto dst = Layout::open_or_create(dd);
    auto got = archive::import_oci_archive(file, dst);
    REQUIRE(got.size() == 3);
    CHECK(dst.resolve("one")->digest == m1.digest);
    CHECK(dst.resolve("v1")->digest == m1.digest);
    CHECK(dst.resolve("two")->digest == m2.digest);
    // 2 images x 3 blobs; "unrelated" is not exported.
    CHECK(entries(dd + "/blobs/sha256").size() == 6);
    CHECK(dst.gc().blobs == 0);
    if (have("oci-image-tool")) CHECK(run("oci-image-tool validate --type image " + dd) == 0);
    // Importing twice is harmless.
    CHECK(archive::import_oci_archive(file, dst).size() == 3);
    CHECK(dst.list().size() == 3);
  }
  // "-" reads stdin.
  std::string file = t.path + "/img.tar";
  pid_t p = fork();
  REQUIRE(p >= 0);
  if (p == 0) {
    int fd = ::open(file.c_str(), O_RDONLY);
    dup2(fd, 0);
    try {
      auto dst = Layout::open_or_create(t.path + "/stdin");
      _exit(archive::import_oci_archive("-", dst).size() == 3 ? 0 : 1);
    } catch (...) {
      _exit(2);
    }
  }
  int st = 0;
  waitpid(p, &st, 0);
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(Layout::open(t.path + "/stdin").resolve("two")->digest == m2.digest);
}

TEST_CASE("archive: oci-archive interoperates with skopeo") {
  if (!have("skopeo")) {
    MESSAGE("skopeo not installed: skipped");
    return;
  }
  TempDir t;
  auto src = Layout::open_or_create(t.path + "/src");
  auto m1 = put_image(src, "one");
  archive::export_oci_archive(src, {{{"latest"}, m1}}, t.path + "/ours.tar");
  CHECK(run("skopeo copy oci-archive:" + t.path + "/ours.tar:latest oci:" + t.path + "/skopeo-out:copied") == 0);
  CHECK(Layout::open(t.path + "/skopeo-out").resolve("copied"));
  CHECK(run("skopeo copy oci:" + t.path + "/skopeo-out:copied oci-archive:" + t.path + "/theirs.tar:theirs") == 0);
  auto dst = Layout::open_or_create(t.path + "/dst");
  auto got = archive::import_oci_archive(t.path + "/theirs.tar", dst);
  REQUIRE(got.size() == 1);
  REQUIRE(dst.resolve("theirs"));
  auto m = dst.read_manifest(*dst.resolve("theirs"));
  CHECK(m.layers.at(0).digest == src.read_manifest(m1).layers.at(0).digest);
}

TEST_CASE("archive: malformed oci-archives leave nothing behind") {
  TempDir t;
  auto src = Layout::open_or_create(t.path + "/src");
  auto m1 = put_image(src, "one", Compression::gzip, 300000);
  std::string good = t.path + "/good.tar";
  archive::export_oci_archive(src, {{{"one"}, m1}}, good);
  std::string text = fs::read_file(good);

  auto dst = Layout::open_or_create(t.path + "/dst");
  dst.tag("keep", put_image(dst, "keep"));
  std::string before = snapshot(dst.path());

  auto layer = src.read_manifest(m1).layers.at(0).digest;
  std::string blob_path = "blobs/sha256/" + layer.hex;
  std::string layer_data = src.read_blob(layer);
  image::Index ix;
  ix.manifests.push_back(m1);
  std::string index = image::dump(image::to_json(ix));
  auto all_blobs = [&](std::vector<std::pair<std::string, std::string>> v) {
    for (const auto& n : entries(src.path() + "/blobs/sha256"))
      v.emplace_back("blobs/sha256/" + n, fs::read_file(src.path() + "/blobs/sha256/" + n));
    return v;
  };
  struct Row {
    std::string name, tar, err;
  };
  std::vector<Row> rows = {
      {"truncated", text.substr(0, text.size() / 2), "truncated tar archive"},
      {"no index", make_tar(all_blobs({{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}})),
       "not an oci-archive (no index.json)"},
      {"no oci-layout", make_tar(all_blobs({{"index.json", index}})), "not an oci-archive (no oci-layout file)"},
      {"traversal", make_tar(all_blobs({{"../evil", "x"}})), "unsafe path \"../evil\" in archive"},
      {"bad digest", make_tar({{blob_path, layer_data + "tampered"}}),
       blob_path + ": digest mismatch: want " + layer.str() + ", got " + digest::of(layer_data + "tampered").str()},
      {"bad index", make_tar(all_blobs({{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}, {"index.json", "{}"}})),
       "index.json: invalid index: missing \"schemaVersion\""},
      {"missing blob",
       make_tar({{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}, {"index.json", index}, {blob_path, layer_data}}),
       "missing blob " + m1.digest.str()},
      {"bad blob name", make_tar({{"blobs/sha256/xyz", "x"}}),
       "blob path \"blobs/sha256/xyz\": invalid digest \"sha256:xyz\": want 64 hex digits, got 3"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::string f = t.path + "/bad.tar";
    fs::write_file_atomic(f, r.tar);
    std::string e = err_of([&] { archive::import_oci_archive(f, dst); }, Errc::invalid);
    CAPTURE(e);
    CHECK(e.rfind(f + ": " + r.err, 0) == 0);
    CHECK(snapshot(dst.path()) == before);
  }
  CHECK(err_of([&] { archive::import_oci_archive(t.path + "/none.tar", dst); }, Errc::not_found) ==
        t.path + "/none.tar: no such file");
  // Export of a missing image fails and leaves no file.
  auto ghost = m1;
  ghost.digest = digest::of("ghost");
  CHECK(err_of(
            [&] {
              archive::export_oci_archive(src, {{{"g"}, ghost}}, t.path + "/ghost.tar");
            },
            Errc::not_found) == "export: blob " + ghost.digest.str() + ": not found");
  CHECK_FALSE(fs::exists(t.path + "/ghost.tar"));
}

TEST_CASE("archive: docker-archive import, export and bad input") {
  TempDir t;
  // A docker save archive: manifest.json last, one small plain layer, one
  // large layer reached through a symlink, one gzip layer.
  std::string l1 = make_tar({{"a", "1"}});
  std::string l2 = make_tar({{"b", std::string(3 << 20, 'b')}});
  std::string l3plain = make_tar({{"c", "3"}});
  std::string l3 = make_tar({{"c", "3"}}, Compression::gzip);
  image::ImageConfig cfg;
  cfg.architecture = "amd64";
  cfg.os = "linux";
  cfg.diff_ids = {digest::of(l1), digest::of(l2), digest::of(l3plain)};
  cfg.extra["docker_version"] = "24.0.0";
  std::string cfg_text = image::dump(image::to_json(cfg));
  std::string cfg_name = digest::of(cfg_text).hex + ".json";
  auto manifest_json = [&](const std::string& layers, const std::string& tags) {
    return R"([{"Config":")" + cfg_name + R"(","RepoTags":)" + tags + R"(,"Layers":)" + layers + "}]";
  };
  std::string layers = R"(["l1/layer.tar","l2/layer.tar","l3/layer.tar"])";
  std::string tar;
  {
    TarWriter w([&](const void* d, size_t n) { tar.append(static_cast<const char*>(d), n); });
    w.add_dir("l1");
    w.add_file("l1/layer.tar", l1);
    w.add_dir("real");
    w.add_file("real/layer.tar", l2);
    w.add_dir("l2");
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "l2/layer.tar");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, "../real/layer.tar");
    archive_entry_set_perm(e, 0777);
    REQUIRE(archive_write_header(w.raw(), e) == ARCHIVE_OK);
    archive_entry_free(e);
    w.add_file("l3/layer.tar", l3);
    w.add_file(cfg_name, cfg_text);
    w.add_file("repositories", "{}");
    w.add_file("manifest.json", manifest_json(layers, R"(["busybox:latest","localhost:5000/bb:1"])"));
    w.finish();
  }
  std::string file = t.path + "/save.tar";
  fs::write_file_atomic(file, tar);
  auto dst = Layout::open_or_create(t.path + "/dst");
  auto got = archive::import_docker_archive(file, dst);
  REQUIRE(got.size() == 1);
  CHECK(got[0].names == std::vector<std::string>{"docker.io/library/busybox:latest", "localhost:5000/bb:1"});
  auto md = dst.resolve("busybox");
  REQUIRE(md);
  CHECK(dst.resolve("localhost:5000/bb:1")->digest == md->digest);
  auto m = dst.read_manifest(*md);
  CHECK(m.config.digest == digest::of(cfg_text));  // config kept byte for byte
  REQUIRE(m.layers.size() == 3);
  CHECK(m.layers[0].media_type == image::media::kOciLayer);
  CHECK(m.layers[0].digest == digest::of(l1));
  CHECK(m.layers[1].digest == digest::of(l2));
  CHECK(m.layers[2].media_type == image::media::kOciLayerGzip);
  CHECK(m.layers[2].digest == digest::of(l3));
  CHECK(dst.read_config(m.config).extra["docker_version"] == "24.0.0");
  // Exactly config + 3 layers + manifest: nothing else was kept.
  CHECK(entries(dst.path() + "/blobs/sha256").size() == 5);
  if (have("oci-image-tool"))
    CHECK(run("oci-image-tool validate --type image --ref name=docker.io/library/busybox:latest " + dst.path()) == 0);

  // Export again, import the export: same config, layers now all plain.
  std::string out = t.path + "/out.tar";
  archive::export_docker_archive(dst, {{{"docker.io/library/busybox:latest"}, *md}}, out);
  {
    TarReader r = TarReader::open(out);
    archive::Entry e;
    std::vector<std::string> names;
    while (r.next(e)) {
      names.push_back(e.path);
      // docker 20.10's layout: a dir per layer named by its ChainID.
      std::string id1 = digest::of(l1).hex;
      std::string id2 = digest::of("sha256:" + id1 + " " + digest::of(l2).str()).hex;
      std::string id3 = digest::of("sha256:" + id2 + " " + digest::of(l3plain).str()).hex;
      if (e.path == "manifest.json")
        CHECK(r.read_all() == R"([{"Config":")" + cfg_name + R"(","Layers":[")" + id1 + R"(/layer.tar",")" + id2 +
                                  R"(/layer.tar",")" + id3 + R"(/layer.tar"],"RepoTags":["busybox:latest"]}])");
      if (e.path == "repositories") CHECK(r.read_all() == R"({"busybox":{"latest":")" + id3 + R"("}})");
      if (e.path == id2 + "/json")
        CHECK(r.read_all() == R"({"container_config":{},"created":"1970-01-01T00:00:00Z","id":")" + id2 +
                                  R"(","parent":")" + id1 + R"("})");
    }
    // config, manifest.json, repositories; per layer its dir, layer.tar, VERSION, json
    CHECK(names.size() == 3 + 3 * 4);
  }
  auto dst2 = Layout::open_or_create(t.path + "/dst2");
  auto again = archive::import_docker_archive(out, dst2);
  REQUIRE(again.size() == 1);
  auto m2 = dst2.read_manifest(again[0].desc);
  CHECK(m2.config.digest == m.config.digest);
  CHECK(m2.layers[2].digest == digest::of(l3plain));
  CHECK(m2.layers[2].media_type == image::media::kOciLayer);
  if (have("skopeo")) {
    CHECK(run("skopeo copy docker-archive:" + out + " oci:" + t.path + "/sk:x") == 0);
    auto sk = Layout::open(t.path + "/sk");
    CHECK(sk.read_manifest(*sk.resolve("x")).layers.size() == 3);
  }

  // Malformed docker archives: each fails and leaves dst as it was.
  std::string before = snapshot(dst.path());
  std::string l4 = make_tar({{"d", std::string(2 << 20, 'd')}});  // large: streamed into the store
  struct Row {
    std::string name;
    std::vector<std::pair<std::string, std::string>> files;
    std::string err;
  };
  std::vector<Row> rows = {
      {"no manifest", {{"big/layer.tar", l4}, {cfg_name, cfg_text}}, "not a docker-archive (no manifest.json)"},
      {"missing layer",
       {{"big/layer.tar", l4},
        {"l1/layer.tar", l1},
        {cfg_name, cfg_text},
        {"manifest.json", manifest_json(layers, "[]")}},
       "file \"l2/layer.tar\" named in manifest.json is missing"},
      {"diff_id mismatch",
       {{"l1/layer.tar", l1},
        {"l2/layer.tar", l4},
        {"l3/layer.tar", l3},
        {cfg_name, cfg_text},
        {"manifest.json", manifest_json(layers, "[]")}},
       "layer l2/layer.tar: diff_id mismatch: config says " + digest::of(l2).str() + ", content is " +
           digest::of(l4).str()},
      {"layer count",
       {{cfg_name, cfg_text}, {"manifest.json", manifest_json("[]", "[]")}},
       "manifest.json: [0]: 0 layers but the config lists 3 diff_ids"},
      {"traversal", {{"big/layer.tar", l4}, {"../x", "x"}}, "unsafe path \"../x\" in archive"},
      {"bad json",
       {{"big/layer.tar", l4}, {"manifest.json", "{"}},
       "invalid manifest.json in " + t.path +
           "/bad.tar: parse error at line 1, column 2: syntax error while parsing "
           "object key - unexpected end of input; expected string literal"},
      {"bad tag",
       {{"big/layer.tar", l4}, {cfg_name, cfg_text}, {"manifest.json", manifest_json(layers, R"(["Upper:1"])")}},
       "manifest.json[0].RepoTags: invalid reference \"Upper:1\": repository name must be lowercase"},
      {"bad config",
       {{"big/layer.tar", l4}, {"c.json", "{}"}, {"manifest.json", R"([{"Config":"c.json","Layers":[]}])"}},
       "c.json: invalid image config: missing \"architecture\""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::string f = t.path + "/bad.tar";
    fs::write_file_atomic(f, make_tar(r.files));
    std::string e = err_of([&] { archive::import_docker_archive(f, dst); }, Errc::invalid);
    if (r.name == "bad json") CHECK(e == r.err);
    else CHECK(e == f + ": " + r.err);
    CHECK(snapshot(dst.path()) == before);
  }
  std::string truncated = tar.substr(0, tar.size() / 2);
  fs::write_file_atomic(t.path + "/cut.tar", truncated);
  CHECK(err_of([&] { archive::import_docker_archive(t.path + "/cut.tar", dst); }, Errc::invalid)
            .rfind(t.path + "/cut.tar: truncated tar archive", 0) == 0);
  CHECK(snapshot(dst.path()) == before);
}

TEST_CASE("archive: add_entry keeps the caller's metadata") {
  std::string out;
  {
    TarWriter w([&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "l");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, "target");
    archive_entry_set_uid(e, 1234);
    archive_entry_set_mtime(e, 1700000000, 0);
    w.add_entry(e);
    archive_entry_free(e);
    w.finish();
  }
  TarReader r(out, "mem");
  archive::Entry e;
  REQUIRE(r.next(e));
  CHECK(e.path == "l");
  CHECK(e.type == archive::Entry::Type::symlink);
  CHECK(e.linkname == "target");
  CHECK(e.uid == 1234);
  CHECK(e.mtime == 1700000000);
}
