#pragma once
// ocikit::fs: file-system primitives the store, the layer code and the runtime
// share: owned descriptors, atomic writes, directory locks, and path
// resolution confined inside a root (for layer extraction and mount targets).

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>
#include <string_view>

namespace ocikit::fs {

/// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  /// The descriptor, -1 when empty.
  int get() const { return fd_; }
  /// True when it holds a descriptor.
  explicit operator bool() const { return fd_ >= 0; }
  /// Give up ownership and return the descriptor.
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  /// Close the held descriptor (if any) and hold `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

/// Read a whole file. Throws Errc::not_found when it does not exist, Errc::io otherwise.
std::string read_file(const std::string& path);
/// True when `path` exists (lstat; a dangling symlink exists).
bool exists(const std::string& path);
/// The names in the open directory `dirfd` (sorted, without . and ..; the
/// fd stays open and usable). `shown` names it in errors. Throws Errc::io.
std::vector<std::string> dir_names(int dirfd, const std::string& shown);
/// Create `path` and its parents (like mkdir -p). Throws Errc::io.
void mkdir_p(const std::string& path, mode_t mode = 0755);
/// fsync the directory `path` so a rename in it is durable. Throws Errc::io.
void fsync_dir(const std::string& path);
/// write(2) all of `len` bytes, retrying on EINTR and short writes. Throws Errc::io.
void write_all(int fd, const void* data, size_t len);

/// Copy `size` bytes from `in` to `out` (both at their current offsets):
/// copy_file_range (reflinks where the file system has them), falling back
/// to read/write across file systems that refuse it. `what` names the
/// source in errors. Throws Errc::io.
void copy_data(int in, int out, off_t size, const std::string& what);
/// Remove `path` recursively if it exists (like rm -rf). Throws Errc::io.
void remove_all(const std::string& path);

/// A new directory $TMPDIR/PREFIX.XXXXXX (/tmp without TMPDIR), removed
/// with its contents when this object goes. Throws Errc::io.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A file written in full, then made visible under its final name in one
/// step: data goes to an anonymous (O_TMPFILE) or temporary file in the
/// target's directory, is fsynced, and is renamed over the target, then the
/// directory is fsynced. Destroyed without commit(), it leaves nothing behind.
class AtomicFile {
 public:
  /// Start a file that will become `target`. Throws Errc::io.
  explicit AtomicFile(std::string target, mode_t mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// The descriptor being written (for callers that write directly).
  int fd() const { return fd_.get(); }
  /// Append bytes. Throws Errc::io.
  void write(const void* data, size_t len) { write_all(fd_.get(), data, len); }
  void write(std::string_view s) { write(s.data(), s.size()); }
  /// fsync, rename over the target (replacing it), fsync the directory.
  /// With `replace` false and the target present, throws Errc::exists.
  /// With `durable` false, no fsync (caches: still never a torn file, but a
  /// crash may lose the update).
  void commit(bool replace = true, bool durable = true);
  /// The final path.
  const std::string& target() const { return target_; }

 private:
  std::string target_;
  std::string tmp_path_;  ///< named temp file when O_TMPFILE is unavailable
  UniqueFd fd_;
  mode_t mode_;
  bool committed_ = false;
};

/// Write `data` to `path` atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);

/// An advisory lock (flock) on a lock file, held for the object's lifetime.
/// The lock file is created if missing and is never removed (removing it
/// would let two holders lock different inodes).
class FileLock {
 public:
  /// Block until `path` is locked, exclusively or shared. Throws Errc::io.
  explicit FileLock(const std::string& path, bool exclusive = true);
  ~FileLock() = default;
  FileLock(FileLock&&) noexcept = default;
  FileLock& operator=(FileLock&&) noexcept = default;

 private:
  UniqueFd fd_;
};

/// Open `path` (relative, or absolute meaning relative to the root) beneath
/// the directory `root_fd`, resolving every symlink and ".." as if root_fd
/// were "/": nothing outside the root can be reached. Uses openat2 with
/// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, or an equivalent component walk
/// on kernels without it. `flags` must include O_CLOEXEC-compatible open
/// flags; O_CREAT creates the last component only. Throws Errc::not_found or Errc::io.
UniqueFd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

/// Lexically and symlink-wise resolve `unsafe` inside `root` (as
/// filepath-securejoin does): symlinks are followed as if `root` were "/",
/// ".." stops at the root, and a missing tail is appended as is. Returns a
/// host path that is `root` or beneath it. Throws Errc::io on a symlink loop.
std::string secure_join(const std::string& root, std::string_view unsafe);

/// Normalise a path lexically: collapse "//", "." and ".." (never above "/"
/// for an absolute path). "" becomes ".".
std::string clean_path(std::string_view path);

}  // namespace ocikit::fs
