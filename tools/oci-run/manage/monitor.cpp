// oci-run manage/monitor: what conmon does for podman. One process per
// running container mounts its rootfs, runs `oci-run --root R run --bundle B
// ID` with the container's stdio on pipes (or a pty), writes the json-file
// log, records start/exit in the record, applies the restart policy and
// cleans up at the end (unmount; --rm: remove the container and its
// anonymous volumes). The runtime's delete runs the poststop hooks (oci-net).
//
// Every container, foreground or not, runs under such a setsid monitor with
// /dev/null stdio, so that it outlives the client; the client stays
// connected through a socketpair (monitor_protocol.hpp) and, in the foreground, copies
// the streams to its terminal. A killed client leaves the container managed.
//
//   client ──fork──> child ──setsid, fork──> monitor ──fork/exec──> oci-run run --pid-file (runtime)
//     │                 └─ exits at once            │   pipes/pty ◄── container stdio
//     └─ socketpair: hello ─► ◄─ kStarted/output/kExit  └─ attach.sock for `attach`
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/snapshot.hpp"
#include "manage/health.hpp"
#include "manage/manage.hpp"
#include "manage/monitor.hpp"
#include "manage/parse.hpp"
#include "manage/relay.hpp"

namespace ocikit::manage {

namespace {

bool is_mount_point(const std::string& path) {
  struct stat a, b;
  if (stat(path.c_str(), &a) != 0 || stat((path + "/..").c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

bool should_restart(const Record& r, int code) {
  if (r.manually_stopped) return false;
  if (r.restart_policy == "always" || r.restart_policy == "unless-stopped") return true;
  if (r.restart_policy == "on-failure") return code != 0 && (r.restart_max == 0 || r.restart_count < r.restart_max);
  return false;
}

}  // namespace

void mount_container_rootfs(const StateDir& st, const Record& r) {
  std::string rootfs = st.rootfs_dir(r.id);
  if (is_mount_point(rootfs)) return;
  snapshot::mount_rootfs(r.layers, st.upper_dir(r.id), st.work_dir(r.id), rootfs);
}

void release_container(const StateDir& st, const Record& r, bool remove) {
  try {
    snapshot::unmount_rootfs(st.rootfs_dir(r.id));
  } catch (const Error& e) {
    log::warn(e.what());
  }
  if (!remove) return;
  st.remove(r.id);
  for (const auto& v : r.volumes_created) fs::remove_all(st.volumes_dir() + "/" + v);
}

namespace {

// Read a client's hello before the start: its stdin wish and window size.
void read_hello(AttachClient& c, WindowSize& window) {
  for (int i = 0; i < 100; i++) {
    pollfd p{c.fd.get(), POLLIN, 0};
    if (poll(&p, 1, 50) < 0 && errno != EINTR) return;
    if (p.revents && !c.reader.fill(c.fd.get())) return;
    if (auto f = c.reader.next()) {
      if (f->first != Frame::kHello) return;
      try {
        c.want_stdin = nlohmann::json::parse(f->second).value("stdin", false);
      } catch (const std::exception&) {
      }
      apply_window(f->second, window, -1);
      return;
    }
  }
}

void tell_clients(std::vector<AttachClient>& clients, Frame f, const std::string& payload) {
  for (auto& c : clients) write_frame(c.fd.get(), f, payload);
}

// The runtime's last error line ("oci-run: error: MSG"), in docker's words.
std::string start_error(const std::string& output, int code) {
  std::string text = output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::string line = text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  for (const char* prefix : {"oci-run: error: "})
    if (line.rfind(prefix, 0) == 0) line = line.substr(std::strlen(prefix));
  if (line.empty()) line = "the container exited with " + std::to_string(code) + " before it started";
  return docker_exec_error(line);
}

// Sleep `delay` in short steps; false as soon as the container is stopped
// by hand (stop, kill, rm -f) or removed.
bool wait_backoff(const StateDir& st, const std::string& id, std::chrono::milliseconds delay) {
  auto end = std::chrono::steady_clock::now() + delay;
  for (;;) {
    try {
      if (st.load(id).manually_stopped) return false;
    } catch (const Error&) {
      return false;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= end) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(end - now, std::chrono::milliseconds(50)));
  }
}

}  // namespace

int supervise(const Globals& g, const StateDir& st, const std::string& id, std::vector<AttachClient> clients) {
  Record r = st.load(id);
  fs::UniqueFd log_fd(open(st.log_path(id).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!log_fd) throw_errno("open " + st.log_path(id));
  pid_t self = getpid();
  uint64_t self_start = pid_start_time(self);
  WindowSize window;
  for (auto& c : clients) read_hello(c, window);
  fs::UniqueFd attach_fd(listen_attach(st.container_dir(id)));
  std::string pid_file = st.container_dir(id) + "/init.pid";
  int code = 125;
  bool failed = false;
  std::string error;
  std::chrono::milliseconds backoff{0};
  auto started_at = std::chrono::steady_clock::now();
  for (;;) {
    try {
      mount_container_rootfs(st, r);
    } catch (const Error& e) {
      // The record says why; the container cannot run without its rootfs.
      st.update(id, [&](Record& x) {
        x.status = "exited";
        x.exit_code = 125;
        x.finished = log::now_rfc3339();
        x.monitor_pid = 0;
      });
      throw;
    }
    RelayTarget t;
    t.log_fd = log_fd.get();
    t.tty = r.tty;
    t.stdin_pipe = r.interactive;
    t.listen_fd = attach_fd.get();
    t.clients = &clients;
    t.window = &window;
    t.pid_file = pid_file;
    pid_t checker = 0;
    t.on_started = [&](pid_t init) {
      started_at = std::chrono::steady_clock::now();
      r = st.update(id, [&](Record& x) {
        if (init > 0) x.pid = init;
        x.started = log::now_rfc3339();
        x.error.clear();
      });
      container_event(r, "start");
      try {
        checker = start_health_checker(g, st, r);
      } catch (const Error& e) {
        log::warn(std::string("health check: ") + e.what());
      }
    };
    auto make_argv = [&](const std::string& console) {
      std::vector<std::string> a = {"oci-run", "--root", r.runtime_root};
      for (const auto& f : g.runtime_flags) a.push_back(f);
      a.insert(a.end(), {"run", "--bundle", st.bundle_dir(id), "--pid-file", pid_file});
      if (!console.empty()) a.insert(a.end(), {"--console-socket", console});
      a.push_back(id);
      return a;
    };
    RelayResult res = relay_process(g.self_exe, make_argv, t, [&](pid_t pid) {
      r = st.update(id, [&](Record& x) {
        x.status = "running";
        x.pid = pid;
        x.monitor_pid = self;
        x.monitor_start = self_start;
      });
    });
    stop_health_checker(checker);  // a stopped container's checks stop
    code = res.status;
    bool ran_long = false;
    if (res.started) {
      auto ran = std::chrono::steady_clock::now() - started_at;
      ran_long = ran >= std::chrono::seconds(10);
    }
    if (!res.started) {
      // The process never ran (not found, not executable, a hook or the
      // runtime failed): docker leaves such a container "created", unless
      // its restart policy asks for another try (then "restarting", with
      // the same back-off as after an exit).
      if (code == 0) code = 125;
      error = start_error(res.early_output, code);
      r = st.update(id, [&](Record& x) {
        x.exit_code = code;
        x.error = error;
        x.pid = 0;
        x.finished = log::now_rfc3339();
        x.status = should_restart(x, code) ? "restarting" : "created";
        if (x.status == "restarting") x.restart_count++;
      });
      if (r.status != "restarting") {
        failed = true;
        break;
      }
      container_event(r, "die", {{"exitCode", std::to_string(code)}});
      // The clients waiting for this start learn that it failed; the
      // monitor goes on trying.
      tell_clients(clients, Frame::kFailed, std::to_string(code) + " " + error);
      clients.clear();
    } else {
      container_event(r, "die", {{"exitCode", std::to_string(code)}});
      r = st.update(id, [&](Record& x) {
        x.exit_code = code;
        x.finished = log::now_rfc3339();
        x.pid = 0;
        x.status = should_restart(x, code) ? "restarting" : "exited";
        if (x.status == "restarting") x.restart_count++;
      });
      if (r.status != "restarting") break;
    }
    // dockerd's restart manager: 100 ms, doubling up to a minute, back to
    // 100 ms after a run of 10 s or more.
    backoff = (ran_long || backoff.count() == 0) ? std::chrono::milliseconds(100)
                                                 : std::min(backoff * 2, std::chrono::milliseconds(60000));
    if (!wait_backoff(st, id, backoff)) {
      r = st.update(id, [&](Record& x) { x.status = x.status == "restarting" ? "exited" : x.status; });
      break;
    }
    r = st.load(id);
    container_event(r, "restart");
  }
  attach_fd.reset();
  unlink((st.container_dir(id) + "/attach.sock").c_str());
  unlink(pid_file.c_str());
  {
    auto lock = st.lock();
    Record last = st.load(id);
    last.monitor_pid = 0;
    last.monitor_start = 0;
    if (last.auto_remove) {
      release_container(st, last, true);
      // As dockerd after an AutoRemove: "destroy" says the name is free
      // (clients such as docker run --rm wait for it).
      container_event(last, "destroy");
    } else {
      st.save(last);
      release_container(st, last, false);
    }
  }
  // After the cleanup: `run --rm` returns once the name is free again.
  if (failed) tell_clients(clients, Frame::kFailed, std::to_string(code) + " " + error);
  else tell_clients(clients, Frame::kExit, std::to_string(code));
  return code;
}

int spawn_monitor(const Globals& g, const StateDir& st, const std::string& id, const AttachOptions* attach) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    setsid();
    pid_t grand = fork();
    if (grand != 0) _exit(grand < 0 ? 1 : 0);
    // The monitor: no terminal, no inherited stdio or other descriptors
    // (a bats fd 3 held open would hang the test run), cwd "/".
    if (chdir("/") != 0) _exit(1);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (sv[1] != 3) {
      dup3(sv[1], 3, O_CLOEXEC);
    }
    syscall(SYS_close_range, 4U, ~0U, 0U);
    for (int sig : {SIGINT, SIGHUP}) signal(sig, SIG_IGN);
    std::vector<AttachClient> clients(1);
    clients[0].fd.reset(3);
    int rc = 0;
    try {
      rc = supervise(g, st, id, std::move(clients));
    } catch (const std::exception& e) {
      // Nobody reads the monitor's stderr: leave the reason in the log, and
      // tell the client waiting for the start.
      write_frame(3, Frame::kFailed, std::string("125 ") + e.what());
      try {
        std::string line =
            json_log_line(std::string("oci-run: error: ") + e.what() + "\n", "stderr", log::now_rfc3339());
        fs::UniqueFd fd(open(st.log_path(id).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        if (fd) fs::write_all(fd.get(), line.data(), line.size());
      } catch (...) {
      }
      rc = 125;
    }
    _exit(rc & 0xff);
  }
  close(sv[1]);
  fs::UniqueFd conn(sv[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  AttachOptions detached;
  detached.wait_started = true;
  return attach_session(conn.get(), attach ? *attach : detached);
}

}  // namespace ocikit::manage
