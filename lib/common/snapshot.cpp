#include "common/snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::snapshot {

namespace {

bool is_hex64(const std::string& s) {
  return s.size() == 64 &&
      std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::vector<std::string> read_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw_errno("open " + dir);
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- copy_merged ----

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

bool is_opaque(const std::string& path) {
  char v[4];
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::lgetxattr(path.c_str(), name, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

void copy_xattrs(const std::string& src, const std::string& dst) {
  ssize_t n = ::llistxattr(src.c_str(), nullptr, 0);
  if (n <= 0) return;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(src.c_str(), names.data(), names.size());
  if (n <= 0) return;
  for (size_t i = 0; i < static_cast<size_t>(n);) {
    std::string name = names.c_str() + i;
    i += name.size() + 1;
    if (name.rfind("trusted.overlay.", 0) == 0 || name.rfind("user.overlay.", 0) == 0) continue;
    ssize_t vn = ::lgetxattr(src.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0) continue;
    std::string v(static_cast<size_t>(vn), '\0');
    vn = ::lgetxattr(src.c_str(), name.c_str(), v.data(), v.size());
    if (vn < 0) continue;
    if (::lsetxattr(dst.c_str(), name.c_str(), v.data(), static_cast<size_t>(vn), 0) != 0 && errno != ENOTSUP &&
        errno != EPERM)
      throw_errno("set xattr " + name + " on " + dst);
  }
}

void copy_meta(const std::string& src, const std::string& dst, const struct stat& st) {
  if (::geteuid() == 0 && ::lchown(dst.c_str(), st.st_uid, st.st_gid) != 0) throw_errno("chown " + dst);
  if (!S_ISLNK(st.st_mode) && ::chmod(dst.c_str(), st.st_mode & 07777) != 0) throw_errno("chmod " + dst);
  copy_xattrs(src, dst);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

void copy_file(const std::string& src, const std::string& dst, const struct stat& st) {
  fs::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in) throw_errno("open " + src);
  fs::UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out) throw_errno("create " + dst);
  fs::copy_data(in.get(), out.get(), st.st_size, src);
}

// Merge the layer tree at `src` into `dst` (which already exists as a dir).
void merge_dir(const std::string& src, const std::string& dst) {
  for (const auto& name : read_dir(src)) {
    std::string s = src + "/" + name, d = dst + "/" + name;
    struct stat st;
    if (::lstat(s.c_str(), &st) != 0) throw_errno("stat " + s);
    struct stat dt;
    bool have = ::lstat(d.c_str(), &dt) == 0;
    if (is_whiteout(st)) {
      if (have) fs::remove_all(d);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      bool opaque = is_opaque(s);
      if (have && (!S_ISDIR(dt.st_mode) || opaque)) {
        fs::remove_all(d);
        have = false;
      }
      if (!have && ::mkdir(d.c_str(), 0700) != 0) throw_errno("mkdir " + d);
      merge_dir(s, d);
      copy_meta(s, d, st);
      continue;
    }
    if (have) fs::remove_all(d);
    if (S_ISREG(st.st_mode)) {
      copy_file(s, d, st);
    } else if (S_ISLNK(st.st_mode)) {
      std::string link(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(s.c_str(), link.data(), link.size());
      if (n < 0) throw_errno("readlink " + s);
      link.resize(static_cast<size_t>(n));
      if (::symlink(link.c_str(), d.c_str()) != 0) throw_errno("symlink " + d);
    } else {
      if (::mknod(d.c_str(), st.st_mode, st.st_rdev) != 0) {
        if (errno == EPERM) {
          log::debug("skip device " + d + " (not permitted)");
          continue;
        }
        throw_errno("mknod " + d);
      }
    }
    copy_meta(s, d, st);
  }
}

bool is_mount_point(const std::string& path) {
  struct stat a, b;
  if (::lstat(path.c_str(), &a) != 0) return false;
  if (::lstat((path + "/..").c_str(), &b) != 0) return false;
  if (a.st_dev != b.st_dev) return true;
  // Same device (e.g. a bind mount of a dir of the same fs): ask the kernel.
  std::string mi = fs::read_file("/proc/self/mountinfo");
  std::string real;
  if (char* r = ::realpath(path.c_str(), nullptr)) {
    real = r;
    ::free(r);
  }
  size_t pos = 0;
  while (pos < mi.size()) {
    size_t eol = mi.find('\n', pos);
    if (eol == std::string::npos) eol = mi.size();
    std::string line = mi.substr(pos, eol - pos);
    pos = eol + 1;
    // fields: id parent major:minor root mountpoint ...
    size_t f = 0, start = 0;
    for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + 1);
    if (f == std::string::npos) continue;
    start = f + 1;
    size_t end = line.find(' ', start);
    if (line.substr(start, end - start) == real) return true;
  }
  return false;
}

// Overlay through fsopen/fsconfig with one "lowerdir+" per layer.
// Returns false when the kernel has no "lowerdir+" (older than 6.8).
bool mount_overlay_new_api(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                           const std::string& target) {
  fs::UniqueFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd) throw_errno("fsopen overlay");
  // Highest layer first, as overlay's lowerdir lists them.
  for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) {
    if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", it->c_str(), 0) != 0) {
      if (errno == EINVAL && it == lowers.rbegin()) return false;
      throw_errno("overlay lowerdir+ " + *it);
    }
  }
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) != 0)
    throw_errno("overlay upperdir " + upper);
  if (::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) != 0)
    throw_errno("overlay workdir " + work);
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) throw_errno("create overlay");
  fs::UniqueFd mfd(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0));
  if (!mfd) throw_errno("fsmount overlay");
  if (::move_mount(mfd.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    throw_errno("mount overlay on " + target);
  return true;
}

void mount_overlay_legacy(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                          const std::string& target) {
  std::string opts = "lowerdir=";
  for (auto it = lowers.rbegin(); it != lowers.rend(); ++it) {
    if (it != lowers.rbegin()) opts += ':';
    opts += *it;
  }
  opts += ",upperdir=" + upper + ",workdir=" + work;
  if (opts.size() >= static_cast<size_t>(::getpagesize()))
    fail(
        Errc::failure,
        "overlay options for " + std::to_string(lowers.size()) + " layers exceed a page on this kernel (no lowerdir+)");
  if (::mount("overlay", target.c_str(), "overlay", 0, opts.c_str()) != 0) throw_errno("mount overlay on " + target);
}

}  // namespace

std::string default_dir(const std::string& store_dir) {
  std::string s = store_dir;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s + ".snapshots";
}

std::vector<digest::Digest> chain_ids(const std::vector<digest::Digest>& diff_ids) {
  std::vector<digest::Digest> out;
  out.reserve(diff_ids.size());
  for (const auto& d : diff_ids) {
    if (out.empty()) out.push_back(d);
    else out.push_back(digest::of(out.back().str() + " " + d.str()));
  }
  return out;
}

digest::Digest chain_id(const std::vector<digest::Digest>& diff_ids) {
  if (diff_ids.empty()) fail(Errc::invalid, "chain id of an empty layer list");
  return chain_ids(diff_ids).back();
}

Store Store::open(const std::string& dir) {
  fs::mkdir_p(dir, 0700);
  return Store(dir);
}

std::string Store::path(const std::string& chain_id_hex) const { return dir_ + "/" + chain_id_hex; }

bool Store::has(const std::string& chain_id_hex) const { return fs::exists(path(chain_id_hex)); }

std::vector<std::string> Store::list() const {
  std::vector<std::string> out;
  for (auto& n : read_dir(dir_))
    if (is_hex64(n)) out.push_back(n);
  return out;
}

std::optional<std::vector<std::string>> Store::ready(const image::Manifest& manifest,
                                                     const image::ImageConfig& config) const {
  if (manifest.layers.size() != config.diff_ids.size())
    fail(Errc::invalid,
         "image has " + std::to_string(manifest.layers.size()) + " layers but " +
             std::to_string(config.diff_ids.size()) + " diff_ids");
  std::vector<std::string> dirs;
  for (const auto& c : chain_ids(config.diff_ids)) {
    dirs.push_back(path(c.hex));
    if (!fs::exists(dirs.back())) return std::nullopt;
  }
  return dirs;
}

std::set<std::string> Store::mounted() const {
  std::string info;
  try {
    info = fs::read_file("/proc/self/mountinfo");
  } catch (const Error&) {
    return {};
  }
  // mountinfo escapes space, tab, newline, backslash (and, in overlay's
  // "lowerdir+=" options, ',') as \ooo; the legacy "lowerdir=A:B" form
  // escapes ':' and ',' in a path with a backslash. Undo both, then look
  // for "<dir>/" followed by 64 hex digits anywhere: overlay lower dirs
  // and bind sources alike.
  std::string text;
  text.reserve(info.size());
  for (size_t i = 0; i < info.size(); ++i) {
    char ch = info[i];
    if (ch == '\\' && i + 3 < info.size() && std::isdigit(static_cast<unsigned char>(info[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(info[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(info[i + 3]))) {
      text += static_cast<char>((info[i + 1] - '0') * 64 + (info[i + 2] - '0') * 8 + (info[i + 3] - '0'));
      i += 3;
    } else if (ch == '\\' && i + 1 < info.size() && (info[i + 1] == ':' || info[i + 1] == ',')) {
      text += info[++i];
    } else {
      text += ch;
    }
  }
  // Mounts name the lower dirs by their absolute, resolved path.
  std::string needle = dir_ + "/";
  if (char* real = ::realpath(dir_.c_str(), nullptr)) {
    needle = std::string(real) + "/";
    std::free(real);
  }
  std::set<std::string> out;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    std::string hex = text.substr(at + needle.size(), 64);
    if (is_hex64(hex)) out.insert(hex);
  }
  return out;
}

size_t Store::gc(const std::set<std::string>& keep) {
  fs::FileLock lock(dir_ + "/.lock", true);
  // Snapshots under a live mount stay whoever made it (a bundle from
  // `oci-run spec --image`, a build step), whatever the caller's keep set.
  std::set<std::string> busy = mounted();
  size_t removed = 0;
  for (auto& n : read_dir(dir_)) {
    if (n.rfind(detail::kTmpPrefix, 0) == 0) {
      fs::remove_all(dir_ + "/" + n);
    } else if (is_hex64(n) && !keep.count(n) && !busy.count(n)) {
      fs::remove_all(dir_ + "/" + n);
      ++removed;
    }
  }
  return removed;
}

void copy_merged(const std::vector<std::string>& lowers, const std::string& target) {
  for (const auto& l : lowers) with_context("copy layer " + l, [&] { merge_dir(l, target); });
}

void mount_rootfs(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                  const std::string& target) {
  if (lowers.empty()) {
    if (::mount(upper.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      throw_errno("bind mount " + upper + " on " + target);
    return;
  }
  try {
    if (!mount_overlay_new_api(lowers, upper, work, target)) mount_overlay_legacy(lowers, upper, work, target);
  } catch (const Error& e) {
    int err = e.sys_errno();
    if (err != ENODEV && err != EPERM && err != ENOSYS) throw;
    log::debug(std::string("overlay unavailable (") + e.what() + "), copying the merged tree");
    copy_merged(lowers, target);
  }
}

void unmount_rootfs(const std::string& target) {
  if (!is_mount_point(target)) return;
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL) throw_errno("unmount " + target);
}

}  // namespace ocikit::snapshot
