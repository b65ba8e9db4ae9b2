// The foreground pty relay of `run -t` (see terminal.hpp).
#include "terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace ocikit::run {
namespace {

volatile sig_atomic_t g_winch = 0;
void on_winch(int) { g_winch = 1; }

// Raw mode on a tty stdin for the relay's lifetime: keys (^C, ^Z) reach the
// container's own terminal instead of signalling oci-run.
struct RawStdin {
  termios saved{};
  bool active = false;
  RawStdin() {
    if (!isatty(0) || tcgetattr(0, &saved) != 0) return;
    termios raw = saved;
    cfmakeraw(&raw);
    active = tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawStdin() {
    if (active) tcsetattr(0, TCSANOW, &saved);
  }
};

// Write all of buf to fd (blocking); false when the reader went away.
bool write_all(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      return false;
    }
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int recv_fd(int sock) {
  char name[64];
  iovec iov{name, sizeof name};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl;
  mh.msg_controllen = sizeof ctl;
  ssize_t n;
  while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) throw_errno("receive the container's pty");
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  if (n == 0 || !c || c->cmsg_type != SCM_RIGHTS) fail(Errc::io, "receive the container's pty: no descriptor sent");
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

void copy_window_size(int master) {
  winsize ws{};
  if (isatty(0) && ioctl(0, TIOCGWINSZ, &ws) == 0 && (ws.ws_row || ws.ws_col)) ioctl(master, TIOCSWINSZ, &ws);
}

void relay_pty(int master, int pidfd) {
  // No SA_RESTART: a resize interrupts poll() and is handled at once.
  struct sigaction sa {};
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, nullptr);
  RawStdin raw;
  int fl = fcntl(master, F_GETFL);
  fcntl(master, F_SETFL, fl | O_NONBLOCK);
  bool stdin_open = true, master_open = true;
  char buf[16384];
  while (master_open) {
    if (g_winch) {
      g_winch = 0;
      copy_window_size(master);
    }
    pollfd p[3] = {{pidfd, POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    int r = poll(p, 3, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll the container's pty");
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      // EIO: every slave end is closed (the container's processes are gone).
      if (n > 0) write_all(1, buf, static_cast<size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) master_open = false;
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) write_all(master, buf, static_cast<size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EINTR)) stdin_open = false;
    }
    if (p[0].revents & POLLIN) {
      // The init is gone: drain what is left in the pty, then stop.
      for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) break;
        write_all(1, buf, static_cast<size_t>(n));
      }
      break;
    }
  }
  sa.sa_handler = SIG_DFL;
  sigaction(SIGWINCH, &sa, nullptr);
}

}  // namespace ocikit::run
