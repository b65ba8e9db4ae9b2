#pragma once
// oci-run state: one directory per container under --root (default
// /run/ocikit), holding state.json, the start socket while the container is
// "created", and a lock file. Status is derived from the live process, as
// runc does: the init pid plus its start time guard against pid reuse.

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ocikit::run {

/// What oci-run keeps about a container (state.json).
struct State {
  std::string id;
  pid_t pid = 0;
  uint64_t start_time = 0;  ///< field 22 of /proc/<pid>/stat
  std::string bundle, rootfs, created, owner;
  std::map<std::string, std::string> annotations;
  nlohmann::json config;  ///< the config.json the container was created from
  nlohmann::json cgroup;  ///< CgroupManager::to_json()
  bool cgroup_applied = false;
};

/// Where container `id` lives under `root`. Throws Errc::invalid for a bad id
/// (empty, "/", "..", or characters other than [A-Za-z0-9_+.-]).
std::string container_dir(const std::string& root, const std::string& id);

/// Load <root>/<id>/state.json; Errc::not_found "container X does not exist".
State load_state(const std::string& root, const std::string& id);

/// Write state.json atomically into `dir`.
void save_state(const std::string& dir, const State& s);

/// "creating", "created", "running", "paused" or "stopped", from the live process.
std::string status_of(const std::string& dir, const State& s);

/// True when `pid` is alive (not a zombie) and started at `start_time`.
bool process_alive(pid_t pid, uint64_t start_time);

/// Field 22 (starttime) of /proc/<pid>/stat, 0 when the process is gone.
uint64_t process_start_time(pid_t pid);

/// runc's `state` JSON for the container.
nlohmann::ordered_json state_json(const State& s, const std::string& status);

/// The runtime-spec state passed to hooks on stdin.
std::string hook_state(const State& s, const std::string& status);

/// Every container id under root (sorted); an absent root gives none.
std::vector<std::string> list_ids(const std::string& root);

}  // namespace ocikit::run
