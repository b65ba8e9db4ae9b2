// Running the ocikit tools for oci-api (tools.hpp).
#include "tools.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "common/error.hpp"
#include "common/process.hpp"
#include "common/text.hpp"

namespace ocikit::api {

Tools& tools() {
  static Tools t;
  return t;
}

std::string Result::message() const {
  std::string last;
  size_t start = 0;
  while (start <= err.size()) {
    size_t nl = err.find('\n', start);
    std::string line = err.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) last = line;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  auto pos = last.find(": error: ");
  if (pos != std::string::npos && pos < 40) last = last.substr(pos + 9);
  if (last.empty()) last = "exit status " + std::to_string(status);
  return last;
}

Result run_tool(const std::vector<std::string>& argv, const std::string& input, int timeout_ms) {
  process::Spec s;
  s.argv = argv;
  s.reset_signals = true;
  process::Bounds b;
  b.input = input;
  b.max_output = 256 << 20;
  b.timeout_ms = timeout_ms;
  auto o = process::capture_bounded(s, b);
  Result r{o.status, std::move(o.out), std::move(o.err)};
  if (o.timed_out) r.err += "\n" + argv[0] + ": error: timed out";
  return r;
}

Result run_oci(const std::vector<std::string>& args, const std::string& input, int timeout_ms) {
  std::vector<std::string> argv{tools().oci_run};
  argv.insert(argv.end(), tools().run_globals.begin(), tools().run_globals.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv, input, timeout_ms);
}

int status_of(const Result& r) {
  std::string m = r.message();
  std::string l;
  for (char c : m) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (l.find("no such") != std::string::npos || l.find("not found") != std::string::npos) return 404;
  if (l.find("already in use") != std::string::npos || l.find("already exists") != std::string::npos ||
      l.find("is running") != std::string::npos || l.find("not running") != std::string::npos ||
      l.find("in use") != std::string::npos || l.find("conflict") != std::string::npos)
    return 409;
  if (r.status == 2) return 400;
  return 500;
}

std::string check_oci(const std::vector<std::string>& args, const std::string& input) {
  Result r = run_oci(args, input);
  if (r.status != 0) fail_api(status_of(r), r.message());
  return r.out;
}

Child spawn_piped(const std::vector<std::string>& argv, bool with_stdin, bool tty_stdin) {
  // Every descriptor owned at once: a failure on the way leaks none.
  auto make_pipe = [](fs::UniqueFd& r, fs::UniqueFd& w) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
    r.reset(p[0]);
    w.reset(p[1]);
  };
  fs::UniqueFd in_r, in_w, out_r, out_w, err_r, err_w, pty, pty_slave;
  if (tty_stdin) {
    pty.reset(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty || grantpt(pty.get()) != 0 || unlockpt(pty.get()) != 0) throw_errno("posix_openpt");
    char name[64];
    if (ptsname_r(pty.get(), name, sizeof name) != 0) throw_errno("ptsname");
    pty_slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty_slave) throw_errno(std::string("open ") + name);
    // Raw: no echo back into the master, no ^C or newline translation.
    termios t{};
    if (tcgetattr(pty_slave.get(), &t) != 0) throw_errno("tcgetattr");
    cfmakeraw(&t);
    if (tcsetattr(pty_slave.get(), TCSANOW, &t) != 0) throw_errno("tcsetattr");
    if (with_stdin) {
      in_w.reset(fcntl(pty.get(), F_DUPFD_CLOEXEC, 0));
      if (!in_w) throw_errno("dup");
    }
  } else if (with_stdin) {
    make_pipe(in_r, in_w);
  }
  make_pipe(out_r, out_w);
  make_pipe(err_r, err_w);
  process::Spec s;
  s.argv = argv;
  s.reset_signals = true;
  s.in = tty_stdin ? pty_slave.get() : with_stdin ? in_r.get() : process::kDevNull;
  s.out = out_w.get();
  s.err = err_w.get();
  s.controlling_tty = tty_stdin;
  Child c;
  c.pid = process::spawn(s);
  c.in = std::move(in_w);
  c.out = std::move(out_r);
  c.err = std::move(err_r);
  c.pty = std::move(pty);
  return c;
}

void set_window(int pty, unsigned rows, unsigned cols) {
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (pty >= 0) ioctl(pty, TIOCSWINSZ, &ws);
}

void kill_child(Child& c) {
  if (c.pid <= 0) return;
  ::kill(c.pid, SIGKILL);
  process::wait(c.pid);
  c.pid = -1;
}

int reap_child(Child& c) {
  if (c.pid <= 0) return -1;
  int rc = process::wait(c.pid);
  c.pid = -1;
  return rc;
}

std::string frame(int stream, std::string_view data) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(data.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  f.append(data);
  return f;
}

int pump_output(Child& c, Framing f, const std::function<bool(std::string_view)>& write,
                const std::function<bool()>& gone, bool want_stdout, bool want_stderr) {
  char buf[32768];
  bool out_open = c.out.get() >= 0, err_open = c.err.get() >= 0;
  while (out_open || err_open) {
    struct pollfd p[2] = {{out_open ? c.out.get() : -1, POLLIN, 0}, {err_open ? c.err.get() : -1, POLLIN, 0}};
    int n = ::poll(p, 2, 250);
    if (n < 0 && errno != EINTR) break;
    if (gone && gone()) {
      kill_child(c);
      return -1;
    }
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(p[i].fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      bool want = i == 0 ? want_stdout : want_stderr;
      if (!want) continue;
      std::string_view d(buf, static_cast<size_t>(r));
      bool ok = f == Framing::raw ? write(d) : write(frame(i + 1, d));
      if (!ok) {
        kill_child(c);
        return -1;
      }
    }
  }
  return reap_child(c);
}

std::thread feed_body(Exchange& x, Child& c, std::string& error) {
  int in = c.in.release();
  return std::thread([&x, in, &error] {
    std::vector<char> buf(65536);
    try {
      for (;;) {
        size_t n = x.read_body(buf.data(), buf.size());
        if (n == 0) break;
        const char* p = buf.data();
        while (n > 0) {
          ssize_t w = ::write(in, p, n);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) throw std::runtime_error("the tool stopped reading the body");
          p += w;
          n -= static_cast<size_t>(w);
        }
      }
    } catch (const ApiError& e) {
      error = e.message;
    } catch (const std::exception&) {
    }
    ::close(in);
  });
}

std::thread feed_stdin(Exchange& x, Child& c, std::string leftover) {
  int in = c.in.release();
  Io* io = &x.io();
  return std::thread([io, in, leftover = std::move(leftover)] {
    auto put = [&](const char* p, size_t n) {
      while (n > 0) {
        ssize_t w = ::write(in, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
      }
      return true;
    };
    bool ok = put(leftover.data(), leftover.size());
    char buf[16384];
    while (ok) {
      if (io->serialized()) {
        // TLS: wait for data without holding the stream's lock.
        struct pollfd p = {io->fd(), POLLIN, 0};
        if (::poll(&p, 1, -1) < 0 && errno != EINTR) break;
      }
      boost::system::error_code ec;
      size_t n = io->read_some(buf, sizeof buf, ec);
      if (ec || n == 0) break;
      ok = put(buf, n);
    }
    ::close(in);
  });
}

}  // namespace ocikit::api
