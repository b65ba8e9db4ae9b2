#include "common/layout.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "common/reference.hpp"

namespace ocikit::layout {

namespace {

constexpr const char* kIndexLock = "/.index.lock";
constexpr const char* kGcLock = "/.gc.lock";
constexpr const char* kIngest = "/ingest";
constexpr const char* kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";
// Extra roots without a media type are only parsed when small enough to be
// a manifest or index.
constexpr int64_t kMaxJsonBlob = 4 << 20;

std::string random_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s = "tmp-";
  for (int i = 0; i < 16; ++i) s += kAlnum[rng() % 36];
  return s;
}

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Names of the entries of a directory (no "." and ".."); empty when missing.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw_errno("open directory " + dir);
  }
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

image::Index load_index(const std::string& root) {
  std::string p = root + "/index.json";
  std::string text;
  try {
    text = fs::read_file(p);
  } catch (Error& e) {
    if (e.code() == Errc::not_found) fail(Errc::invalid, root + ": not an OCI image layout (no index.json)");
    throw;
  }
  return with_context(p, [&] { return image::parse_index(text); });
}

void check_layout_file(const std::string& root) {
  std::string p = root + "/oci-layout";
  std::string text;
  try {
    text = fs::read_file(p);
  } catch (Error& e) {
    if (e.code() == Errc::not_found) {
      if (!is_dir(root)) fail(Errc::not_found, root + ": no such layout directory");
      fail(Errc::not_found, root + ": not an OCI image layout (no oci-layout file)");
    }
    throw;
  }
  auto j = image::parse_json(text, "oci-layout file " + p);
  auto it = j.is_object() ? j.find("imageLayoutVersion") : j.end();
  if (it == j.end() || !it->is_string())
    fail(Errc::invalid, p + ": invalid oci-layout file: missing \"imageLayoutVersion\"");
  std::string v = it->get<std::string>();
  if (v.rfind("1.", 0) != 0) fail(Errc::invalid, p + ": unsupported image layout version \"" + v + "\"");
}

std::string normalised(std::string_view name) {
  try {
    return reference::parse(name).str();
  } catch (const Error&) {
    return {};
  }
}

// Moves blob data towards the disk while a blob is still being written, on
// one background thread per process:
// - every range handed over gets its writeback started (sync_file_range
//   WRITE). Called from the writing thread, that call blocks whenever the
//   block layer throttles writeback, which it does while the device flushes
//   its cache: a 400 MB pull showed every downloading thread stalled in it
//   for 130-145 ms at a time, with both CPUs idle;
// - after every kFlushEvery bytes, an fdatasync flushes the device's write
//   cache. On a VM disk a cache flush is where the host writes the data
//   out, at a cost proportional to what accumulated since the last flush;
//   flushing as the data arrives overlaps that work with the transfer
//   instead of leaving all of it to commit()'s fsync (400 MB written at
//   700 MB/s: 0.21-0.23 s left for the final fsync with writeback started
//   alone, 0.012 s with a flush per 16-64 MiB).
class BackgroundWriteback {
 public:
  static BackgroundWriteback& instance() {
    static auto* w = new BackgroundWriteback;  // never destroyed: its thread may be in a syscall at exit
    return *w;
  }

  /// Start the writeback of [off, off+len) of `fd` (duplicated, so the
  /// caller may close it at once). Advisory: errors are ignored (commit's
  /// fsync reports them).
  void start(int fd, off_t off, off_t len) {
    if (::getpid() != pid_) {  // a forked child has no worker thread
      (void)::sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
      return;
    }
    {
      std::lock_guard lk(mu_);
      // A disk much slower than the writers: skip the hint rather than hold
      // more descriptors (the kernel's own writeback still runs).
      if (queue_.size() >= kMaxQueued) return;
      int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (dup < 0) return;
      queue_.push_back(Range{dup, off, len});
    }
    cv_.notify_one();
  }

 private:
  struct Range {
    int fd;
    off_t off, len;
  };

  BackgroundWriteback() : pid_(::getpid()) {
    std::thread([this] { run(); }).detach();
  }

  void run() {
    for (;;) {
      Range r;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !queue_.empty(); });
        r = queue_.front();
        queue_.pop_front();
      }
      (void)::sync_file_range(r.fd, r.off, r.len, SYNC_FILE_RANGE_WRITE);
      unflushed_ += static_cast<uint64_t>(r.len);
      if (unflushed_ >= kFlushEvery) {
        (void)::fdatasync(r.fd);
        unflushed_ = 0;
      }
      ::close(r.fd);
    }
  }

  pid_t pid_;
  uint64_t unflushed_ = 0;
  static constexpr uint64_t kFlushEvery = 16 << 20;
  static constexpr size_t kMaxQueued = 64;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Range> queue_;
};

}  // namespace

std::string default_store_path() {
  if (const char* s = std::getenv("OCIKIT_STORE"); s && *s) return s;
  if (::geteuid() == 0) return "/var/lib/ocikit/store";
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/ocikit/store";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/") + "/.local/share/ocikit/store";
}

bool is_valid_ref_name(std::string_view name) {
  if (name.empty()) return false;
  size_t i = 0;
  while (true) {
    // component: alnum+ (separator alnum+)*
    if (i >= name.size() || !is_alnum(name[i])) return false;
    while (i < name.size() && is_alnum(name[i])) ++i;
    if (i == name.size()) return true;
    if (name[i] == '/') {
      ++i;
      continue;
    }
    if (name.substr(i, 2) == "--") {
      i += 2;
    } else if (std::string_view("-._:@+").find(name[i]) != std::string_view::npos) {
      ++i;
    } else {
      return false;
    }
    if (i >= name.size() || !is_alnum(name[i])) return false;
  }
}

// ---------------------------------------------------------------- BlobWriter

BlobWriter::BlobWriter(std::string root, std::string media_type, digest::Algorithm alg)
    : root_(std::move(root)), media_type_(std::move(media_type)), hasher_(alg) {
  gc_lock_.emplace(root_ + kGcLock, false);
  // An unnamed inode: a writer killed mid-write leaves nothing at all.
  fd_.reset(::open(root_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644));
  if (!fd_) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("create temporary blob in " + root_);
    fs::mkdir_p(root_ + kIngest);
    tmp_path_ = root_ + kIngest + "/" + random_name();
    fd_.reset(::open(tmp_path_.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644));
    if (!fd_) throw_errno("create " + tmp_path_);
  }
}

BlobWriter& BlobWriter::operator=(BlobWriter&& o) noexcept {
  if (this != &o) {
    discard();
    root_ = std::move(o.root_);
    media_type_ = std::move(o.media_type_);
    fd_ = std::move(o.fd_);
    tmp_path_ = std::move(o.tmp_path_);
    hasher_ = std::move(o.hasher_);
    gc_lock_ = std::move(o.gc_lock_);
    buf_ = std::move(o.buf_);
    buf_len_ = o.buf_len_;
    written_ = o.written_;
    writeback_ = o.writeback_;
    done_ = o.done_;
    created_ = o.created_;
    o.done_ = true;
  }
  return *this;
}

BlobWriter::~BlobWriter() { discard(); }

void BlobWriter::discard() noexcept {
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  tmp_path_.clear();
  fd_.reset();
  gc_lock_.reset();
  done_ = true;
}

void BlobWriter::write(const void* data, size_t len) {
  if (done_ || !fd_) fail("blob writer: write after commit");
  hasher_.update(data, len);
  // Callers hand over small pieces (libcurl: 16 KiB); gather them into
  // kBufferSize writes. Measured on a 400 MB pull: 64 KiB writes take a
  // quarter less wall time than 16 KiB ones; 1 MiB ones take 3x the system
  // time (the page cache then allocates large folios, slow to fault in here).
  const char* p = static_cast<const char*>(data);
  if (buf_len_ == 0 && len >= kBufferSize) {
    put(p, len);
    return;
  }
  if (!buf_) buf_ = std::make_unique<char[]>(kBufferSize);
  while (len > 0) {
    size_t n = std::min(len, kBufferSize - buf_len_);
    std::memcpy(buf_.get() + buf_len_, p, n);
    buf_len_ += n;
    p += n;
    len -= n;
    if (buf_len_ == kBufferSize) flush();
  }
}

void BlobWriter::flush() {
  if (buf_len_ == 0) return;
  size_t n = buf_len_;
  buf_len_ = 0;
  put(buf_.get(), n);
}

void BlobWriter::put(const char* p, size_t len) {
  fs::write_all(fd_.get(), p, len);
  written_ += len;
  // Start the writeback of every full chunk now (on another thread), so
  // that the disk works while the rest arrives and commit()'s fsync waits
  // only for the tail. Advisory: fsync still decides.
  if (written_ - writeback_ >= kWritebackChunk) {
    BackgroundWriteback::instance().start(fd_.get(), static_cast<off_t>(writeback_),
                                          static_cast<off_t>(written_ - writeback_));
    writeback_ = written_;
  }
}

Descriptor BlobWriter::commit(std::optional<digest::Digest> expected, std::optional<int64_t> expected_size) {
  if (done_ || !fd_) fail("blob writer: commit called twice");
  Descriptor desc;
  desc.media_type = media_type_;
  desc.size = static_cast<int64_t>(hasher_.size());
  desc.digest = hasher_.finish();
  if (expected_size && *expected_size != desc.size) {
    discard();
    fail(Errc::invalid, "size mismatch: want " + std::to_string(*expected_size) + ", got " + std::to_string(desc.size));
  }
  if (expected && *expected != desc.digest) {
    discard();
    fail(Errc::invalid, "digest mismatch: want " + expected->str() + ", got " + desc.digest.str());
  }
  std::string dir = root_ + "/blobs/" + std::string(desc.digest.algorithm_name());
  std::string target = dir + "/" + desc.digest.hex;
  try {
    flush();
    if (::fsync(fd_.get()) != 0) throw_errno("fsync blob " + desc.digest.str());
    fs::mkdir_p(dir);
    if (tmp_path_.empty()) {
      // linkat of the anonymous inode is atomic and never replaces: EEXIST
      // means a concurrent writer stored the same content first.
      std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
      if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        created_ = true;
      } else if (errno != EEXIST) {
        throw_errno("link blob " + target);
      }
    } else {
      created_ = !fs::exists(target);
      if (::rename(tmp_path_.c_str(), target.c_str()) != 0) throw_errno("rename blob to " + target);
      tmp_path_.clear();
    }
    // The directory entry is made durable by the next index.json update
    // (sync_blob_dirs), once for all the blobs written before it.
  } catch (...) {
    discard();
    throw;
  }
  discard();
  return desc;
}

// ---------------------------------------------------------------- Layout

Layout Layout::open(const std::string& dir) {
  std::string root = dir.size() > 1 && dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
  check_layout_file(root);
  load_index(root);
  return Layout(root);
}

Layout Layout::open_or_create(const std::string& dir) {
  std::string root = dir.size() > 1 && dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
  if (fs::exists(root + "/oci-layout")) return open(root);
  fs::mkdir_p(root);
  fs::FileLock lock(root + kIndexLock);
  if (!fs::exists(root + "/oci-layout")) {
    fs::mkdir_p(root + "/blobs/sha256");
    // index.json first: oci-layout is the marker that makes the directory a
    // layout, so it is written last.
    if (!fs::exists(root + "/index.json")) {
      image::Index ix;
      ix.media_type = image::media::kOciIndex;
      fs::write_file_atomic(root + "/index.json", image::dump(image::to_json(ix)));
    }
    fs::write_file_atomic(root + "/oci-layout", kLayoutFile);
  }
  return open(root);
}

std::string Layout::blob_path(const digest::Digest& d) const {
  return root_ + "/blobs/" + std::string(d.algorithm_name()) + "/" + d.hex;
}

bool Layout::has_blob(const digest::Digest& d) const { return fs::exists(blob_path(d)); }

BlobWriter Layout::begin_blob(std::string media_type, digest::Algorithm alg) {
  return BlobWriter(root_, std::move(media_type), alg);
}

Descriptor Layout::put_blob(std::string_view data, std::string media_type) {
  auto w = begin_blob(std::move(media_type));
  w.write(data);
  return w.commit();
}

Descriptor Layout::put_json(const nlohmann::json& j, std::string media_type) {
  return put_blob(image::dump(j), std::move(media_type));
}

fs::UniqueFd Layout::open_blob(const digest::Digest& d) const {
  fs::UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) fail(Errc::not_found, "blob " + d.str() + ": not found");
    throw_errno("open blob " + d.str());
  }
  return fd;
}

std::string Layout::read_blob(const digest::Digest& d) const {
  std::string data;
  try {
    data = fs::read_file(blob_path(d));
  } catch (Error& e) {
    if (e.code() == Errc::not_found) fail(Errc::not_found, "blob " + d.str() + ": not found");
    throw;
  }
  auto got = digest::of(data, d.algorithm);
  if (got != d) fail(Errc::invalid, "blob " + d.str() + ": digest mismatch: want " + d.str() + ", got " + got.str());
  return data;
}

std::string Layout::read_blob(const Descriptor& d) const {
  std::string data = read_blob(d.digest);
  if (static_cast<int64_t>(data.size()) != d.size)
    fail(Errc::invalid,
         "blob " + d.digest.str() + ": size mismatch: want " + std::to_string(d.size) + ", got " +
             std::to_string(data.size()));
  return data;
}

image::Manifest Layout::read_manifest(const Descriptor& d) const {
  std::string text = read_blob(d);
  return with_context("manifest " + d.digest.str(), [&] { return image::parse_manifest(text); });
}

image::Index Layout::read_index(const Descriptor& d) const {
  std::string text = read_blob(d);
  return with_context("index " + d.digest.str(), [&] { return image::parse_index(text); });
}

image::ImageConfig Layout::read_config(const Descriptor& d) const {
  std::string text = read_blob(d);
  return with_context("config " + d.digest.str(), [&] { return image::parse_config(text); });
}

image::Index Layout::index() const { return load_index(root_); }

std::vector<Descriptor> Layout::list() const { return index().manifests; }

std::vector<size_t> Layout::match(const std::vector<Descriptor>& entries, std::string_view name, bool by_digest) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].ref_name() == name) out.push_back(i);
  if (!out.empty()) return out;
  if (std::string want = normalised(name); !want.empty()) {
    for (size_t i = 0; i < entries.size(); ++i)
      if (!entries[i].ref_name().empty() && normalised(entries[i].ref_name()) == want) out.push_back(i);
    if (!out.empty()) return out;
  }
  if (!by_digest) return out;
  if (digest::is_valid(name)) {
    auto d = digest::parse(name);
    for (size_t i = 0; i < entries.size(); ++i)
      if (entries[i].digest == d) out.push_back(i);
    return out;
  }
  bool hex =
      name.size() >= 6 && name.size() <= 128 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!hex) return out;
  std::set<std::string> digests;
  for (size_t i = 0; i < entries.size(); ++i)
    if (entries[i].digest.hex.compare(0, name.size(), name) == 0) {
      out.push_back(i);
      digests.insert(entries[i].digest.str());
    }
  if (digests.size() > 1)
    fail(Errc::invalid,
         "ambiguous image id \"" + std::string(name) + "\": matches " + std::to_string(digests.size()) + " images");
  return out;
}

std::optional<Descriptor> Layout::resolve(std::string_view name) const {
  auto entries = list();
  auto m = match(entries, name, true);
  if (m.empty()) return std::nullopt;
  return entries[m.front()];
}

Descriptor Layout::resolve_or_throw(std::string_view name) const {
  auto d = resolve(name);
  if (!d) fail(Errc::not_found, "image \"" + std::string(name) + "\" not found in " + root_);
  return *d;
}

void Layout::sync_blob_dirs() const {
  for (const auto& alg : list_dir(root_ + "/blobs"))
    if (is_dir(root_ + "/blobs/" + alg)) fs::fsync_dir(root_ + "/blobs/" + alg);
}

template <class F>
void Layout::update_index(F&& fn) {
  fs::FileLock lock(root_ + kIndexLock);
  image::Index ix = load_index(root_);
  if (!fn(ix)) return;
  // Names of blobs committed so far become durable before index.json can
  // name them: one directory fsync here instead of one per blob.
  sync_blob_dirs();
  fs::write_file_atomic(root_ + "/index.json", image::dump(image::to_json(ix)));
}

void Layout::tag(std::string_view name, const Descriptor& d) {
  if (!is_valid_ref_name(name))
    fail(Errc::invalid, "invalid image name \"" + std::string(name) + "\" for an OCI layout ref.name");
  update_index([&](image::Index& ix) {
    if (!has_blob(d.digest))
      fail(Errc::not_found, "tag " + std::string(name) + ": blob " + d.digest.str() + ": not found");
    auto m = match(ix.manifests, name, false);
    for (auto it = m.rbegin(); it != m.rend(); ++it) ix.manifests.erase(ix.manifests.begin() + *it);
    Descriptor e = d;
    e.annotations[std::string(image::kRefNameAnnotation)] = std::string(name);
    ix.manifests.push_back(std::move(e));
    return true;
  });
}

bool Layout::untag(std::string_view name) {
  bool found = false;
  update_index([&](image::Index& ix) {
    auto m = match(ix.manifests, name, false);
    for (auto it = m.rbegin(); it != m.rend(); ++it) ix.manifests.erase(ix.manifests.begin() + *it);
    found = !m.empty();
    return found;
  });
  return found;
}

void Layout::delete_image(std::string_view name) {
  update_index([&](image::Index& ix) {
    auto m = match(ix.manifests, name, true);
    if (m.empty()) fail(Errc::not_found, "image \"" + std::string(name) + "\" not found in " + root_);
    // Deleting by name removes that name; by digest, every name of it.
    for (auto it = m.rbegin(); it != m.rend(); ++it) ix.manifests.erase(ix.manifests.begin() + *it);
    return true;
  });
}

bool Layout::remove_blob(const digest::Digest& d) {
  fs::FileLock gc_lock(root_ + kGcLock);
  std::string p = blob_path(d);
  if (::unlink(p.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("remove " + p);
  }
  fs::fsync_dir(p.substr(0, p.rfind('/')));
  return true;
}

Layout::Lease::Lease(const Layout& l) : lock_(l.path() + kGcLock, false) {}

GcResult Layout::gc(const std::vector<digest::Digest>& extra_roots) {
  // Lock order everywhere: gc lock, then index lock.
  fs::FileLock gc_lock(root_ + kGcLock);
  fs::FileLock index_lock(root_ + kIndexLock);
  image::Index ix = load_index(root_);

  std::set<std::string> keep;
  std::vector<Descriptor> todo = ix.manifests;
  for (const auto& d : extra_roots) {
    Descriptor r;
    r.digest = d;
    r.size = -1;  // unknown: read_blob(Digest) below
    todo.push_back(r);
  }
  while (!todo.empty()) {
    Descriptor d = std::move(todo.back());
    todo.pop_back();
    if (!keep.insert(d.digest.str()).second || !has_blob(d.digest)) continue;
    image::Kind kind = image::detect_kind(d.media_type);
    std::string text;
    if (kind == image::Kind::index || kind == image::Kind::manifest) {
      text = d.size >= 0 ? read_blob(d) : read_blob(d.digest);
    } else if (d.media_type.empty()) {
      struct stat st {};
      if (::stat(blob_path(d.digest).c_str(), &st) != 0 || st.st_size > kMaxJsonBlob) continue;
      text = read_blob(d.digest);
      kind = image::detect_kind("", text);
    }
    // A reachable manifest that does not parse aborts gc: what it
    // references is unknown, so nothing may be removed.
    with_context("gc: " + d.digest.str(), [&] {
      if (kind == image::Kind::index) {
        for (auto& c : image::parse_index(text).manifests) todo.push_back(std::move(c));
      } else if (kind == image::Kind::manifest) {
        auto m = image::parse_manifest(text);
        todo.push_back(m.config);
        for (auto& l : m.layers) todo.push_back(std::move(l));
      }
    });
  }

  GcResult res;
  for (const auto& alg : list_dir(root_ + "/blobs")) {
    std::string dir = root_ + "/blobs/" + alg;
    if (!is_dir(dir)) continue;
    bool removed = false;
    for (const auto& hex : list_dir(dir)) {
      std::string key = alg + ":" + hex;
      if (keep.count(key)) continue;
      if (!digest::is_valid(key)) continue;  // not ours: leave foreign files alone
      std::string p = dir + "/" + hex;
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (::unlink(p.c_str()) != 0) throw_errno("gc: remove " + p);
      res.blobs++;
      res.bytes += static_cast<uint64_t>(st.st_size);
      removed = true;
    }
    if (removed) fs::fsync_dir(dir);
  }
  // No writer holds the gc lock now, so every temp file is stale.
  for (const auto& n : list_dir(root_ + kIngest)) {
    if (::unlink((root_ + kIngest + "/" + n).c_str()) == 0) res.temps++;
  }
  for (const auto& n : list_dir(root_)) {
    if (n.rfind(".tmp-", 0) == 0 && ::unlink((root_ + "/" + n).c_str()) == 0) res.temps++;
  }
  return res;
}

void copy_blob(const Layout& from, Layout& to, const image::Descriptor& d) {
  if (to.has_blob(d.digest)) return;
  fs::UniqueFd fd = from.open_blob(d.digest);
  BlobWriter w = to.begin_blob(d.media_type, d.digest.algorithm);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) throw_errno("read blob " + d.digest.str());
    if (n == 0) break;
    w.write(buf.data(), static_cast<size_t>(n));
  }
  w.commit(d.digest, d.size);
}

void copy_image(const Layout& from, Layout& to, const image::Descriptor& top) {
  if (image::is_index_media_type(top.media_type)) {
    for (const auto& m : from.read_index(top).manifests) copy_image(from, to, m);
  } else {
    image::Manifest man = from.read_manifest(top);
    copy_blob(from, to, man.config);
    for (const auto& l : man.layers)
      if (from.has_blob(l.digest)) copy_blob(from, to, l);
  }
  copy_blob(from, to, top);
}

}  // namespace ocikit::layout
