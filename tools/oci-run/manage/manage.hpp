#pragma once
// oci-run manage: the docker-like commands on top of the runtime. A managed
// container is a Record (record.hpp) plus a bundle made from a store image;
// it runs under the runtime commands of container.hpp (as `oci-run --root R
// run --bundle B ID`, supervised by a monitor process that owns its stdio,
// writes its log and applies the restart policy).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manage/record.hpp"

namespace ocikit::manage {

/// Flags every management command shares.
struct Globals {
  std::string state_dir;     ///< --state-dir; "" = default_state_dir()
  std::string store;         ///< --store; "" = layout::default_store_path()
  std::string runtime_root = "/run/ocikit";  ///< the global --root
  std::string self_exe = "/proc/self/exe";  ///< the oci-run binary to run the runtime with
  std::string self_dir;      ///< the directory oci-run was started from (oci-net, oci-run-init beside it)
  std::vector<std::string> runtime_flags;  ///< global flags passed on (--log ...)
};

/// Options of `run` and `create` (docker's spelling in the comments).
struct RunOptions {
  std::string image;                      ///< IMAGE
  std::vector<std::string> cmd;           ///< [CMD...]
  std::string name;                       ///< --name
  bool detach = false;                    ///< -d
  bool interactive = false;               ///< -i
  bool tty = false;                       ///< -t
  bool rm = false;                        ///< --rm
  std::string pull = "missing";           ///< --pull missing|always|never
  std::string platform;                   ///< --platform
  std::vector<std::string> env;           ///< -e
  std::vector<std::string> env_files;     ///< --env-file
  std::string workdir;                    ///< -w
  std::string user;                       ///< -u
  std::optional<std::string> entrypoint;  ///< --entrypoint ("" resets)
  std::string hostname;                   ///< -h/--hostname
  std::vector<std::string> volumes;       ///< -v SRC:DST[:ro]
  std::vector<std::string> mounts;        ///< --mount type=..,src=..,dst=..
  std::vector<std::string> tmpfs;         ///< --tmpfs DST[:OPTS]
  bool read_only = false;                 ///< --read-only
  std::string memory;                     ///< --memory 64m
  std::string cpus;                       ///< --cpus 1.5
  int64_t pids_limit = 0;                 ///< --pids-limit (0: none)
  std::vector<std::string> cap_add, cap_drop;
  std::vector<std::string> security_opts;  ///< seccomp=FILE|unconfined, no-new-privileges
  bool privileged = false;
  std::string restart = "no";             ///< no|on-failure[:N]|always|unless-stopped
  bool init = false;                      ///< --init
  std::vector<std::string> labels;        ///< --label K=V
  std::string stop_signal;                ///< --stop-signal
  std::optional<int> stop_timeout;        ///< --stop-timeout
  std::vector<std::string> publish;       ///< -p
  std::string network;                    ///< --network
  std::vector<std::string> ulimits;       ///< --ulimit name=soft[:hard]
  bool sig_proxy = true;                  ///< --sig-proxy (foreground, without a tty)
  std::string detach_keys = "ctrl-p,ctrl-q";  ///< --detach-keys (foreground with -it)
};

/// `run IMAGE`: create the container, then run it attached (returning its
/// exit code; 125 own failures, 126/127 as docker) or, with detach, start
/// its monitor and print the id.
int run_image(const Globals& g, const RunOptions& o);
/// `create IMAGE`: make the container (bundle, record) and return its id.
/// With keep_mounted its rootfs stays mounted (for `run`, whose monitor
/// starts it next).
std::string create_from_image(const Globals& g, const RunOptions& o, bool keep_mounted = false);
/// `start NAME...`: start created or exited containers under a monitor.
void start_managed(const Globals& g, const std::string& name_or_id);
/// `start -a [-i] NAME`: start it (or, when it runs already, attach to it)
/// with its output (and our stdin with interactive, when it was created
/// with -i) until it exits (its exit code) or the detach keys (0).
int start_attached(const Globals& g, const std::string& name_or_id, bool interactive, const std::string& detach_keys);
/// `attach NAME`: its output (and our stdin when it was created with -i and
/// not no_stdin) until it exits (its exit code) or the detach keys (0).
int attach_managed(const Globals& g, const std::string& name_or_id, bool no_stdin, bool sig_proxy,
                   const std::string& detach_keys);
/// `stop [-t N] NAME`: the stop signal, then SIGKILL after the timeout.
void stop_managed(const Globals& g, const std::string& name_or_id, std::optional<int> timeout);
/// `kill [-s SIG] NAME`.
void kill_managed(const Globals& g, const std::string& name_or_id, const std::string& signal);
/// `restart [-t N] NAME`: stop then start.
void restart_managed(const Globals& g, const std::string& name_or_id, std::optional<int> timeout);
/// `rm [-f] [-v] NAME`: remove a stopped container (force: kill it first).
void remove_managed(const Globals& g, const std::string& name_or_id, bool force, bool volumes);
/// `wait NAME`: block until it is not running; returns its exit code.
int wait_managed(const Globals& g, const std::string& name_or_id);
/// `logs NAME`: print the json-file log (follow, tail -1 = all, timestamps).
void print_logs(const Globals& g, const std::string& name_or_id, bool follow, long tail, bool timestamps);
/// `ps`: docker's table, ids only with quiet, JSON lines with format "json".
void print_ps(const Globals& g, bool all, bool quiet, const std::string& format, bool no_trunc);
/// `inspect NAME...`: a JSON array in docker's shape.
void print_inspect(const Globals& g, const std::vector<std::string>& names);

/// Options of docker-style `exec`.
struct ExecOptions {
  std::string container;
  std::vector<std::string> cmd;
  bool interactive = false, tty = false, detach = false, privileged = false;
  std::vector<std::string> env, env_files;
  std::string user, workdir;
};
/// `exec` on a managed container: returns the process's exit code.
int exec_managed(const Globals& g, const ExecOptions& o);

/// True when the store holds `image` (used by the run/create dispatch).
bool store_has_image(const std::string& store, const std::string& image);

/// Set in the environment of the runtime commands oci-run runs itself, so
/// that they are never taken for management commands.
inline constexpr const char* kRuntimeOnlyEnv = "OCIKIT_RUNTIME_ONLY";

/// The command line parsing and dispatch of the management commands: returns
/// nullopt when argv is a runc-style command that container.hpp handles.
std::optional<int> main_if_managed(int argc, char** argv);

}  // namespace ocikit::manage
