#include "common/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "common/error.hpp"

namespace ocikit::fs {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) throw Error(Errc::not_found, "open " + path, ENOENT);
    throw_errno("open " + path);
  }
  std::string out;
  struct stat st {};
  if (fstat(fd.get(), &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> dir_names(int dirfd, const std::string& shown) {
  int dup_fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) throw_errno("read " + shown);
  DIR* dir = fdopendir(dup_fd);
  if (!dir) {
    int err = errno;
    close(dup_fd);
    throw_errno("read " + shown, err);
  }
  // The dup shares the offset: start at the top whatever read it before.
  rewinddir(dir);
  std::vector<std::string> names;
  while (auto* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

void mkdir_p(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  if (::mkdir(path.c_str(), mode) == 0) return;
  if (errno == EEXIST) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    throw Error(Errc::io, "mkdir " + path, ENOTDIR);
  }
  if (errno != ENOENT) throw_errno("mkdir " + path);
  auto slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  if (slash != std::string::npos && slash > 0) mkdir_p(path.substr(0, slash), mode);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir " + path);
}

void fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open directory " + path);
  if (::fsync(fd.get()) != 0 && errno != EINVAL) throw_errno("fsync " + path);
}

void copy_data(int in, int out, off_t size, const std::string& what) {
  off_t left = size;
  while (left > 0) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // copy_file_range unsupported across these file systems: plain copy.
      char buf[1 << 16];
      ssize_t r;
      while ((r = ::read(in, buf, sizeof buf)) > 0) write_all(out, buf, static_cast<size_t>(r));
      if (r < 0) throw_errno("read " + what);
      break;
    }
    left -= n;
  }
}

void write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

void remove_all(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throw Error(Errc::io, "remove " + path, ec.value());
}

TempDir::TempDir(const std::string& prefix) {
  const char* t = std::getenv("TMPDIR");
  path_ = std::string(t && *t ? t : "/tmp") + "/" + prefix + ".XXXXXX";
  if (!::mkdtemp(path_.data())) throw_errno("create temporary directory " + path_);
}

TempDir::~TempDir() {
  try {
    remove_all(path_);
  } catch (...) {
  }
}

namespace {
std::string dir_of(const std::string& p) {
  auto s = p.find_last_of('/');
  if (s == std::string::npos) return ".";
  if (s == 0) return "/";
  return p.substr(0, s);
}

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(12, 'x');
  for (auto& c : s) c = kAlnum[rng() % 36];
  return s;
}
}  // namespace

AtomicFile::AtomicFile(std::string target, mode_t mode) : target_(std::move(target)), mode_(mode) {
  std::string dir = dir_of(target_);
  // O_TMPFILE: an unnamed inode, so a writer killed mid-write leaves nothing.
  fd_.reset(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode));
  if (!fd_) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("create temporary file in " + dir);
    tmp_path_ = dir + "/.tmp-" + random_suffix();
    fd_.reset(::open(tmp_path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode));
    if (!fd_) throw_errno("create " + tmp_path_);
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void AtomicFile::commit(bool replace, bool durable) {
  if (::fchmod(fd_.get(), mode_) != 0) throw_errno("chmod " + target_);
  if (durable && ::fsync(fd_.get()) != 0) throw_errno("fsync " + target_);
  std::string dir = dir_of(target_);
  if (tmp_path_.empty()) {
    // Give the anonymous inode a temporary name, then rename it into place
    // (linkat cannot replace an existing file).
    std::string tmp = dir + "/.tmp-" + random_suffix();
    std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) throw_errno("link " + target_);
    tmp_path_ = tmp;
  }
  int rc = replace ? ::rename(tmp_path_.c_str(), target_.c_str())
                   : ::renameat2(AT_FDCWD, tmp_path_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE);
  if (rc != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    tmp_path_.clear();
    if (err == EEXIST) throw Error(Errc::exists, target_ + " already exists");
    throw_errno("rename to " + target_, err);
  }
  committed_ = true;
  fd_.reset();
  if (durable) fsync_dir(dir);
}

void write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  AtomicFile f(path, mode);
  f.write(data);
  f.commit();
}

FileLock::FileLock(const std::string& path, bool exclusive) {
  fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("open lock " + path);
  while (::flock(fd_.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) throw_errno("lock " + path);
  }
}

std::string clean_path(std::string_view path) {
  bool abs = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c.empty() || c == ".") {
    } else if (c == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!abs) parts.push_back(c);
    } else {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

std::string secure_join(const std::string& root, std::string_view unsafe) {
  // Resolve component by component; `resolved` is always a clean path
  // relative to root (no leading '/'), so ".." can never climb above it.
  std::string resolved;
  std::string pending(unsafe);
  int links = 0;
  while (!pending.empty()) {
    size_t s = pending.find('/');
    std::string comp = pending.substr(0, s);
    pending = s == std::string::npos ? "" : pending.substr(s + 1);
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      auto p = resolved.find_last_of('/');
      resolved = p == std::string::npos ? "" : resolved.substr(0, p);
      continue;
    }
    std::string next = resolved.empty() ? comp : resolved + "/" + comp;
    std::string host = root + "/" + next;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
      resolved = next;
      continue;
    }
    if (++links > 255) throw Error(Errc::io, "resolve " + std::string(unsafe) + " in " + root, ELOOP);
    std::vector<char> buf(static_cast<size_t>(st.st_size) + 1 > 4096 ? static_cast<size_t>(st.st_size) + 1 : 4096);
    ssize_t n = ::readlink(host.c_str(), buf.data(), buf.size());
    if (n < 0) throw_errno("readlink " + host);
    std::string target(buf.data(), static_cast<size_t>(n));
    if (!target.empty() && target[0] == '/') resolved.clear();
    pending = pending.empty() ? target : target + "/" + pending;
  }
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return resolved.empty() ? r : r + "/" + resolved;
}

namespace {
long sys_openat2(int dirfd, const char* path, open_how* how) {
  return ::syscall(SYS_openat2, dirfd, path, how, sizeof(open_how));
}
}  // namespace

UniqueFd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
  std::string p(path);
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  if (p.empty()) p = ".";
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = sys_openat2(root_fd, p.c_str(), &how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno != ENOSYS) {
      if (errno == ENOENT) throw Error(Errc::not_found, "open " + p, ENOENT);
      throw_errno("open " + p);
    }
    break;
  }
  // Kernels before 5.6: resolve through /proc/self/fd of the root and open
  // the result with O_NOFOLLOW on the last component; the join itself never
  // leaves the root.
  std::string root = "/proc/self/fd/" + std::to_string(root_fd);
  char real[4096];
  ssize_t n = ::readlink(root.c_str(), real, sizeof real - 1);
  if (n < 0) throw_errno("readlink " + root);
  real[n] = 0;
  std::string host = secure_join(real, p);
  UniqueFd fd(::open(host.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) {
    if (errno == ENOENT) throw Error(Errc::not_found, "open " + p, ENOENT);
    throw_errno("open " + p);
  }
  return fd;
}

}  // namespace ocikit::fs
