#pragma once
// oci-run sync: the messages the runtime (parent) and the container's init
// (child) exchange over a SOCK_SEQPACKET socketpair while a container is
// created. Every message is one fixed-size SyncMsg, so the child never
// allocates to send or receive one.
//
//      parent (oci-run create/run/exec)              child (container init)
//      --------------------------------              ----------------------
//      clone(CLONE_NEW*) --------------------------> starts, blocks on GO
//      write uid_map/gid_map, join cgroup
//      kGo ----------------------------------------> setns (joined namespaces),
//                                                    hostname, mounts, /dev
//                       <--------------------------- kHooks
//      prestart + createRuntime hooks
//      kHooksDone (+ state JSON, one packet) ------> createContainer hooks,
//                                                    pivot_root, masked/ro
//                                                    paths, sysctl, console,
//                                                    user, rlimits, caps
//                       <--------------------------- kReady
//      write state.json ("created"); create exits    wait for start:
//                                                     create: accept() on the
//                                                      state dir's start socket
//                                                     run: kStart on this pair
//      oci-run start: connect, send 's' -----------> startContainer hooks,
//                                                    noNewPrivileges, seccomp,
//                                                    close fds, execve
//      EOF on the connection (CLOEXEC) <------------ (exec succeeded)
//
//   At any step the child may send kError {errno, message} instead and exit;
//   the parent raises it as an Error. On the start connection an error is
//   the same SyncMsg.

#include <cstdint>

namespace ocikit::run {

/// Message types on the sync socket (see the diagram above).
enum class SyncType : uint32_t {
  kGo = 1,  ///< parent -> child: mappings and cgroup are in place
  kHooks = 2,  ///< child -> parent: run prestart/createRuntime hooks now
  kHooksDone = 3,  ///< parent -> child: hooks ran; a state JSON packet follows
  kReady = 4,  ///< child -> parent: set up, waiting for start
  kStart = 5,  ///< parent -> child (run mode): exec now
  kError = 6,  ///< child -> parent: failed; err and text say why
};

/// What kind of failure a kError is (decides the parent's exit code).
enum class SyncErrKind : uint32_t { kFailure = 0, kNotFound = 1, kCannotRun = 2 };

/// One message; fixed size so the child sends it without allocating.
struct SyncMsg {
  SyncType type{};
  SyncErrKind kind = SyncErrKind::kFailure;
  int32_t err = 0;  ///< errno for kError
  char text[500] = {};  ///< NUL-terminated message for kError
};

}  // namespace ocikit::run
