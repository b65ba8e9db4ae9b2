#pragma once
// oci-run child: everything the container's init does between clone and
// execve. The parent turns the Spec into a ChildPlan of plain C data first
// (build_plan in container.cpp); the child only reads it, makes system calls,
// and reports failures over the sync socket (sync.hpp). Nothing here throws
// or allocates.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "security.hpp"

namespace ocikit::run {

/// A mount, decoded for mount(2).
struct ChildMount {
  const char* source = nullptr;  ///< host path for binds
  const char* dest = nullptr;  ///< relative to the rootfs ("proc", "dev/pts")
  const char* type = nullptr;  ///< nullptr for binds
  const char* data = nullptr;  ///< nullptr when empty
  unsigned long flags = 0, clear = 0;
  const unsigned long* propagation = nullptr;
  int n_propagation = 0;
  bool cgroup = false;  ///< type "cgroup"/"cgroup2": the container's own cgroups, bound
  bool tmpcopyup = false;  ///< tmpfs: copy the directory's original content in (runc's extension)
  uint64_t rec_set = 0, rec_clr = 0;  ///< MOUNT_ATTR_* applied recursively (rro, rnosuid ...)
};

/// A device node to create under the rootfs.
struct ChildDevice {
  const char* path = nullptr;  ///< relative ("dev/null")
  const char* host = nullptr;  ///< host path to bind from in a user namespace
  mode_t mode = 0;  ///< S_IFCHR/S_IFBLK/S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// A hook, ready for execve.
struct ChildHook {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int timeout = 0;  ///< seconds, 0 = none
};

/// An rlimit.
struct ChildRlimit {
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

/// The kernel's struct sched_attr (glibc has no declaration of it).
struct ChildSched {
  uint32_t size = sizeof(ChildSched);
  uint32_t policy = 0;
  uint64_t flags = 0;
  int32_t nice = 0;
  uint32_t priority = 0;
  uint64_t runtime = 0, deadline = 0, period = 0;
};

/// What the child does, all of it prepared by the parent.
struct ChildPlan {
  int sync_fd = -1;
  bool exec_mode = false;  ///< `exec`: join every namespace, no rootfs, no waiting for start
  bool wait_start = false;  ///< create/run: wait for the start signal after kReady
  int start_listen_fd = -1;  ///< create: the start socket to accept on (-1: kStart on sync_fd)
  bool userns = false;  ///< a new user namespace was created by clone
  bool new_cgroupns = false;  ///< unshare a cgroup namespace once the parent has placed the child in its cgroup
  int join_fds[8] = {};  ///< namespace fds to setns into (user first)
  int n_join = 0;
  int oom_score_adj = 0;
  bool set_oom = false;
  bool lo_up = false;  ///< a new network namespace: bring its loopback up (as runc and crun do)
  const char* hostname = nullptr;
  const char* domainname = nullptr;
  // rootfs
  const char* rootfs = nullptr;
  unsigned long rootfs_propagation = 0;
  bool readonly_root = false;
  bool no_pivot = false;
  bool no_mntns = false;  ///< no mount namespace: set up in the caller's, enter with chroot (as runc)
  const ChildMount* mounts = nullptr;
  int n_mounts = 0;
  bool dev_tmpfs = false;  ///< the spec mounts /dev: create default devices and symlinks
  const ChildDevice* devices = nullptr;
  int n_devices = 0;
  const char* const* masked = nullptr;
  int n_masked = 0;
  const char* const* readonly = nullptr;
  int n_readonly = 0;
  const char* const* sysctl_paths = nullptr;  ///< "/proc/sys/net/ipv4/ip_forward"
  const char* const* sysctl_values = nullptr;
  int n_sysctl = 0;
  const ChildHook* create_container = nullptr;
  int n_create_container = 0;
  const ChildHook* start_container = nullptr;
  int n_start_container = 0;
  char* state_buf = nullptr;  ///< receives the state JSON for container hooks
  size_t state_cap = 0;
  char* cgroup_buf = nullptr;  ///< receives the host view of /proc/<pid>/cgroup
  size_t cgroup_cap = 0;
  // process
  bool terminal = false;
  int console_fd = -1;  ///< connected --console-socket
  unsigned short rows = 0, cols = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  int n_groups = 0;
  int umask = -1;
  const char* cwd = "/";
  const char* cwd_make = nullptr;  ///< create: cwd resolved inside the rootfs, made when missing
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* path_env = nullptr;  ///< PATH from process.env, to find argv[0]
  const ChildRlimit* rlimits = nullptr;
  int n_rlimits = 0;
  bool no_new_privileges = false;
  bool set_caps = false;
  sec::CapSets caps;
  const sec::SeccompProgram* seccomp = nullptr;
  long personality = -1;
  bool set_sched = false;  ///< apply `sched` with sched_setattr(2)
  ChildSched sched;
  int ioprio = -1;  ///< ioprio_set(2) value, -1 = leave as is
  int preserve_fds = 0;  ///< fds 3 .. 3+n-1 stay open across exec
  bool new_keyring = false;  ///< join a fresh session keyring (runc's default; --no-new-keyring turns it off)
};

/// The child's whole life: returns only through execve or _exit.
[[noreturn]] void run_child(const ChildPlan& p) noexcept;

/// Run one hook with `state` on its stdin, waiting at most its timeout.
/// Returns 0, or -1 with a message in err (e.g. "hook /x exited with status 2").
/// Async-signal-safe (used by the child and the parent alike).
int run_hook(const ChildHook& h, const char* state, size_t state_len, char* err, size_t err_len) noexcept;

}  // namespace ocikit::run
