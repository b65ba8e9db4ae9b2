// oci-run manage/cli: which commands are docker-style, and their CLI11 wiring.
//
// Dispatch (runc compatibility first: podman and containerd always pass
// --bundle to create/run):
//   run, create   runc mode with -b/--bundle, or when ./config.json exists
//                 and the first positional does not name a store image;
//                 otherwise docker mode with IMAGE
//   ps            docker ps without a positional, runc ps with an id
//   start, kill, exec   docker mode when the first positional names a
//                 managed container (name or id prefix), else runc
//   inspect, wait, logs, stop, restart, rm   always docker mode
// (decided in ../mode.cpp, shared with the lean runtime binary).
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <set>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "locate.hpp"
#include "manage/manage.hpp"
#include "mode.hpp"

namespace ocikit::manage {

namespace {

const std::set<std::string> kGlobalValue = {"--root", "--log", "--log-format", "--log-level", "--rootless",
                                            "--state-dir", "--store"};

std::string find_global(char** argv, const std::string& flag, int cmd_index) {
  for (int i = 1; i < cmd_index; i++) {
    std::string a = argv[i];
    if (a == flag && i + 1 < cmd_index) return argv[i + 1];
    if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
  }
  return "";
}

bool docker_mode(const std::string& cmd, const std::vector<std::string>& args, const std::string& state_dir,
                 const std::string& store) {
  auto d = run::decide_mode(cmd, args, state_dir);
  if (d.mode == run::Mode::if_store_image) return store_has_image(store, d.image);
  return d.mode == run::Mode::managed;
}

// CLI11 vector options take one value per flag (docker's repeatable flags).
CLI::Option* multi(CLI::Option* o) { return o->allow_extra_args(false)->take_all(); }

void add_run_flags(CLI::App* c, RunOptions& o) {
  c->set_help_flag("--help", "print this help");
  c->add_option("--name", o.name, "container name");
  c->add_flag("-d,--detach", o.detach, "run in the background, print the id");
  c->add_flag("-i,--interactive", o.interactive, "keep stdin open");
  c->add_flag("-t,--tty", o.tty, "allocate a pseudo-terminal");
  c->add_flag("--rm", o.rm, "remove the container when it exits");
  c->add_option("--pull", o.pull, "missing, always or never")->capture_default_str();
  c->add_option("--platform", o.platform, "image platform (os/arch[/variant])");
  multi(c->add_option("-e,--env", o.env, "KEY=VALUE (or KEY: taken from the environment)"));
  multi(c->add_option("--env-file", o.env_files, "file of KEY=VALUE lines"));
  c->add_option("-w,--workdir", o.workdir, "working directory in the container");
  c->add_option("-u,--user", o.user, "user[:group] (names or ids)");
  c->add_option("--entrypoint", o.entrypoint, "replace the image's entrypoint");
  c->add_option("-h,--hostname", o.hostname, "container host name");
  multi(c->add_option("-v,--volume", o.volumes, "SRC:DST[:ro] (named volume or absolute host path) or DST"));
  multi(c->add_option("--mount", o.mounts, "type=bind|volume|tmpfs,source=..,target=..[,readonly]"));
  multi(c->add_option("--tmpfs", o.tmpfs, "DST[:OPTIONS] tmpfs mount"));
  c->add_flag("--read-only", o.read_only, "mount the root filesystem read-only");
  c->add_option("-m,--memory", o.memory, "memory limit (b, k, m, g)");
  c->add_option("--cpus", o.cpus, "number of CPUs (1.5)");
  c->add_option("--pids-limit", o.pids_limit, "maximum number of processes");
  multi(c->add_option("--cap-add", o.cap_add, "add a capability"));
  multi(c->add_option("--cap-drop", o.cap_drop, "drop a capability"));
  multi(c->add_option("--security-opt", o.security_opts, "seccomp=FILE|unconfined, no-new-privileges"));
  c->add_flag("--privileged", o.privileged, "all capabilities, no seccomp, no masked paths");
  c->add_option("--restart", o.restart, "no, on-failure[:N], always or unless-stopped")->capture_default_str();
  c->add_flag("--init", o.init, "run a reaping init as PID 1");
  multi(c->add_option("-l,--label", o.labels, "KEY=VALUE label"));
  c->add_option("--stop-signal", o.stop_signal, "signal that stops the container");
  c->add_option("--stop-timeout", o.stop_timeout, "seconds before stop kills");
  multi(c->add_option("-p,--publish", o.publish, "[ip:][hostport:]port[/proto] (through oci-net)"));
  c->add_option("--network,--net", o.network, "oci-net network name, host or none");
  multi(c->add_option("--ulimit", o.ulimits, "name=soft[:hard] resource limit (nofile, nproc, core ...)"));
  c->add_option("--sig-proxy", o.sig_proxy, "forward signals to the container (without -t)")->capture_default_str();
  c->add_option("--detach-keys", o.detach_keys, "keys that detach from a -it container")->capture_default_str();
  c->prefix_command(true);
}

}  // namespace

std::optional<int> main_if_managed(int argc, char** argv) {
  // The runtime commands oci-run runs for itself (the monitor's run, exec)
  // name managed containers by id: they must not dispatch back here.
  if (const char* e = std::getenv(kRuntimeOnlyEnv); e && *e) {
    unsetenv(kRuntimeOnlyEnv);
    return std::nullopt;
  }
  int cmd_index = 1;
  for (; cmd_index < argc; cmd_index++) {
    std::string a = argv[cmd_index];
    if (a.empty() || a[0] != '-') break;
    if (a.find('=') == std::string::npos && kGlobalValue.count(a)) cmd_index++;
  }
  if (cmd_index >= argc) return std::nullopt;
  std::string cmd = argv[cmd_index];
  std::vector<std::string> args(argv + cmd_index + 1, argv + argc);
  std::string state_dir = find_global(argv, "--state-dir", cmd_index);
  std::string store = find_global(argv, "--store", cmd_index);
  if (store.empty()) store = layout::default_store_path();
  if (!docker_mode(cmd, args, state_dir, store)) return std::nullopt;

  bool failure_125 = cmd == "run" || cmd == "create" || cmd == "exec" || cmd == "start";
  return cli::run_main("oci-run", [&]() -> int {
    CLI::App app{"Run containers: a runc-compatible OCI runtime with docker-like management", "oci-run"};
    cli::LogOptions log_opts;
    cli::add_log_flags(app, log_opts, true);
    Globals g;
    std::string rootless;
    bool systemd_cgroup = false;
    app.add_option("--root", g.runtime_root, "root directory for container state")->capture_default_str();
    app.add_flag("--systemd-cgroup", systemd_cgroup, "accepted for runc compatibility");
    app.add_option("--rootless", rootless, "accepted for runc compatibility");
    app.add_option("--state-dir", g.state_dir, "managed containers and volumes (default $OCIKIT_STATE_DIR or /var/lib/ocikit)");
    app.add_option("--store", g.store, "image store (default $OCIKIT_STORE or /var/lib/ocikit/store)");
    app.require_subcommand(1);

    RunOptions ro;
    auto* run = app.add_subcommand("run", "run a command in a new container from IMAGE");
    add_run_flags(run, ro);
    RunOptions co;
    auto* create = app.add_subcommand("create", "create a container from IMAGE (start it later)");
    add_run_flags(create, co);

    std::vector<std::string> names;
    std::optional<int> timeout;
    std::string signal = "SIGKILL", format = "table";
    bool all = false, quiet = false, no_trunc = false, force = false, volumes = false, follow = false, ts = false;
    std::string tail = "all";
    bool start_attach = false, start_interactive = false;
    std::string detach_keys = "ctrl-p,ctrl-q";
    auto* start = app.add_subcommand("start", "start stopped containers");
    start->add_flag("-a,--attach", start_attach, "attach its output, forward signals, exit with its exit code");
    start->add_flag("-i,--interactive", start_interactive, "attach its stdin too (implies -a)");
    start->add_option("--detach-keys", detach_keys, "keys that detach (with a tty)")->capture_default_str();
    start->add_option("CONTAINER", names)->required();
    auto* stop = app.add_subcommand("stop", "stop running containers (stop signal, then SIGKILL)");
    stop->add_option("-t,--time", timeout, "seconds to wait before SIGKILL");
    stop->add_option("CONTAINER", names)->required();
    auto* restart = app.add_subcommand("restart", "restart containers");
    restart->add_option("-t,--time", timeout, "seconds to wait before SIGKILL");
    restart->add_option("CONTAINER", names)->required();
    auto* kill = app.add_subcommand("kill", "send a signal to containers");
    kill->add_option("-s,--signal", signal, "signal name or number")->capture_default_str();
    kill->add_option("CONTAINER", names)->required();
    auto* rm = app.add_subcommand("rm", "remove containers");
    rm->add_flag("-f,--force", force, "kill a running container first");
    rm->add_flag("-v,--volumes", volumes, "remove its anonymous volumes");
    rm->add_option("CONTAINER", names)->required();
    auto* wait = app.add_subcommand("wait", "wait for containers to stop, print their exit codes");
    wait->add_option("CONTAINER", names)->required();
    auto* logs = app.add_subcommand("logs", "print a container's log");
    logs->add_flag("-f,--follow", follow, "follow the log until the container stops");
    logs->add_option("-n,--tail", tail, "lines from the end (or \"all\")")->capture_default_str();
    logs->add_flag("--timestamps", ts, "prefix each line with its time");
    logs->add_option("CONTAINER", names)->required()->expected(1);
    auto* ps = app.add_subcommand("ps", "list containers");
    ps->add_flag("-a,--all", all, "show stopped containers too");
    ps->add_flag("-q,--quiet", quiet, "ids only");
    ps->add_flag("--no-trunc", no_trunc, "full ids and commands");
    ps->add_option("--format", format, "table or json")->capture_default_str();
    bool no_stdin = false, sig_proxy = true;
    auto* attach = app.add_subcommand("attach", "attach to a running container's output (and stdin)");
    attach->add_flag("--no-stdin", no_stdin, "do not attach stdin");
    attach->add_option("--sig-proxy", sig_proxy, "forward signals to the container (without a tty)")->capture_default_str();
    attach->add_option("--detach-keys", detach_keys, "keys that detach (with a tty)")->capture_default_str();
    attach->add_option("CONTAINER", names)->required()->expected(1);
    auto* inspect = app.add_subcommand("inspect", "container details as JSON");
    inspect->add_option("CONTAINER", names)->required();
    ExecOptions eo;
    auto* exec = app.add_subcommand("exec", "run a command in a running container");
    exec->add_flag("-i,--interactive", eo.interactive, "keep stdin open");
    exec->add_flag("-t,--tty", eo.tty, "allocate a pseudo-terminal");
    exec->add_flag("-d,--detach", eo.detach, "run in the background");
    exec->add_flag("--privileged", eo.privileged, "accepted; the container's privileges apply");
    multi(exec->add_option("-e,--env", eo.env, "KEY=VALUE"));
    multi(exec->add_option("--env-file", eo.env_files, "file of KEY=VALUE lines"));
    exec->add_option("-u,--user", eo.user, "user[:group]");
    exec->add_option("-w,--workdir", eo.workdir, "working directory");
    exec->prefix_command(true);

    if (auto rc = cli::parse(app, argc, argv)) return *rc == 2 && failure_125 ? 125 : *rc;
    cli::apply_log_flags(log_opts);
    if (!log_opts.file.empty()) g.runtime_flags.insert(g.runtime_flags.end(), {"--log", log_opts.file});
    if (log_opts.debug) g.runtime_flags.push_back("--debug");
    // The runtime is the lean oci-run binary (locate.hpp); its siblings
    // (oci-net, oci-run-init) live beside it.
    g.self_exe = run::runtime_binary();
    g.self_dir = g.self_exe.substr(0, g.self_exe.rfind('/'));

    auto image_and_cmd = [](CLI::App* c, RunOptions& o) {
      auto rest = c->remaining();
      if (rest.empty()) fail(Errc::usage, std::string(c->get_name()) + " requires at least 1 argument: IMAGE [COMMAND...]");
      o.image = rest[0];
      o.cmd.assign(rest.begin() + 1, rest.end());
    };
    // Usage errors of run/create/exec are oci-run's own failures: 125 (docker).
    auto as_125 = [&](auto&& fn) -> int {
      try {
        return fn();
      } catch (const Error& e) {
        if (e.code() == Errc::usage) throw Error(Errc::failure, e.what());
        throw;
      }
    };
    if (*run) return as_125([&] {
      image_and_cmd(run, ro);
      return run_image(g, ro);
    });
    if (*create) return as_125([&] {
      image_and_cmd(create, co);
      std::cout << create_from_image(g, co) << "\n";
      return 0;
    });
    if (*exec) return as_125([&] {
      auto rest = exec->remaining();
      if (rest.empty()) fail(Errc::usage, "exec requires a container and a command");
      eo.container = rest[0];
      eo.cmd.assign(rest.begin() + 1, rest.end());
      return exec_managed(g, eo);
    });
    if (*ps) return print_ps(g, all, quiet, format, no_trunc), 0;
    if (*logs) {
      long n = -1;
      if (tail != "all") {
        try {
          n = std::stol(tail);
        } catch (...) {
          fail(Errc::usage, "invalid --tail \"" + tail + "\"");
        }
      }
      return print_logs(g, names[0], follow, n, ts), 0;
    }
    if (*inspect) return print_inspect(g, names), 0;
    if (*attach) return attach_managed(g, names[0], no_stdin, sig_proxy, detach_keys);
    if (*start && (start_attach || start_interactive)) {
      if (names.size() != 1) fail(Errc::usage, "you cannot start and attach multiple containers at once");
      return start_attached(g, names[0], start_interactive, detach_keys);
    }
    int rc = 0;
    for (const auto& n : names) {
      if (*start) start_managed(g, n);
      else if (*stop) stop_managed(g, n, timeout);
      else if (*restart) restart_managed(g, n, timeout);
      else if (*kill) kill_managed(g, n, signal);
      else if (*rm) remove_managed(g, n, force, volumes);
      else if (*wait) {
        std::cout << wait_managed(g, n) << std::endl;
        continue;
      }
      std::cout << n << "\n";
    }
    return rc;
  }, failure_125 ? 125 : 1);
}

}  // namespace ocikit::manage
