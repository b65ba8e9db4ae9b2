// Producing layer tars: from an overlayfs upper dir or from two trees.
//
// The walk first collects the entries (sorted by their names in the tar, a
// directory before its children), then writes them through libarchive's
// restricted-pax writer (ustar headers, a pax header only for long names,
// big ids or xattrs) into CompressWriter, which hashes and compresses.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layer_codec.hpp"

namespace ocikit::layer {
namespace {

enum class Kind { normal, whiteout, opaque };

// One tar entry to write. For whiteouts, `st` is the stat whose mtime the
// marker carries.
struct Item {
  std::string path;  // name in the tar, relative, no trailing slash
  std::string host;  // file on disk (normal entries)
  struct stat st;
  Kind kind = Kind::normal;
};

std::string join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

struct stat lstat_or_throw(const std::string& p) {
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) throw_errno("stat " + p);
  return st;
}

// The names in a directory, sorted bytewise.
std::vector<std::string> list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) throw_errno("open directory " + path);
  std::vector<std::string> names;
  while (auto* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// xattrs worth carrying in a layer, sorted by name. overlayfs' own
// bookkeeping (trusted.overlay.*, user.overlay.*) and SELinux labels (host
// policy) are left out.
std::vector<std::pair<std::string, std::string>> read_xattrs(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), names.data(), names.size());
  if (n < 0) return out;
  names.resize(static_cast<size_t>(n));
  for (size_t i = 0; i < names.size();) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (name.empty() || name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") ||
        name == "security.selinux")
      continue;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0) continue;
    std::string value(static_cast<size_t>(vn), '\0');
    vn = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0) continue;
    value.resize(static_cast<size_t>(vn));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool has_opaque_xattr(const std::string& path) {
  char v[2];
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    ssize_t n = ::lgetxattr(path.c_str(), name, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

// ---------------------------------------------------------------- writer

class TarWriter {
 public:
  TarWriter(int fd, const DiffOptions& opts) : cw_(fd, opts.compression, opts.level), opts_(opts) {
    a_ = archive_write_new();
    if (!a_) fail("layer: out of memory");
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);  // no padding after the end blocks
    check(archive_write_open(a_, this, nullptr, write_cb, nullptr));
  }
  ~TarWriter() { archive_write_free(a_); }

  void add(const Item& it);
  DiffResult finish() {
    check(archive_write_close(a_));
    return cw_.finish();
  }

 private:
  static la_ssize_t write_cb(struct archive* a, void* opaque, const void* buf, size_t len) {
    auto* self = static_cast<TarWriter*>(opaque);
    try {
      self->cw_.write(buf, len);
      return static_cast<la_ssize_t>(len);
    } catch (...) {
      self->error_ = std::current_exception();
      archive_set_error(a, EIO, "layer write error");
      return -1;
    }
  }
  void check(int rc) {
    if (rc >= ARCHIVE_WARN) return;
    if (error_) std::rethrow_exception(error_);
    fail(std::string("layer: write tar: ") + (archive_error_string(a_) ? archive_error_string(a_) : "error"));
  }
  int64_t clamp(int64_t t) const {
    return opts_.source_date_epoch && t > *opts_.source_date_epoch ? *opts_.source_date_epoch : t;
  }

  detail::CompressWriter cw_;
  const DiffOptions& opts_;
  struct archive* a_ = nullptr;
  std::exception_ptr error_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // first path of each multiply-linked file
};

void TarWriter::add(const Item& it) {
  struct Entry {
    struct archive_entry* e = archive_entry_new();
    ~Entry() { archive_entry_free(e); }
  } entry;
  struct archive_entry* e = entry.e;
  archive_entry_set_mtime(e, clamp(it.st.st_mtim.tv_sec), 0);
  if (it.kind != Kind::normal) {
    // Whiteout markers: empty regular files owned by root.
    auto [dir, name] = [&]() -> std::pair<std::string, std::string> {
      size_t s = it.path.rfind('/');
      return s == std::string::npos ? std::pair<std::string, std::string>{"", it.path}
                                    : std::pair<std::string, std::string>{it.path.substr(0, s), it.path.substr(s + 1)};
    }();
    std::string marker = it.kind == Kind::opaque ? join(it.path, ".wh..wh..opq") : join(dir, ".wh." + name);
    archive_entry_set_pathname(e, marker.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    check(archive_write_header(a_, e));
    return;
  }
  const struct stat& st = it.st;
  archive_entry_set_uid(e, st.st_uid);
  archive_entry_set_gid(e, st.st_gid);
  archive_entry_set_mode(e, st.st_mode);
  std::string name = it.path;
  if (S_ISDIR(st.st_mode)) name += '/';
  archive_entry_set_pathname(e, name.c_str());
  for (const auto& [k, v] : read_xattrs(it.host)) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());

  bool data = false;
  if (S_ISREG(st.st_mode)) {
    if (st.st_nlink > 1) {
      auto [pos, fresh] = links_.try_emplace({st.st_dev, st.st_ino}, it.path);
      if (!fresh) {
        archive_entry_set_hardlink(e, pos->second.c_str());
        archive_entry_set_size(e, 0);
      }
      data = fresh;
    } else {
      data = true;
    }
    if (data) archive_entry_set_size(e, st.st_size);
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(it.host.c_str(), target.data(), target.size());
    if (n < 0) throw_errno("readlink " + it.host);
    target.resize(static_cast<size_t>(n));
    archive_entry_set_symlink(e, target.c_str());
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    archive_entry_set_rdev(e, st.st_rdev);
  } else if (!S_ISDIR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    return;  // sockets do not go into layers
  }
  if (!data) {
    check(archive_write_header(a_, e));
    return;
  }
  fs::UniqueFd fd(::open(it.host.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno("open " + it.host);
  check(archive_write_header(a_, e));
  std::vector<char> buf(1 << 20);
  int64_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf.data(), static_cast<size_t>(std::min<int64_t>(left, buf.size())));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + it.host);
    }
    if (n == 0) fail(Errc::io, "read " + it.host + ": file shrank while being archived");
    if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) check(ARCHIVE_FATAL);
    left -= n;
  }
}

// ---------------------------------------------------------------- walks

// Items for everything under the upper dir `host` (tar dir `dir`).
void walk_upper(const std::string& host, const std::string& dir, std::vector<Item>& out) {
  std::vector<Item> children;
  for (const auto& name : list_dir(host)) {
    Item it;
    it.host = host + "/" + name;
    it.st = lstat_or_throw(it.host);
    it.path = join(dir, name);
    if (S_ISCHR(it.st.st_mode) && it.st.st_rdev == 0) it.kind = Kind::whiteout;
    children.push_back(std::move(it));
  }
  auto key = [](const Item& it) {
    size_t s = it.path.rfind('/');
    std::string base = s == std::string::npos ? it.path : it.path.substr(s + 1);
    return it.kind == Kind::whiteout ? ".wh." + base : base;
  };
  std::sort(children.begin(), children.end(), [&](const Item& x, const Item& y) { return key(x) < key(y); });
  for (auto& it : children) {
    bool is_dir = it.kind == Kind::normal && S_ISDIR(it.st.st_mode);
    bool opaque = is_dir && has_opaque_xattr(it.host);
    std::string host = it.host, path = it.path;
    struct stat st = it.st;
    out.push_back(std::move(it));
    if (opaque) out.push_back(Item{path, host, st, Kind::opaque});
    if (is_dir) walk_upper(host, path, out);
  }
}

bool same_file_content(const std::string& a, const std::string& b) {
  fs::UniqueFd fa(::open(a.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  fs::UniqueFd fb(::open(b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fa || !fb) return false;
  std::vector<char> ba(1 << 16), bb(1 << 16);
  for (;;) {
    ssize_t na = ::read(fa.get(), ba.data(), ba.size());
    ssize_t nb = ::read(fb.get(), bb.data(), bb.size());
    if (na < 0 || nb < 0 || na != nb) return false;
    if (na == 0) return true;
    if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(na)) != 0) return false;
  }
}

std::string read_link(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

bool changed(const std::string& lh, const struct stat& l, const std::string& uh, const struct stat& u) {
  if (l.st_mode != u.st_mode || l.st_uid != u.st_uid || l.st_gid != u.st_gid) return true;
  if (l.st_mtim.tv_sec != u.st_mtim.tv_sec || l.st_mtim.tv_nsec != u.st_mtim.tv_nsec) return true;
  if (S_ISREG(u.st_mode) && l.st_size != u.st_size) return true;
  if ((S_ISCHR(u.st_mode) || S_ISBLK(u.st_mode)) && l.st_rdev != u.st_rdev) return true;
  if (S_ISLNK(u.st_mode) && read_link(lh) != read_link(uh)) return true;
  if (read_xattrs(lh) != read_xattrs(uh)) return true;
  // Equal times with no sub-second part may come from a tar extraction
  // (whole seconds): look at the bytes.
  if (S_ISREG(u.st_mode) && u.st_mtim.tv_nsec == 0 && !same_file_content(lh, uh)) return true;
  return false;
}

// Items for the changes from lower dir `lh` to upper dir `uh` (tar dir `dir`).
void walk_trees(const std::string& lh, const std::string& uh, const std::string& dir, const struct stat& dir_st,
                std::vector<Item>& out) {
  std::vector<std::string> lnames = list_dir(lh), unames = list_dir(uh);
  struct Child {
    std::string key;  // name in the tar, for sorting
    std::string name;
    bool in_lower, in_upper;
  };
  std::vector<Child> kids;
  size_t i = 0, j = 0;
  while (i < lnames.size() || j < unames.size()) {
    if (j == unames.size() || (i < lnames.size() && lnames[i] < unames[j])) {
      kids.push_back({".wh." + lnames[i], lnames[i], true, false});
      ++i;
    } else if (i == lnames.size() || unames[j] < lnames[i]) {
      kids.push_back({unames[j], unames[j], false, true});
      ++j;
    } else {
      kids.push_back({unames[j], unames[j], true, true});
      ++i, ++j;
    }
  }
  std::sort(kids.begin(), kids.end(), [](const Child& x, const Child& y) { return x.key < y.key; });
  for (const auto& k : kids) {
    std::string path = join(dir, k.name);
    if (!k.in_upper) {
      out.push_back(Item{path, "", dir_st, Kind::whiteout});
      continue;
    }
    std::string uhost = uh + "/" + k.name;
    struct stat ust = lstat_or_throw(uhost);
    if (!k.in_lower) {
      out.push_back(Item{path, uhost, ust, Kind::normal});
      if (S_ISDIR(ust.st_mode)) walk_upper(uhost, path, out);
      continue;
    }
    std::string lhost = lh + "/" + k.name;
    struct stat lst = lstat_or_throw(lhost);
    if (S_ISDIR(lst.st_mode) && S_ISDIR(ust.st_mode)) {
      std::vector<Item> sub;
      walk_trees(lhost, uhost, path, ust, sub);
      if (!sub.empty() || changed(lhost, lst, uhost, ust)) {
        out.push_back(Item{path, uhost, ust, Kind::normal});
        for (auto& s : sub) out.push_back(std::move(s));
      }
    } else if ((lst.st_mode & S_IFMT) != (ust.st_mode & S_IFMT) || changed(lhost, lst, uhost, ust)) {
      out.push_back(Item{path, uhost, ust, Kind::normal});
      if (S_ISDIR(ust.st_mode)) walk_upper(uhost, path, out);
    }
  }
}

DiffResult write_items(const std::vector<Item>& items, int out_fd, const DiffOptions& opts) {
  TarWriter w(out_fd, opts);
  for (const auto& it : items) w.add(it);
  return w.finish();
}

}  // namespace

DiffResult diff_upper(const std::string& upper, int out_fd, const DiffOptions& opts) {
  std::vector<Item> items;
  walk_upper(upper, "", items);
  return write_items(items, out_fd, opts);
}

DiffResult diff_trees(const std::string& lower, const std::string& upper, int out_fd, const DiffOptions& opts) {
  struct stat ust = lstat_or_throw(upper);
  lstat_or_throw(lower);
  std::vector<Item> items;
  walk_trees(lower, upper, "", ust, items);
  return write_items(items, out_fd, opts);
}

}  // namespace ocikit::layer
