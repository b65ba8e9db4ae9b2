// Keeping a container from writing to the runtime binary (CVE-2019-5736):
// create, run and exec re-execute oci-run from a view of its binary that
// nothing can write through, before any container process exists.
//
//   overlay  a private, detached, read-only overlayfs whose lower layers are
//            the binary's directory and an empty detached tmpfs (overlayfs
//            wants two lower layers when it has no upper one). No copy: about
//            0.07 ms, where copying the 3 MB binary costs 0.6 ms and as much
//            again in page faults and frees (runc 1.2 protects itself the
//            same way). Needs CAP_SYS_ADMIN and the new mount API.
//   memfd    a copy in a sealed memfd: the fallback where the overlay cannot
//            be made (rootless, no overlayfs, old kernel, odd paths), and
//            the choice when OCIKIT_RUN_SEAL=memfd (a copy shares no page cache
//            with the host binary, so it also holds against kernel bugs that
//            write to read-only page cache).
//
// A binary already on a read-only overlayfs (is_protected) runs as it is:
// nothing writes through such a mount, and a container cannot remount one
// that is not in its mount namespace.
//
// The code here calls no C library function: early_seal.cpp runs it before
// glibc starts. `sys` is the system call: sys(number, args...) returning the
// result or -errno (early_seal.cpp's raw syscall; container.cpp wraps
// syscall(2)).
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include <cerrno>

namespace ocikit::run::seal {

constexpr long kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
// linux/mount.h's values (that header clashes with glibc's sys/mount.h).
constexpr long kFsopenCloexec = 0x1, kFsmountCloexec = 0x1;
constexpr long kSetString = 1, kCmdCreate = 6;
constexpr long kAttrRdonly = 0x1, kAttrNosuid = 0x2, kAttrNodev = 0x4, kAttrNoexec = 0x8;
constexpr long kStRdonly = 1;  // statfs f_flags

inline bool str_eq(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/// OCIKIT_RUN_SEAL=memfd in `envp` (or the deprecated OCI_RUN_SEAL=memfd,
/// read without a warning: this runs before libc): always the copy.
inline bool memfd_wanted(char** envp) {
  for (; envp && *envp; envp++)
    if (str_eq(*envp, "OCIKIT_RUN_SEAL=memfd") || str_eq(*envp, "OCI_RUN_SEAL=memfd")) return true;
  return false;
}

/// True when `fd`, the running binary, cannot be written through: a memfd
/// with all write seals, or a file on a read-only overlayfs.
template <class Sys>
bool is_protected(Sys sys, long fd) {
  long seals = sys(SYS_fcntl, fd, F_GET_SEALS, 0, 0, 0);
  if (seals >= 0 && (seals & kSeals) == kSeals) return true;
  struct statfs st;
  if (sys(SYS_fstatfs, fd, reinterpret_cast<long>(&st), 0, 0, 0) != 0) return false;
  return static_cast<unsigned long>(st.f_type) == OVERLAYFS_SUPER_MAGIC && (st.f_flags & kStRdonly) != 0;
}

namespace detail {

struct Fds {  // closed on every way out
  long fd[4] = {-1, -1, -1, -1};
  template <class Sys>
  void close_all(Sys sys) {
    for (long& f : fd)
      if (f >= 0) sys(SYS_close, f, 0, 0, 0, 0), f = -1;
  }
};

inline long append(char* buf, long at, long cap, const char* s) {
  while (*s && at + 1 < cap) buf[at++] = *s++;
  buf[at] = 0;
  return *s ? -1 : at;
}

inline long append_num(char* buf, long at, long cap, long v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10);
  while ((v /= 10) && n < 23);
  char out[24];
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  out[n] = 0;
  return append(buf, at, cap, out);
}

}  // namespace detail

/// Re-execute the binary at `self` (an open /proc/self/exe) from a private
/// read-only overlayfs. Returns -errno when that cannot be done.
template <class Sys>
long exec_overlay(Sys sys, long self, char** argv, char** envp) {
  char path[4096];
  long n = sys(SYS_readlinkat, AT_FDCWD, reinterpret_cast<long>("/proc/self/exe"), reinterpret_cast<long>(path),
               sizeof path - 1, 0);
  if (n <= 0 || n >= static_cast<long>(sizeof path) - 1) return n < 0 ? n : -ENAMETOOLONG;
  path[n] = 0;
  if (path[0] != '/') return -ENOENT;  // a memfd or a deleted file: nothing to mount
  long slash = n - 1;
  while (slash > 0 && path[slash] != '/') slash--;
  const char* name = path + slash + 1;
  path[slash] = 0;
  const char* dir = slash == 0 ? "/" : path;

  detail::Fds f;  // tmpfs context, tmpfs mount, overlay context, overlay mount
  auto fail = [&](long err) {
    f.close_all(sys);
    return err < 0 ? err : -EINVAL;
  };
  // The second, empty lower layer: a tmpfs mounted nowhere.
  f.fd[0] = sys(SYS_fsopen, reinterpret_cast<long>("tmpfs"), kFsopenCloexec, 0, 0, 0);
  if (f.fd[0] < 0) return fail(f.fd[0]);
  if (long r = sys(SYS_fsconfig, f.fd[0], kCmdCreate, 0, 0, 0); r < 0) return fail(r);
  f.fd[1] = sys(SYS_fsmount, f.fd[0], kFsmountCloexec, kAttrRdonly | kAttrNosuid | kAttrNodev | kAttrNoexec, 0, 0);
  if (f.fd[1] < 0) return fail(f.fd[1]);
  char empty[32];
  if (detail::append_num(empty, detail::append(empty, 0, sizeof empty, "/proc/self/fd/"), sizeof empty, f.fd[1]) < 0)
    return fail(-ENAMETOOLONG);

  f.fd[2] = sys(SYS_fsopen, reinterpret_cast<long>("overlay"), kFsopenCloexec, 0, 0, 0);
  if (f.fd[2] < 0) return fail(f.fd[2]);
  auto set = [&](const char* key, const char* value) {
    return sys(SYS_fsconfig, f.fd[2], kSetString, reinterpret_cast<long>(key), reinterpret_cast<long>(value), 0);
  };
  if (set("lowerdir+", dir) < 0 || set("lowerdir+", empty) < 0) {
    // Before Linux 6.8: one "lowerdir" list, ':' separated (no escaping here).
    for (const char* p = dir; *p; p++)
      if (*p == ':' || *p == '\\' || *p == ',') return fail(-EINVAL);
    char list[4096 + 40];
    long at = detail::append(list, 0, sizeof list, dir);
    if (at < 0 || (at = detail::append(list, at, sizeof list, ":")) < 0 ||
        detail::append(list, at, sizeof list, empty) < 0)
      return fail(-ENAMETOOLONG);
    if (long r = set("lowerdir", list); r < 0) return fail(r);
  }
  set("xino", "off");  // layers on two filesystems: no inode-number mapping, no log line
  if (long r = sys(SYS_fsconfig, f.fd[2], kCmdCreate, 0, 0, 0); r < 0) return fail(r);
  f.fd[3] = sys(SYS_fsmount, f.fd[2], kFsmountCloexec, kAttrRdonly | kAttrNosuid | kAttrNodev, 0, 0);
  if (f.fd[3] < 0) return fail(f.fd[3]);
  long exe = sys(SYS_openat, f.fd[3], reinterpret_cast<long>(name), O_RDONLY | O_CLOEXEC, 0, 0);
  f.close_all(sys);  // the open file keeps its mount (and the mount its layers)
  if (exe < 0) return exe;
  // The same file as the one running (not one installed over it since).
  struct stat a, b;
  if (sys(SYS_fstat, self, reinterpret_cast<long>(&a), 0, 0, 0) != 0 ||
      sys(SYS_fstat, exe, reinterpret_cast<long>(&b), 0, 0, 0) != 0 || a.st_size != b.st_size ||
      a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec || !is_protected(sys, exe)) {
    sys(SYS_close, exe, 0, 0, 0, 0);
    return -ESTALE;
  }
  long r = sys(SYS_execveat, exe, reinterpret_cast<long>(""), reinterpret_cast<long>(argv),
               reinterpret_cast<long>(envp), AT_EMPTY_PATH);
  sys(SYS_close, exe, 0, 0, 0, 0);
  return r;
}

/// Re-execute the binary at `self` from a sealed memfd copy of its first
/// `size` bytes (what execve maps). Returns -errno on failure.
template <class Sys>
long exec_memfd(Sys sys, long self, long size, char** argv, char** envp) {
  long mfd = sys(SYS_memfd_create, reinterpret_cast<long>("oci-run"), 0x1 /* MFD_CLOEXEC */ | 0x2 /* ALLOW_SEALING */,
                 0, 0, 0);
  if (mfd < 0) return mfd;
  long off = 0;
  long left = size;
  while (left > 0) {
    long k = sys(SYS_sendfile, mfd, self, reinterpret_cast<long>(&off), left, 0);
    if (k <= 0) {
      sys(SYS_close, mfd, 0, 0, 0, 0);
      return k < 0 ? k : -EIO;
    }
    left -= k;
  }
  long r = sys(SYS_fcntl, mfd, F_ADD_SEALS, kSeals, 0, 0);
  if (r == 0)
    r = sys(SYS_execveat, mfd, reinterpret_cast<long>(""), reinterpret_cast<long>(argv), reinterpret_cast<long>(envp),
            AT_EMPTY_PATH);
  sys(SYS_close, mfd, 0, 0, 0, 0);
  return r;
}

/// Re-execute from a protected view of `self`: the overlay, else the
/// memfd copy. Returns (-errno) only when neither worked.
template <class Sys>
long reexec(Sys sys, long self, long size, char** argv, char** envp) {
  if (!memfd_wanted(envp)) exec_overlay(sys, self, argv, envp);
  return exec_memfd(sys, self, size, argv, envp);
}

}  // namespace ocikit::run::seal
