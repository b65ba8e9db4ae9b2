#pragma once
// oci-run terminal: `run -t` without --console-socket in the foreground.
// The container's init passes its pty master over a socketpair (the same
// SCM_RIGHTS message a --console-socket listener gets) and oci-run relays it
// to its own stdio, as runc does.

#include <sys/types.h>

namespace ocikit::run {

/// Receive one descriptor sent with SCM_RIGHTS on `sock` (close-on-exec).
/// Throws Errc::io when the peer closes first or sends none.
int recv_fd(int sock);

/// Give the pty `master` the window size of our stdin when that is a tty.
void copy_window_size(int master);

/// Copy stdin -> `master` and `master` -> stdout until `pidfd` (the
/// container's init) becomes readable, then drain what the container wrote.
/// A tty stdin is put in raw mode (restored on return, also on error) and
/// SIGWINCH resizes the pty. Throws Errc::io.
void relay_pty(int master, int pidfd);

}  // namespace ocikit::run
