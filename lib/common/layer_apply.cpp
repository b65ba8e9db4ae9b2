// Applying a layer tar onto a directory, confined to that directory.
//
// Every entry's parent directory is opened with fs::open_in_root (openat2
// RESOLVE_IN_ROOT): symlinks met on the way are resolved as if the root were
// "/", so they can never lead outside it. The last component is then handled
// with *at() calls relative to that parent fd and never followed (O_NOFOLLOW,
// AT_SYMLINK_NOFOLLOW, linkat without AT_SYMLINK_FOLLOW; mkdirat, symlinkat and
// mknodat do not follow by definition). Names that climb above the root
// lexically ("../x") are refused outright.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layer_codec.hpp"
#include "common/log.hpp"

namespace ocikit::layer {

std::optional<uint32_t> map_id(const std::vector<IdMapping>& map, uint32_t id) {
  if (map.empty()) return id;
  for (const auto& m : map)
    if (id >= m.container_id && id - m.container_id < m.size) return m.host_id + (id - m.container_id);
  return std::nullopt;
}

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

// libarchive read callback state: the codec plus the error it hit, since
// exceptions must not cross libarchive's C frames.
struct ReadCtx {
  detail::DecompressReader reader;
  std::exception_ptr error;
  explicit ReadCtx(int fd) : reader(fd) {}
};

la_ssize_t read_cb(struct archive* a, void* opaque, const void** buf) {
  auto* ctx = static_cast<ReadCtx*>(opaque);
  try {
    auto [p, n] = ctx->reader.next();
    *buf = p;
    return static_cast<la_ssize_t>(n);
  } catch (...) {
    ctx->error = std::current_exception();
    archive_set_error(a, EIO, "layer stream error");
    return -1;
  }
}

// A relative, clean path inside the root for a tar name; throws when the
// name climbs above the root. Absolute names are taken relative to the root
// (as tar does by stripping the leading "/").
std::string clean_entry_path(std::string_view raw) {
  std::string p = fs::clean_path(raw);
  if (p == ".." || p.starts_with("../")) fail(Errc::invalid, "path escapes the root");
  size_t i = p.find_first_not_of('/');
  if (i == std::string::npos) return ".";
  return p.substr(i);
}

std::pair<std::string, std::string> split_path(const std::string& p) {
  size_t s = p.rfind('/');
  if (s == std::string::npos) return {".", p};
  return {p.substr(0, s), p.substr(s + 1)};
}

std::string join_path(const std::string& dir, std::string_view name) {
  return dir == "." ? std::string(name) : dir + "/" + std::string(name);
}

class Applier {
 public:
  Applier(int root_fd, const ApplyOptions& opts) : root_fd_(root_fd), opts_(opts) { is_root_ = ::geteuid() == 0; }

  void entry(struct archive* a, struct archive_entry* e);
  void finish_dirs();

 private:
  struct DirMeta {
    std::string path;
    mode_t mode;
    bool has_mtime;
    timespec mtime;
  };

  int parent_fd(const std::string& dir);
  fs::UniqueFd open_or_create_dir(const std::string& dir);
  void remove_at(int dfd, const std::string& name);
  void prune(int dfd, const std::string& name, const std::string& path);
  void whiteout(const std::string& dir, const std::string& name);
  void opaque(const std::string& dir);
  void hardlink(const std::string& path, const char* target);
  void chown_entry(struct archive_entry* e, int dfd, const char* name, int fd);
  void set_xattrs(struct archive_entry* e, int fd, bool path_fd);
  void write_data(struct archive* a, struct archive_entry* e, int fd);

  int root_fd_;
  const ApplyOptions& opts_;
  bool is_root_;
  std::unordered_set<std::string> seen_;  // paths this layer wrote (for opaque dirs)
  std::vector<DirMeta> dirs_;  // modes and times set once all entries are in
  std::string cached_dir_;  // one-entry cache of the last parent dir
  fs::UniqueFd cached_fd_;
};

// Open (creating missing components 0755, as tar does for implied parents)
// the directory `dir` inside the root, as an O_PATH fd.
fs::UniqueFd Applier::open_or_create_dir(const std::string& dir) {
  try {
    return fs::open_in_root(root_fd_, dir, O_PATH | O_DIRECTORY);
  } catch (const Error& e) {
    if (e.code() != Errc::not_found || dir == ".") throw;
  }
  auto [parent, name] = split_path(dir);
  fs::UniqueFd pfd = open_or_create_dir(parent);
  if (::mkdirat(pfd.get(), name.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + dir);
  return fs::open_in_root(root_fd_, dir, O_PATH | O_DIRECTORY);
}

int Applier::parent_fd(const std::string& dir) {
  if (dir == ".") return root_fd_;
  if (cached_fd_ && cached_dir_ == dir) return cached_fd_.get();
  cached_fd_ = open_or_create_dir(dir);
  cached_dir_ = dir;
  return cached_fd_.get();
}

// Remove `name` in `dfd` (recursively for a directory, never following a
// symlink). Any removal can change how later paths resolve, so it drops the
// parent cache.
void Applier::remove_at(int dfd, const std::string& name) {
  struct stat st;
  if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + name);
  }
  cached_fd_.reset();
  cached_dir_.clear();
  if (S_ISDIR(st.st_mode)) {
    fs::UniqueFd fd(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw_errno("open " + name);
    DIR* d = ::fdopendir(fd.release());
    if (!d) throw_errno("opendir " + name);
    std::vector<std::string> names;
    while (auto* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    int sub = ::dirfd(d);
    try {
      for (const auto& n : names) remove_at(sub, n);
    } catch (...) {
      ::closedir(d);
      throw;
    }
    ::closedir(d);
    if (::unlinkat(dfd, name.c_str(), AT_REMOVEDIR) != 0) throw_errno("remove " + name);
  } else if (::unlinkat(dfd, name.c_str(), 0) != 0) {
    throw_errno("remove " + name);
  }
}

// Remove what lower layers left in the directory `name` (at `path`): every
// child this layer did not write; directories this layer wrote are pruned
// in turn.
void Applier::prune(int dfd, const std::string& name, const std::string& path) {
  fs::UniqueFd fd(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  DIR* d = ::fdopendir(fd.release());
  if (!d) throw_errno("opendir " + path);
  std::vector<std::pair<std::string, bool>> children;
  while (auto* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") children.emplace_back(std::string(n), de->d_type == DT_DIR);
  }
  int sub = ::dirfd(d);
  try {
    for (const auto& [n, is_dir] : children) {
      std::string cp = join_path(path, n);
      if (!seen_.count(cp)) {
        remove_at(sub, n);
      } else if (is_dir) {
        prune(sub, n, cp);
      }
    }
  } catch (...) {
    ::closedir(d);
    throw;
  }
  ::closedir(d);
}

void Applier::whiteout(const std::string& dir, const std::string& name) {
  if (name.empty() || name == "." || name == "..") fail(Errc::invalid, "invalid whiteout name");
  // Our own reference: remove_at drops the parent cache.
  fs::UniqueFd keep(::fcntl(parent_fd(dir), F_DUPFD_CLOEXEC, 0));
  if (!keep) throw_errno("dup");
  int pfd = keep.get();
  remove_at(pfd, name);
  if (opts_.overlay_whiteouts) {
    // overlayfs marks a deleted lower entry with a 0/0 character device.
    if (::mknodat(pfd, name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
      throw_errno("mknod whiteout " + join_path(dir, name));
  }
  seen_.insert(join_path(dir, name));
}

void Applier::opaque(const std::string& dir) {
  // The spec lets the opaque marker appear anywhere among the directory's
  // entries; entries this layer already wrote there survive.
  if (dir == ".") {
    prune(root_fd_, ".", ".");
  } else {
    auto [parent, name] = split_path(dir);
    int pfd = parent_fd(parent);
    std::string pname = name;  // parent_fd's cache may be dropped by prune
    fs::UniqueFd keep(::fcntl(pfd, F_DUPFD_CLOEXEC, 0));
    prune(keep.get(), pname, dir);
    cached_fd_.reset();
    cached_dir_.clear();
    if (opts_.overlay_whiteouts) {
      fs::UniqueFd fd(::openat(keep.get(), pname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("open " + dir);
      if (::fsetxattr(fd.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) throw_errno("set opaque xattr on " + dir);
    }
  }
}

void Applier::hardlink(const std::string& path, const char* target_raw) {
  std::string target;
  try {
    target = clean_entry_path(target_raw);
  } catch (const Error&) {
    fail(Errc::invalid, std::string("hard link target \"") + target_raw + "\" escapes the root");
  }
  if (target == path) return;  // a link to itself: nothing to do
  if (target == ".") fail(Errc::invalid, "hard link to a directory");
  auto [tdir, tname] = split_path(target);
  fs::UniqueFd tfd;
  try {
    tfd = fs::open_in_root(root_fd_, tdir, O_PATH | O_DIRECTORY);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found)
      fail(Errc::invalid, std::string("hard link target \"") + target_raw + "\" does not exist");
    throw;
  }
  struct stat st;
  if (::fstatat(tfd.get(), tname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    fail(Errc::invalid, std::string("hard link target \"") + target_raw + "\" does not exist");
  if (S_ISDIR(st.st_mode)) fail(Errc::invalid, "hard link to a directory");
  auto [dir, name] = split_path(path);
  int pfd = parent_fd(dir);
  fs::UniqueFd pkeep(::fcntl(pfd, F_DUPFD_CLOEXEC, 0));
  remove_at(pkeep.get(), name);
  // flags 0: a symlink target is linked itself, never followed.
  if (::linkat(tfd.get(), tname.c_str(), pkeep.get(), name.c_str(), 0) != 0) throw_errno("link");
}

void Applier::chown_entry(struct archive_entry* e, int dfd, const char* name, int fd) {
  if (!opts_.same_owner) return;
  auto uid = map_id(opts_.uid_map, static_cast<uint32_t>(archive_entry_uid(e)));
  auto gid = map_id(opts_.gid_map, static_cast<uint32_t>(archive_entry_gid(e)));
  if (!uid) fail(Errc::invalid, "uid " + std::to_string(archive_entry_uid(e)) + " is not mapped");
  if (!gid) fail(Errc::invalid, "gid " + std::to_string(archive_entry_gid(e)) + " is not mapped");
  int rc = fd >= 0 ? ::fchown(fd, *uid, *gid) : ::fchownat(dfd, name, *uid, *gid, AT_SYMLINK_NOFOLLOW);
  if (rc != 0) throw_errno("chown");
}

// Set the entry's xattrs on `fd`; `path_fd` means an O_PATH fd (devices,
// fifos), reached through its /proc/self/fd link.
void Applier::set_xattrs(struct archive_entry* e, int fd, bool path_fd) {
  if (archive_entry_xattr_reset(e) == 0) return;
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view n = name;
    if (n.starts_with("trusted.") && !is_root_) {
      log::debug(std::string("layer: skipping xattr ") + name + " (not root)");
      continue;
    }
    int rc;
    if (path_fd) {
      std::string proc = "/proc/self/fd/" + std::to_string(fd);
      rc = ::setxattr(proc.c_str(), name, value, size, 0);
    } else {
      rc = ::fsetxattr(fd, name, value, size, 0);
    }
    if (rc != 0) {
      if (errno == EPERM || errno == ENOTSUP || errno == EACCES) {
        log::debug(std::string("layer: skipping xattr ") + name + ": " + std::strerror(errno));
        continue;
      }
      throw_errno(std::string("set xattr ") + name);
    }
  }
}

void Applier::write_data(struct archive* a, struct archive_entry* e, int fd) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  int64_t end = 0;
  for (;;) {
    int rc = archive_read_data_block(a, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) fail(Errc::invalid, std::string("read data: ") + archive_error_string(a));
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd, p, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("write");
      }
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = offset;
  }
  // Sparse files may end in a hole.
  if (archive_entry_size_is_set(e) && end < archive_entry_size(e) && ::ftruncate(fd, archive_entry_size(e)) != 0)
    throw_errno("truncate");
}

void Applier::entry(struct archive* a, struct archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) raw = "";  // libarchive reports an empty name ("./" stripped) as null
  std::string path = clean_entry_path(raw);
  auto [dir, base] = split_path(path);

  if (opts_.whiteouts && std::string_view(base).starts_with(kWhiteoutPrefix)) {
    if (base == kOpaque) opaque(dir);
    else whiteout(dir, base.substr(kWhiteoutPrefix.size()));
    return;
  }

  timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1] = times[0];
  bool has_mtime = archive_entry_mtime_is_set(e);
  if (has_mtime) {
    times[1].tv_sec = archive_entry_mtime(e);
    times[1].tv_nsec = archive_entry_mtime_nsec(e);
    times[0] = times[1];  // atime = mtime (tar keeps no meaningful atime)
  }
  mode_t mode = archive_entry_perm(e) & 07777;

  if (const char* link = archive_entry_hardlink(e)) {
    if (path == ".") fail(Errc::invalid, "cannot replace the root directory");
    hardlink(path, link);
    seen_.insert(path);
    return;
  }

  mode_t type = archive_entry_filetype(e);
  if (path == ".") {
    if (type != AE_IFDIR) fail(Errc::invalid, "cannot replace the root directory");
    chown_entry(e, root_fd_, nullptr, root_fd_);
    dirs_.push_back({path, mode, has_mtime, times[1]});
    return;
  }

  int pfd = parent_fd(dir);
  // Keep our own reference: remove_at may drop the parent cache.
  fs::UniqueFd pkeep;
  if (pfd != root_fd_) {
    pkeep.reset(::fcntl(pfd, F_DUPFD_CLOEXEC, 0));
    if (!pkeep) throw_errno("dup");
    pfd = pkeep.get();
  }
  const char* name = base.c_str();
  struct stat st;
  bool exists = ::fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && opts_.no_overwrite_dir_non_dir && (type == AE_IFDIR) != S_ISDIR(st.st_mode))
    fail(Errc::exists,
         S_ISDIR(st.st_mode) ? "cannot overwrite directory \"" + path + "\" with non-directory"
                             : "cannot overwrite non-directory \"" + path + "\" with directory");

  switch (type) {
    case AE_IFDIR: {
      if (exists && !S_ISDIR(st.st_mode)) {
        remove_at(pfd, base);
        exists = false;
      }
      if (!exists && ::mkdirat(pfd, name, 0700) != 0) throw_errno("mkdir");
      fs::UniqueFd fd(::openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("open");
      chown_entry(e, pfd, name, fd.get());
      set_xattrs(e, fd.get(), false);
      // Mode and mtime later: children would change the mtime, and a
      // read-only mode would stop rootless extraction of the children.
      dirs_.push_back({path, mode, has_mtime, times[1]});
      break;
    }
    case AE_IFREG: {
      if (exists) remove_at(pfd, base);
      fs::UniqueFd fd(::openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) throw_errno("create");
      write_data(a, e, fd.get());
      // chown first: it clears setuid/setgid bits and security.capability.
      chown_entry(e, pfd, name, fd.get());
      if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod");
      set_xattrs(e, fd.get(), false);
      if (::futimens(fd.get(), times) != 0) throw_errno("set times");
      break;
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target) fail(Errc::invalid, "symlink without a target");
      if (exists) remove_at(pfd, base);
      if (::symlinkat(target, pfd, name) != 0) throw_errno("symlink");
      chown_entry(e, pfd, name, -1);
      if (::utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times");
      break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      if (type != AE_IFIFO && !opts_.allow_devices) {
        log::debug("layer: skipping device " + path);
        return;
      }
      if (exists) remove_at(pfd, base);
      dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      if (::mknodat(pfd, name, type | 0600, dev) != 0) {
        if (errno == EPERM && type != AE_IFIFO && !is_root_) {
          log::debug("layer: skipping device " + path + " (not root)");
          return;
        }
        throw_errno("mknod");
      }
      fs::UniqueFd fd(::openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw_errno("open");
      chown_entry(e, pfd, name, -1);
      if (::fchmodat(pfd, name, mode, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("chmod");
      set_xattrs(e, fd.get(), true);
      if (::utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("set times");
      break;
    }
    case AE_IFSOCK: log::debug("layer: skipping socket " + path); return;
    default: fail(Errc::invalid, "unsupported entry type");
  }
  seen_.insert(path);
}

void Applier::finish_dirs() {
  for (const auto& d : dirs_) {
    fs::UniqueFd fd;
    try {
      fd = fs::open_in_root(root_fd_, d.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (const Error& e) {
      // A later entry of the layer replaced or deleted it.
      if (e.code() == Errc::not_found || e.sys_errno() == ENOTDIR || e.sys_errno() == ELOOP) continue;
      throw;
    }
    if (::fchmod(fd.get(), d.mode) != 0) throw_errno("chmod " + d.path);
    if (d.has_mtime) {
      timespec times[2] = {d.mtime, d.mtime};
      if (::futimens(fd.get(), times) != 0) throw_errno("set times " + d.path);
    }
  }
}

}  // namespace

ApplyResult apply(int fd, const std::string& root, const ApplyOptions& opts) {
  fs::UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) throw_errno("open " + root);
  return apply(fd, root_fd.get(), opts);
}

ApplyResult apply(int fd, int root_fd, const ApplyOptions& opts) {
  ReadCtx ctx(fd);
  struct archive* a = archive_read_new();
  if (!a) fail("layer: out of memory");
  struct Closer {
    struct archive* a;
    ~Closer() { archive_read_free(a); }
  } closer{a};
  archive_read_support_format_tar(a);
  auto check = [&](int rc, const char* what) {
    if (rc >= ARCHIVE_WARN) return;
    if (ctx.error) std::rethrow_exception(ctx.error);
    fail(Errc::invalid,
         std::string("layer: ") + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "unknown error"));
  };
  check(archive_read_open(a, &ctx, nullptr, read_cb, nullptr), "open");

  Applier applier(root_fd, opts);
  for (;;) {
    struct archive_entry* e;
    int rc = archive_read_next_header(a, &e);
    if (rc == ARCHIVE_EOF) break;
    check(rc, "read tar header");
    const char* raw = archive_entry_pathname(e);
    std::string label = raw ? raw : "";
    try {
      applier.entry(a, e);
    } catch (...) {
      if (ctx.error) std::rethrow_exception(ctx.error);
      Error err = current_exception_as_error();
      err.prefix("layer entry \"" + label + "\"");
      throw err;
    }
  }
  applier.finish_dirs();
  // libarchive stops at the end-of-archive blocks; the digests must cover
  // the padding and compression trailer too.
  ctx.reader.drain();
  ApplyResult r;
  ctx.reader.finish(r);
  return r;
}

}  // namespace ocikit::layer
