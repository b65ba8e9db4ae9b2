// oci-run's runc-style commands: the CLI11 wiring of the operations in
// container.hpp, with runc's flags and help (router.hpp sends every other
// command line to oci-run-manage).
#include "runc_cli.hpp"

#include <unistd.h>

#include <iostream>
#include <map>

#include "cmd_spec.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "container.hpp"
#include "locate.hpp"
#include "router.hpp"
#include "spec.hpp"

namespace ocikit::run {

void exec_manage(char** argv, Route r) {
  std::string self = self_binary();
  std::string manage = manage_binary(self);
  setenv(kRuntimeEnv, self.c_str(), 1);
  setenv(kRouteEnv, route_name(r), 1);
  execv(manage.c_str(), argv);
  throw_errno("exec " + manage);
}

int runc_main(int argc, char** argv, int failure) {
  return cli::run_main(
      "oci-run",
      [&] {
        CLI::App app{"Run containers: a runc-compatible OCI runtime", "oci-run"};
        app.footer(docker_commands_help());
        cli::LogOptions log_opts;
        cli::add_log_flags(app, log_opts, true);
        GlobalFlags gf;
        add_global_options(app, gf);
        const std::string& root = gf.root;
        app.require_subcommand(1);

        CreateOptions co;
        auto add_create = [&](CLI::App* c) {
          c->add_option("-b,--bundle", co.bundle, "bundle directory (holds config.json)")->capture_default_str();
          c->add_option("--pid-file", co.pid_file, "write the container's pid to FILE");
          c->add_option("--console-socket", co.console_socket, "unix socket that receives the pty master");
          c->add_flag("--no-pivot", co.no_pivot, "use MS_MOVE + chroot instead of pivot_root");
          c->add_flag("--no-new-keyring", co.no_new_keyring, "do not create a session keyring");
          c->add_option("--preserve-fds", co.preserve_fds, "pass N extra fds (3..3+N-1) to the container");
          c->add_option("id", co.id, "container id")->required();
        };
        auto* create = app.add_subcommand("create", "create a container (it waits for start)");
        add_create(create);
        auto* runc = app.add_subcommand("run", "create and start a container");
        add_create(runc);
        runc->add_flag("-d,--detach", co.detach, "do not wait for the container to exit");
        runc->add_flag("--keep", co.keep, "keep the container's state after it exits");

        std::string id, signal = "SIGTERM", format = "table";
        bool all = false, force = false, quiet = false, stats = false;
        auto* start = app.add_subcommand("start", "start a created container");
        start->add_option("id", id, "container id")->required();
        auto* state = app.add_subcommand("state", "output the state of a container");
        state->add_option("id", id, "container id")->required();
        auto* kill = app.add_subcommand("kill", "send a signal to a container's init (or all its processes)");
        kill->add_flag("-a,--all", all, "signal every process of the container");
        kill->add_option("id", id, "container id")->required();
        kill->add_option("signal", signal, "signal name or number")->capture_default_str();
        auto* del = app.add_subcommand("delete", "delete a container");
        del->add_flag("-f,--force", force, "kill a running container first");
        del->add_option("id", id, "container id")->required();
        auto* list = app.add_subcommand("list", "list containers");
        list->add_option("-f,--format", format, "table or json")->capture_default_str();
        list->add_flag("-q,--quiet", quiet, "print ids only");
        auto* ps = app.add_subcommand("ps", "list the container's processes");
        ps->add_option("-f,--format", format, "table or json")->capture_default_str();
        ps->add_option("id", id, "container id")->required();
        auto* pause = app.add_subcommand("pause", "freeze a container's processes");
        pause->add_option("id", id, "container id")->required();
        auto* resume = app.add_subcommand("resume", "thaw a paused container");
        resume->add_option("id", id, "container id")->required();
        auto* events = app.add_subcommand("events", "container statistics");
        events->add_flag("--stats", stats, "print one statistics event and exit");
        std::string interval = "5s";
        events->add_option("--interval", interval, "time between stats events (5s, 500ms ...)")->capture_default_str();
        events->add_option("id", id, "container id")->required();
        std::string resources;
        auto* update = app.add_subcommand("update", "update a container's resource limits");
        update->add_option("-r,--resources", resources, "JSON file with linux.resources (\"-\" for stdin)");
        // runc's update flags; used only without --resources (as runc).
        std::map<std::string, std::string> upd;
        for (auto [flag, help] : {std::pair{"memory", "memory limit in bytes (k, m, g suffixes)"},
                                  {"memory-swap", "memory plus swap limit in bytes (-1 unlimited)"},
                                  {"memory-reservation", "memory soft limit in bytes"},
                                  {"pids-limit", "maximum number of processes"},
                                  {"cpu-shares", "CPU shares (relative weight)"},
                                  {"cpu-quota", "CPU CFS quota in microseconds"},
                                  {"cpu-period", "CPU CFS period in microseconds"},
                                  {"cpuset-cpus", "CPUs to use (0-2,4)"},
                                  {"cpuset-mems", "memory nodes to use"},
                                  {"blkio-weight", "block IO weight (10-1000)"}})
          update->add_option(std::string("--") + flag + (flag == std::string("cpu-shares") ? ",--cpu-share" : ""),
                             upd[flag], help);
        update->add_option("id", id, "container id")->required();
        bool rootless_spec = false;
        std::string spec_bundle = ".";
        auto* spec = app.add_subcommand("spec", "write a default config.json");
        spec->add_flag("--rootless", rootless_spec, "a spec for a rootless container");
        spec->add_option("-b,--bundle", spec_bundle, "directory to write config.json to")->capture_default_str();
        BundleOptions bo;
        add_bundle_options(spec, bo);
        auto* feats = app.add_subcommand("features", "print the runtime's features JSON");

        ExecOptions eo;
        auto* exec = app.add_subcommand("exec", "run a process in a running container");
        exec->add_option("-p,--process", eo.process_file, "process.json to run");
        exec->add_flag("-t,--tty", eo.tty, "allocate a pty (needs --console-socket)");
        exec->add_option("--console-socket", eo.console_socket, "unix socket that receives the pty master");
        exec->add_flag("-d,--detach", eo.detach, "do not wait for the process");
        exec->add_option("--pid-file", eo.pid_file, "write the process's pid to FILE");
        exec->add_option("--cwd", eo.cwd, "working directory in the container");
        exec->add_option("-e,--env", eo.env, "extra environment variable KEY=VALUE")->allow_extra_args(false);
        exec->add_option("-u,--user", eo.user, "UID[:GID]");
        exec->add_option("-g,--additional-gids", eo.additional_gids, "extra group ids")->allow_extra_args(false);
        exec->add_option("-c,--cap", eo.caps, "extra capability")->allow_extra_args(false);
        exec->add_flag("--no-new-privs", eo.no_new_privs, "set no_new_privs");
        exec->add_option("--preserve-fds", eo.preserve_fds, "pass N extra fds");
        // As runc: options end at the container id; the rest is the command.
        exec->prefix_command(true);

        auto dispatch = [&]() -> int {
          co.root = eo.root = root;
          if (*create) return create_container(co), 0;
          if (*runc) return run_container(co);
          if (*start) return start_container(root, id), 0;
          if (*state) return print_state(root, id), 0;
          if (*kill) return kill_container(root, id, signal, all), 0;
          if (*del) return delete_container(root, id, force), 0;
          if (*list) return list_containers(root, format, quiet), 0;
          if (*ps) return ps_container(root, id, format), 0;
          if (*pause || *resume) return pause_container(root, id, static_cast<bool>(*pause)), 0;
          if (*events) return stats ? print_stats(root, id) : stream_events(root, id, interval), 0;
          if (*update) {
            std::string text;
            if (resources == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
            else if (!resources.empty()) text = fs::read_file(resources);
            else text = update_flags_resources(upd).dump();
            return update_container(root, id, text), 0;
          }
          if (*spec && !bo.image.empty()) {
            // Warm images (every snapshot there) here; oci-run-manage extracts layers.
            if (rootless_spec) fail(Errc::usage, "spec: --rootless cannot be combined with --image");
            bo.bundle = spec_bundle;
            if (!write_bundle(bo, nullptr)) exec_manage(argv, Route::spec_image);
            return 0;
          }
          if (*spec) {
            if (bo.copy || !bo.store.empty()) fail(Errc::usage, "spec: --copy and --store need --image");
            std::string path = spec_bundle + "/config.json";
            if (fs::exists(path)) fail(Errc::exists, "File " + path + " exists. Remove it first");
            fs::write_file_atomic(path, default_spec(rootless_spec).dump(2) + "\n", 0644);
            return 0;
          }
          if (*feats) return std::cout << features().dump(2) << "\n", 0;
          if (*exec) {
            auto rest = exec->remaining();
            if (rest.empty()) rest = app.remaining();
            if (rest.empty()) fail(Errc::usage, "exec: missing container id");
            eo.id = rest[0];
            eo.args.assign(rest.begin() + 1, rest.end());
            return exec_container(eo);
          }
          return 0;
        };
        if (auto rc = cli::parse(app, argc, argv)) return *rc;
        cli::apply_log_flags(log_opts);
        try {
          return dispatch();
        } catch (...) {
          // containerd and conmon read the reason from --log (runc writes it there too).
          Error e = current_exception_as_error();
          if (!log_opts.file.empty()) log::error(e.what());
          throw e;
        }
      },
      failure);
}

}  // namespace ocikit::run
