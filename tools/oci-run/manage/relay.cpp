// oci-run manage/relay: a runtime child with piped stdio (or a pty from the
// console socket), its output copied to the json-file log and the caller.
#include "manage/relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "manage/manage.hpp"
#include "router.hpp"

namespace ocikit::manage {

std::string json_log_line(const std::string& text, const std::string& stream, const std::string& time) {
  nlohmann::json j = {{"log", text}, {"stream", stream}, {"time", time}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

pid_t g_child = 0;
void forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

// Splits a stream into lines for the log (a partial line waits for its end
// or for EOF) and copies raw bytes to the attached descriptor.
struct Stream {
  int fd = -1;
  std::string name;
  int attach = -1;
  std::string partial;
  bool open() const { return fd >= 0; }
};

void write_quietly(int fd, const char* p, size_t n) {
  // The attached terminal may go away (a closed pipe): the container keeps
  // running and logging, so write errors are not fatal here.
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void log_lines(Stream& s, int log_fd, const char* p, size_t n, bool flush) {
  if (log_fd < 0) return;
  s.partial.append(p, n);
  size_t start = 0;
  for (;;) {
    size_t nl = s.partial.find('\n', start);
    if (nl == std::string::npos) break;
    std::string line = json_log_line(s.partial.substr(start, nl + 1 - start), s.name, log::now_rfc3339());
    write_quietly(log_fd, line.data(), line.size());
    start = nl + 1;
  }
  s.partial.erase(0, start);
  if ((flush || s.partial.size() > 16384) && !s.partial.empty()) {
    std::string line = json_log_line(s.partial, s.name, log::now_rfc3339());
    write_quietly(log_fd, line.data(), line.size());
    s.partial.clear();
  }
}

int recv_fd(int sock) {
  char data[256];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  return -1;
}

}  // namespace

void apply_window(const std::string& json, WindowSize& w, int pty_fd) {
  try {
    auto j = nlohmann::json::parse(json);
    auto rows = j.value("rows", static_cast<unsigned short>(0));
    auto cols = j.value("cols", static_cast<unsigned short>(0));
    // A hello without a size (a client whose stdin is no terminal) keeps
    // the size another client (or `oci-run resize`) set.
    if (!rows || !cols) return;
    w.rows = rows;
    w.cols = cols;
  } catch (const std::exception&) {
    return;  // a malformed frame changes nothing
  }
  if (pty_fd >= 0 && w.rows && w.cols) {
    winsize ws{};
    ws.ws_row = w.rows;
    ws.ws_col = w.cols;
    ioctl(pty_fd, TIOCSWINSZ, &ws);
  }
}

int spawn_and_relay(const std::string& exe,
                    const std::function<std::vector<std::string>(const std::string&)>& make_argv, const RelayTarget& t,
                    const std::function<void(pid_t)>& on_spawn) {
  return relay_process(exe, make_argv, t, on_spawn).status;
}

RelayResult relay_process(const std::string& exe,
                          const std::function<std::vector<std::string>(const std::string&)>& make_argv,
                          const RelayTarget& t, const std::function<void(pid_t)>& on_spawn) {
  std::string sock_dir, sock_path;
  fs::UniqueFd listen_fd;
  if (t.tty) {
    char tmpl[] = "/tmp/oci-run-console-XXXXXX";
    if (!mkdtemp(tmpl)) throw_errno("mkdtemp /tmp/oci-run-console-XXXXXX");
    sock_dir = tmpl;
    sock_path = sock_dir + "/sock";
    listen_fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock_path.c_str(), sizeof a.sun_path - 1);
    if (!listen_fd || bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listen_fd.get(), 1) != 0) {
      int e = errno;
      fs::remove_all(sock_dir);
      throw_errno("console socket " + sock_path, e);
    }
  }
  struct DirGuard {
    std::string d;
    ~DirGuard() {
      if (!d.empty()) rmdir_all();
    }
    void rmdir_all() {
      try {
        fs::remove_all(d);
      } catch (...) {
      }
    }
  } guard{sock_dir};

  std::vector<std::string> args = make_argv(sock_path);
  int out_p[2], err_p[2];
  if (pipe2(out_p, O_CLOEXEC) != 0) throw_errno("pipe");
  if (pipe2(err_p, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd stdin_w, stdin_r;
  if (t.stdin_pipe && !t.tty) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
    stdin_r.reset(p[0]);
    stdin_w.reset(p[1]);
  }
  int in_fd = stdin_r ? stdin_r.get() : (!t.tty && t.in_fd >= 0) ? t.in_fd : -1;
  if (!t.pid_file.empty()) unlink(t.pid_file.c_str());

  // The pid file shows up through inotify on its directory.
  fs::UniqueFd ino;
  if (!t.pid_file.empty()) {
    ino.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (ino)
      inotify_add_watch(ino.get(), t.pid_file.substr(0, t.pid_file.rfind('/')).c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
  }
  // SIGWINCH of our own terminal (exec -t) is copied to the pty.
  bool own_winch = t.tty && t.in_fd >= 0 && isatty(t.in_fd);
  sigset_t winch, old_mask;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  fs::UniqueFd winch_fd;
  if (own_winch) {
    sigprocmask(SIG_BLOCK, &winch, &old_mask);
    winch_fd.reset(signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK));
  }

  // The runtime it runs names managed containers by id: it must not route back here.
  std::vector<std::string> env;
  std::string route = std::string(run::kRouteEnv) + "=";
  for (char** e = environ; *e; ++e)
    if (strncmp(*e, route.c_str(), route.size()) != 0) env.emplace_back(*e);
  env.push_back(route + run::route_name(run::Route::runtime));
  pid_t pid;
  try {
    pid = process::spawn({.argv = args,
                          .env = env,
                          .in = in_fd >= 0 ? in_fd : process::kDevNull,
                          .out = out_p[1],
                          .err = err_p[1],
                          .reset_signals = true,
                          .path = exe});
  } catch (...) {
    for (int fd : {out_p[0], out_p[1], err_p[0], err_p[1]}) close(fd);
    throw;
  }
  close(out_p[1]);
  close(err_p[1]);
  stdin_r.reset();
  g_child = pid;
  struct sigaction sa {
  }, old_int, old_term, old_hup;
  sa.sa_handler = forward;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  signal(SIGPIPE, SIG_IGN);
  if (on_spawn) on_spawn(pid);

  RelayResult res;
  res.started = t.pid_file.empty();
  Stream out{out_p[0], "stdout", t.tty ? -1 : t.out_fd, {}};
  Stream err{err_p[0], "stderr", t.err_fd, {}};
  Stream master{-1, "stdout", t.out_fd, {}};
  // Output held back until the pid file shows up: (stream, bytes).
  std::vector<std::pair<Stream*, std::string>> held;
  bool in_open = t.tty && t.in_fd >= 0;
  termios saved{};
  bool restored = true;
  auto restore = [&] {
    if (!restored) tcsetattr(t.in_fd, TCSADRAIN, &saved);
    restored = true;
  };
  auto drop_stdin = [&] { stdin_w.reset(); };

  auto deliver = [&](Stream& s, const char* p, size_t n) {
    if (s.attach >= 0) write_quietly(s.attach, p, n);
    if (t.clients) {
      Frame f = s.name == "stderr" ? Frame::kStderr : Frame::kStdout;
      std::string data(p, n);
      for (auto it = t.clients->begin(); it != t.clients->end();) {
        if (write_frame(it->fd.get(), f, data)) ++it;
        else it = t.clients->erase(it);
      }
    }
    log_lines(s, t.log_fd, p, n, false);
  };
  auto mark_started = [&] {
    if (res.started) return;
    res.started = true;
    pid_t init = 0;
    try {
      init = static_cast<pid_t>(std::stol(fs::read_file(t.pid_file)));
    } catch (...) {
    }
    if (t.clients)
      for (auto it = t.clients->begin(); it != t.clients->end();) {
        if (write_frame(it->fd.get(), Frame::kStarted, std::to_string(init))) ++it;
        else it = t.clients->erase(it);
      }
    if (t.on_started) t.on_started(init);
    for (auto& [s, bytes] : held) deliver(*s, bytes.data(), bytes.size());
    held.clear();
  };
  auto emit = [&](Stream& s, const char* p, size_t n) {
    if (!res.started && access(t.pid_file.c_str(), F_OK) == 0) mark_started();
    if (res.started) deliver(s, p, n);
    else held.emplace_back(&s, std::string(p, n));
  };
  // Read what is there; false at EOF or error (EIO on a pty master whose
  // slaves are all closed).
  auto pump_stream = [&](Stream& s) {
    char buf[16384];
    ssize_t n = read(s.fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      log_lines(s, t.log_fd, nullptr, 0, true);
      close(s.fd);
      s.fd = -1;
      return false;
    }
    emit(s, buf, static_cast<size_t>(n));
    return true;
  };
  std::string pending_in;
  auto client_frame = [&](AttachClient& c, Frame f, const std::string& data) {
    switch (f) {
      case Frame::kHello: try { c.want_stdin = nlohmann::json::parse(data).value("stdin", false);
        } catch (const std::exception&) {
        }
        if (t.window) apply_window(data, *t.window, master.fd);
        break;
      case Frame::kResize:
        if (t.window) apply_window(data, *t.window, master.fd);
        break;
      case Frame::kStdin:
        if (t.tty && master.fd < 0) pending_in += data;  // typed before the pty arrived
        else if (t.tty) write_quietly(master.fd, data.data(), data.size());
        else if (stdin_w) write_quietly(stdin_w.get(), data.data(), data.size());
        break;
      case Frame::kStdinEof:
        if (!t.tty) drop_stdin();
        break;
      case Frame::kSignal:
        if (int sig = std::atoi(data.c_str()); sig > 0 && sig < NSIG) kill(pid, sig);
        break;
      default: break;
    }
  };

  // Frames that arrived with a client's hello (stdin typed or piped at once)
  // wait in its reader: handle them now, poll only reports new bytes.
  if (t.clients)
    for (auto& c : *t.clients)
      while (auto f = c.reader.next()) client_frame(c, f->first, f->second);

  int status = 0;
  bool exited = false;
  while (!exited || out.open() || err.open()) {
    std::vector<pollfd> fds;
    auto add = [&](int fd) {
      if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    };
    add(out.fd);
    add(err.fd);
    add(master.fd);
    if (listen_fd) add(listen_fd.get());
    if (in_open && master.fd >= 0) add(t.in_fd);
    add(ino.get());
    add(winch_fd.get());
    add(t.listen_fd);
    size_t first_client = fds.size();
    if (t.clients)
      for (auto& c : *t.clients) add(c.fd.get());
    if (out.open() || err.open()) {
      int n = poll(fds.data(), fds.size(), -1);
      if (n < 0 && errno != EINTR) throw_errno("poll");
      if (n <= 0) continue;
    } else {
      // Both pipes closed: the runtime is exiting; reap it, then drain the pty.
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      exited = true;
      break;
    }
    std::vector<int> dead_clients;
    for (size_t i = 0; i < fds.size(); i++) {
      auto& p = fds[i];
      if (!p.revents) continue;
      if (i >= first_client) {
        auto it = std::find_if(t.clients->begin(), t.clients->end(), [&](auto& c) { return c.fd.get() == p.fd; });
        if (it == t.clients->end()) continue;
        bool alive = it->reader.fill(p.fd);
        while (auto f = it->reader.next()) client_frame(*it, f->first, f->second);
        if (!alive) {
          // docker's StdinOnce: the container's piped stdin closes with the client that fed it.
          if (it->want_stdin) drop_stdin();
          t.clients->erase(it);
        }
        continue;
      }
      if (p.fd == out.fd) pump_stream(out);
      else if (p.fd == err.fd) pump_stream(err);
      else if (p.fd == master.fd) pump_stream(master);
      else if (p.fd == ino.get()) {
        char buf[4096];
        while (read(ino.get(), buf, sizeof buf) > 0) {
        }
        if (!res.started && access(t.pid_file.c_str(), F_OK) == 0) mark_started();
      } else if (p.fd == winch_fd.get()) {
        signalfd_siginfo si;
        while (read(winch_fd.get(), &si, sizeof si) > 0) {
        }
        winsize ws{};
        if (master.fd >= 0 && ioctl(t.in_fd, TIOCGWINSZ, &ws) == 0) ioctl(master.fd, TIOCSWINSZ, &ws);
      } else if (p.fd == t.listen_fd) {
        int c = accept4(t.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0 && t.clients) {
          t.clients->push_back({});
          t.clients->back().fd.reset(c);
          if (res.started) write_frame(c, Frame::kStarted, "");
        } else if (c >= 0) {
          close(c);
        }
      } else if (listen_fd && p.fd == listen_fd.get()) {
        fs::UniqueFd conn(accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (conn) {
          master.fd = recv_fd(conn.get());
          listen_fd.reset();
          if (master.fd >= 0 && t.window && t.window->rows) {
            winsize ws{};
            ws.ws_row = t.window->rows;
            ws.ws_col = t.window->cols;
            ioctl(master.fd, TIOCSWINSZ, &ws);
          }
          if (master.fd >= 0 && !pending_in.empty()) {
            write_quietly(master.fd, pending_in.data(), pending_in.size());
            pending_in.clear();
          }
          if (master.fd >= 0 && t.in_fd >= 0 && isatty(t.in_fd)) {
            winsize ws{};
            if (ioctl(t.in_fd, TIOCGWINSZ, &ws) == 0) ioctl(master.fd, TIOCSWINSZ, &ws);
            if (t.raw_terminal && tcgetattr(t.in_fd, &saved) == 0) {
              termios raw = saved;
              cfmakeraw(&raw);
              if (tcsetattr(t.in_fd, TCSANOW, &raw) == 0) restored = false;
            }
          }
        }
      } else if (p.fd == t.in_fd) {
        char buf[4096];
        ssize_t n = read(t.in_fd, buf, sizeof buf);
        if (n <= 0) in_open = false;
        else write_quietly(master.fd, buf, static_cast<size_t>(n));
      }
    }
  }
  if (!exited)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  if (master.fd >= 0) {
    // What the container wrote last is still in the pty: drain it without blocking.
    fcntl(master.fd, F_SETFL, fcntl(master.fd, F_GETFL) | O_NONBLOCK);
    while (master.fd >= 0) {
      pollfd p{master.fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) break;
      pump_stream(master);
    }
    if (master.fd >= 0) {
      log_lines(master, t.log_fd, nullptr, 0, true);
      close(master.fd);
    }
  }
  if (!res.started && !t.pid_file.empty() && access(t.pid_file.c_str(), F_OK) == 0) mark_started();
  if (!res.started)
    for (auto& h : held) res.early_output += h.second;
  restore();
  if (own_winch) sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  g_child = 0;
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

}  // namespace ocikit::manage
