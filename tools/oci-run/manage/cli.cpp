// oci-run-manage's one CLI (cli.hpp): the global options (router.hpp's
// table), the container commands (run, create, start, stop, restart, kill,
// rm, wait, logs, ps, attach, inspect, exec, top, stats, cp, commit), login
// and logout (login.cpp), and the image store's (cli_store.cpp), parsed
// once. The routing (which command lines come here) is router.hpp's.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "locate.hpp"
#include "manage/manage.hpp"
#include "manage/cli.hpp"
#include "router.hpp"

namespace ocikit::manage {

namespace {

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
  c->add_option("--signature-policy", o.signature_policy,
                "trust policy (containers-policy.json) a pulled image must satisfy (default: /etc/containers/policy.json)");
  multi(c->add_option("-e,--env", o.env, "KEY=VALUE (or KEY: taken from the environment)"));
  multi(c->add_option("--env-file", o.env_files, "file of KEY=VALUE lines"));
  c->add_option("-w,--workdir", o.workdir, "working directory in the container");
  c->add_option("-u,--user", o.user, "user[:group] (names or ids)");
  c->add_option("--entrypoint", o.entrypoint, "replace the image's entrypoint");
  c->add_option("-h,--hostname", o.hostname, "container host name");
  multi(c->add_option("-v,--volume", o.volumes, "SRC:DST[:ro] (named volume or absolute host path) or DST"));
  multi(c->add_option("--mount", o.mounts, "type=bind|volume|tmpfs,source=..,target=..[,readonly]"));
  multi(c->add_option("--tmpfs", o.tmpfs, "DST[:OPTIONS] tmpfs mount"));
  multi(c->add_option("--volumes-from", o.volumes_from, "CONTAINER[:ro|:rw]: mount that container's volumes and binds"));
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
  c->add_flag("-P,--publish-all", o.publish_all, "publish every exposed port (EXPOSE, --expose) on a free host port");
  multi(c->add_option("--expose", o.expose, "port[-port][/proto] the container exposes (not published)"));
  c->add_option("--network,--net", o.network,
                "oci-net network name, host, none, or default (docker's: the network \"bridge\")");
  multi(c->add_option("--network-alias", o.network_aliases, "another name the container has on its network"));
  multi(c->add_option("--ulimit", o.ulimits, "name=soft[:hard] resource limit (nofile, nproc, core ...)"));
  c->add_option("--sig-proxy", o.sig_proxy, "forward signals to the container (without -t)")->capture_default_str();
  c->add_option("--detach-keys", o.detach_keys, "keys that detach from a -it container")->capture_default_str();
  c->add_option("--health-cmd", o.health_cmd, "command to run to check health (/bin/sh -c)");
  c->add_option("--health-interval", o.health_interval, "time between checks (ms|s|m|h) (default 30s)");
  c->add_option("--health-timeout", o.health_timeout, "maximum time one check may run (default 30s)");
  c->add_option("--health-retries", o.health_retries, "consecutive failures before unhealthy (default 3)");
  c->add_option("--health-start-period", o.health_start_period, "start period: failures do not count (default 0s)");
  c->add_option("--health-start-interval", o.health_start_interval, "time between checks in the start period (default 5s)");
  c->add_flag("--no-healthcheck", o.no_healthcheck, "disable the image's HEALTHCHECK");
  c->prefix_command(true);
}

}  // namespace

int docker_main(int argc, char** argv) {
  auto cl = run::scan(argc, argv);
  if (cl.cmd == "context") return context_main(argc, argv);
  // Another host's line (remote.cpp): ssh runs it there.
  try {
    if (std::string host = remote_host(cl.host, cl.context); !host.empty())
      return run_remote(host, argc, argv, cl.index);
    // This host's line: nothing it starts (monitors, hooks) goes elsewhere.
    unsetenv("OCIKIT_HOST");
    setenv("OCIKIT_CONTEXT", "default", 1);
    std::string state_dir = cl.state_dir.empty() ? default_state_dir() : cl.state_dir;
    if (cl.cmd == "remote-signal") {
      if (cl.args.size() != 2) fail(Errc::usage, "remote-signal: want TOKEN SIGNAL");
      return remote_signal(state_dir, cl.args[0], cl.args[1]);
    }
    // A line sent from another host's oci-run (remote.cpp): signals for it come by token.
    if (!cl.remote_token.empty()) register_remote_session(state_dir, cl.remote_token);
  } catch (const Error& e) {
    std::fprintf(stderr, "oci-run: error: %s\n", e.what());
    bool own = cl.cmd == "run" || cl.cmd == "create" || cl.cmd == "exec" || cl.cmd == "start";
    return own ? 125 : e.code() == Errc::usage ? 2 : 1;
  }
  bool failure_125 = cl.cmd == "run" || cl.cmd == "create" || cl.cmd == "exec" || cl.cmd == "start";
  return cli::run_main(
      "oci-run",
      [&]() -> int {
        CLI::App app{"Run containers: a runc-compatible OCI runtime with docker-like management", "oci-run"};
        cli::LogOptions log_opts;
        cli::add_log_flags(app, log_opts, true);
        run::GlobalFlags gf;
        run::add_global_options(app, gf);
        app.require_subcommand(1);
        Globals g;
        auto store_commands = add_store_commands(app, g);

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
        std::string ev_since, ev_until, ev_format;
        std::vector<std::string> ev_filters;
        auto* events_cmd = app.add_subcommand("events", "what happens to containers, images, volumes, networks");
        events_cmd->add_option("--since", ev_since, "from this time (Unix time, RFC 3339, or a duration ago)");
        events_cmd->add_option("--until", ev_until, "up to this time (then stop)");
        multi(events_cmd->add_option("-f,--filter", ev_filters,
                                     "KEY=VALUE: type, event, container, image, label, volume, network"));
        events_cmd->add_option("--format", ev_format, "json (one object a line), else docker's text");
        auto* wait = app.add_subcommand("wait", "wait for containers to stop, print their exit codes");
        wait->add_option("CONTAINER", names)->required();
        auto* logs = app.add_subcommand("logs", "print a container's log");
        logs->add_flag("-f,--follow", follow, "follow the log until the container stops");
        logs->add_option("-n,--tail", tail, "lines from the end (or \"all\")")->capture_default_str();
        logs->add_flag("-t,--timestamps", ts, "prefix each line with its time");
        std::string logs_since, logs_until;
        logs->add_option("--since", logs_since, "only entries since a time (RFC 3339, Unix time, or a duration: 10m)");
        logs->add_option("--until", logs_until, "only entries before a time (same forms)");
        logs->add_option("CONTAINER", names)->required()->expected(1);
        auto* ps = app.add_subcommand("ps", "list containers");
        ps->add_flag("-a,--all", all, "show stopped containers too");
        ps->add_flag("-q,--quiet", quiet, "ids only");
        ps->add_flag("--no-trunc", no_trunc, "full ids and commands");
        ps->add_option("--format", format, "table, json, a {{.Field}} template or \"table TEMPLATE\"")
            ->capture_default_str();
        std::vector<std::string> ps_filters;
        multi(ps->add_option("-f,--filter", ps_filters, "KEY=VALUE: id, name, label, status, health, exited"));
        bool no_stdin = false, sig_proxy = true;
        auto* attach = app.add_subcommand("attach", "attach to a running container's output (and stdin)");
        attach->add_flag("--no-stdin", no_stdin, "do not attach stdin");
        attach->add_option("--sig-proxy", sig_proxy, "forward signals to the container (without a tty)")
            ->capture_default_str();
        attach->add_option("--detach-keys", detach_keys, "keys that detach (with a tty)")->capture_default_str();
        attach->add_option("CONTAINER", names)->required()->expected(1);
        unsigned resize_rows = 0, resize_cols = 0;
        auto* resize = app.add_subcommand("resize", "set a tty container's terminal size (as the API's resize)");
        resize->add_option("--height", resize_rows, "rows")->required();
        resize->add_option("--width", resize_cols, "columns")->required();
        resize->add_option("CONTAINER", names)->required()->expected(1);
        auto* inspect = app.add_subcommand("inspect", "container details as JSON");
        inspect->add_option("CONTAINER", names)->required();
        std::string inspect_format;
        inspect->add_option("-f,--format", inspect_format, "a Go template ({{.State.Pid}}), else the JSON array");
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
        auto* top = app.add_subcommand("top", "show a running container's processes (the host's ps, default -ef)");
        // As docker: CONTAINER, then options for ps, passed on untouched.
        top->prefix_command(true);
        bool no_stream = false;
        auto* stats = app.add_subcommand("stats", "resource use of running containers");
        stats->add_flag("--no-stream", no_stream, "print one sample and exit (default: redraw every second)");
        stats->add_flag("-a,--all", all, "accepted for docker compatibility (only running containers have stats)");
        stats->add_flag("--no-trunc", no_trunc, "accepted for docker compatibility");
        stats->add_option("--format", format, "table, json or a {{.Field}} template");
        stats->add_option("containers", names, "container names or ids (default: every running one)");
        std::string src, dst;
        auto* cp = app.add_subcommand("cp", "copy files between a container and the host");
        cp->add_flag("-L,--follow-link", follow, "follow a symlink at the end of SRC");
        cp->add_flag("-a,--archive", all, "accepted for docker compatibility (ownership is kept as copied by root)");
        cp->add_option("src", src, "SRC: CONTAINER:PATH or a host path")->required();
        cp->add_option("dest", dst, "DEST: CONTAINER:PATH or a host path")->required();
        CommitOptions cmo;
        auto* commit = app.add_subcommand("commit", "make an image of a container's changes");
        commit->add_option("-a,--author", cmo.author, "author (\"Name <email>\")");
        commit->add_option("-m,--message", cmo.message, "commit message");
        commit->add_option("-c,--change", cmo.changes, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, ...)")
            ->allow_extra_args(false);
        commit->add_flag("-p,--pause", cmo.pause, "pause the container while committing (default; --pause=false)");
        commit->add_option("container", cmo.container, "container name or id")->required();
        commit->add_option("repository", cmo.repository, "REPOSITORY[:TAG] for the new image");
        LoginOptions lo;
        auto* login =
            app.add_subcommand("login", "log in to a registry (default docker.io): check and store credentials");
        login->add_option("-u,--username", lo.username, "username");
        login->add_option("-p,--password", lo.password, "password (insecure: prefer --password-stdin)");
        login->add_flag("--password-stdin", lo.password_stdin, "read the password from stdin");
        login->add_option("--tls-verify", lo.tls_verify, "verify the registry's TLS certificate")
            ->capture_default_str();
        login->add_option("--cert-dir", lo.cert_dir, "directory of *.crt CAs and *.cert/*.key client pairs");
        login->add_flag("--verify-only", lo.verify_only,
                        "only check the credentials with the registry (no prompt, nothing stored); print docker's "
                        "/auth answer as JSON (with the identity token the registry issued)");
        login->add_option("server", lo.registry, "registry host[:port]");
        auto* boot = app.get_subcommand("system")->add_subcommand(
            "boot", "after a reboot: clean up stale runtime state, start the containers whose restart policy asks for it");
        std::string new_name, private_port, output;
        auto* rename = app.add_subcommand("rename", "rename a container");
        rename->add_option("CONTAINER", src)->required();
        rename->add_option("NEW_NAME", new_name)->required();
        auto* port = app.add_subcommand("port", "list a container's port mappings, or the one of PRIVATE_PORT");
        port->add_option("CONTAINER", src)->required();
        port->add_option("PRIVATE_PORT", private_port, "PORT[/PROTO]");
        auto* pause = app.add_subcommand("pause", "pause all processes within containers");
        pause->add_option("CONTAINER", names)->required();
        auto* unpause = app.add_subcommand("unpause", "unpause all processes within containers");
        unpause->add_option("CONTAINER", names)->required();
        auto* diff = app.add_subcommand("diff", "inspect changes to files or directories on a container's filesystem");
        diff->add_option("CONTAINER", src)->required();
        auto* export_cmd = app.add_subcommand("export", "export a container's filesystem as a tar archive");
        export_cmd->add_option("-o,--output", output, "write to a file, instead of STDOUT");
        export_cmd->add_option("CONTAINER", src)->required();
        UpdateOptions uo;
        auto* update = app.add_subcommand("update", "update the resource limits and restart policy of containers");
        update->add_option("-m,--memory", uo.memory, "memory limit (b, k, m, g)");
        update->add_option("--memory-swap", uo.memory_swap, "memory plus swap limit (-1: unlimited swap)");
        update->add_option("--memory-reservation", uo.memory_reservation, "memory soft limit");
        update->add_option("--cpus", uo.cpus, "number of CPUs (1.5)");
        update->add_option("-c,--cpu-shares", uo.cpu_shares, "CPU shares (relative weight)");
        update->add_option("--cpu-quota", uo.cpu_quota, "CPU CFS quota in microseconds");
        update->add_option("--cpu-period", uo.cpu_period, "CPU CFS period in microseconds");
        update->add_option("--cpuset-cpus", uo.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
        update->add_option("--cpuset-mems", uo.cpuset_mems, "memory nodes in which to allow execution");
        update->add_option("--blkio-weight", uo.blkio_weight, "block IO weight (10-1000, 0 to disable)");
        update->add_option("--pids-limit", uo.pids_limit, "maximum number of processes (-1: unlimited)");
        update->add_option("--restart", uo.restart, "no, on-failure[:N], always or unless-stopped");
        update->add_option("CONTAINER", names)->required();
        auto* container_cmd = app.add_subcommand("container", "manage containers: prune");
        container_cmd->require_subcommand(1);
        std::vector<std::string> prune_filters;
        auto* cprune = container_cmd->add_subcommand("prune", "remove all stopped containers");
        cprune->add_flag("-f,--force", force, "do not prompt for confirmation (there is no prompt)");
        multi(cprune->add_option("--filter", prune_filters, "until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]"));
        std::string prune_format;
        cprune->add_option("--format", prune_format, "json: the API's {\"ContainersDeleted\", \"SpaceReclaimed\"}");
        std::string logout_server;
        auto* logout = app.add_subcommand("logout", "remove the credentials stored for a registry (default docker.io)");
        logout->add_option("server", logout_server, "registry host[:port]");

        if (auto rc = cli::parse(app, argc, argv)) return *rc == 2 && failure_125 ? 125 : *rc;
        cli::apply_log_flags(log_opts);
        g.runtime_root = gf.root;
        g.store = gf.store.empty() ? layout::default_store_path() : gf.store;
        g.state_dir = gf.state_dir.empty() ? default_state_dir() : gf.state_dir;
        // Events of this process and of the tools it runs go to the state dir's journal.
        setenv("OCIKIT_EVENTS", events::path_in(g.state_dir).c_str(), 0);
        if (!log_opts.file.empty()) g.runtime_flags.insert(g.runtime_flags.end(), {"--log", log_opts.file});
        if (log_opts.debug) g.runtime_flags.push_back("--debug");
        // The runtime is the lean oci-run binary (locate.hpp); its siblings
        // (oci-net, oci-run-init) live beside it.
        g.self_exe = run::runtime_binary();
        g.self_dir = g.self_exe.substr(0, g.self_exe.rfind('/'));
        if (*boot) return system_boot(g);
        if (auto rc = store_commands()) return *rc;
        if (*top) {
          auto rest = top->remaining();
          if (rest.empty()) fail(Errc::usage, "top: missing container");
          std::string container = rest[0];
          rest.erase(rest.begin());
          return container_top(g, container, rest);
        }
        if (*stats) return container_stats(g, names, format, !no_stream);
        if (*cp) return container_cp(g, src, dst, follow);
        if (*commit) return container_commit(g, cmo);
        if (*login) return registry_login(lo);
        if (*rename) return container_rename(g, src, new_name);
        if (*port) return container_port(g, src, private_port);
        if (*pause || *unpause) return container_pause(g, names, static_cast<bool>(*pause));
        if (*diff) return container_diff(g, src);
        if (*export_cmd) return container_export(g, src, output);
        if (*logout) return registry_logout(logout_server);
        if (*update) return container_update(g, uo, names);
        if (*cprune) return container_prune(g, prune_filters, prune_format);

        auto image_and_cmd = [](CLI::App* c, RunOptions& o) {
          auto rest = c->remaining();
          if (rest.empty())
            fail(Errc::usage, std::string(c->get_name()) + " requires at least 1 argument: IMAGE [COMMAND...]");
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
        if (*run)
          return as_125([&] {
            image_and_cmd(run, ro);
            return run_image(g, ro);
          });
        if (*create)
          return as_125([&] {
            image_and_cmd(create, co);
            std::cout << create_from_image(g, co) << "\n";
            return 0;
          });
        if (*exec)
          return as_125([&] {
            auto rest = exec->remaining();
            if (rest.empty()) fail(Errc::usage, "exec requires a container and a command");
            eo.container = rest[0];
            eo.cmd.assign(rest.begin() + 1, rest.end());
            return exec_managed(g, eo);
          });
        if (*ps) return print_ps(g, all, quiet, format, no_trunc, ps_filters), 0;
        if (*events_cmd) return print_events(g, ev_since, ev_until, ev_filters, ev_format);
        if (*logs) {
          long n = -1;
          if (tail != "all") {
            try {
              n = std::stol(tail);
            } catch (...) {
              fail(Errc::usage, "invalid --tail \"" + tail + "\"");
            }
          }
          return print_logs(g, names[0], follow, n, ts, logs_since, logs_until), 0;
        }
        if (*inspect) return print_inspect(g, names, inspect_format), 0;
        if (*attach) return attach_managed(g, names[0], no_stdin, sig_proxy, detach_keys);
        if (*resize) return resize_managed(g, names[0], resize_rows, resize_cols), 0;
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
      },
      failure_125 ? 125 : 1);
}

}  // namespace ocikit::manage
