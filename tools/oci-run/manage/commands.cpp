// oci-run manage/commands: run, start, stop, kill, restart, rm, wait, exec.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/users.hpp"
#include "container.hpp"
#include "manage/monitor_protocol.hpp"
#include "manage/manage.hpp"
#include "router.hpp"
#include "manage/monitor.hpp"
#include "manage/parse.hpp"
#include "manage/relay.hpp"
#include "state.hpp"

namespace ocikit::manage {

namespace {

StateDir state_of(const Globals& g) { return StateDir(g.state_dir.empty() ? default_state_dir() : g.state_dir); }

bool runtime_has(const Record& r) { return fs::exists(r.runtime_root + "/" + r.id + "/state.json"); }

bool running(const Record& r) {
  std::string s = live_status(r);
  return s == "running" || s == "restarting";
}

// Poll until `done()` or `timeout_ms` passes; true when done.
template <class F>
bool wait_for(F&& done, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (done()) return true;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A container whose monitor died (killed, reboot) may still run under the
// runtime: kill and delete it there, then fix the record.
void reap_orphan(const StateDir& st, const std::string& id) {
  Record r = st.load(id);
  if (live_status(r) != "exited" || (r.status != "running" && r.status != "restarting")) return;
  if (runtime_has(r)) {
    try {
      run::delete_container(r.runtime_root, id, true);
    } catch (const Error& e) {
      log::warn(e.what());
    }
  }
  st.update(id, [&](Record& x) {
    x.status = "exited";
    x.exit_code = 137;
    x.finished = log::now_rfc3339();
    x.monitor_pid = 0;
    x.pid = 0;
  });
  release_container(st, r, false);
}

// The monitor marks the record running as it starts the runtime, a moment
// before the runtime's state exists: wait for it (or for the exit).
void wait_runtime(const StateDir& st, const std::string& id) {
  wait_for(
      [&] {
        Record r = st.load(id);
        return runtime_has(r) || !running(r);
      },
      5000);
}

// A paused container gets the stop signal once thawed: stop and rm -f
// unpause it first, as docker's stop does.
void thaw_if_paused(const Record& r) {
  try {
    if (!runtime_has(r)) return;
    if (run::status_of(run::container_dir(r.runtime_root, r.id), run::load_state(r.runtime_root, r.id)) == "paused") {
      run::pause_container(r.runtime_root, r.id, false);
      container_event(r, "unpause");
    }
  } catch (const Error& e) {
    log::debug(e.what());
  }
}

}  // namespace

int run_image(const Globals& g, const RunOptions& o) {
  std::string id = create_from_image(g, o, true);
  StateDir st = state_of(g);
  if (o.detach) {
    spawn_monitor(g, st, id);
    std::cout << id << std::endl;
    return 0;
  }
  AttachOptions a;
  a.stdin = o.interactive;
  a.tty = o.tty;
  a.sig_proxy = o.sig_proxy;
  a.detach_keys = parse_detach_keys(o.detach_keys);
  return spawn_monitor(g, st, id, &a);
}

namespace {

// Mark a stopped container startable; false when it runs already (docker:
// starting a running container is a no-op).
bool prepare_start(const StateDir& st, const std::string& id) {
  reap_orphan(st, id);
  auto lock = st.lock();
  Record r = st.load(id);
  if (running(r)) return false;
  r.status = "created";
  r.manually_stopped = false;
  r.restart_count = 0;
  st.save(r);
  return true;
}

}  // namespace

void start_managed(const Globals& g, const std::string& name_or_id) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  if (prepare_start(st, id)) spawn_monitor(g, st, id);
}

int start_attached(const Globals& g, const std::string& name_or_id, bool interactive, const std::string& detach_keys) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  std::string keys = parse_detach_keys(detach_keys);
  if (!prepare_start(st, id)) return attach_managed(g, id, !interactive, true, detach_keys);
  // Connected before the start (spawn_monitor's socketpair): no early
  // output is missed.
  Record r = st.load(id);
  AttachOptions a;
  a.stdin = interactive && r.interactive;
  a.tty = r.tty;
  a.detach_keys = keys;
  return spawn_monitor(g, st, id, &a);
}

void kill_managed(const Globals& g, const std::string& name_or_id, const std::string& signal) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  run::parse_signal(signal);
  wait_runtime(st, id);
  Record r = st.update(id, [&](Record& x) { x.manually_stopped = true; });
  if (!running(r)) fail("cannot kill container " + name_or_id + ": it is not running");
  run::kill_container(r.runtime_root, id, signal, false);
  container_event(r, "kill", {{"signal", std::to_string(run::parse_signal(signal))}});
}

void stop_managed(const Globals& g, const std::string& name_or_id, std::optional<int> timeout) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  reap_orphan(st, id);
  wait_runtime(st, id);
  Record r = st.update(id, [&](Record& x) { x.manually_stopped = true; });
  if (!running(r)) return;
  int t = timeout.value_or(r.stop_timeout);
  auto stopped = [&] {
    if (running(st.load(id))) return false;
    container_event(r, "stop");
    return true;
  };
  // A restart waiting out its back-off has no runtime container to signal.
  if (runtime_has(r)) {
    try {
      run::kill_container(r.runtime_root, id, r.stop_signal, false);
    } catch (const Error& e) {
      log::debug(e.what());
    }
    thaw_if_paused(r);
  }
  if (wait_for(stopped, t * 1000)) return;
  try {
    run::kill_container(r.runtime_root, id, "SIGKILL", true);
  } catch (const Error& e) {
    log::debug(e.what());
  }
  if (!wait_for(stopped, 10000)) fail("container " + name_or_id + " did not stop");
}

void restart_managed(const Globals& g, const std::string& name_or_id, std::optional<int> timeout) {
  stop_managed(g, name_or_id, timeout);
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  // The monitor finishes its cleanup (unmount) after the record says exited.
  wait_for([&] { return st.load(id).monitor_pid == 0; }, 5000);
  start_managed(g, id);
  container_event(st.load(id), "restart");
}

void remove_managed(const Globals& g, const std::string& name_or_id, bool force, bool volumes) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  reap_orphan(st, id);
  Record r = st.load(id);
  if (running(r)) {
    if (!force) fail("cannot remove container " + name_or_id + ": it is running (stop it first, or use -f)");
    wait_runtime(st, id);
    r = st.load(id);
    st.update(id, [&](Record& x) {
      x.manually_stopped = true;
      x.auto_remove = false;  // rm removes it below, not the monitor
    });
    thaw_if_paused(r);
    if (runtime_has(r)) {
      try {
        run::kill_container(r.runtime_root, id, "SIGKILL", true);
      } catch (const Error& e) {
        log::debug(e.what());
      }
    }
    if (!wait_for([&] { return st.load(id).monitor_pid == 0 || !running(st.load(id)); }, 10000))
      fail("container " + name_or_id + " did not stop");
    wait_for([&] { return !pid_alive(r.monitor_pid, r.monitor_start); }, 10000);
  }
  if (runtime_has(r)) {
    try {
      run::delete_container(r.runtime_root, id, true);
    } catch (const Error& e) {
      log::debug(e.what());
    }
  }
  auto lock = st.lock();
  r = st.load(id);
  if (!volumes) r.volumes_created.clear();
  release_container(st, r, true);
  container_event(r, "destroy");
  for (const auto& v : r.volumes_created) {
    events::Event e{"volume", "destroy", v, {{"driver", "local"}}};
    events::emit(std::move(e));
  }
}

int wait_managed(const Globals& g, const std::string& name_or_id) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  // As docker: a created container is waited for until it has run and exited.
  wait_for(
      [&] {
        if (!st.try_find(id)) return true;
        std::string s = live_status(st.load(id));
        return s != "running" && s != "restarting" && s != "created" && s != "creating";
      },
      -1);
  if (!st.try_find(id)) return 0;
  reap_orphan(st, id);
  return st.load(id).exit_code;
}

int attach_managed(const Globals& g, const std::string& name_or_id, bool no_stdin, bool sig_proxy,
                   const std::string& detach_keys) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  std::string keys = parse_detach_keys(detach_keys);
  Record r = st.load(id);
  if (!running(r)) fail("cannot attach to a stopped container, start it first");
  fs::UniqueFd fd(connect_attach(st.container_dir(id)));
  AttachOptions a;
  a.stdin = r.interactive && !no_stdin;
  a.tty = r.tty;
  a.sig_proxy = sig_proxy;
  a.detach_keys = keys;
  return attach_session(fd.get(), a);
}

void resize_managed(const Globals& g, const std::string& name_or_id, unsigned rows, unsigned cols) {
  if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535)
    fail(Errc::usage, "invalid window size " + std::to_string(rows) + "x" + std::to_string(cols) +
                          ": want 1-65535 rows and columns");
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  Record r = st.load(id);
  if (!r.tty) fail("cannot resize container " + name_or_id + ": it has no terminal (created without -t)");
  // The monitor owns the pty master: a client's hello carries a window size
  // (monitor_protocol.hpp). A container being started (start -a, run) has
  // its monitor listening a moment later: wait for it while the record says
  // created.
  fs::UniqueFd fd;
  for (int i = 0;; ++i) {
    try {
      fd.reset(connect_attach(st.container_dir(id)));
      break;
    } catch (const Error&) {
      std::string s = live_status(st.load(id));
      if ((s != "created" && s != "creating") || i >= 20) fail("container " + name_or_id + " is not running");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::string hello = nlohmann::json{{"stdin", false}, {"rows", rows}, {"cols", cols}}.dump();
  if (!write_frame(fd.get(), Frame::kHello, hello)) fail("container " + name_or_id + " is not running");
  // Done once the monitor let go of us: it handles a client's frames before
  // it drops the client at its end of file (output frames meanwhile are dropped).
  ::shutdown(fd.get(), SHUT_WR);
  char buf[4096];
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n <= 0 && !(n < 0 && errno == EINTR)) break;
  }
}

int exec_managed(const Globals& g, const ExecOptions& o) {
  StateDir st = state_of(g);
  std::string id = st.find(o.container);
  wait_runtime(st, id);
  Record r = st.load(id);
  if (!running(r) || !runtime_has(r)) fail("container " + o.container + " is not running");
  if (o.cmd.empty()) fail(Errc::usage, "exec: missing command");
  std::vector<std::string> a = {"oci-run", "--root", r.runtime_root};
  for (const auto& f : g.runtime_flags) a.push_back(f);
  // docker's exec -d: the process's stdio is /dev/null, not ours (a caller
  // reading our output to its end would wait for the process); the
  // runtime's reason for a failure comes through its --log.
  std::optional<fs::TempDir> detach_log;
  if (o.detach && !o.tty) {
    detach_log.emplace(std::string("oci-run-exec"));
    a.insert(a.end(), {"--log", detach_log->path() + "/log", "--log-format", "json"});
  }
  a.push_back("exec");
  std::vector<std::string> env;
  for (const auto& f : o.env_files)
    for (auto& e : read_env_file(f)) env.push_back(e);
  for (const auto& e : o.env) env.push_back(e);
  for (auto& e : env) {
    if (e.find('=') == std::string::npos) {
      const char* v = std::getenv(e.c_str());
      if (!v) continue;
      e += std::string("=") + v;
    }
    a.insert(a.end(), {"-e", e});
  }
  if (!o.user.empty()) {
    auto u = users::resolve(st.rootfs_dir(id), o.user);
    a.insert(a.end(), {"-u", std::to_string(u.uid) + ":" + std::to_string(u.gid)});
    for (auto gid : u.additional_gids) a.insert(a.end(), {"-g", std::to_string(gid)});
  }
  if (!o.workdir.empty()) a.insert(a.end(), {"--cwd", o.workdir});
  if (o.privileged) log::warn("exec --privileged is not supported; the container's privileges apply");
  if (o.detach) a.push_back("--detach");
  std::string shown;
  for (const auto& c : o.cmd) shown += (shown.empty() ? "" : " ") + c;
  container_event(r, "exec_create: " + shown);
  container_event(r, "exec_start: " + shown);
  if (detach_log) {
    a.push_back(id);
    a.insert(a.end(), o.cmd.begin(), o.cmd.end());
    process::Spec s;
    s.path = g.self_exe;
    s.argv = a;
    s.in = s.out = s.err = process::kDevNull;
    setenv(run::kRouteEnv, run::route_name(run::Route::runtime), 1);
    int rc = process::run(s);
    if (rc == 0) return 0;
    std::string why;
    try {
      std::istringstream lines(fs::read_file(detach_log->path() + "/log"));
      for (std::string l; std::getline(lines, l);) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (j.is_object() && j.value("level", "") == "error") why = j.value("msg", why);
      }
    } catch (const Error&) {
    }
    std::fprintf(stderr, "oci-run: error: %s\n",
                 (why.empty() ? "exec failed (exit status " + std::to_string(rc) + ")" : why).c_str());
    return rc;
  }
  if (!o.tty) {
    a.push_back(id);
    a.insert(a.end(), o.cmd.begin(), o.cmd.end());
    std::vector<char*> argv;
    for (auto& x : a) argv.push_back(x.data());
    argv.push_back(nullptr);
    setenv(run::kRouteEnv, run::route_name(run::Route::runtime), 1);
    execv(g.self_exe.c_str(), argv.data());
    throw_errno("exec " + g.self_exe);
  }
  RelayTarget t;
  t.tty = true;
  t.out_fd = 1;
  t.err_fd = 2;
  t.in_fd = 0;
  t.raw_terminal = o.interactive && isatty(0);
  auto make_argv = [&](const std::string& console) {
    std::vector<std::string> x = a;
    x.insert(x.end(), {"--tty", "--console-socket", console, id});
    x.insert(x.end(), o.cmd.begin(), o.cmd.end());
    return x;
  };
  return spawn_and_relay(g.self_exe, make_argv, t);
}

}  // namespace ocikit::manage
