#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/error.hpp"
#include "common/fs.hpp"

extern char** environ;

namespace ocikit::process {

namespace {

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Child side, async-signal-safe only: point fd `target` at `fd`.
void child_fd(int fd, int target, int null_fd) {
  if (fd == kInherit) return;
  int from = fd == kDevNull ? null_fd : fd;
  if (from == target) {
    // dup2 onto itself keeps O_CLOEXEC: clear it instead.
    int flags = ::fcntl(from, F_GETFD);
    if (flags >= 0) ::fcntl(from, F_SETFD, flags & ~FD_CLOEXEC);
    return;
  }
  ::dup2(from, target);
}

}  // namespace

pid_t spawn(const Spec& s) {
  if (s.argv.empty() || s.argv[0].empty()) fail(Errc::usage, "process: empty argv");
  auto argv = c_strings(s.argv);
  std::vector<char*> envp;
  if (s.env) envp = c_strings(*s.env);
  char* const* env = s.env ? envp.data() : environ;
  // The program: a name without '/' is looked up in $PATH now, so that the
  // child only calls execve.
  std::string prog = s.path.empty() ? s.argv[0] : s.path;
  if (prog.find('/') == std::string::npos) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::string found;
    for (size_t a = 0; a <= p.size();) {
      size_t b = p.find(':', a);
      if (b == std::string::npos) b = p.size();
      std::string cand = (b > a ? p.substr(a, b - a) : std::string(".")) + "/" + prog;
      if (::access(cand.c_str(), X_OK) == 0) {
        found = cand;
        break;
      }
      a = b + 1;
    }
    if (found.empty()) {
      errno = ENOENT;
      throw_errno("exec " + prog);
    }
    prog = found;
  }
  fs::UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) throw_errno("open /dev/null");
  int errp[2];
  if (::pipe2(errp, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd err_r(errp[0]), err_w(errp[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    if (s.reset_signals) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD}) ::signal(sig, SIG_DFL);
    }
    child_fd(s.in, 0, null_fd.get());
    child_fd(s.out, 1, null_fd.get());
    child_fd(s.err, 2, null_fd.get());
    if (s.controlling_tty && (::setsid() < 0 || ::ioctl(0, TIOCSCTTY, 0) != 0)) {
      int e = errno;
      (void)!::write(err_w.get(), &e, sizeof e);
      ::_exit(127);
    }
    ::execve(prog.c_str(), argv.data(), env);
    int e = errno;
    (void)!::write(err_w.get(), &e, sizeof e);
    ::_exit(127);
  }
  err_w.reset();
  int e = 0;
  ssize_t n;
  while ((n = ::read(err_r.get(), &e, sizeof e)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof e)) {
    wait(pid);
    errno = e;
    throw_errno("exec " + (s.path.empty() ? s.argv[0] : s.path));
  }
  return pid;
}

namespace {

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

int wait(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_errno("waitpid");
  return exit_status(status);
}

int run(const Spec& s) { return wait(spawn(s)); }

namespace {

// Read the capture pipes of `pid` until both close (or a bound is hit:
// then the child is killed), and wait for it.
Output drain(pid_t pid, fs::UniqueFd (&pipes)[2][2], const Bounds& b) {
  using clock = std::chrono::steady_clock;
  auto deadline = clock::now() + std::chrono::milliseconds(b.timeout_ms < 0 ? 0 : b.timeout_ms);
  Output r;
  struct pollfd p[2] = {{pipes[0][0] ? pipes[0][0].get() : -1, POLLIN, 0},
                        {pipes[1][0] ? pipes[1][0].get() : -1, POLLIN, 0}};
  std::string* sink[2] = {&r.out, &r.err};
  int open_fds = (p[0].fd >= 0) + (p[1].fd >= 0);
  char buf[8192];
  while (open_fds > 0) {
    int wait_ms = -1;
    if (b.timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
      if (left <= 0) {
        r.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    int n = ::poll(p, 2, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::kill(pid, SIGKILL);
      wait(pid);
      errno = e;
      throw_errno("poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(p[i].fd, buf, sizeof buf);
      if (got > 0) {
        sink[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        p[i].fd = -1;
        --open_fds;
      }
    }
    if (b.max_output > 0 && r.out.size() + r.err.size() > b.max_output) {
      r.too_large = true;
      break;
    }
  }
  if (!r.timed_out && !r.too_large && b.timeout_ms >= 0) {
    // Its output is closed, but the child may still run: the deadline
    // holds for it too.
    for (;;) {
      int status = 0;
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        r.status = exit_status(status);
        return r;
      }
      if (w < 0 && errno != EINTR) throw_errno("waitpid");
      if (clock::now() >= deadline) {
        r.timed_out = true;
        break;
      }
      ::usleep(5000);
    }
  }
  if (r.timed_out || r.too_large) ::kill(pid, SIGKILL);
  r.status = wait(pid);
  return r;
}

// Pipes for the child's stdout (out) and stderr (err) in `s`, then spawn it;
// the parent's write ends are closed once it runs.
pid_t spawn_with_pipes(Spec& s, bool out, bool err, fs::UniqueFd (&pipes)[2][2]) {
  for (int i = 0; i < 2; ++i) {
    if (!(i == 0 ? out : err)) continue;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
    pipes[i][0].reset(p[0]);
    pipes[i][1].reset(p[1]);
    (i == 0 ? s.out : s.err) = p[1];
  }
  pid_t pid = spawn(s);
  pipes[0][1].reset();
  pipes[1][1].reset();
  return pid;
}

}  // namespace

Output capture(Spec s, bool out, bool err) {
  fs::UniqueFd pipes[2][2];
  pid_t pid = spawn_with_pipes(s, out, err, pipes);
  return drain(pid, pipes, Bounds{});
}

Output capture_bounded(Spec s, const Bounds& b) {
  // The input goes into a pipe before the child exists, so that writing it
  // can neither block on a child that does not read nor raise SIGPIPE when
  // it exits first.
  constexpr size_t kMaxInput = 1 << 20;
  if (b.input.size() > kMaxInput) fail(Errc::usage, "process: input larger than 1 MiB");
  int ip[2];
  if (::pipe2(ip, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd in_r(ip[0]), in_w(ip[1]);
  if (!b.input.empty()) {
    int cap = ::fcntl(in_w.get(), F_GETPIPE_SZ);
    if (cap >= 0 && static_cast<size_t>(cap) < b.input.size() &&
        ::fcntl(in_w.get(), F_SETPIPE_SZ, static_cast<int>(b.input.size())) < 0)
      throw_errno("process: pipe of " + std::to_string(b.input.size()) + " bytes");
    fs::write_all(in_w.get(), b.input.data(), b.input.size());
  }
  in_w.reset();
  s.in = in_r.get();
  fs::UniqueFd pipes[2][2];
  pid_t pid = spawn_with_pipes(s, true, true, pipes);
  in_r.reset();
  return drain(pid, pipes, b);
}

}  // namespace ocikit::process
