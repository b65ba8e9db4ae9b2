// Container streams: logs, attach (hijacked), exec create/start/inspect.
// Each runs an `oci-run` client (logs, attach, start -a, exec) with pipes
// and copies its output to the client, framed as docker's multiplexed
// stream when the container has no tty.
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "handlers.hpp"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

std::vector<std::string> oci_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tools().oci_run};
  argv.insert(argv.end(), tools().run_globals.begin(), tools().run_globals.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// A client attached to a created container, waiting for its start.
struct PendingAttach {
  std::mutex m;
  std::condition_variable cv;
  bool with_stdin = false;
  bool abandoned = false;  ///< its client left before the start came
  std::optional<Child> child;
};
std::mutex g_pending_m;
std::map<std::string, std::shared_ptr<PendingAttach>> g_pending;

// Run the client `c` on a hijacked connection: stdin from the client (when
// asked), output to it, then close the connection.
void run_hijacked(Exchange& x, Child& c, bool tty, bool with_stdin, bool want_out, bool want_err) {
  std::thread feeder;
  if (with_stdin) feeder = feed_stdin(x, c, x.take_leftover());
  // The client half-closes when its stdin ends (at once without stdin):
  // only a full hang-up (or a failed write) says it is gone.
  auto gone = [&]() { return x.client_gone(true); };
  pump_output(c, tty ? Framing::raw : Framing::multiplexed, [&](std::string_view d) { return x.raw_write(d); }, gone,
              want_out, want_err);
  ::shutdown(x.io().fd(), SHUT_RDWR);
  if (feeder.joinable()) feeder.join();
}

// An exec instance (docker keeps them in memory too).
struct ExecInstance {
  std::string id, container;
  json config;
  bool running = false;
  std::optional<int> exit_code;
  pid_t pid = 0;
  int pty = -1;  ///< a running tty exec's terminal (Child::pty), under g_exec_m
  unsigned rows = 0, cols = 0;  ///< the last resize (applied when it starts)
};
std::mutex g_exec_m;
std::map<std::string, std::shared_ptr<ExecInstance>> g_execs;

std::string random_id() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 64; ++i) s.push_back(hex[rd() % 16]);
  return s;
}

std::shared_ptr<ExecInstance> find_exec(const std::string& id) {
  std::lock_guard l(g_exec_m);
  auto it = g_execs.find(id);
  if (it == g_execs.end()) fail_api(404, "No such exec instance: " + id);
  return it->second;
}

}  // namespace

void container_logs(Exchange& x, const std::string& id) {
  json c = inspect_container(id);
  bool tty = c["Config"].value("Tty", false);
  bool want_out = x.q_bool("stdout"), want_err = x.q_bool("stderr");
  if (!want_out && !want_err) fail_api(400, "you must choose at least one stream");
  std::vector<std::string> args{"logs"};
  if (x.q_bool("follow")) args.push_back("--follow");
  if (x.q_bool("timestamps")) args.push_back("--timestamps");
  if (auto t = x.q("tail", "all"); t != "all" && !t.empty()) args.insert(args.end(), {"--tail", t});
  // docker sends Unix times; since=0 / until=0 mean no bound.
  if (auto v = x.q("since", "0"); v != "0" && !v.empty()) args.insert(args.end(), {"--since", v});
  if (auto v = x.q("until", "0"); v != "0" && !v.empty()) args.insert(args.end(), {"--until", v});
  args.push_back(c.value("Id", id));
  Child ch = spawn_piped(oci_argv(args), false);
  x.begin_stream("application/vnd.docker.raw-stream");
  pump_output(ch, tty ? Framing::raw : Framing::multiplexed, [&](std::string_view d) { return x.chunk(d); },
              [&] { return x.client_gone(); }, want_out, want_err);
  x.end_stream();
}

void container_attach(Exchange& x, const std::string& id) {
  json c = inspect_container(id);
  std::string full = c.value("Id", id);
  bool tty = c["Config"].value("Tty", false);
  bool open_stdin = c["Config"].value("OpenStdin", false);
  bool with_stdin = x.q_bool("stdin") && open_stdin;
  bool want_out = x.q_bool("stdout"), want_err = x.q_bool("stderr");
  if (!x.q_bool("stream")) {
    // Logs only (attach?logs=1 without stream): what was written so far.
    fail_api(400, "attach without stream=1 is not supported by oci-api");
  }
  std::string status = c["State"].value("Status", "");
  if (status == "running") {
    std::vector<std::string> args{"attach"};
    if (!with_stdin) args.push_back("--no-stdin");
    args.insert(args.end(), {"--sig-proxy=false", full});
    Child ch = spawn_piped(oci_argv(args), with_stdin);
    x.hijack();
    run_hijacked(x, ch, tty, with_stdin, want_out, want_err);
    return;
  }
  if (status != "created" && status != "exited")
    fail_api(409, "container " + id + " is " + status + ": cannot attach");
  // Not running: wait for the start request, which runs `oci-run start -a`
  // for this connection (docker run attaches before it starts).
  auto p = std::make_shared<PendingAttach>();
  p->with_stdin = with_stdin;
  {
    std::lock_guard l(g_pending_m);
    g_pending[full] = p;
  }
  x.hijack();
  std::optional<Child> ch;
  {
    std::unique_lock l(p->m);
    while (!p->child) {
      if (p->cv.wait_for(l, std::chrono::milliseconds(250)) == std::cv_status::timeout && x.client_gone(true)) {
        p->abandoned = true;  // a start now must not run `start -a` for nobody
        break;
      }
    }
    if (p->child) ch = std::move(p->child);
  }
  {
    std::lock_guard l(g_pending_m);
    auto it = g_pending.find(full);
    if (it != g_pending.end() && it->second == p) g_pending.erase(it);
  }
  if (!ch) return;
  run_hijacked(x, *ch, tty, with_stdin, want_out, want_err);
}

bool start_pending_attach(const std::string& id) {
  std::shared_ptr<PendingAttach> p;
  {
    std::lock_guard l(g_pending_m);
    auto it = g_pending.find(id);
    if (it == g_pending.end()) return false;
    p = it->second;
    g_pending.erase(it);
  }
  std::vector<std::string> args{"start", "--attach"};
  if (p->with_stdin) args.push_back("--interactive");
  args.push_back(id);
  {
    // Its client may have left meanwhile: then the container is started
    // detached (`start -a` here would have nobody to reap or read it).
    std::lock_guard l(p->m);
    if (p->abandoned) return false;
    p->child = spawn_piped(oci_argv(args), p->with_stdin);
  }
  p->cv.notify_all();
  // Answered at once: `start -a` reports a failed start on the stream (and
  // its exit code through wait), as the client that attached expects.
  return true;
}

void exec_create(Exchange& x, const std::string& id) {
  json b = x.body_json();
  if (!b.is_object()) fail_api(400, "invalid exec config: want a JSON object");
  if (!b.contains("Cmd") || !b["Cmd"].is_array() || b["Cmd"].empty()) fail_api(400, "No exec command specified");
  for (const auto& e : b["Cmd"])
    if (!e.is_string()) fail_api(400, "Cmd: want an array of strings");
  json c = inspect_container(id);
  if (!c["State"].value("Running", false)) fail_api(409, "Container " + id + " is not running");
  auto e = std::make_shared<ExecInstance>();
  e->id = random_id();
  e->container = c.value("Id", id);
  e->config = b;
  std::lock_guard l(g_exec_m);
  if (g_execs.size() > 4096) {
    // Finished instances are forgotten first (docker keeps them until the container goes).
    for (auto it = g_execs.begin(); it != g_execs.end();)
      it = it->second->exit_code ? g_execs.erase(it) : std::next(it);
  }
  g_execs[e->id] = e;
  x.json(201, {{"Id", e->id}});
}

void exec_start(Exchange& x, const std::string& exec_id) {
  auto e = find_exec(exec_id);
  json b = x.body_json();
  {
    std::lock_guard l(g_exec_m);
    if (e->running || e->exit_code) fail_api(409, "exec " + exec_id + " has already been started");
    e->running = true;
  }
  const json& cf = e->config;
  bool tty = b.value("Tty", cf.value("Tty", false));
  bool detach = b.value("Detach", false);
  bool with_stdin = cf.value("AttachStdin", false) && !detach;
  std::vector<std::string> args{"exec"};
  if (with_stdin) args.push_back("--interactive");
  if (tty) args.push_back("--tty");
  if (detach) args.push_back("--detach");
  if (cf.contains("Env") && cf["Env"].is_array())
    for (const auto& v : cf["Env"])
      if (v.is_string()) args.insert(args.end(), {"--env", v.get<std::string>()});
  if (cf.contains("User") && cf["User"].is_string() && !cf["User"].get<std::string>().empty())
    args.insert(args.end(), {"--user", cf["User"].get<std::string>()});
  if (cf.contains("WorkingDir") && cf["WorkingDir"].is_string() && !cf["WorkingDir"].get<std::string>().empty())
    args.insert(args.end(), {"--workdir", cf["WorkingDir"].get<std::string>()});
  args.push_back(e->container);
  for (const auto& v : cf["Cmd"]) args.push_back(v.get<std::string>());
  if (detach) {
    Result r = run_oci(args);
    std::lock_guard l(g_exec_m);
    e->running = false;
    e->exit_code = r.status;
    if (r.status != 0) fail_api(status_of(r), r.message());
    return x.reply(200, "", "");
  }
  // A tty exec's `oci-run exec --tty` gets a terminal of ours as its stdin:
  // resize sets its size there, and oci-run's relay passes it on.
  Child ch;
  try {
    ch = spawn_piped(oci_argv(args), with_stdin, tty);
  } catch (...) {
    // Not started (no fds, no processes left): not "running" for ever.
    std::lock_guard l(g_exec_m);
    e->running = false;
    e->exit_code = 126;
    throw;
  }
  {
    std::lock_guard l(g_exec_m);
    e->pid = ch.pid;
    if (ch.pty) {
      e->pty = ch.pty.get();
      if (e->rows && e->cols) set_window(e->pty, e->rows, e->cols);
    }
  }
  x.hijack(tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
  std::thread feeder;
  if (with_stdin) feeder = feed_stdin(x, ch, x.take_leftover());
  auto gone = [&]() { return x.client_gone(true); };
  int rc = pump_output(ch, tty ? Framing::raw : Framing::multiplexed, [&](std::string_view d) { return x.raw_write(d); },
                       gone, cf.value("AttachStdout", true), cf.value("AttachStderr", true));
  {
    std::lock_guard l(g_exec_m);
    e->running = false;
    e->exit_code = rc < 0 ? 137 : rc;
    e->pty = -1;  // closed with `ch`
  }
  ::shutdown(x.io().fd(), SHUT_RDWR);
  if (feeder.joinable()) feeder.join();
}

void exec_inspect(Exchange& x, const std::string& exec_id) {
  auto e = find_exec(exec_id);
  std::lock_guard l(g_exec_m);
  const json& cf = e->config;
  std::vector<std::string> cmd = cf["Cmd"].get<std::vector<std::string>>();
  x.json(200, {{"ID", e->id},
               {"Running", e->running},
               {"ExitCode", e->exit_code ? json(*e->exit_code) : json(nullptr)},
               {"ProcessConfig",
                {{"tty", cf.value("Tty", false)},
                 {"entrypoint", cmd[0]},
                 {"arguments", std::vector<std::string>(cmd.begin() + 1, cmd.end())},
                 {"privileged", cf.value("Privileged", false)},
                 {"user", cf.value("User", "")}}},
               {"OpenStdin", cf.value("AttachStdin", false)},
               {"OpenStderr", cf.value("AttachStderr", false)},
               {"OpenStdout", cf.value("AttachStdout", false)},
               {"CanRemove", false},
               {"ContainerID", e->container},
               {"DetachKeys", ""},
               {"Pid", e->running ? e->pid : 0}});
}

namespace {

// docker's ?h=ROWS&w=COLS of a resize: numbers in 0-65535, else 400.
std::pair<unsigned, unsigned> window_query(const Exchange& x) {
  auto num = [&](const char* k) {
    std::string v = x.q(k);
    if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) > 65535)
      fail_api(400, std::string("invalid resize parameter ") + k + "=\"" + v + "\": want a number 0-65535");
    return static_cast<unsigned>(std::stoul(v));
  };
  unsigned h = num("h"), w = num("w");
  return {h, w};
}

}  // namespace

// As dockerd: a container that does not run is a conflict; one without a
// tty has no terminal to resize, which containerd's shim answers with
// success (and so does docker). A tty one is resized by `oci-run resize`
// through its monitor, attached or not (and while it is being started).
void container_resize(Exchange& x, const std::string& id) {
  auto [rows, cols] = window_query(x);
  json c = inspect_container(id);
  std::string full = c.value("Id", id), status = c["State"].value("Status", "");
  bool tty = c["Config"].value("Tty", false);
  if (status != "running" && status != "paused" && !(tty && status == "created"))
    fail_api(409, "Container " + full + " is not running");
  if (tty && rows && cols) {
    Result r = run_oci({"resize", "--height", std::to_string(rows), "--width", std::to_string(cols), full});
    if (r.status != 0) {
      int st = status_of(r);
      fail_api(st, st == 409 ? "Container " + full + " is not running" : r.message());
    }
  }
  x.reply(200, "", "");
}

// An exec's size is kept for its start and set on its terminal while it
// runs (a non-tty exec has none: success, as docker's).
void exec_resize(Exchange& x, const std::string& exec_id) {
  auto e = find_exec(exec_id);
  auto [rows, cols] = window_query(x);
  {
    std::lock_guard l(g_exec_m);
    if (e->exit_code) fail_api(409, "exec " + exec_id + " is not running (it has exited)");
    if (rows && cols) {
      e->rows = rows;
      e->cols = cols;
      if (e->pty >= 0) set_window(e->pty, rows, cols);
    }
  }
  x.reply(200, "", "");
}

}  // namespace ocikit::api
