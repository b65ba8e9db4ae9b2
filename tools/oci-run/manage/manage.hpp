#pragma once
// oci-run manage: the docker-like commands on top of the runtime. A managed
// container is a Record (record.hpp) plus a bundle made from a store image;
// it runs under the runtime commands of container.hpp (as `oci-run --root R
// run --bundle B ID`, supervised by a monitor process that owns its stdio,
// writes its log and applies the restart policy).

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/cgroup.hpp"
#include "common/net.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

/// Flags every management command shares.
struct Globals {
  std::string state_dir;  ///< --state-dir; "" = default_state_dir()
  std::string store;  ///< --store; "" = layout::default_store_path()
  std::string runtime_root = "/run/ocikit";  ///< the global --root
  std::string self_exe = "/proc/self/exe";  ///< the oci-run binary to run the runtime with
  std::string self_dir;  ///< the directory oci-run was started from (oci-net, oci-run-init beside it)
  std::vector<std::string> runtime_flags;  ///< global flags passed on (--log ...)
};

/// Options of `run` and `create` (docker's spelling in the comments).
struct RunOptions {
  std::string image;  ///< IMAGE
  std::vector<std::string> cmd;  ///< [CMD...]
  std::string name;  ///< --name
  bool detach = false;  ///< -d
  bool interactive = false;  ///< -i
  bool tty = false;  ///< -t
  bool rm = false;  ///< --rm
  std::string pull = "missing";  ///< --pull missing|always|never
  std::string platform;  ///< --platform
  std::string signature_policy;  ///< --signature-policy (podman's): trust policy for the pull ("" = oci-fetch's default)
  std::vector<std::string> env;  ///< -e
  std::vector<std::string> env_files;  ///< --env-file
  std::string workdir;  ///< -w
  std::string user;  ///< -u
  std::optional<std::string> entrypoint;  ///< --entrypoint ("" resets)
  std::string hostname;  ///< -h/--hostname
  std::vector<std::string> volumes;  ///< -v SRC:DST[:ro]
  std::vector<std::string> mounts;  ///< --mount type=..,src=..,dst=..
  std::vector<std::string> volumes_from;  ///< --volumes-from CONTAINER[:ro|:rw]
  std::vector<std::string> tmpfs;  ///< --tmpfs DST[:OPTS]
  bool read_only = false;  ///< --read-only
  std::string memory;  ///< --memory 64m
  std::string cpus;  ///< --cpus 1.5
  int64_t pids_limit = 0;  ///< --pids-limit (0: none)
  std::vector<std::string> cap_add, cap_drop;
  std::vector<std::string> security_opts;  ///< seccomp=FILE|unconfined, no-new-privileges
  bool privileged = false;
  std::string restart = "no";  ///< no|on-failure[:N]|always|unless-stopped
  bool init = false;  ///< --init
  std::vector<std::string> labels;  ///< --label K=V
  std::string stop_signal;  ///< --stop-signal
  std::optional<int> stop_timeout;  ///< --stop-timeout
  std::vector<std::string> publish;  ///< -p
  bool publish_all = false;  ///< -P: every exposed port on a free host port
  std::vector<std::string> expose;  ///< --expose PORT[-PORT][/PROTO]
  std::string network;  ///< --network
  std::vector<std::string> network_aliases;  ///< --network-alias
  std::vector<std::string> ulimits;  ///< --ulimit name=soft[:hard]
  bool sig_proxy = true;  ///< --sig-proxy (foreground, without a tty)
  std::string detach_keys = "ctrl-p,ctrl-q";  ///< --detach-keys (foreground with -it)
  std::optional<std::string> health_cmd, health_interval, health_timeout, health_start_period,
      health_start_interval;  ///< --health-* (health.hpp)
  std::optional<int> health_retries;  ///< --health-retries
  bool no_healthcheck = false;  ///< --no-healthcheck
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
/// `resize --height ROWS --width COLS NAME`: set the window size of a tty
/// container's terminal through its monitor (attached or not), as docker's
/// POST /containers/{id}/resize. Errc::usage for a size out of 1-65535,
/// Errc::failure when it has no tty or does not run.
void resize_managed(const Globals& g, const std::string& name_or_id, unsigned rows, unsigned cols);
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
/// `since`/`until`: docker's forms (Unix time, RFC 3339, a duration ago).
void print_logs(const Globals& g, const std::string& name_or_id, bool follow, long tail, bool timestamps,
                const std::string& since = "", const std::string& until = "");
/// The ports a running container publishes: the host ports its network
/// lease got (a "-p 80" gets a free one) or, without a lease, its -p specs.
std::vector<net::PortMapping> live_ports(const Globals& g, const Record& r);
/// `ps`: docker's table, ids only with quiet, JSON lines with format "json",
/// a line per container with a Go template, "table TEMPLATE" as a table.
/// `filters`: docker's --filter KEY=VALUE (id, name, label, status, health, exited).
void print_ps(const Globals& g, bool all, bool quiet, const std::string& format, bool no_trunc,
              const std::vector<std::string>& filters = {});
/// `inspect NAME...`: a JSON array in docker's shape: a JSON array, or with `format` (a Go template) one
/// rendered line per container.
void print_inspect(const Globals& g, const std::vector<std::string>& names, const std::string& format = "");

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

/// The docker-style command line (router.hpp routed it here): parse it
/// with the one CLI of the management commands and run it.
int docker_main(int argc, char** argv);

// ---- volume (volume_cmds.cpp) ----

/// `volume create [NAME]`: prints the name.
int volume_create(const Globals& g, const std::string& name, const std::map<std::string, std::string>& labels);
/// `volume ls`: DRIVER VOLUME NAME, or names (-q), or JSON lines / a template.
int volume_ls(const Globals& g, bool quiet, const std::string& format);
/// `volume inspect NAME...`: a JSON array (or a template per volume).
/// Returns 1 when a name is missing (after printing the others).
int volume_inspect(const Globals& g, const std::vector<std::string>& names, const std::string& format);
/// `volume rm NAME...`: prints each name removed; 1 when one failed.
int volume_rm(const Globals& g, const std::vector<std::string>& names, bool force);
/// `volume prune`: prints the removed names and the space reclaimed; only
/// volumes `filters` select (label=K[=V], label!=K[=V]); with `format`
/// "json" docker's API answer {"VolumesDeleted":[...],"SpaceReclaimed":N}.
int volume_prune(const Globals& g, bool all, const std::vector<std::string>& filters = {},
                 const std::string& format = "");

// ---- images (image_cmds.cpp) ----

/// Options of `images` / `image ls`.
struct ImagesOptions {
  bool quiet = false, digests = false, no_trunc = false, all = false;
  std::string format;  ///< "", "table", "json" or a template
  std::string repository;  ///< optional REPOSITORY[:TAG] filter
};
/// `images`: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE, one row per name.
int images_ls(const Globals& g, const ImagesOptions& o);
/// `image rm` / `rmi`: untag names, delete images no name points at any
/// more, then gc the store's blobs. 1 when one of `keys` failed.
int image_rm(const Globals& g, const std::vector<std::string>& keys, bool force);
/// `tag SOURCE TARGET`.
int image_tag(const Globals& g, const std::string& source, const std::string& target);
/// `image inspect`: a JSON array (or a template per image).
int image_inspect(const Globals& g, const std::vector<std::string>& keys, const std::string& format);
/// `history IMAGE`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first.
/// `human` false (docker's --human=false): CREATED as RFC 3339, SIZE in bytes.
int image_history(const Globals& g, const std::string& key, bool no_trunc, bool quiet, const std::string& format,
                  bool human = true);
/// `system check [--quick] [--repair]`: verify the image store and its
/// snapshots (store_check), print each problem and a summary line; with
/// `repair` remove what is broken or unreferenced. 1 when errors remain.
int system_check(const Globals& g, bool quick, bool repair);
/// `system boot` (boot.cpp): for a host that has just started (the runtime
/// root empty, the records kept). Every container whose monitor is gone is
/// marked exited (255, as dockerd's restore) and its stale runtime state and
/// rootfs mount are removed; then the containers whose restart policy asks
/// for it are started: always; unless-stopped unless stopped by hand;
/// on-failure when it was running. Prints their names; 1 when one failed.
int system_boot(const Globals& g);

/// remote.cpp: the host a docker-style line runs on: `host_flag` (-H),
/// else `context_flag`'s, else $OCIKIT_HOST, else $OCIKIT_CONTEXT's or the
/// current context's; "" for this host.
std::string remote_host(const std::string& host_flag, const std::string& context_flag);
/// Run argv (its global options but -H/--context, then the command from
/// `command_index` on) on `host` (ssh://...) through ssh: exec'd with -t on
/// a terminal; else as a child whose exit code is returned, the signals this
/// process gets carried to the other side (remote-signal). Throws for a host
/// that is not ssh:// or a failed exec/fork.
int run_remote(const std::string& host, int argc, char** argv, int command_index);
/// The other side of run_remote without a terminal: record this process
/// (pid, start time) for `token` in STATE_DIR/remote (0700), removed at
/// exit. Errc::usage for a token that is not 32 hex characters.
void register_remote_session(const std::string& state_dir, const std::string& token);
/// Hidden `remote-signal TOKEN SIGNAME`: send the signal to the process
/// recorded for `token`, if it still runs (same start time).
int remote_signal(const std::string& state_dir, const std::string& token, const std::string& signame);
/// `context create|ls|use|rm|inspect|show` (docker context).
int context_main(int argc, char** argv);
/// `image prune`: dangling (unnamed) images, with `all` every image no
/// container uses, of those `filters` select (until=TIME, label=K[=V],
/// label!=K[=V]); then gc blobs and snapshots. With `format` "json":
/// docker's API answer {"ImagesDeleted":[{"Untagged"|"Deleted":..}],"SpaceReclaimed":N}.
int image_prune(const Globals& g, bool all, const std::vector<std::string>& filters = {},
                const std::string& format = "");
/// docker's prune filters (until=TIME, label=K[=V], label!=K[=V]) as a
/// predicate on (created RFC 3339, labels); `allowed` names the keys the
/// command takes. Errc::usage for another key or a bad time.
std::function<bool(const std::string&, const std::map<std::string, std::string>&)> prune_filter(
    const std::vector<std::string>& filters, const std::vector<std::string>& allowed = {"until", "label"});

// ---- events (events.cpp) ----

/// Append a container event (docker's attributes: image, name, the labels,
/// then `extra`) to the journal (events::default_path(), which docker_main
/// points at the state dir's). Never throws.
void container_event(const Record& r, const std::string& action,
                     const std::map<std::string, std::string>& extra = {});
/// `events [--since T] [--until T] [--filter K=V]... [--format json]`: the
/// journal's events from `since` (default now) in docker's text or JSON
/// lines, following until `until` (default: until interrupted). Filters:
/// type, event, container, image, label, volume, network.
int print_events(const Globals& g, const std::string& since, const std::string& until,
                 const std::vector<std::string>& filters, const std::string& format);

// ---- containers (running.cpp, top.cpp, stats.cpp, cp.cpp, commit.cpp) ----

/// A running container: its record, cgroup manager and init (runtime
/// state), whose netns `stats` counts.
struct Running {
  Record rec;
  cgroup::Manager cg;
  pid_t init = 0;
};
/// The running container `key` (id, prefix or name); Errc::failure "container
/// KEY is not running" when it is not.
Running running_container(const Globals& g, const std::string& key);

/// Fill a new volume's data dir `dst_dir` with what the image holds at
/// `src_dir` (a path already resolved inside the container rootfs), as
/// docker does on a volume's first mount: owners, modes, times, links kept;
/// the volume root takes the image dir's mode and owner. Nothing is done
/// when `src_dir` is not a directory. Errc::io on failure.
void seed_volume(const std::string& src_dir, const std::string& dst_dir);

/// `top CONTAINER [PS OPTIONS]`: the host's ps (default -ef) limited to the
/// container's processes (its cgroup). Errc::failure when it is not running.
int container_top(const Globals& g, const std::string& key, const std::vector<std::string>& ps_args);
/// `stats --no-stream [CONTAINER...]`: CPU %, memory usage / limit, memory
/// %, net and block io, pids of the given (default: every running) containers.
/// With `stream` it samples again every second until interrupted (or until
/// every named container has stopped), redrawing the table on a terminal
/// and printing one JSON object a container a second with format "json".
int container_stats(const Globals& g, const std::vector<std::string>& keys, const std::string& format,
                    bool stream = false);
/// `cp SRC DEST`, one of them CONTAINER:PATH; `follow` (-L) follows a
/// symlink at the end of SRC (inside the container's root). SRC "-": a tar
/// on stdin extracted into the directory CONTAINER:PATH (entries resolved
/// beneath it); DEST "-": CONTAINER:PATH as a tar on stdout.
int container_cp(const Globals& g, const std::string& src, const std::string& dst, bool follow);

/// Options of `commit`.
struct CommitOptions {
  std::string container;
  std::string repository;  ///< REPO[:TAG]; "" keeps the image under its id only
  std::string author, message;
  std::vector<std::string> changes;  ///< Dockerfile instructions (--change)
  bool pause = true;
};
/// `commit`: prints the new image id (sha256:<config digest>).
int container_commit(const Globals& g, const CommitOptions& o);

/// Options of docker-style `update` (empty / unset: unchanged).
struct UpdateOptions {
  std::string memory, memory_swap, memory_reservation, cpus, cpuset_cpus, cpuset_mems, restart;
  std::optional<int64_t> cpu_shares, cpu_quota, cpu_period, blkio_weight, pids_limit;
};
/// `update [OPTIONS] CONTAINER...` (update.cpp): new limits into a running
/// container's cgroup (the runtime's update) and, for later starts, into its
/// config.json and record; the restart policy into the record. Prints each
/// name; 1 when one of several failed.
int container_update(const Globals& g, const UpdateOptions& o, const std::vector<std::string>& names);
/// `container prune [--filter until=|label=]`: remove stopped containers;
/// "Deleted Containers:" and the space reclaimed, or with format "json"
/// the API's {"ContainersDeleted": [...], "SpaceReclaimed": N}.
int container_prune(const Globals& g, const std::vector<std::string>& filters, const std::string& format);

// ---- container_admin.cpp ----

/// `rename CONTAINER NEW_NAME`: docker's conflict error when the name is taken.
int container_rename(const Globals& g, const std::string& key, const std::string& new_name);
/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`: "80/tcp -> 0.0.0.0:8080" lines
/// of a running container (or the host addresses of one port).
int container_port(const Globals& g, const std::string& key, const std::string& private_port);
/// `pause`/`unpause CONTAINER...`: freeze or thaw (the runtime's cgroup
/// freezer), printing each name; 1 when one failed.
int container_pause(const Globals& g, const std::vector<std::string>& keys, bool pause);
/// True when the runtime says the container is paused.
bool container_paused(const Globals& g, const Record& r);
/// `diff CONTAINER`: "A|C|D /path" lines of its upper layer against its image.
int container_diff(const Globals& g, const std::string& key);
/// `export [-o FILE] CONTAINER`: its merged filesystem as a tar.
int container_export(const Globals& g, const std::string& key, const std::string& output);

// ---- archive_cmds.cpp ----

/// `save [-o FILE] IMAGE...`: a docker-archive of the images.
int image_save(const Globals& g, const std::vector<std::string>& keys, const std::string& output);
/// `load [-i FILE] [-q]`: a docker-archive (or an OCI layout tar) into the
/// store; "Loaded image: NAME" lines.
int image_load(const Globals& g, const std::string& input, bool quiet);
/// Options of `import`.
struct ImportOptions {
  std::string source;  ///< FILE or "-"
  std::string repository;  ///< REPOSITORY[:TAG]
  std::string message;  ///< -m
  std::vector<std::string> changes;  ///< -c
};
/// `import`: a filesystem tar as a one-layer image; prints its id.
int image_import(const Globals& g, const ImportOptions& o);

// ---- system_cmds.cpp ----


/// `system df [-v]`: TYPE TOTAL ACTIVE SIZE RECLAIMABLE.
int system_df(const Globals& g, bool verbose, const std::string& format = "");
/// Options of `system prune`.
struct PruneOptions {
  bool all = false, volumes = false, force = false;
  std::vector<std::string> filters;  ///< until=..., label=...
};
/// `system prune`: stopped containers, unused networks, dangling (all: unused)
/// images, build cache (and with volumes, unused anonymous volumes).
int system_prune(const Globals& g, const PruneOptions& o);

// ---- registries (login.cpp) ----

/// Options of `login`.
struct LoginOptions {
  std::string registry;  ///< SERVER ("" = docker.io)
  std::string username;  ///< -u, --username
  std::optional<std::string> password;  ///< -p, --password
  bool password_stdin = false;  ///< --password-stdin
  bool tls_verify = true;  ///< --tls-verify
  std::string cert_dir;  ///< --cert-dir
  bool verify_only = false;  ///< --verify-only: check, store nothing, print docker's /auth JSON
};
/// `login [SERVER]`: check the credentials with the registry (GET /v2/,
/// Basic or Bearer as it asks), then store them as docker does
/// (credentials.hpp); prompt on a terminal for what was not given.
/// Prints "Login Succeeded". Errc::unauthorized when they are refused.
/// With verify_only (for oci-api's POST /auth) nothing is looked up,
/// prompted for or stored: -u and the password (user "<token>" for an
/// identity token) are checked and docker's answer printed as JSON,
/// {"Status":"Login Succeeded","IdentityToken":TOKEN} (the token when the
/// token server issued a refresh token).
int registry_login(const LoginOptions& o);
/// `logout [SERVER]`: remove the stored credentials ("Removing login
/// credentials for HOST", or "Not logged in to HOST").
int registry_logout(const std::string& registry);

// ---- containers (image_cmds.cpp) ----

/// What the image commands need to know of one managed container.
struct ContainerUse {
  std::string id, name;
  std::string image_digest;  ///< manifest digest "sha256:..." ("" when unknown)
};

}  // namespace ocikit::manage
