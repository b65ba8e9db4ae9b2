// oci-run manage/monitor_protocol: the monitor's attach frames and the client side.
#include "manage/monitor_protocol.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::manage {

bool write_frame(int fd, Frame type, const std::string& payload) {
  std::string b(5, '\0');
  b[0] = static_cast<char>(type);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; i++) b[1 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
  b += payload;
  for (size_t off = 0; off < b.size();) {
    ssize_t w = send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return true;
}

bool FrameReader::fill(int fd) {
  char tmp[16384];
  ssize_t n = read(fd, tmp, sizeof tmp);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  buf_.append(tmp, static_cast<size_t>(n));
  return true;
}

std::optional<std::pair<Frame, std::string>> FrameReader::next() {
  if (buf_.size() < 5) return std::nullopt;
  uint32_t n = 0;
  for (int i = 0; i < 4; i++) n |= static_cast<uint32_t>(static_cast<unsigned char>(buf_[1 + i])) << (8 * i);
  if (buf_.size() < 5 + static_cast<size_t>(n)) return std::nullopt;
  auto out = std::make_pair(static_cast<Frame>(buf_[0]), buf_.substr(5, n));
  buf_.erase(0, 5 + static_cast<size_t>(n));
  return out;
}

namespace {

// sun_path holds 108 bytes; a state dir under a deep temp dir is longer, so
// the socket is named through an O_PATH descriptor of its directory.
template <class F>
int with_socket_path(const std::string& dir, F&& fn) {
  fs::UniqueFd d(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!d) throw_errno("open " + dir);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string p = "/proc/self/fd/" + std::to_string(d.get()) + "/attach.sock";
  std::strncpy(a.sun_path, p.c_str(), sizeof a.sun_path - 1);
  return fn(a);
}

}  // namespace

int connect_attach(const std::string& dir) {
  return with_socket_path(dir, [&](sockaddr_un& a) {
    fs::UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw_errno("connect to the container monitor (" + dir + "/attach.sock)");
    return s.release();
  });
}

int listen_attach(const std::string& dir) {
  unlink((dir + "/attach.sock").c_str());
  return with_socket_path(dir, [&](sockaddr_un& a) {
    fs::UniqueFd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    if (bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s.get(), 8) != 0)
      throw_errno("listen on " + dir + "/attach.sock");
    return s.release();
  });
}

std::string parse_detach_keys(const std::string& spec) {
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    std::string k = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (k.size() == 1) {
      out += k;
    } else if (k.rfind("ctrl-", 0) == 0 && k.size() == 6) {
      char c = k[5];
      if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 1);
      else if (c == '@') out += '\0';
      else if (c >= '[' && c <= '_') out += static_cast<char>(c - '[' + 27);
      else fail(Errc::usage, "invalid detach keys \"" + spec + "\": unknown key \"" + k + "\"");
    } else {
      fail(Errc::usage, "invalid detach keys \"" + spec + "\": unknown key \"" + k + "\"");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

namespace {

std::string window_json(int fd) {
  winsize ws{};
  if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0) return "";
  return nlohmann::json{{"rows", ws.ws_row}, {"cols", ws.ws_col}}.dump();
}

void write_out(int fd, const std::string& s) {
  // Our stdout may be a closed pipe: the container's output is then dropped.
  for (size_t off = 0; off < s.size();) {
    ssize_t w = write(fd, s.data() + off, s.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(w);
  }
}

}  // namespace

int attach_session(int fd, const AttachOptions& o) {
  // Signals arrive through a signalfd: SIGWINCH always, the proxied ones
  // without a tty (with one, ^C is a byte the pty turns into SIGINT).
  // Blocked before the hello reads the window size, so that a resize in
  // between is not lost.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  const int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  bool proxy = o.sig_proxy && !o.tty && !o.wait_started;
  if (proxy)
    for (int s : proxied) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, &old);
  // A signal ignored on entry (SIGINT of a background job) would never
  // reach the signalfd: take the default (blocked, so it only queues).
  if (proxy)
    for (int s : proxied) signal(s, SIG_DFL);
  fs::UniqueFd sfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  nlohmann::json hello = {{"stdin", o.stdin}};
  if (std::string w = window_json(0); !w.empty()) {
    auto j = nlohmann::json::parse(w);
    hello["rows"] = j["rows"];
    hello["cols"] = j["cols"];
  }
  if (!write_frame(fd, Frame::kHello, hello.dump())) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    throw_errno("talk to the container monitor");
  }
  struct Restore {
    sigset_t old;
    termios saved{};
    bool raw = false;
    ~Restore() {
      if (raw) tcsetattr(0, TCSADRAIN, &saved);
      sigprocmask(SIG_SETMASK, &old, nullptr);
    }
  } restore{old};
  if (o.stdin && o.tty && isatty(0) && tcgetattr(0, &restore.saved) == 0) {
    termios raw = restore.saved;
    cfmakeraw(&raw);
    if (tcsetattr(0, TCSANOW, &raw) == 0) restore.raw = true;
  }

  FrameReader rd;
  bool in_open = o.stdin && !o.wait_started;
  size_t key_match = 0;  // detach keys seen so far
  for (;;) {
    pollfd fds[3] = {{fd, POLLIN, 0}, {sfd.get(), POLLIN, 0}, {in_open ? 0 : -1, POLLIN, 0}};
    int n = poll(fds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (fds[1].revents) {
      signalfd_siginfo si;
      while (read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGWINCH) {
          if (std::string w = window_json(0); !w.empty()) write_frame(fd, Frame::kResize, w);
        } else {
          write_frame(fd, Frame::kSignal, std::to_string(si.ssi_signo));
        }
      }
    }
    if (fds[2].revents) {
      char buf[4096];
      ssize_t r = read(0, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        in_open = false;
        write_frame(fd, Frame::kStdinEof, "");
      } else {
        std::string out;
        for (ssize_t i = 0; i < r; i++) {
          char c = buf[i];
          if (o.tty && !o.detach_keys.empty() && c == o.detach_keys[key_match]) {
            if (++key_match == o.detach_keys.size()) {
              write_frame(fd, Frame::kStdin, out);
              return 0;  // detached: the container runs on
            }
            continue;
          }
          if (key_match) out.append(o.detach_keys, 0, key_match), key_match = 0;
          out += c;
        }
        if (!out.empty() && !write_frame(fd, Frame::kStdin, out)) in_open = false;
      }
    }
    if (fds[0].revents) {
      bool open = rd.fill(fd);
      while (auto f = rd.next()) {
        switch (f->first) {
          case Frame::kStdout: write_out(1, f->second); break;
          case Frame::kStderr: write_out(2, f->second); break;
          case Frame::kStarted:
            if (o.wait_started) return 0;
            break;
          case Frame::kExit: return std::atoi(f->second.c_str());
          case Frame::kFailed: {
            int code = std::atoi(f->second.c_str());
            auto sp = f->second.find(' ');
            std::string msg = sp == std::string::npos ? "the container could not start" : f->second.substr(sp + 1);
            throw Error(code == 127 ? Errc::cmd_not_found : code == 126 ? Errc::cmd_cannot_run : Errc::failure, msg);
          }
          default: break;
        }
      }
      if (!open) fail(Errc::io, "lost the connection to the container monitor");
    }
  }
}

}  // namespace ocikit::manage
