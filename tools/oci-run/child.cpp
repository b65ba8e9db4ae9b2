// The container init between clone and execve (see sync.hpp for the
// protocol). Rules for this file: no exceptions, no allocation, only
// system calls and fixed buffers; every failure goes to die().
#include "child.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <net/if.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sync.hpp"

namespace ocikit::run {
namespace {

const ChildPlan* g_plan = nullptr;
int g_conn = -1;  // the accepted start connection, once there is one

// ---- fixed-buffer string helpers ----

void append(char* buf, size_t cap, const char* s) {
  size_t n = strnlen(buf, cap);
  while (s && *s && n + 1 < cap) buf[n++] = *s++;
  buf[n] = 0;
}

void append_int(char* buf, size_t cap, long v) {
  char tmp[24];
  int i = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do tmp[i++] = char('0' + u % 10);
  while ((u /= 10) && i < 22);
  if (neg) tmp[i++] = '-';
  char out[24];
  for (int k = 0; k < i; k++) out[k] = tmp[i - 1 - k];
  out[i] = 0;
  append(buf, cap, out);
}

struct FdPath {
  char s[32] = "/proc/self/fd/";
  explicit FdPath(int fd) { append_int(s, sizeof s, fd); }
};

void send_msg(int fd, const SyncMsg& m) noexcept {
  while (send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void die_kind(SyncErrKind kind, const char* a, const char* b, int err) noexcept {
  SyncMsg m;
  m.type = SyncType::kError;
  m.kind = kind;
  m.err = err;
  append(m.text, sizeof m.text, a);
  append(m.text, sizeof m.text, b);
  if (g_conn >= 0) send_msg(g_conn, m);
  if (g_plan) send_msg(g_plan->sync_fd, m);
  _exit(kind == SyncErrKind::kNotFound ? 127 : kind == SyncErrKind::kCannotRun ? 126 : 1);
}

[[noreturn]] void die(const char* a, const char* b = nullptr, int err = errno) noexcept {
  die_kind(SyncErrKind::kFailure, a, b, err);
}

void send_type(SyncType t) noexcept {
  SyncMsg m;
  m.type = t;
  send_msg(g_plan->sync_fd, m);
}

// Receive one message of type `want`; the parent going away ends the child.
void recv_type(int fd, SyncType want) noexcept {
  SyncMsg m;
  ssize_t n;
  while ((n = recv(fd, &m, sizeof m, 0)) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof m) || m.type != want) _exit(1);
}

// Receive one raw packet into buf (NUL-terminated); returns its length.
size_t recv_blob(int fd, char* buf, size_t cap) noexcept {
  ssize_t n;
  while ((n = recv(fd, buf, cap - 1, 0)) < 0 && errno == EINTR) {
  }
  if (n < 0) _exit(1);
  buf[n] = 0;
  return static_cast<size_t>(n);
}

// ---- paths confined to the rootfs ----

int open_in(int rootfd, const char* rel, int flags) noexcept {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd;
  while ((fd = static_cast<int>(syscall(SYS_openat2, rootfd, rel, &how, sizeof how))) < 0 && errno == EAGAIN) {
  }
  return fd;
}

// Create `rel` (and its parents) beneath rootfd, every component resolved
// inside the root: a directory, or an empty file when `dir` is false.
void make_in(int rootfd, const char* rel, bool dir) noexcept {
  char buf[4096];
  size_t len = strnlen(rel, sizeof buf - 1);
  memcpy(buf, rel, len);
  buf[len] = 0;
  for (size_t end = 0; end <= len; end++) {
    if (end < len && buf[end] != '/') continue;
    if (end == 0) continue;
    char saved = buf[end];
    buf[end] = 0;
    int fd = open_in(rootfd, buf, O_PATH);
    if (fd >= 0) {
      close(fd);
    } else if (errno == ENOENT) {
      char* slash = strrchr(buf, '/');
      int parent;
      const char* name;
      if (slash) {
        *slash = 0;
        parent = open_in(rootfd, buf, O_PATH | O_DIRECTORY);
        *slash = '/';
        name = slash + 1;
      } else {
        parent = open_in(rootfd, ".", O_PATH | O_DIRECTORY);
        name = buf;
      }
      if (parent < 0) die("create mount point ", rel);
      bool last = end == len;
      int r;
      if (last && !dir) {
        r = openat(parent, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (r >= 0) close(r), r = 0;
      } else {
        r = mkdirat(parent, name, 0755);
        if (r < 0 && errno == EEXIST) r = 0;
      }
      int e = errno;
      close(parent);
      if (r < 0) die("create mount point ", rel, e);
    } else {
      die("resolve ", rel);
    }
    buf[end] = saved;
  }
}

// The MS_* flags a bind remount must keep: in a user namespace the kernel
// locks nosuid/nodev/noexec/atime flags and refuses a remount that drops them.
unsigned long locked_flags(const char* path) noexcept {
  struct statvfs sv;
  if (statvfs(path, &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

constexpr unsigned long kPropMask = MS_PRIVATE | MS_SHARED | MS_SLAVE | MS_UNBINDABLE;

void bind_remount(const char* target, unsigned long flags, unsigned long clear, const char* what) noexcept {
  unsigned long f = (flags & ~(MS_REC | MS_BIND | MS_REMOUNT | kPropMask)) | (locked_flags(target) & ~clear);
  if (mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | f, nullptr) != 0) die("remount ", what);
}

// type cgroup: the container's own cgroup directories (host view, sent by
// the parent), each bound under a tmpfs, as runc lays them out on v1.
void mount_cgroups(int rootfd, const ChildMount& m) noexcept {
  int t = open_in(rootfd, m.dest, O_PATH);
  if (t < 0) die("open mount point ", m.dest);
  FdPath tp(t);
  bool v2_only = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  unsigned long ro = m.flags & MS_RDONLY;
  if (!v2_only && mount("tmpfs", tp.s, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") != 0)
    die("mount tmpfs on ", m.dest);
  close(t);
  // v1: that fresh tmpfs, which nothing else has seen, holds one directory
  // per hierarchy; they are made and opened right there.
  int base = v2_only ? -1 : open_in(rootfd, m.dest, O_PATH | O_DIRECTORY);
  if (!v2_only && base < 0) die("open mount point ", m.dest);
  char* line = g_plan->cgroup_buf;
  while (line && *line) {
    char* nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char* c1 = strchr(line, ':');
    char* c2 = c1 ? strchr(c1 + 1, ':') : nullptr;
    if (c1 && c2) {
      *c2 = 0;
      const char* ctrls = c1 + 1;
      const char* path = c2 + 1;
      char name[256] = {};
      if (*ctrls == 0) append(name, sizeof name, v2_only ? "" : "unified");
      else if (strncmp(ctrls, "name=", 5) == 0) append(name, sizeof name, ctrls + 5);
      else append(name, sizeof name, ctrls);
      char host[4096] = "/sys/fs/cgroup/";
      append(host, sizeof host, name);
      append(host, sizeof host, path);
      char dest[4096] = {};
      append(dest, sizeof dest, m.dest);
      if (name[0]) append(dest, sizeof dest, "/"), append(dest, sizeof dest, name);
      if (access(host, F_OK) == 0) {
        // The mount point, and the same path again once the bind is on it.
        auto open_dest = [&]() noexcept {
          if (base < 0) return open_in(rootfd, dest, O_PATH);
          return openat(base, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        };
        if (base < 0) make_in(rootfd, dest, true);
        else if (mkdirat(base, name, 0755) != 0 && errno != EEXIST) die("create mount point ", dest);
        int d = open_dest();
        if (d < 0) die("open mount point ", dest);
        FdPath dp(d);
        if (mount(host, dp.s, nullptr, MS_BIND | MS_REC, nullptr) != 0) die("bind cgroup ", host);
        close(d);
        d = open_dest();
        if (d < 0) die("open mount point ", dest);
        FdPath dp2(d);
        bind_remount(dp2.s, MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, 0, dest);
        close(d);
        // cpu,cpuacct is also reachable as cpu and cpuacct, as on the host.
        for (const char* alias : {"cpu", "cpuacct", "net_cls", "net_prio"})
          if (base >= 0 && strchr(name, ',') && strstr(name, alias)) symlinkat(name, base, alias);
      }
    }
    line = nl ? nl + 1 : nullptr;
  }
  if (base >= 0) close(base);
  if (ro && !v2_only) {
    t = open_in(rootfd, m.dest, O_PATH);
    FdPath tp2(t);
    if (mount(nullptr, tp2.s, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") != 0)
      die("remount read-only ", m.dest);
    close(t);
  }
}

struct Dirent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

// tmpcopyup: copy the directory tree at `src` into `dst` (a fresh tmpfs),
// keeping modes, owners and times; nothing is followed (O_NOFOLLOW,
// AT_SYMLINK_NOFOLLOW), so the copy cannot leave either tree.
void copy_tree(int src, int dst, int depth) noexcept {
  if (depth > 128) die("tmpcopyup: directory tree too deep", nullptr, ELOOP);
  alignas(8) char buf[8192];
  for (;;) {
    long n = syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) die("tmpcopyup: read directory");
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<Dirent64*>(buf + off);
      off += d->reclen;
      const char* name = d->name;
      if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
      struct stat st;
      if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0) die("tmpcopyup: stat ", name);
      mode_t perm = st.st_mode & 07777;
      if (S_ISDIR(st.st_mode)) {
        if (mkdirat(dst, name, 0700) != 0) die("tmpcopyup: mkdir ", name);
        int s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int d2 = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s2 < 0 || d2 < 0) die("tmpcopyup: open ", name);
        copy_tree(s2, d2, depth + 1);
        if (fchown(d2, st.st_uid, st.st_gid) != 0 || fchmod(d2, perm) != 0) die("tmpcopyup: chown ", name);
        close(s2);
        close(d2);
      } else if (S_ISREG(st.st_mode)) {
        int s2 = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        int d2 = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (s2 < 0 || d2 < 0) die("tmpcopyup: open ", name);
        for (;;) {
          ssize_t r = sendfile(d2, s2, nullptr, 1 << 20);
          if (r < 0 && errno == EINTR) continue;
          if (r < 0) die("tmpcopyup: copy ", name);
          if (r == 0) break;
        }
        if (fchown(d2, st.st_uid, st.st_gid) != 0 || fchmod(d2, perm) != 0) die("tmpcopyup: chown ", name);
        close(s2);
        close(d2);
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t len = readlinkat(src, name, target, sizeof target - 1);
        if (len < 0) die("tmpcopyup: readlink ", name);
        target[len] = 0;
        if (symlinkat(target, dst, name) != 0) die("tmpcopyup: symlink ", name);
        if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) die("tmpcopyup: chown ", name);
      } else {
        if (mknodat(dst, name, st.st_mode, st.st_rdev) != 0) die("tmpcopyup: mknod ", name);
        if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) die("tmpcopyup: chown ", name);
      }
      timespec times[2] = {st.st_atim, st.st_mtim};
      utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW);
    }
  }
}

void mount_one(int rootfd, const ChildMount& m) noexcept {
  bool dir = true;
  if (m.cgroup) {
    make_in(rootfd, m.dest, true);
    return mount_cgroups(rootfd, m);
  }
  if (m.type == nullptr) {
    struct stat st;
    if (stat(m.source, &st) != 0) die("bind mount source ", m.source);
    dir = S_ISDIR(st.st_mode);
  }
  make_in(rootfd, m.dest, dir);
  int t = open_in(rootfd, m.dest, O_PATH);
  if (t < 0) die("open mount point ", m.dest);
  FdPath tp(t);
  unsigned long base = m.flags & ~kPropMask;
  // tmpcopyup: the directory under the new tmpfs stays reachable through
  // this descriptor once the tmpfs covers it.
  int orig = -1;
  struct stat orig_st {};
  if (m.tmpcopyup) {
    orig = open_in(rootfd, m.dest, O_RDONLY | O_DIRECTORY);
    if (orig < 0 || fstat(orig, &orig_st) != 0) die("tmpcopyup: open ", m.dest);
  }
  if (m.type == nullptr) {
    if (mount(m.source, tp.s, nullptr, MS_BIND | (base & MS_REC), nullptr) != 0) die("bind mount ", m.source);
  } else if (mount(m.source ? m.source : m.type, tp.s, m.type, base & ~MS_REMOUNT, m.data) != 0) {
    int e = errno;
    // sysfs in a user namespace that does not own the network namespace: bind the host's, as runc does.
    if (!(e == EPERM && strcmp(m.type, "sysfs") == 0 && g_plan->userns)) die("mount ", m.dest, e);
    if (mount("/sys", tp.s, nullptr, MS_BIND | MS_REC, nullptr) != 0) die("bind mount /sys on ", m.dest);
    base |= MS_BIND;
  }
  close(t);
  if (orig >= 0) {
    int fresh = open_in(rootfd, m.dest, O_RDONLY | O_DIRECTORY);
    if (fresh < 0) die("tmpcopyup: open ", m.dest);
    copy_tree(orig, fresh, 0);
    if (fchown(fresh, orig_st.st_uid, orig_st.st_gid) != 0 || fchmod(fresh, orig_st.st_mode & 07777) != 0)
      die("tmpcopyup: chown ", m.dest);
    close(fresh);
    close(orig);
  }
  // Flags on a bind (ro, nosuid ...) need a second, remounting call on the mount itself.
  if (m.type == nullptr || (base & MS_BIND)) {
    if (base & ~(MS_BIND | MS_REC | MS_REMOUNT)) {
      t = open_in(rootfd, m.dest, O_PATH);
      if (t < 0) die("open mount point ", m.dest);
      FdPath tp2(t);
      bind_remount(tp2.s, base, m.clear, m.dest);
      close(t);
    }
  }
  for (int i = 0; i < m.n_propagation; i++) {
    t = open_in(rootfd, m.dest, O_PATH);
    FdPath tp3(t);
    if (mount(nullptr, tp3.s, nullptr, m.propagation[i], nullptr) != 0) die("set propagation of ", m.dest);
    close(t);
  }
  if (m.rec_set || m.rec_clr) {
    t = open_in(rootfd, m.dest, O_PATH);
    if (t < 0) die("open mount point ", m.dest);
    mount_attr attr{};
    attr.attr_set = m.rec_set;
    attr.attr_clr = m.rec_clr;
    if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
      die("set recursive mount attributes of ", m.dest);
    close(t);
  }
}

void make_device(int rootfd, const ChildDevice& d) noexcept {
  if (g_plan->userns) {
    // mknod is not allowed in a user namespace: bind the host's node instead.
    make_in(rootfd, d.path, false);
    int t = open_in(rootfd, d.path, O_PATH);
    if (t < 0) die("open ", d.path);
    FdPath tp(t);
    if (mount(d.host, tp.s, nullptr, MS_BIND, nullptr) != 0) die("bind device ", d.host);
    close(t);
    return;
  }
  const char* slash = strrchr(d.path, '/');
  char dir[4096] = {};
  if (slash) {
    memcpy(dir, d.path, static_cast<size_t>(slash - d.path));
    make_in(rootfd, dir, true);
  }
  int pfd = open_in(rootfd, slash ? dir : ".", O_PATH | O_DIRECTORY);
  if (pfd < 0) die("open ", dir);
  const char* name = slash ? slash + 1 : d.path;
  unlinkat(pfd, name, 0);
  if (mknodat(pfd, name, d.mode, d.dev) != 0) die("mknod ", d.path);
  if (fchownat(pfd, name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0) die("chown ", d.path);
  if (fchmodat(pfd, name, d.mode & 07777, 0) != 0) die("chmod ", d.path);
  close(pfd);
}

void setup_dev(int rootfd) noexcept {
  int dev = open_in(rootfd, "dev", O_PATH | O_DIRECTORY);
  if (dev < 0) die("open /dev");
  struct {
    const char* target;
    const char* name;
  } links[] = {{"/proc/self/fd", "fd"},
               {"/proc/self/fd/0", "stdin"},
               {"/proc/self/fd/1", "stdout"},
               {"/proc/self/fd/2", "stderr"},
               {"pts/ptmx", "ptmx"}};
  for (auto& l : links) {
    if (strcmp(l.name, "ptmx") == 0) unlinkat(dev, "ptmx", 0);
    if (symlinkat(l.target, dev, l.name) != 0 && errno != EEXIST) die("symlink /dev/", l.name);
  }
  if (access("/proc/kcore", F_OK) == 0) symlinkat("/proc/kcore", dev, "core");
  close(dev);
}

// Bind what `src` refers to onto what `dst` refers to, both descriptors (no
// path is looked up again, so nothing in the container can redirect it):
// open_tree + move_mount, or the /proc/self/fd magic links where the new
// mount API is missing.
int bind_fd(int src, int dst) noexcept {
  int tree = static_cast<int>(syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (tree >= 0) {
    int r =
        static_cast<int>(syscall(SYS_move_mount, tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
    int e = errno;
    close(tree);
    errno = e;
    return r;
  }
  FdPath sp(src), dp(dst);
  return mount(sp.s, dp.s, nullptr, MS_BIND, nullptr);
}

bool is_dev_null(int fd) noexcept {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

bool on_procfs(int fd) noexcept {
  struct statfs sf;
  return fstatfs(fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

// maskedPaths, before pivot_root, with the host's /dev/null checked to be
// the null device (CVE-2025-31133: a container's /dev/null may be a link to
// the very file it should hide). Each target is opened inside the root
// without following its last component.
void mask_paths(int rootfd) noexcept {
  const ChildPlan& p = *g_plan;
  if (p.n_masked == 0) return;
  int null = open("/dev/null", O_PATH | O_CLOEXEC);
  if (null < 0 || !is_dev_null(null)) die("maskedPaths: /dev/null is not the null device", nullptr, EINVAL);
  for (int i = 0; i < p.n_masked; i++) {
    const char* rel = p.masked[i];
    while (*rel == '/') rel++;
    int t = open_in(rootfd, rel, O_PATH | O_NOFOLLOW);
    if (t < 0) {
      if (errno == ENOENT) continue;
      die("open masked path ", p.masked[i]);
    }
    struct stat st;
    if (fstat(t, &st) != 0) die("stat masked path ", p.masked[i]);
    int r;
    if (S_ISLNK(st.st_mode)) {
      r = 0;  // a link has nothing to read; what it names is masked where listed
    } else if (S_ISDIR(st.st_mode)) {
      FdPath tp(t);
      r = mount("tmpfs", tp.s, "tmpfs", MS_RDONLY, "size=0k");
    } else {
      r = bind_fd(null, t);
    }
    if (r != 0) die("mask ", p.masked[i]);
    close(t);
  }
  close(null);
}

// A new network namespace starts with `lo` down; runc and crun bring it up.
void bring_up_loopback() noexcept {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket for the loopback interface");
  ifreq ifr{};
  memcpy(ifr.ifr_name, "lo", 3);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("get flags of lo");
  if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("bring up lo");
  }
  close(s);
}

void run_hooks(const ChildHook* hooks, int n, const char* what) noexcept {
  char err[400];
  for (int i = 0; i < n; i++) {
    err[0] = 0;
    if (run_hook(hooks[i], g_plan->state_buf, strlen(g_plan->state_buf), err, sizeof err) != 0) die(what, err, 0);
  }
}

void enter_root(int rootfd) noexcept {
  const ChildPlan& p = *g_plan;
  if (fchdir(rootfd) != 0) die("chdir to rootfs");
  if (p.no_mntns) {
    // The caller's mount namespace: nothing may be moved or pivoted there.
    if (chroot(".") != 0) die("chroot");
  } else if (p.no_pivot) {
    if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) die("move rootfs to /");
    if (chroot(".") != 0) die("chroot");
  } else {
    // pivot_root(".", ".") stacks the old root on top of the new one;
    // make it a slave so unmounting it does not propagate to the host.
    if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
    if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) die("make old root rslave");
    if (umount2(".", MNT_DETACH) != 0) die("unmount old root");
  }
  if (chdir("/") != 0) die("chdir /");
  if (p.rootfs_propagation && mount(nullptr, "/", nullptr, p.rootfs_propagation, nullptr) != 0)
    die("set rootfs propagation");
}

void setup_rootfs() noexcept {
  const ChildPlan& p = *g_plan;
  // Nothing mounted here may reach the host: slave (or the asked
  // propagation, but never shared, which pivot_root refuses) first.
  unsigned long prop = MS_SLAVE | MS_REC;
  if (p.rootfs_propagation & (MS_PRIVATE)) prop = MS_PRIVATE | MS_REC;
  if (!p.no_mntns && mount(nullptr, "/", nullptr, prop, nullptr) != 0) die("make / ", "rslave");
  if (mount(p.rootfs, p.rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) die("bind rootfs ", p.rootfs);
  int rootfd = open(p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("open rootfs ", p.rootfs);
  for (int i = 0; i < p.n_mounts; i++) mount_one(rootfd, p.mounts[i]);
  for (int i = 0; i < p.n_devices; i++) make_device(rootfd, p.devices[i]);
  if (p.dev_tmpfs) setup_dev(rootfd);
  // A working directory missing from the image is made inside the root
  // (as runc does), after the mounts so that it lands in a volume mounted there.
  if (p.cwd_make && strcmp(p.cwd_make, ".") != 0) make_in(rootfd, p.cwd_make, true);
  send_type(SyncType::kHooks);
  recv_type(p.sync_fd, SyncType::kHooksDone);
  recv_blob(p.sync_fd, p.state_buf, p.state_cap);
  run_hooks(p.create_container, p.n_create_container, "createContainer hook: ");
  mask_paths(rootfd);
  enter_root(rootfd);
  close(rootfd);
  for (int i = 0; i < p.n_sysctl; i++) {
    // Written only to procfs (CVE-2025-52881: a write by path may land elsewhere).
    int fd = open(p.sysctl_paths[i], O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) die("open sysctl ", p.sysctl_paths[i]);
    if (!on_procfs(fd)) die("sysctl ", p.sysctl_paths[i], EINVAL);
    size_t n = strlen(p.sysctl_values[i]);
    if (write(fd, p.sysctl_values[i], n) != static_cast<ssize_t>(n)) die("write sysctl ", p.sysctl_paths[i]);
    close(fd);
  }
  for (int i = 0; i < p.n_readonly; i++) {
    if (mount(p.readonly[i], p.readonly[i], nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      die("bind read-only path ", p.readonly[i]);
    }
    bind_remount(p.readonly[i], MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, p.readonly[i]);
  }
  if (p.readonly_root) bind_remount("/", MS_RDONLY, 0, "/");
}

void send_fd(int sock, int fd) noexcept {
  char name[] = "/dev/ptmx";
  iovec iov{name, sizeof name - 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0) die("send the pty master to the console socket");
}

void setup_console() noexcept {
  const ChildPlan& p = *g_plan;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) die("open /dev/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) die("unlock pty");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) die("open pty peer");
  if (p.rows || p.cols) {
    winsize ws{p.rows, p.cols, 0, 0};
    ioctl(master, TIOCSWINSZ, &ws);
  }
  if (!p.exec_mode) {
    // /dev/console by descriptor (CVE-2025-52565): a regular file we made or
    // a character device, never a link, and the bind goes onto that fd.
    int c = open("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c >= 0) close(c);
    int t = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (t < 0 || fstat(t, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
      die("/dev/console is not a file or a device", nullptr, t < 0 ? errno : EINVAL);
    if (bind_fd(slave, t) != 0) die("bind /dev/console");
    close(t);
  }
  send_fd(p.console_fd, master);
  close(master);
  close(p.console_fd);
  if (setsid() < 0) die("setsid");
  if (ioctl(slave, TIOCSCTTY, 0) != 0) die("set controlling terminal");
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0) die("dup pty to stdio");
  if (slave > 2) close(slave);
}

void set_identity() noexcept {
  const ChildPlan& p = *g_plan;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die("keep capabilities");
  if (setgroups(static_cast<size_t>(p.n_groups), p.groups) != 0 && !(p.userns && errno == EPERM && p.n_groups == 0))
    die("setgroups");
  if (setresgid(p.gid, p.gid, p.gid) != 0) die("setgid");
  if (setresuid(p.uid, p.uid, p.uid) != 0) die("setuid");
  if (p.set_caps) {
    // setuid to non-zero cleared the effective set; raise it back from
    // permitted so the bounding-set drop (CAP_SETPCAP) can happen.
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2] = {};
    if (syscall(SYS_capget, &h, d) == 0) {
      d[0].effective = d[0].permitted;
      d[1].effective = d[1].permitted;
      syscall(SYS_capset, &h, d);
    }
    int r = sec::apply_caps(p.caps);
    if (r != 0) die("apply capabilities", nullptr, -r);
  }
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) die("clear keep capabilities");
}

// The working directory must be reachable from the container's root:
// getcwd(2) says "(unreachable)" (or ENOENT) when it is not. Where getcwd is
// refused (a seccomp profile may do that), walk ".." up to the root instead;
// a directory outside it reaches a top whose ".." is itself first.
void verify_cwd() noexcept {
  const char* why = "current working directory is outside the container's root (possible breakout): ";
  char wd[4096];
  long n = syscall(SYS_getcwd, wd, sizeof wd);
  if (n > 0 && wd[0] == '/') return;
  if (n > 0 || errno == ENOENT) die(why, g_plan->cwd, EPERM);
  struct stat root, cur, up;
  if (stat("/", &root) != 0) die("stat /");
  int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; fd >= 0 && i < 4096; i++) {
    if (fstat(fd, &cur) != 0) break;
    if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino) {
      close(fd);
      return;
    }
    int parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    fd = parent;
    if (fd < 0 || fstat(fd, &up) != 0) break;
    if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino) break;
  }
  die(why, g_plan->cwd, EPERM);
}

// Find argv[0] as execvp would, without allocating; fills `out`.
void find_executable(char* out, size_t cap) noexcept {
  const char* a0 = g_plan->argv[0];
  out[0] = 0;
  if (strchr(a0, '/')) {
    append(out, cap, a0);
  } else {
    const char* path =
        g_plan->path_env ? g_plan->path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    bool denied = false;
    for (const char* s = path;;) {
      const char* e = strchr(s, ':');
      size_t n = e ? static_cast<size_t>(e - s) : strlen(s);
      char cand[4096] = {};
      if (n + 1 < sizeof cand) {
        memcpy(cand, n ? s : ".", n ? n : 1);
        append(cand, sizeof cand, "/");
        append(cand, sizeof cand, a0);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
          if (access(cand, X_OK) == 0) {
            out[0] = 0;
            append(out, cap, cand);
            return;
          }
          denied = true;
        }
      }
      if (!e) break;
      s = e + 1;
    }
    if (denied) die_kind(SyncErrKind::kCannotRun, "exec: permission denied: ", a0, EACCES);
    die_kind(SyncErrKind::kNotFound, "exec: executable file not found in $PATH: ", a0, 0);
  }
  struct stat st;
  if (stat(out, &st) != 0) die_kind(SyncErrKind::kNotFound, "exec: no such file: ", out, 0);
  if (!S_ISREG(st.st_mode) || access(out, X_OK) != 0)
    die_kind(SyncErrKind::kCannotRun, "exec: permission denied: ", out, EACCES);
}

void wait_for_start() noexcept {
  const ChildPlan& p = *g_plan;
  if (p.start_listen_fd < 0) {
    recv_type(p.sync_fd, SyncType::kStart);
    recv_blob(p.sync_fd, p.state_buf, p.state_cap);
    return;
  }
  // create: the parent is gone; `oci-run start` connects and sends 's' + state JSON.
  for (;;) {
    int c = accept4(p.start_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    ssize_t n = recv(c, p.state_buf, p.state_cap - 1, 0);
    if (n > 1 && p.state_buf[0] == 's') {
      memmove(p.state_buf, p.state_buf + 1, static_cast<size_t>(n - 1));
      p.state_buf[n - 1] = 0;
      g_conn = c;
      break;
    }
    close(c);
  }
  close(p.start_listen_fd);
}

}  // namespace

int run_hook(const ChildHook& h, const char* state, size_t len, char* err, size_t err_len) noexcept {
  err[0] = 0;
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    append(err, err_len, "pipe failed");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    append(err, err_len, "fork failed");
    return -1;
  }
  if (pid == 0) {
    dup2(pfd[0], 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(h.path, h.argv, h.envp);
    _exit(127);
  }
  close(pfd[0]);
  signal(SIGPIPE, SIG_IGN);
  for (size_t off = 0; off < len;) {
    ssize_t w = write(pfd[1], state + off, len - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  close(pfd[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (h.timeout > 0 && pidfd >= 0) {
    pollfd pf{pidfd, POLLIN, 0};
    int r;
    while ((r = poll(&pf, 1, h.timeout * 1000)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(pidfd);
      append(err, err_len, h.path);
      append(err, err_len, ": timed out after ");
      append_int(err, err_len, h.timeout);
      append(err, err_len, "s");
      return -1;
    }
  }
  if (pidfd >= 0) close(pidfd);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  append(err, err_len, h.path);
  if (WIFEXITED(st)) {
    append(err, err_len, ": exited with status ");
    append_int(err, err_len, WEXITSTATUS(st));
  } else {
    append(err, err_len, ": killed by signal ");
    append_int(err, err_len, WTERMSIG(st));
  }
  return -1;
}

void run_child(const ChildPlan& p) noexcept {
  g_plan = &p;
  // Signals: the parent's dispositions and mask must not leak into the container.
  sigset_t all;
  sigemptyset(&all);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  recv_type(p.sync_fd, SyncType::kGo);
  recv_blob(p.sync_fd, p.cgroup_buf, p.cgroup_cap);
  if (p.userns) {
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) die("become root in the user namespace");
  }
  for (int i = 0; i < p.n_join; i++)
    if (setns(p.join_fds[i], 0) != 0) die("join namespace");
  if (p.exec_mode && p.userns == false && p.n_join > 0) {
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) die("become root in the container");
  }
  if (p.new_cgroupns && unshare(CLONE_NEWCGROUP) != 0) die("unshare cgroup namespace");
  if (p.lo_up) bring_up_loopback();
  if (p.set_oom) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    char v[24] = {};
    append_int(v, sizeof v, p.oom_score_adj);
    if (fd < 0 || write(fd, v, strlen(v)) < 0) die("set oom_score_adj");
    close(fd);
  }
  // A fresh session keyring, so the container cannot see the host's keys.
  if (p.new_keyring && syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "_ses.oci-run") < 0 && errno != ENOSYS)
    die("join a new session keyring");
  if (p.hostname && sethostname(p.hostname, strlen(p.hostname)) != 0) die("sethostname");
  if (p.domainname && setdomainname(p.domainname, strlen(p.domainname)) != 0) die("setdomainname");
  if (!p.exec_mode) setup_rootfs();
  if (p.terminal) setup_console();
  if (p.personality >= 0 && personality(static_cast<unsigned long>(p.personality)) < 0) die("personality");
  // Before the capabilities drop: a real-time policy or class needs CAP_SYS_NICE / CAP_SYS_ADMIN.
  if (p.set_sched && syscall(SYS_sched_setattr, 0, &p.sched, 0) != 0)
    die("process.scheduler: sched_setattr",
        errno == EPERM ? " (a real-time policy needs CAP_SYS_NICE and cpu.rt_runtime_us in the cgroup)" : nullptr);
  if (p.ioprio >= 0 && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p.ioprio) != 0)
    die("process.ioPriority: ioprio_set");
  for (int i = 0; i < p.n_rlimits; i++) {
    rlimit rl{p.rlimits[i].soft, p.rlimits[i].hard};
    if (setrlimit(p.rlimits[i].resource, &rl) != 0) die("setrlimit");
  }
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
  // user's capability sets usually drop: load it now, before set_identity,
  // as runc does. The filter must then allow the few syscalls left before
  // execve (setresuid, capset, prctl, chdir, the start sync); docker's
  // default profile does.
  bool seccomp_early = p.seccomp && !p.no_new_privileges;
  if (seccomp_early) {
    int r = sec::install_seccomp(*p.seccomp);
    if (r != 0) die("load seccomp filter", nullptr, -r);
  }
  set_identity();
  // A uid change resets dumpable from fs.suid_dumpable; stay non-dumpable
  // until execve (protect_binary relies on it, CVE-2019-5736).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // No host fd may reach the user program (CVE-2024-21626): everything
  // above the preserved ones is close-on-exec from here on, and the working
  // directory must be inside the container's root (a leaked directory fd
  // named as /proc/self/fd/N would put it on the host).
  unsigned first = 3 + static_cast<unsigned>(p.preserve_fds);
  if (syscall(SYS_close_range, first, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
    for (int fd = static_cast<int>(first); fd < 65536; fd++) {
      int fl = fcntl(fd, F_GETFD);
      if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
  }
  if (chdir(p.cwd) != 0) die("chdir to cwd ", p.cwd);
  verify_cwd();
  if (p.umask >= 0) umask(static_cast<mode_t>(p.umask));
  char exe[4096];
  bool has_process = p.argv && p.argv[0];
  if (has_process) find_executable(exe, sizeof exe);
  // create and run -d leave the container behind on purpose.
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  send_type(SyncType::kReady);
  if (p.wait_start) wait_for_start();
  if (!has_process) die("cannot start the container: config.json sets no process", nullptr, EINVAL);
  run_hooks(p.start_container, p.n_start_container, "startContainer hook: ");
  if (p.no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("set no_new_privs");
  // wait_for_start accepted a connection since; it is close-on-exec too.
  sigprocmask(SIG_SETMASK, &all, nullptr);
  if (p.seccomp && !seccomp_early) {
    int r = sec::install_seccomp(*p.seccomp);
    if (r != 0) die("load seccomp filter", nullptr, -r);
  }
  execve(exe, p.argv, p.envp);
  int e = errno;
  die_kind(e == ENOENT ? SyncErrKind::kNotFound : SyncErrKind::kCannotRun, "exec ", exe, e);
}

}  // namespace ocikit::run
