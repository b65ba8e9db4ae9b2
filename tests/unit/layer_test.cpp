#include "common/layer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;

namespace {

bool is_root() { return ::geteuid() == 0; }

// A tar stream built with libarchive's writer (which, unlike a careful
// producer, writes whatever names it is given: that is the malicious corpus).
class TarBuilder {
 public:
  explicit TarBuilder(layer::Compression c = layer::Compression::none) {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);  // no zero padding after the stream
    if (c == layer::Compression::gzip) archive_write_add_filter_gzip(a_);
    if (c == layer::Compression::zstd) archive_write_add_filter_zstd(a_);
    archive_write_open(a_, &out_, nullptr, write_cb, nullptr);
  }
  ~TarBuilder() {
    if (a_) archive_write_free(a_);
  }

  TarBuilder& file(const std::string& name, const std::string& data, mode_t mode = 0644, int64_t mtime = 1000000000,
                   uid_t uid = 0, gid_t gid = 0, std::vector<std::pair<std::string, std::string>> xattrs = {}) {
    auto* e = base(name, AE_IFREG, mode, mtime, uid, gid);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    for (auto& [k, v] : xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_write_header(a_, e);
    archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& dir(const std::string& name, mode_t mode = 0755, int64_t mtime = 1000000000, uid_t uid = 0,
                  gid_t gid = 0) {
    return put(base(name, AE_IFDIR, mode, mtime, uid, gid));
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    auto* e = base(name, AE_IFLNK, 0777, 1000000000, 0, 0);
    archive_entry_set_symlink(e, target.c_str());
    return put(e);
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    auto* e = base(name, AE_IFREG, 0644, 1000000000, 0, 0);
    archive_entry_set_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    return put(e);
  }
  TarBuilder& node(const std::string& name, mode_t type, unsigned maj = 0, unsigned min = 0) {
    auto* e = base(name, type, 0600, 1000000000, 0, 0);
    archive_entry_set_rdevmajor(e, maj);
    archive_entry_set_rdevminor(e, min);
    return put(e);
  }
  std::string finish() {
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
    return out_;
  }

 private:
  static la_ssize_t write_cb(struct archive*, void* p, const void* buf, size_t n) {
    static_cast<std::string*>(p)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  struct archive_entry* base(const std::string& name, mode_t type, mode_t mode, int64_t mtime, uid_t uid, gid_t gid) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, mtime, 0);
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    return e;
  }
  TarBuilder& put(struct archive_entry* e) {
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  struct archive* a_;
  std::string out_;
};

// Write `data` to a file under `dir` and return a read descriptor on it.
fs::UniqueFd as_fd(const std::string& dir, const std::string& data) {
  std::string p = dir + "/blob";
  fs::write_file_atomic(p, data);
  fs::UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  ::unlink(p.c_str());
  return fd;
}

layer::ApplyResult apply_bytes(const std::string& data, const std::string& root, const layer::ApplyOptions& opts = {}) {
  TempDir t;
  auto fd = as_fd(t.path, data);
  return layer::apply(fd.get(), root, opts);
}

std::string apply_error(const std::string& data, const std::string& root, const layer::ApplyOptions& opts = {}) {
  try {
    apply_bytes(data, root, opts);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A description of every entry under `dir`: type, mode, owner, size,
// content or link target, mtime (not for directories unless `dir_times`).
std::map<std::string, std::string> describe(const std::string& dir, bool dir_times = true) {
  std::map<std::string, std::string> out;
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& host,
                                                                         const std::string& rel) {
    DIR* d = opendir(host.c_str());
    REQUIRE(d);
    std::vector<std::string> names;
    while (auto* de = readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    for (const auto& n : names) {
      std::string h = host + "/" + n, r = rel.empty() ? n : rel + "/" + n;
      struct stat st;
      REQUIRE(lstat(h.c_str(), &st) == 0);
      std::string s = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
      if (!S_ISDIR(st.st_mode) || dir_times) s += " t" + std::to_string(st.st_mtim.tv_sec);
      if (S_ISREG(st.st_mode)) s += " " + fs::read_file(h);
      if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t k = readlink(h.c_str(), buf, sizeof buf);
        s += " -> " + std::string(buf, static_cast<size_t>(k));
      }
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) s += " dev" + std::to_string(st.st_rdev);
      out[r] = s;
      if (S_ISDIR(st.st_mode)) walk(h, r);
    }
  };
  walk(dir, "");
  return out;
}

std::string xattr(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  REQUIRE(lstat(p.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("layer: detect_compression") {
  struct Row {
    std::string head;
    layer::Compression want;
  } rows[] = {
      {"\x1f\x8b\x08", layer::Compression::gzip}, {std::string("\x28\xb5\x2f\xfd\x00", 5), layer::Compression::zstd},
      {"ustar", layer::Compression::none},        {"", layer::Compression::none},
      {"\x1f", layer::Compression::none},
  };
  for (const auto& r : rows) {
    CAPTURE(r.head);
    CHECK(layer::detect_compression(r.head.data(), r.head.size()) == r.want);
  }
}

TEST_CASE("layer: map_id") {
  std::vector<layer::IdMapping> m = {{0, 100000, 1000}, {1000, 1000, 1}};
  CHECK(layer::map_id({}, 42) == 42u);
  CHECK(layer::map_id(m, 0) == 100000u);
  CHECK(layer::map_id(m, 999) == 100999u);
  CHECK(layer::map_id(m, 1000) == 1000u);
  CHECK_FALSE(layer::map_id(m, 1001).has_value());
}

TEST_CASE("layer: apply writes every entry type with its metadata and digests") {
  for (auto c : {layer::Compression::none, layer::Compression::gzip, layer::Compression::zstd}) {
    CAPTURE(layer::compression_name(c));
    TempDir root;
    TarBuilder tb(c);
    tb.dir("etc/", 0755, 1111)
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644, 2222, 0, 0)
        .dir("tmp", 01777, 3333)
        .file("bin/su", "suid", 04755, 4444, 0, 0)
        .file("home/user/f", "mine", 0600, 5555, 1000, 1001)
        .symlink("etc/link", "/etc/passwd")
        .hardlink("etc/passwd.hard", "etc/passwd")
        .node("run/fifo", AE_IFIFO);
    if (is_root()) {
      tb.node("dev/null", AE_IFCHR, 1, 3)
          .file(
              "bin/ping", "ping", 0755, 1, 0, 0,
              {{"security.capability",
                std::string("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20)}});
    }
    tb.file("attr", "x", 0644, 1, 0, 0, {{"user.test", "value"}});
    std::string tar = tb.finish();
    auto r = apply_bytes(tar, root.path);

    CHECK(r.compression == c);
    CHECK(r.compressed_size == tar.size());
    CHECK(r.compressed_digest == digest::of(tar));
    if (c == layer::Compression::none) {
      CHECK(r.diff_id == r.compressed_digest);
      CHECK(r.uncompressed_size == tar.size());
    }
    const std::string& R = root.path;
    CHECK(fs::read_file(R + "/etc/passwd") == "root:x:0:0::/root:/bin/sh\n");
    CHECK((lstat_of(R + "/etc").st_mode & 07777) == 0755);
    CHECK(lstat_of(R + "/etc").st_mtim.tv_sec == 1111);  // set after its children
    CHECK(lstat_of(R + "/etc/passwd").st_mtim.tv_sec == 2222);
    CHECK((lstat_of(R + "/tmp").st_mode & 07777) == 01777);
    CHECK((lstat_of(R + "/bin/su").st_mode & 07777) == 04755);
    CHECK(lstat_of(R + "/etc/passwd.hard").st_ino == lstat_of(R + "/etc/passwd").st_ino);
    CHECK(S_ISLNK(lstat_of(R + "/etc/link").st_mode));
    CHECK(S_ISFIFO(lstat_of(R + "/run/fifo").st_mode));
    CHECK(xattr(R + "/attr", "user.test") == "value");
    if (is_root()) {
      CHECK(lstat_of(R + "/home/user/f").st_uid == 1000);
      CHECK(lstat_of(R + "/home/user/f").st_gid == 1001);
      auto dn = lstat_of(R + "/dev/null");
      CHECK(S_ISCHR(dn.st_mode));
      CHECK(dn.st_rdev == makedev(1, 3));
      CHECK(xattr(R + "/bin/ping", "security.capability").size() == 20);
    }
  }
}

TEST_CASE("layer: apply reads the stream to its end and checks it") {
  TempDir root;
  std::string gz = TarBuilder(layer::Compression::gzip).file("a", "hello").finish();
  SUBCASE("trailing zero padding is read and hashed") {
    std::string padded = gz + std::string(4096, '\0');
    auto r = apply_bytes(padded, root.path);
    CHECK(r.compressed_size == padded.size());
    CHECK(r.compressed_digest == digest::of(padded));
  }
  SUBCASE("concatenated gzip members are one stream") {
    // the second member holds only zero blocks (tar padding)
    std::string plain = TarBuilder().file("a", "hello").finish();
    std::string two = gz + TarBuilder(layer::Compression::gzip).finish();
    auto r = apply_bytes(two, root.path);
    CHECK(r.compressed_digest == digest::of(two));
    CHECK(fs::read_file(root.path + "/a") == "hello");
  }
  SUBCASE("diff_id is the digest of the uncompressed tar") {
    std::string plain = TarBuilder().file("a", "hello").finish();
    std::string z = TarBuilder(layer::Compression::zstd).file("a", "hello").finish();
    CHECK(apply_bytes(z, root.path).diff_id == digest::of(plain));
    CHECK(apply_bytes(gz, root.path).diff_id == digest::of(plain));
  }
  SUBCASE("corrupt streams are refused") {
    struct Row {
      std::string data;
      std::string err;
    } rows[] = {
        {gz.substr(0, gz.size() - 10), "layer: truncated gzip stream"},
        {gz + "garbage", "layer: trailing garbage after the gzip stream"},
        {"BZh91AY&SY", "layer: bzip2 compression is not supported"},
        {std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff", 14), ""},
        {std::string(700, 'x'), ""},
    };
    for (const auto& row : rows) {
      std::string e = apply_error(row.data, root.path);
      CAPTURE(e);
      if (row.err.empty()) CHECK(e.starts_with("layer: "));
      else CHECK(e == row.err);
    }
  }
}

TEST_CASE("layer: whiteouts and opaque directories") {
  TempDir root;
  const std::string& R = root.path;
  apply_bytes(TarBuilder()
                  .dir("a")
                  .file("a/keep", "k")
                  .file("a/gone", "g")
                  .dir("a/sub")
                  .file("a/sub/x", "x")
                  .dir("o")
                  .file("o/lower1", "1")
                  .dir("o/d")
                  .file("o/d/lower2", "2")
                  .file("o/same", "lower")
                  .finish(),
              R);
  apply_bytes(TarBuilder()
                  .file("a/.wh.gone", "")
                  .file("a/.wh.sub", "")
                  .file("o/before", "b")  // this layer's entry before the marker survives
                  .dir("o/d")
                  .file("o/.wh..wh..opq", "")
                  .file("o/after", "a")
                  .file("o/same", "upper")
                  .finish(),
              R);
  auto d = describe(R);
  CHECK(d.count("a/keep"));
  CHECK_FALSE(d.count("a/gone"));
  CHECK_FALSE(d.count("a/sub"));
  CHECK_FALSE(d.count("o/lower1"));
  CHECK(d.count("o/before"));
  CHECK(d.count("o/after"));
  CHECK(d.count("o/d"));
  CHECK_FALSE(d.count("o/d/lower2"));  // o/d is this layer's, its lower content is not
  CHECK(fs::read_file(R + "/o/same") == "upper");
}

TEST_CASE("layer: overlay whiteouts for snapshot dirs") {
  if (!is_root()) return;
  TempDir root;
  layer::ApplyOptions o;
  o.overlay_whiteouts = true;
  apply_bytes(TarBuilder().dir("o").file("o/.wh..wh..opq", "").file("o/n", "n").file(".wh.gone", "").finish(),
              root.path, o);
  auto st = lstat_of(root.path + "/gone");
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(0, 0));
  CHECK(xattr(root.path + "/o", "trusted.overlay.opaque") == "y");
  CHECK(fs::read_file(root.path + "/o/n") == "n");
}

TEST_CASE("layer: entries replace each other without following symlinks") {
  TempDir base;
  std::string R = base.path + "/root";
  fs::mkdir_p(R);
  fs::write_file_atomic(base.path + "/sentinel", "safe");
  apply_bytes(TarBuilder()
                  .file("f2d", "file")
                  .dir("d2f")
                  .file("d2f/child", "c")
                  .symlink("ln", base.path + "/sentinel")
                  .finish(),
              R);
  apply_bytes(TarBuilder().dir("f2d").file("f2d/in", "in").file("d2f", "now a file").file("ln", "overwritten").finish(),
              R);
  CHECK(S_ISDIR(lstat_of(R + "/f2d").st_mode));
  CHECK(fs::read_file(R + "/d2f") == "now a file");
  CHECK(S_ISREG(lstat_of(R + "/ln").st_mode));
  CHECK(fs::read_file(base.path + "/sentinel") == "safe");
}

TEST_CASE("layer: uid/gid mapping and same_owner") {
  if (!is_root()) return;
  TempDir root;
  layer::ApplyOptions o;
  o.uid_map = {{0, 100000, 65536}};
  o.gid_map = {{0, 200000, 65536}};
  apply_bytes(TarBuilder().file("a", "a", 0644, 1, 0, 0).file("b", "b", 0644, 1, 1000, 5).symlink("l", "a").finish(),
              root.path, o);
  CHECK(lstat_of(root.path + "/a").st_uid == 100000);
  CHECK(lstat_of(root.path + "/a").st_gid == 200000);
  CHECK(lstat_of(root.path + "/b").st_uid == 101000);
  CHECK(lstat_of(root.path + "/b").st_gid == 200005);
  CHECK(lstat_of(root.path + "/l").st_uid == 100000);
  CHECK(apply_error(TarBuilder().file("c", "c", 0644, 1, 70000, 0).finish(), root.path, o) ==
        "layer entry \"c\": uid 70000 is not mapped");
  o.same_owner = false;
  apply_bytes(TarBuilder().file("d", "d", 0644, 1, 1000, 1000).finish(), root.path, o);
  CHECK(lstat_of(root.path + "/d").st_uid == 0);
}

// The malicious corpus: each tar is either refused with the given error or
// contained; in both cases nothing outside the root may change.
TEST_CASE("layer: malicious layers are refused or contained") {
  struct Row {
    const char* name;
    std::function<std::string(const std::string& outside)> build;
    std::string err;  // exact error, "" = must succeed, "*" = any error or success
  };
  std::vector<Row> rows = {
      {"dotdot name", [](auto&) { return TarBuilder().file("../x", "evil").finish(); },
       "layer entry \"../x\": path escapes the root"},
      {"dotdot inside name", [](auto&) { return TarBuilder().file("a/../../x", "evil").finish(); },
       "layer entry \"a/../../x\": path escapes the root"},
      {"absolute name", [](auto& out) { return TarBuilder().file(out + "/x", "evil").finish(); }, ""},
      {"absolute dotdot", [](auto&) { return TarBuilder().file("/../../x", "evil").finish(); }, ""},
      {"symlink to outside then through it",
       [](auto& out) { return TarBuilder().symlink("a", out).file("a/evil", "evil").finish(); }, "*"},
      {"relative symlink up then through it",
       [](auto&) { return TarBuilder().symlink("a", "../../../../../..").file("a/evil", "evil").finish(); }, ""},
      {"symlink to / then through it",
       [](auto& out) { return TarBuilder().symlink("a", "/").file("a" + out + "/sentinel", "evil").finish(); }, ""},
      {"symlink to outside file then a file of the same name",
       [](auto& out) { return TarBuilder().symlink("s", out + "/sentinel").file("s", "evil").finish(); }, ""},
      {"hardlink target dotdot", [](auto&) { return TarBuilder().hardlink("h", "../outside/sentinel").finish(); },
       "layer entry \"h\": hard link target \"../outside/sentinel\" escapes the root"},
      {"hardlink target absolute", [](auto& out) { return TarBuilder().hardlink("h", out + "/sentinel").finish(); },
       "*"},
      {"hardlink through a symlink",
       [](auto& out) { return TarBuilder().symlink("l", out).hardlink("h", "l/sentinel").finish(); }, "*"},
      {"hardlink to a symlink pointing outside, then written",
       [](auto& out) {
         return TarBuilder().symlink("s", out + "/sentinel").hardlink("h", "s").file("h", "evil").finish();
       },
       ""},
      {"parent dir replaced by a symlink between entries",
       [](auto& out) {
         return TarBuilder().dir("d").file("d/a", "a").symlink("d", out).file("d/sentinel", "evil").finish();
       },
       "*"},
      {"whiteout dotdot", [](auto&) { return TarBuilder().file("../.wh.sentinel", "").finish(); },
       "layer entry \"../.wh.sentinel\": path escapes the root"},
      {"whiteout of dotdot", [](auto&) { return TarBuilder().dir("a").file("a/.wh...", "").finish(); },
       "layer entry \"a/.wh...\": invalid whiteout name"},
      {"whiteout through a symlink",
       [](auto& out) { return TarBuilder().symlink("s", out).file("s/.wh.sentinel", "").finish(); }, "*"},
      {"opaque through a symlink",
       [](auto& out) { return TarBuilder().symlink("s", out).file("s/.wh..wh..opq", "").finish(); }, "*"},
      {"root replaced by a file", [](auto&) { return TarBuilder().file("./", "x").finish(); },
       "layer entry \"\": cannot replace the root directory"},
      {"symlink loop", [](auto&) { return TarBuilder().symlink("a", "b").symlink("b", "a").file("a/x", "x").finish(); },
       "*"},
      {"device through a symlink",
       [](auto& out) { return TarBuilder().symlink("s", out).node("s/fifo", AE_IFIFO).finish(); }, "*"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    TempDir base;
    std::string outside = base.path + "/outside", root = base.path + "/root";
    fs::mkdir_p(outside);
    fs::mkdir_p(root);
    fs::write_file_atomic(outside + "/sentinel", "safe");
    auto before = describe(base.path, false);
    before.erase("root");
    std::string err = apply_error(row.build(outside), root);
    CAPTURE(err);
    if (row.err != "*") CHECK(err == row.err);
    auto after = describe(base.path, false);
    after.erase("root");
    for (auto it = after.begin(); it != after.end();)
      it = it->first.starts_with("root/") ? after.erase(it) : std::next(it);
    CHECK(after == before);
    CHECK(fs::read_file(outside + "/sentinel") == "safe");
    CHECK(lstat_of(outside + "/sentinel").st_nlink == 1);
    CHECK_FALSE(fs::exists(base.path + "/x"));
    CHECK_FALSE(fs::exists(base.path + "/evil"));
  }
}

namespace {
std::string read_tar_names(const std::string& data) {
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  REQUIRE(archive_read_open_memory(a, data.data(), data.size()) == ARCHIVE_OK);
  std::string out;
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    out += archive_entry_pathname(e);
    out += " " + std::to_string(archive_entry_mtime(e));
    if (archive_entry_uname(e) && *archive_entry_uname(e)) out += " uname";
    if (archive_entry_atime_is_set(e)) out += " atime";
    out += "\n";
  }
  archive_read_free(a);
  return out;
}

std::string diff_to_string(const std::function<layer::DiffResult(int)>& fn, layer::DiffResult* res) {
  TempDir t;
  std::string p = t.path + "/out";
  fs::UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(fd);
  *res = fn(fd.get());
  fd.reset();
  return fs::read_file(p);
}
}  // namespace

TEST_CASE("layer: diff_upper turns overlay whiteouts into OCI ones, reproducibly") {
  if (!is_root()) return;  // char 0/0 devices and trusted.* xattrs
  TempDir upper;
  const std::string& U = upper.path;
  fs::mkdir_p(U + "/etc");
  fs::write_file_atomic(U + "/etc/hosts", "127.0.0.1 localhost\n");
  fs::write_file_atomic(U + "/zz", "z");
  REQUIRE(::link((U + "/zz").c_str(), (U + "/zz2").c_str()) == 0);
  REQUIRE(::mknod((U + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
  fs::mkdir_p(U + "/opq");
  fs::write_file_atomic(U + "/opq/new", "n");
  REQUIRE(::setxattr((U + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
  REQUIRE(::symlink("etc/hosts", (U + "/link").c_str()) == 0);

  for (auto c : {layer::Compression::gzip, layer::Compression::zstd, layer::Compression::none}) {
    CAPTURE(layer::compression_name(c));
    layer::DiffOptions o;
    o.compression = c;
    o.source_date_epoch = 1234;
    layer::DiffResult r1, r2;
    std::string t1 = diff_to_string([&](int fd) { return layer::diff_upper(U, fd, o); }, &r1);
    std::string t2 = diff_to_string([&](int fd) { return layer::diff_upper(U, fd, o); }, &r2);
    CHECK(t1 == t2);
    CHECK(r1.digest == digest::of(t1));
    CHECK(r1.size == t1.size());
    CHECK(r1.diff_id == r2.diff_id);
    CHECK(read_tar_names(t1) ==
          ".wh.gone 1234\netc/ 1234\netc/hosts 1234\nlink 1234\nopq/ 1234\nopq/.wh..wh..opq 1234\n"
          "opq/new 1234\nzz 1234\nzz2 1234\n");

    // Applying it over a lower tree gives the merged view.
    TempDir lower;
    apply_bytes(TarBuilder().file("gone", "g").dir("opq").file("opq/old", "o").file("keep", "k").finish(), lower.path);
    auto ar = apply_bytes(t1, lower.path);
    CHECK(ar.diff_id == r1.diff_id);
    CHECK(ar.compressed_digest == r1.digest);
    auto d = describe(lower.path);
    CHECK_FALSE(d.count("gone"));
    CHECK_FALSE(d.count("opq/old"));
    CHECK(d.count("opq/new"));
    CHECK(d.count("keep"));
    CHECK(lstat_of(lower.path + "/zz").st_ino == lstat_of(lower.path + "/zz2").st_ino);
  }
}

TEST_CASE("layer: diff_trees round-trips through apply") {
  TempDir lower, upper, copy;
  std::string base = TarBuilder()
                         .dir("d", 0755, 100)
                         .file("d/same", "same", 0644, 100)
                         .file("d/changed", "old", 0644, 100)
                         .file("d/deleted", "x", 0644, 100)
                         .dir("d/deldir", 0755, 100)
                         .file("d/deldir/f", "f", 0644, 100)
                         .file("todir", "file", 0644, 100)
                         .dir("tofile", 0755, 100)
                         .file("tofile/c", "c", 0644, 100)
                         .file("samesize", "aaaa", 0644, 100)
                         .symlink("l", "d/same")
                         .finish();
  apply_bytes(base, lower.path);
  apply_bytes(base, upper.path);
  apply_bytes(base, copy.path);
  const std::string& U = upper.path;
  fs::write_file_atomic(U + "/d/changed", "new content");
  fs::remove_all(U + "/d/deleted");
  fs::remove_all(U + "/d/deldir");
  fs::remove_all(U + "/todir");
  fs::mkdir_p(U + "/todir/sub");
  fs::write_file_atomic(U + "/todir/sub/f", "deep");
  fs::remove_all(U + "/tofile");
  fs::write_file_atomic(U + "/tofile", "now file");
  fs::write_file_atomic(U + "/new", "new");
  fs::write_file_atomic(U + "/samesize", "bbbb");  // same size, same whole-second mtime below
  timespec ts[2] = {{100, 0}, {100, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (U + "/samesize").c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
  ::unlink((U + "/l").c_str());
  REQUIRE(::symlink("elsewhere", (U + "/l").c_str()) == 0);

  layer::DiffResult r;
  std::string tar = diff_to_string([&](int fd) { return layer::diff_trees(lower.path, U, fd, {}); }, &r);
  std::string names = read_tar_names(tar);
  CHECK(names.find("d/same ") == std::string::npos);  // unchanged files stay out
  CHECK(names.find("d/.wh.deleted") != std::string::npos);
  CHECK(names.find("d/.wh.deldir") != std::string::npos);
  apply_bytes(tar, copy.path);
  CHECK(describe(copy.path, false) == describe(U, false));
}

TEST_CASE("layer: apply runs concurrently on different roots") {
  std::string tar = TarBuilder(layer::Compression::gzip).dir("a").file("a/b", std::string(1 << 20, 'q')).finish();
  TempDir r1, r2;
  std::string e1, e2;
  auto run = [&](const std::string& root, std::string& err) {
    try {
      for (int i = 0; i < 5; ++i) apply_bytes(tar, root);
    } catch (const std::exception& e) {
      err = e.what();
    }
  };
  std::thread t1(run, std::cref(r1.path), std::ref(e1));
  std::thread t2(run, std::cref(r2.path), std::ref(e2));
  t1.join();
  t2.join();
  CHECK(e1 == "");
  CHECK(e2 == "");
  CHECK(describe(r1.path) == describe(r2.path));
}

TEST_CASE("layer: docker cp archives: plain .wh. names, no dir/non-dir replacement, a root fd") {
  TempDir root;
  const std::string& R = root.path;
  fs::mkdir_p(R + "/into/d", 0755);
  fs::write_file_atomic(R + "/into/f", "old");
  fs::write_file_atomic(R + "/outside", "keep");
  fs::UniqueFd into(::open((R + "/into").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(into);
  layer::ApplyOptions o;
  o.whiteouts = false;
  o.no_overwrite_dir_non_dir = true;
  {
    TempDir t;
    auto fd = as_fd(t.path, TarBuilder().file(".wh.outside", "w").file("f", "new").symlink("up", "/").file("up/x", "x").finish());
    layer::apply(fd.get(), into.get(), o);
  }
  CHECK(fs::read_file(R + "/into/.wh.outside") == "w");
  CHECK(fs::read_file(R + "/into/f") == "new");
  CHECK(fs::read_file(R + "/into/x") == "x");  // "/" is the root fd's directory
  CHECK(fs::read_file(R + "/outside") == "keep");
  struct Case {
    std::string tar, error;
  };
  for (const auto& c : std::vector<Case>{
           {TarBuilder().file("d", "x").finish(), "cannot overwrite directory \"d\" with non-directory"},
           {TarBuilder().dir("f").finish(), "cannot overwrite non-directory \"f\" with directory"},
           {TarBuilder().file("../outside", "x").finish(), "path escapes the root"}}) {
    CAPTURE(c.error);
    TempDir t;
    auto fd = as_fd(t.path, c.tar);
    std::string err;
    try {
      layer::apply(fd.get(), into.get(), o);
    } catch (const Error& e) {
      err = e.what();
    }
    CHECK(err.find(c.error) != std::string::npos);
  }
  CHECK(fs::read_file(R + "/outside") == "keep");
  CHECK(fs::read_file(R + "/into/f") == "new");
}
