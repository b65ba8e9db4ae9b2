// oci-run manage/monitor: what conmon does for podman. One process per
// running container mounts its rootfs, runs `oci-run --root R run --bundle B
// ID` with the container's stdio on pipes (or a pty), writes the json-file
// log, records start/exit in the record, applies the restart policy and
// cleans up at the end (unmount; --rm: remove the container and its
// anonymous volumes). The runtime's delete runs the poststop hooks (oci-net).
//
// Attached (`run` without -d) the oci-run client is the monitor itself and
// also copies the streams to its terminal. Detached, `start` double-forks a
// setsid monitor with /dev/null stdio so it outlives the client:
//
//   client ──fork──> child ──setsid, fork──> monitor ──fork/exec──> oci-run run (runtime)
//     │                 └─ exits at once            │   pipes/pty ◄── container stdio
//     └─ waits for the record to leave "created"    └─ record: running → exited
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/snapshot.hpp"
#include "manage/manage.hpp"
#include "manage/monitor.hpp"
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

int supervise(const Globals& g, const StateDir& st, const std::string& id, const Attach* attach) {
  Record r = st.load(id);
  fs::UniqueFd log_fd(open(st.log_path(id).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!log_fd) throw_errno("open " + st.log_path(id));
  pid_t self = getpid();
  uint64_t self_start = pid_start_time(self);
  int code = 125;
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
    if (attach) {
      t.out_fd = attach->out_fd;
      t.err_fd = attach->err_fd;
      t.in_fd = r.interactive ? attach->in_fd : -1;
      t.raw_terminal = r.tty && r.interactive;
      if (r.tty && t.in_fd < 0) t.in_fd = attach->in_fd;  // window size only
    }
    auto make_argv = [&](const std::string& console) {
      std::vector<std::string> a = {"oci-run", "--root", r.runtime_root};
      for (const auto& f : g.runtime_flags) a.push_back(f);
      a.insert(a.end(), {"run", "--bundle", st.bundle_dir(id)});
      if (!console.empty()) a.insert(a.end(), {"--console-socket", console});
      a.push_back(id);
      return a;
    };
    code = spawn_and_relay(g.self_exe, make_argv, t, [&](pid_t pid) {
      r = st.update(id, [&](Record& x) {
        x.status = "running";
        x.started = log::now_rfc3339();
        x.pid = pid;
        x.monitor_pid = self;
        x.monitor_start = self_start;
      });
    });
    r = st.update(id, [&](Record& x) {
      x.exit_code = code;
      x.finished = log::now_rfc3339();
      x.pid = 0;
      x.status = should_restart(x, code) ? "restarting" : "exited";
      if (x.status == "restarting") x.restart_count++;
    });
    if (r.status != "restarting") break;
    // docker's back-off: 100ms doubling, here capped at 2s.
    int delay = 100 << std::min(r.restart_count - 1, 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(delay, 2000)));
    r = st.load(id);
    if (r.manually_stopped) {
      r = st.update(id, [&](Record& x) { x.status = "exited"; });
      break;
    }
  }
  auto lock = st.lock();
  Record last = st.load(id);
  last.monitor_pid = 0;
  last.monitor_start = 0;
  if (last.auto_remove) {
    release_container(st, last, true);
  } else {
    st.save(last);
    release_container(st, last, false);
  }
  return code;
}

void spawn_monitor(const Globals& g, const StateDir& st, const std::string& id) {
  pid_t child = fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    setsid();
    pid_t grand = fork();
    if (grand != 0) _exit(grand < 0 ? 1 : 0);
    // The monitor: no terminal, no inherited stdio, cwd "/".
    if (chdir("/") != 0) _exit(1);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    if (null_fd > 2) close(null_fd);
    for (int sig : {SIGINT, SIGHUP}) signal(sig, SIG_IGN);
    int rc = 0;
    try {
      rc = supervise(g, st, id, nullptr);
    } catch (const std::exception& e) {
      // Nobody reads the monitor's stderr: leave the reason in the log.
      try {
        std::string line = json_log_line(std::string("oci-run: error: ") + e.what() + "\n", "stderr", log::now_rfc3339());
        fs::UniqueFd fd(open(st.log_path(id).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        if (fd) fs::write_all(fd.get(), line.data(), line.size());
      } catch (...) {
      }
      rc = 125;
    }
    _exit(rc & 0xff);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // Return once the monitor has started the runtime (or already finished),
  // so that ps, logs and stop right after `run -d` see the container.
  for (int i = 0; i < 400; i++) {
    Record r = st.load(id);
    if (r.status != "created" && r.status != "creating") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace ocikit::manage
