#pragma once
// oci-run container: the runtime operations behind the runc-compatible
// commands. Each takes the global --root and the command's options.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ocikit::run {

struct State;  // state.hpp
struct Spec;  // spec.hpp

/// Options of `create` and `run`.
struct CreateOptions {
  std::string root = "/run/ocikit";
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool detach = false;  ///< run only
  bool keep = false;  ///< run only
};

/// `create`: set the container up and leave it waiting for `start`.
void create_container(const CreateOptions& o);
/// `run`: create + start; without detach, wait and return the exit code
/// (128+signal when killed), then delete unless keep.
int run_container(const CreateOptions& o);
/// `start`: let a created container exec its process; runs poststart hooks.
void start_container(const std::string& root, const std::string& id);
/// `kill`: send `signal` (name or number) to init, or with `all` to every process.
void kill_container(const std::string& root, const std::string& id, const std::string& signal, bool all);
/// `delete`: remove a stopped (or created) container; `force` kills a running one first.
void delete_container(const std::string& root, const std::string& id, bool force);
/// delete_container's work on a container whose state (and, when not
/// null, parsed config) the caller holds: run removes its container so.
void remove_container(const std::string& dir, const State& state, const Spec* spec, bool force);
/// `state`: runc's state JSON on stdout.
void print_state(const std::string& root, const std::string& id);
/// `list`: a table, or JSON with format "json".
void list_containers(const std::string& root, const std::string& format, bool quiet);

/// Options of `exec`.
struct ExecOptions {
  std::string root = "/run/ocikit";
  std::string id;
  std::string process_file;
  std::vector<std::string> args;
  bool tty = false;
  std::string console_socket;
  bool detach = false;
  std::string pid_file;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;  ///< "uid[:gid]"
  std::vector<std::string> caps;
  std::vector<std::string> additional_gids;
  bool no_new_privs = false;
  int preserve_fds = 0;
};
/// `exec`: run a new process in a running container; returns its exit code
/// (or 0 with detach).
int exec_container(const ExecOptions& o);

/// `ps`: the container's pids (JSON array with format "json", else a table via ps).
void ps_container(const std::string& root, const std::string& id, const std::string& format);
/// `pause` / `resume`: freeze or thaw the container's cgroup.
void pause_container(const std::string& root, const std::string& id, bool pause);
/// `events --stats`: one stats event (JSON) on stdout.
void print_stats(const std::string& root, const std::string& id);
/// `events` without --stats (as runc): one JSON object per line, a "stats"
/// event every `interval` (a duration: "5s", "500ms", "1m"; a bare number
/// is seconds) and an "oom" event for each OOM kill in the container's
/// memory cgroup, until the container stops. Errc::usage for a bad interval.
void stream_events(const std::string& root, const std::string& id, const std::string& interval);
/// A runc-style duration ("5s", "250ms", "1m30s"; bare number = seconds) in
/// milliseconds. Errc::usage when malformed or not positive.
int64_t parse_interval(const std::string& s);
/// `update --resources FILE` (or "-" for stdin), or the JSON built from flags.
void update_container(const std::string& root, const std::string& id, const std::string& resources_json);
/// linux.resources from runc's update flags (flag name without "--" -> value;
/// empty values are unset): memory, memory-swap, memory-reservation (bytes,
/// k/m/g suffixes, -1 unlimited), pids-limit, cpu-shares, cpu-quota,
/// cpu-period, cpuset-cpus, cpuset-mems, blkio-weight. Errc::usage for a
/// malformed number or when no flag is set.
nlohmann::json update_flags_resources(const std::map<std::string, std::string>& flags);

/// Parse a signal name ("KILL", "SIGKILL") or number; Errc::usage otherwise.
int parse_signal(const std::string& s);

/// Keep the container from writing to this binary through /proc/<pid>/exe
/// (CVE-2019-5736): re-execute from a protected view of the binary (a
/// private read-only overlayfs, else a sealed memfd copy: exe_seal.hpp) with
/// `argv` (setting OCIKIT_RUN_ROUTE=runtime for the copy), returning at once
/// when already running from one. main calls it first thing for create,
/// run and exec. Being non-dumpable is not enough: see container.cpp.
void ensure_sealed_binary(char** argv);

/// Make sure ensure_sealed_binary ran (re-executing now if it did not);
/// called before the container's child is made. `bounding` (the
/// container's CAP_* bits) is not used.
void protect_binary(uint64_t bounding);

}  // namespace ocikit::run
