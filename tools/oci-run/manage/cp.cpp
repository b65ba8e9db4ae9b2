// `oci-run cp`: copy between a managed container's root filesystem and the
// host. The container side is only ever reached through descriptors opened
// beneath its rootfs: the path up to the last component with open_in_root
// (symlinks resolved as if the rootfs were "/"), the last component and
// everything below it with *at() calls and O_NOFOLLOW. A symlink the
// container made therefore never leads a read or a write out of it, even
// when it is swapped while the copy runs.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <fstream>
#include <iostream>

#include "common/archive.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/snapshot.hpp"
#include "manage/manage.hpp"
#include "images.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

namespace {

using fs::UniqueFd;

bool is_mount_point(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, dev, root, mp;
    ls >> id >> parent >> dev >> root >> mp;
    if (mp == path) return true;
  }
  return false;
}

UniqueFd open_dir(int dirfd, const std::string& name, const std::string& what) {
  int fd = openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + what);
  return UniqueFd(fd);
}

// Copy the entry `sname` of `sdir` to the entry `dname` of `ddir`, never
// following a symlink at or below either (the caller resolved the parents).
void copy_entry(int sdir, const std::string& sname, int ddir, const std::string& dname, const std::string& shown,
                bool keep_owner = false) {
  struct stat st;
  if (fstatat(sdir, sname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat " + shown);
  struct stat dst;
  bool dexists = fstatat(ddir, dname.c_str(), &dst, AT_SYMLINK_NOFOLLOW) == 0;
  if (S_ISDIR(st.st_mode)) {
    if (dexists && !S_ISDIR(dst.st_mode)) {
      if (unlinkat(ddir, dname.c_str(), 0) != 0) throw_errno("replace " + shown);
      dexists = false;
    }
    if (!dexists && mkdirat(ddir, dname.c_str(), 0700) != 0) throw_errno("mkdir " + shown);
    auto s = open_dir(sdir, sname, shown);
    auto d = open_dir(ddir, dname, shown);
    for (auto& n : fs::dir_names(s.get(), shown)) copy_entry(s.get(), n, d.get(), n, shown + "/" + n, keep_owner);
    if (keep_owner && fchown(d.get(), st.st_uid, st.st_gid) != 0) throw_errno("chown " + shown);
    if (dname != ".") {  // an existing destination dir keeps its own mode
      fchmod(d.get(), st.st_mode & 07777);
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      futimens(d.get(), ts);
    }
    return;
  }
  if (dexists) {
    if (S_ISDIR(dst.st_mode)) fail(Errc::failure, "cannot overwrite directory " + shown + " with non-directory");
    if (unlinkat(ddir, dname.c_str(), 0) != 0) throw_errno("replace " + shown);
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlinkat(sdir, sname.c_str(), target.data(), target.size());
    if (n < 0) throw_errno("readlink " + shown);
    target.resize(static_cast<size_t>(n));
    if (symlinkat(target.c_str(), ddir, dname.c_str()) != 0) throw_errno("symlink " + shown);
    if (keep_owner && fchownat(ddir, dname.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("chown " + shown);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    utimensat(ddir, dname.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    return;
  }
  if (S_ISREG(st.st_mode)) {
    // O_NONBLOCK: a FIFO swapped in since the stat cannot hang the copy;
    // the descriptor must still be that regular file.
    UniqueFd in(openat(sdir, sname.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!in) throw_errno("open " + shown);
    struct stat now;
    if (fstat(in.get(), &now) != 0) throw_errno("stat " + shown);
    if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
      fail(Errc::failure, "cp: " + shown + " changed while it was copied");
    UniqueFd out(openat(ddir, dname.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw_errno("create " + shown);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in.get(), buf, sizeof buf)) > 0) fs::write_all(out.get(), buf, static_cast<size_t>(n));
    if (n < 0) throw_errno("read " + shown);
    if (keep_owner && fchown(out.get(), st.st_uid, st.st_gid) != 0) throw_errno("chown " + shown);
    fchmod(out.get(), st.st_mode & 07777);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    futimens(out.get(), ts);
    return;
  }
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    if (mknodat(ddir, dname.c_str(), st.st_mode, st.st_rdev) != 0) throw_errno("mknod " + shown);
    if (keep_owner && fchownat(ddir, dname.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("chown " + shown);
    return;
  }
  log::warn("cp: skipping socket " + shown);
}

// Write the entry `sname` of `sdir`, and everything below it, to `w` named
// `apath`, never following a symlink: owners, modes, mtimes, link targets
// and devices as they are; a second name of a file already written is a
// hard link to the first (docker's archives do the same).
void tar_entry(archive::TarWriter& w, int sdir, const std::string& sname, const std::string& apath,
               std::map<std::pair<dev_t, ino_t>, std::string>& links) {
  struct stat st;
  if (fstatat(sdir, sname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw_errno("stat " + apath);
  if (S_ISSOCK(st.st_mode)) {
    log::warn("cp: skipping socket " + apath);
    return;
  }
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
  archive_entry_copy_stat(e.get(), &st);
  archive_entry_unset_atime(e.get());
  archive_entry_unset_ctime(e.get());
  archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);  // whole seconds: plain ustar headers
  archive_entry_set_pathname(e.get(), apath.c_str());
  if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    auto [it, fresh] = links.emplace(std::pair{st.st_dev, st.st_ino}, apath);
    if (!fresh) {
      archive_entry_set_hardlink(e.get(), it->second.c_str());
      archive_entry_set_size(e.get(), 0);
      w.add_entry(e.get());
      return;
    }
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlinkat(sdir, sname.c_str(), target.data(), target.size());
    if (n < 0) throw_errno("readlink " + apath);
    target.resize(static_cast<size_t>(n));
    archive_entry_set_symlink(e.get(), target.c_str());
    w.add_entry(e.get());
    return;
  }
  if (S_ISREG(st.st_mode)) {
    UniqueFd in(openat(sdir, sname.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!in) throw_errno("open " + apath);
    struct stat now;
    if (fstat(in.get(), &now) != 0) throw_errno("stat " + apath);
    if (!S_ISREG(now.st_mode) || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
      fail(Errc::failure, "cp: " + apath + " changed while it was copied");
    w.add_entry(e.get());
    // Exactly the size the header says, even when the file changes meanwhile.
    char buf[1 << 16];
    auto left = static_cast<uint64_t>(st.st_size);
    while (left > 0) {
      ssize_t n = read(in.get(), buf, std::min<uint64_t>(sizeof buf, left));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read " + apath);
      if (n == 0) {
        std::memset(buf, 0, sizeof buf);
        n = static_cast<ssize_t>(std::min<uint64_t>(sizeof buf, left));
      }
      w.write_data(buf, static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
    return;
  }
  w.add_entry(e.get());
  if (!S_ISDIR(st.st_mode)) return;
  auto d = open_dir(sdir, sname, apath);
  for (auto& n : fs::dir_names(d.get(), apath)) tar_entry(w, d.get(), n, apath + "/" + n, links);
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {".", "c"}; "/" -> {"/", "."}.
std::pair<std::string, std::string> split_path(const std::string& p) {
  std::string c = fs::clean_path(p);
  if (c == "/" || c == ".") return {c, "."};
  auto slash = c.rfind('/');
  if (slash == std::string::npos) return {".", c};
  return {slash == 0 ? "/" : c.substr(0, slash), c.substr(slash + 1)};
}

bool ends_with_dot(const std::string& p) {
  return p == "." || (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0);
}

}  // namespace

/// The root filesystem of a managed container, seen from the host: its
/// mounted bundle/rootfs, or (stopped and unmounted) an overlay of its
/// image's snapshots and its upper dir mounted for the copy and unmounted
/// afterwards.
class RootfsView {
 public:
  RootfsView(const Globals& env, const Record& r) {
    StateDir sd(env.state_dir);
    path_ = sd.rootfs_dir(r.id);
    if (is_mount_point(path_)) return;
    if (r.image_digest.empty()) fail(Errc::failure, "container " + r.id.substr(0, 12) + " has no image to mount");
    auto store = layout::Layout::open(env.store);
    auto [m, c] = read_image_by_digest(store, r.image_digest);
    auto lowers = snapshot::Store::open(snapshot::default_dir(store.path())).prepare(store, m, c);
    tmp_ = sd.container_dir(r.id) + "/cp-rootfs";
    fs::mkdir_p(tmp_, 0700);
    snapshot::mount_rootfs(lowers, sd.upper_dir(r.id), sd.work_dir(r.id), tmp_);
    path_ = tmp_;
  }
  ~RootfsView() {
    if (tmp_.empty()) return;
    try {
      snapshot::unmount_rootfs(tmp_);
      fs::remove_all(tmp_);
    } catch (const std::exception& e) {
      log::warn(std::string("cp: cleanup: ") + e.what());
    }
  }
  RootfsView(const RootfsView&) = delete;
  RootfsView& operator=(const RootfsView&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
};

// `cp - CONTAINER:DIR`: a tar (plain, gzip or zstd) from stdin extracted
// into DIR, which must exist (a symlink to one is followed inside the
// root). Every entry is resolved beneath DIR (layer::apply: "../x" is
// refused, symlinks resolve as if DIR were "/"), .wh. names are plain
// files, and a directory is never replaced by a non-directory or the
// reverse (as docker cp).
static int container_cp_in(const Globals& env, const std::string& key, const std::string& path) {
  StateDir sd(env.state_dir);
  Record r = sd.load(sd.find(key));
  RootfsView view(env, r);
  UniqueFd rootfd(open(view.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw_errno("open " + view.path());
  std::string cpath = path[0] == '/' ? path : "/" + path;
  UniqueFd dir;
  try {
    dir = fs::open_in_root(rootfd.get(), cpath, O_PATH | O_CLOEXEC);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found || e.sys_errno() == ENOENT || e.sys_errno() == ENOTDIR)
      fail(Errc::not_found, "cp: " + key + ":" + path + ": no such file or directory");
    throw;
  }
  struct stat st;
  if (fstat(dir.get(), &st) != 0) throw_errno("cp: stat " + path);
  if (!S_ISDIR(st.st_mode)) fail(Errc::invalid, "cp: " + key + ":" + path + ": extraction point is not a directory");
  dir = fs::open_in_root(rootfd.get(), cpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  layer::ApplyOptions o;
  o.whiteouts = false;
  o.no_overwrite_dir_non_dir = true;
  with_context("cp: extract into " + key + ":" + path, [&] { layer::apply(STDIN_FILENO, dir.get(), o); });
  return 0;
}

// `cp CONTAINER:PATH -`: PATH as a tar on stdout, its entries named after
// PATH's last component ("." for PATH/. and /: the contents), as docker's
// archive of a path.
static int container_cp_out(const Globals& env, const std::string& key, const std::string& path, bool follow) {
  if (isatty(STDOUT_FILENO)) fail(Errc::usage, "cp: cowardly refusing to write a tar to a terminal");
  StateDir sd(env.state_dir);
  Record r = sd.load(sd.find(key));
  RootfsView view(env, r);
  UniqueFd rootfd(open(view.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw_errno("open " + view.path());
  std::string cpath = path[0] == '/' ? path : "/" + path;
  bool contents = ends_with_dot(cpath);
  if (follow) {
    std::string full = fs::secure_join(view.path(), cpath);
    cpath = full.size() > view.path().size() ? full.substr(view.path().size()) : "/";
  }
  auto [parent, name] = split_path(cpath);
  auto missing = [&] { return Error(Errc::not_found, "cp: " + key + ":" + path + ": no such file or directory"); };
  UniqueFd pdir;
  try {
    pdir = fs::open_in_root(rootfd.get(), parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } catch (const Error&) {
    throw missing();
  }
  struct stat st;
  if (fstatat(pdir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) throw missing();
    throw_errno("cp: " + path);
  }
  if (contents && !S_ISDIR(st.st_mode)) fail(Errc::failure, "cp: " + path + ": not a directory");
  archive::TarWriter w(STDOUT_FILENO);
  std::map<std::pair<dev_t, ino_t>, std::string> links;
  tar_entry(w, pdir.get(), name, contents || name == "." ? "." : name, links);
  w.finish();
  return 0;
}

int container_cp(const Globals& env, const std::string& src, const std::string& dst, bool follow) {
  auto split_spec = [](const std::string& s) -> std::pair<std::string, std::string> {
    // CONTAINER:PATH; a path starting with "/" or "." is a host path even with a colon.
    if (s.empty() || s[0] == '/' || s[0] == '.') return {"", s};
    auto colon = s.find(':');
    if (colon == std::string::npos) return {"", s};
    return {s.substr(0, colon), s.substr(colon + 1)};
  };
  auto [sc, sp] = split_spec(src);
  auto [dc, dp] = split_spec(dst);
  if (src == "-" && !dc.empty()) return container_cp_in(env, dc, dp);
  if (dst == "-" && !sc.empty()) return container_cp_out(env, sc, sp, follow);
  if (sc.empty() == dc.empty())
    fail(Errc::usage,
         sc.empty() ? "cp: one of SRC and DEST must be CONTAINER:PATH"
                    : "cp: copying between containers is not supported");
  if (sp.empty() || dp.empty()) fail(Errc::usage, "cp: empty path");
  StateDir sd(env.state_dir);
  Record r = sd.load(sd.find(sc.empty() ? dc : sc));
  RootfsView view(env, r);
  UniqueFd rootfd(open(view.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) throw_errno("open " + view.path());
  bool in_container = !sc.empty();

  // A container path is made absolute; a host path stays as given.
  auto cpath = [](const std::string& p) { return p[0] == '/' ? p : "/" + p; };
  // Open dir `p` on side `container` (inside the root there); empty when it is no dir.
  auto open_dir_at = [&](bool container, const std::string& p) -> UniqueFd {
    if (container) {
      try {
        return fs::open_in_root(rootfd.get(), cpath(p), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      } catch (const Error&) {
        return UniqueFd();
      }
    }
    return UniqueFd(open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  };

  // The source: its parent dir and last component ("." for "/"). A trailing
  // "/." copies a dir's contents; -L follows a final symlink (inside the root).
  bool contents = ends_with_dot(sp);
  std::string spath = sp;
  if (follow) {
    if (in_container) {
      std::string full = fs::secure_join(view.path(), cpath(sp));
      spath = full.size() > view.path().size() ? full.substr(view.path().size()) : "/";
    } else {
      char* real = realpath(sp.c_str(), nullptr);
      if (!real) throw_errno("cp: " + src);
      spath = real;
      free(real);
    }
  }
  auto [sparent, sname] = split_path(in_container ? cpath(spath) : spath);
  UniqueFd sdir = open_dir_at(in_container, sparent);
  if (!sdir) fail(Errc::not_found, "cp: " + src + ": no such file or directory");
  struct stat sst;
  if (fstatat(sdir.get(), sname.c_str(), &sst, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) fail(Errc::not_found, "cp: " + src + ": no such file or directory");
    throw_errno("cp: " + src);
  }
  if (contents && !S_ISDIR(sst.st_mode)) fail(Errc::failure, "cp: " + src + ": not a directory");

  // The destination: an existing dir receives the source under its own name
  // (its contents with "/."); otherwise the last component is created.
  UniqueFd ddir;
  std::string dname;
  if (auto d = open_dir_at(!in_container, dp)) {
    ddir = std::move(d);
    dname = contents || sname == "." ? "." : sname;
  } else {
    if (dp.back() == '/' && !S_ISDIR(sst.st_mode))
      fail(Errc::not_found, "cp: destination directory " + dst + " does not exist");
    auto [dparent, n] = split_path(in_container ? dp : cpath(dp));
    ddir = open_dir_at(!in_container, dparent);
    if (!ddir) fail(Errc::not_found, "cp: " + dst + ": parent directory does not exist");
    dname = n;
  }
  copy_entry(sdir.get(), sname, ddir.get(), dname, src);
  return 0;
}

void seed_volume(const std::string& src_dir, const std::string& dst_dir) {
  UniqueFd s(open(src_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!s) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return;  // nothing there in the image
    throw_errno("open " + src_dir);
  }
  UniqueFd d(open(dst_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) throw_errno("open " + dst_dir);
  // "." into ".": the contents, then the image dir's owner and mode on the volume root.
  copy_entry(s.get(), ".", d.get(), ".", src_dir, true);
  struct stat st;
  if (fstat(s.get(), &st) != 0) throw_errno("stat " + src_dir);
  if (fchmod(d.get(), st.st_mode & 07777) != 0) throw_errno("chmod " + dst_dir);
}

}  // namespace ocikit::manage
