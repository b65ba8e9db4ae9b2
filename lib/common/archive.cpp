#include "common/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <memory>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::archive {

namespace {
constexpr size_t kBlock = 1 << 16;

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}
}  // namespace

std::string safe_entry_path(std::string_view name) {
  if (!name.empty() && name.front() == '/') fail(Errc::invalid, "unsafe path \"" + std::string(name) + "\" in archive");
  std::string out;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view c = name.substr(i, j - i);
    if (c == "..") fail(Errc::invalid, "unsafe path \"" + std::string(name) + "\" in archive");
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    i = j + 1;
  }
  if (out.empty()) fail(Errc::invalid, "empty path in archive");
  return out;
}

Compression detect_compression(std::string_view head) {
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b)
    return Compression::gzip;
  if (head.size() >= 4 && head.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::zstd;
  return Compression::none;
}

// ---------------------------------------------------------------- TarReader

TarReader::TarReader(std::string name, int owned_fd) : name_(std::move(name)), owned_fd_(owned_fd) {
  a_ = archive_read_new();
  if (!a_) fail("libarchive: out of memory");
  archive_read_support_filter_all(a_);
  archive_read_support_format_tar(a_);
}

TarReader TarReader::open(const std::string& path) {
  if (path == "-") return TarReader(0, "stdin");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail(Errc::not_found, path + ": no such file");
    throw_errno("open " + path);
  }
  TarReader r(path, fd);
  if (archive_read_open_fd(r.a_, fd, kBlock) != ARCHIVE_OK) r.raise("open");
  return r;
}

TarReader::TarReader(int fd, std::string name) : TarReader(std::move(name), -1) {
  if (archive_read_open_fd(a_, fd, kBlock) != ARCHIVE_OK) raise("open");
}

TarReader::TarReader(std::string_view data, std::string name) : TarReader(std::move(name), -1) {
  if (archive_read_open_memory(a_, data.data(), data.size()) != ARCHIVE_OK) raise("open");
}

TarReader::TarReader(TarReader&& o) noexcept : a_(o.a_), name_(std::move(o.name_)), owned_fd_(o.owned_fd_) {
  o.a_ = nullptr;
  o.owned_fd_ = -1;
}

TarReader::~TarReader() {
  if (a_) archive_read_free(a_);
  if (owned_fd_ >= 0) ::close(owned_fd_);
}

void TarReader::raise(std::string_view what) const {
  const char* msg = a_ ? archive_error_string(a_) : nullptr;
  std::string m = msg ? lower_first(msg) : std::string(what) + " failed";
  // libarchive reports an empty or non-tar input as an unrecognised format.
  fail(Errc::invalid, name_ + ": " + m);
}

bool TarReader::next(Entry& e) {
  archive_entry* ae = nullptr;
  int rc = archive_read_next_header(a_, &ae);
  if (rc == ARCHIVE_EOF) return false;
  if (rc < ARCHIVE_WARN) raise("read header");
  const char* p = archive_entry_pathname(ae);
  e.path = p ? p : "";
  switch (archive_entry_filetype(ae)) {
    case AE_IFREG: e.type = Entry::Type::file; break;
    case AE_IFDIR: e.type = Entry::Type::dir; break;
    case AE_IFLNK: e.type = Entry::Type::symlink; break;
    default: e.type = Entry::Type::other; break;
  }
  const char* hl = archive_entry_hardlink(ae);
  if (hl) e.type = Entry::Type::hardlink;
  const char* sl = archive_entry_symlink(ae);
  e.linkname = hl ? hl : (sl ? sl : "");
  e.size = archive_entry_size(ae);
  e.mode = archive_entry_perm(ae);
  e.mtime = archive_entry_mtime(ae);
  e.uid = archive_entry_uid(ae);
  e.gid = archive_entry_gid(ae);
  e.raw = ae;
  return true;
}

size_t TarReader::read(void* buf, size_t len) {
  la_ssize_t n = archive_read_data(a_, buf, len);
  if (n < 0) raise("read data");
  return static_cast<size_t>(n);
}

std::string TarReader::read_all(size_t limit) {
  std::string out;
  char buf[kBlock];
  while (size_t n = read(buf, sizeof buf)) {
    if (out.size() + n > limit) fail(Errc::invalid, name_ + ": entry larger than " + std::to_string(limit) + " bytes");
    out.append(buf, n);
  }
  return out;
}

Compression TarReader::compression() const {
  switch (archive_filter_code(a_, 0)) {
    case ARCHIVE_FILTER_GZIP: return Compression::gzip;
    case ARCHIVE_FILTER_ZSTD: return Compression::zstd;
    default: return Compression::none;
  }
}

// ---------------------------------------------------------------- TarWriter

TarWriter::TarWriter(Sink sink, Compression c) : sink_(std::move(sink)) {
  a_ = archive_write_new();
  if (!a_) fail("libarchive: out of memory");
  archive_write_set_format_pax_restricted(a_);
  if (c == Compression::gzip) {
    archive_write_add_filter_gzip(a_);
    // No timestamp in the gzip header: the same tar gives the same blob.
    archive_write_set_filter_option(a_, "gzip", "timestamp", nullptr);
  } else if (c == Compression::zstd) {
    archive_write_add_filter_zstd(a_);
  }
  // Docker and skopeo pad to 512-byte records only, not 10 KiB blocks.
  archive_write_set_bytes_in_last_block(a_, 1);
  auto write_cb = [](struct ::archive*, void* self, const void* buf, size_t len) -> la_ssize_t {
    auto* w = static_cast<TarWriter*>(self);
    try {
      w->sink_(buf, len);
    } catch (...) {
      w->pending_ = std::current_exception();
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  };
  if (archive_write_open2(a_, this, nullptr, write_cb, nullptr, nullptr) != ARCHIVE_OK) check(ARCHIVE_FATAL, "open");
}

TarWriter::TarWriter(int fd, Compression c)
    : TarWriter([fd](const void* d, size_t n) { fs::write_all(fd, d, n); }, c) {}

TarWriter::~TarWriter() {
  // An unfinished archive must not get an end marker written behind the
  // caller's back (the sink may be gone): fail it, then free.
  if (!finished_) archive_write_fail(a_);
  archive_write_free(a_);
}

void TarWriter::check(int rc, std::string_view what) {
  if (rc >= ARCHIVE_WARN) return;
  if (pending_) {
    auto p = pending_;
    pending_ = nullptr;
    std::rethrow_exception(p);
  }
  const char* msg = archive_error_string(a_);
  fail(Errc::io, "write tar: " + std::string(what) + ": " + (msg ? lower_first(msg) : "failed"));
}

void TarWriter::header(std::string_view path, unsigned type, mode_t mode, int64_t size) {
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, std::string(path).c_str());
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, mode);
  archive_entry_set_size(e, size);
  archive_entry_set_mtime(e, 0, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  int rc = archive_write_header(a_, e);
  archive_entry_free(e);
  check(rc, path);
}

void TarWriter::add_entry(struct ::archive_entry* e) {
  const char* p = archive_entry_pathname(e);
  check(archive_write_header(a_, e), p ? p : "");
}

void TarWriter::add_file(std::string_view path, std::string_view data, mode_t mode) {
  begin_file(path, static_cast<int64_t>(data.size()), mode);
  write_data(data.data(), data.size());
}

void TarWriter::add_dir(std::string_view path, mode_t mode) { header(path, AE_IFDIR, mode, 0); }

void TarWriter::begin_file(std::string_view path, int64_t size, mode_t mode) { header(path, AE_IFREG, mode, size); }

void TarWriter::write_data(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    la_ssize_t n = archive_write_data(a_, p, len);
    if (n <= 0) check(ARCHIVE_FATAL, "data");
    p += n;
    len -= static_cast<size_t>(n);
  }
}

void TarWriter::finish() {
  check(archive_write_close(a_), "close");
  finished_ = true;
}

// ---------------------------------------------------------------- layers

void read_layer(const layout::Layout& l, const digest::Digest& blob,
                const std::function<void(const void* data, size_t len)>& fn) {
  auto fd = l.open_blob(blob);
  // The raw format hands back the filtered (decompressed) stream as one
  // entry; "empty" accepts a zero-length blob.
  std::unique_ptr<struct ::archive, int (*)(struct ::archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_raw(a.get());
  archive_read_support_format_empty(a.get());
  auto raise = [&]() {
    const char* msg = archive_error_string(a.get());
    fail(Errc::invalid, "layer " + blob.str() + ": " + (msg ? lower_first(msg) : "read failed"));
  };
  if (archive_read_open_fd(a.get(), fd.get(), kBlock) != ARCHIVE_OK) raise();
  archive_entry* ae = nullptr;
  int rc = archive_read_next_header(a.get(), &ae);
  if (rc == ARCHIVE_EOF) return;
  if (rc < ARCHIVE_WARN) raise();
  std::vector<char> buf(kBlock);
  la_ssize_t n;
  while ((n = archive_read_data(a.get(), buf.data(), buf.size())) > 0) fn(buf.data(), static_cast<size_t>(n));
  if (n < 0) raise();
}

digest::Digest diff_id(const layout::Layout& l, const digest::Digest& blob, int64_t* uncompressed_size) {
  digest::Hasher h;
  read_layer(l, blob, [&](const void* d, size_t n) { h.update(d, n); });
  if (uncompressed_size) *uncompressed_size = static_cast<int64_t>(h.size());
  return h.finish();
}

}  // namespace ocikit::archive
