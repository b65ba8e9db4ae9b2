#pragma once
// oci-run manage/record: what the docker-like commands (run IMAGE, ps, logs,
// stop, rm ...) keep about a managed container, on disk under the state dir:
//
//   <state>/                      /var/lib/ocikit, --state-dir, $OCIKIT_STATE_DIR
//     containers/
//       .lock                     flock: held while names are checked/records change
//       <id>/                     id: 64 hex digits, also the runtime container id
//         record.json             this Record (written atomically)
//         bundle/config.json      the OCI runtime config made from the image
//         bundle/rootfs/          mount point of the overlay rootfs
//         upper/ work/            overlay upper and work dirs (the container's changes)
//         <id>-json.log           docker json-file log: {"log","stream","time"} a line
//         monitor.pid             (while a monitor runs)
//     volumes/<name>/_data        named volumes (+ volume.json)
//
// A record's status is what the last writer saw; live_status() checks the
// monitor and container pids so that a killed monitor or a reboot does not
// leave a container shown as running.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.hpp"

namespace ocikit::manage {

/// The default state dir: $OCIKIT_STATE_DIR, else /var/lib/ocikit.
std::string default_state_dir();

/// A mount asked for with -v / --mount / --tmpfs, as recorded (for inspect).
struct MountRecord {
  std::string type;  ///< "bind", "volume" or "tmpfs"
  std::string source;  ///< host path, volume name, or "" for tmpfs
  std::string destination;  ///< path in the container
  bool read_only = false;
  std::string options;  ///< tmpfs options ("size=64m,mode=1777"), else ""
};

/// Everything oci-run keeps about one managed container (record.json).
struct Record {
  std::string id;  ///< 64 hex digits; also the runtime (--root) id
  std::string name;  ///< unique; docker-style random "adjective_noun" when not given
  std::string image;  ///< the image reference as the user gave it
  std::string image_digest;  ///< manifest digest "sha256:..."
  std::string created;  ///< RFC 3339 (UTC, nanoseconds)
  std::string started;  ///< last start time, "" when never started
  std::string finished;  ///< last exit time, "" when never exited
  std::string status = "created";  ///< "created", "running", "exited", "removing"
  int exit_code = 0;  ///< last exit code (128+signal when killed)
  std::string error;  ///< why the last start failed (docker's State.Error), "" otherwise
  pid_t monitor_pid = 0;  ///< the monitor process (0 when none)
  uint64_t monitor_start = 0;  ///< its start time (/proc/<pid>/stat field 22), against pid reuse
  pid_t pid = 0;  ///< the container's init pid on the host (0 when not running)
  std::string runtime_root;  ///< the runtime's --root the container runs under
  std::string store;  ///< the image store the image came from
  std::vector<std::string> layers;  ///< snapshot dirs of the image, lowest first (overlay lowers)
  std::vector<std::string> command;  ///< the process args (for ps)
  std::string restart_policy = "no";  ///< "no", "on-failure", "always", "unless-stopped"
  int restart_max = 0;  ///< on-failure:N (0: unlimited)
  int restart_count = 0;  ///< restarts done by the monitor
  bool auto_remove = false;  ///< --rm
  bool tty = false;  ///< -t
  bool interactive = false;  ///< -i
  std::string stop_signal = "SIGTERM";
  int stop_timeout = 10;  ///< seconds before SIGKILL in stop
  bool manually_stopped = false;  ///< stop/kill by the user: no restart
  std::map<std::string, std::string> labels;
  std::vector<MountRecord> mounts;
  std::vector<std::string> ports;  ///< -p specs as given
  std::vector<std::string> exposed;  ///< --expose, as "PORT/PROTO" (docker's Config.ExposedPorts keys)
  std::string user;  ///< -u as given ("" = the image's USER)
  std::string network;  ///< --network ("" = none given)
  std::vector<std::string> volumes_created;  ///< anonymous volumes removed by rm -v
  nlohmann::json host_config = nlohmann::json::object();  ///< other docker HostConfig fields, for inspect
  /// docker's Config.Healthcheck ({"Test": [...], "Interval": ns ...}); null when none (health.hpp)
  nlohmann::json healthcheck;
};

/// Write `data` to `path` through a temp file renamed over it (atomic for
/// readers, not fsynced: for the container's own files). Throws Errc::io.
void write_file_replace(const std::string& path, std::string_view data, mode_t mode);

/// record.json <-> Record. from_json throws Errc::invalid on a malformed record.
nlohmann::json to_json(const Record& r);
Record record_from_json(const nlohmann::json& j);

/// A state dir (cheap to copy: it only holds the path).
class StateDir {
 public:
  /// The state dir `path` (created on first write).
  explicit StateDir(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  /// <state>/containers
  std::string containers_dir() const { return path_ + "/containers"; }
  /// <state>/volumes
  std::string volumes_dir() const { return path_ + "/volumes"; }
  /// <state>/containers/<id>
  std::string container_dir(const std::string& id) const { return containers_dir() + "/" + id; }
  /// <state>/containers/<id>/bundle
  std::string bundle_dir(const std::string& id) const { return container_dir(id) + "/bundle"; }
  /// <state>/containers/<id>/bundle/rootfs
  std::string rootfs_dir(const std::string& id) const { return bundle_dir(id) + "/rootfs"; }
  /// <state>/containers/<id>/upper
  std::string upper_dir(const std::string& id) const { return container_dir(id) + "/upper"; }
  /// <state>/containers/<id>/work
  std::string work_dir(const std::string& id) const { return container_dir(id) + "/work"; }
  /// <state>/containers/<id>/<id>-json.log
  std::string log_path(const std::string& id) const { return container_dir(id) + "/" + id + "-json.log"; }

  /// Hold the containers lock (exclusive) while checking names and
  /// creating/removing records, so two `run --name x` cannot both win.
  fs::FileLock lock() const;

  /// Write <id>/record.json atomically (creating the container dir).
  void save(const Record& r) const;
  /// Load <id>/record.json. Errc::not_found "no such container: ID".
  Record load(const std::string& id) const;
  /// Load, apply `fn`, save, all under the lock; returns the new record.
  template <class F>
  Record update(const std::string& id, F&& fn) const {
    auto l = lock();
    Record r = load(id);
    fn(r);
    save(r);
    return r;
  }
  /// Every record (sorted by creation time, newest first); unreadable or
  /// half-created dirs (no record.json) are skipped.
  std::vector<Record> list() const;
  /// The id of the container named `name_or_id` (exact name, full id, or a
  /// unique id prefix). Errc::not_found "no such container: X"; Errc::invalid
  /// "multiple containers match X" for an ambiguous prefix.
  std::string find(const std::string& name_or_id) const;
  /// Like find but nullopt when nothing matches.
  std::optional<std::string> try_find(const std::string& name_or_id) const;
  /// True when a container is named `name`.
  bool name_taken(const std::string& name) const;
  /// Remove the container dir <id> (after its rootfs is unmounted).
  void remove(const std::string& id) const;

 private:
  std::string path_;
};

/// A fresh random id (64 lowercase hex digits from getrandom).
std::string new_id();
/// A docker-style name ("adjective_surname") not yet taken in `state`.
std::string new_name(const StateDir& state);
/// True when `name` is a valid container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool valid_name(const std::string& name);

/// The status the record should show now: "running" only while the monitor
/// (or, for a container without one, the init pid) is alive; a record saying
/// "running" whose processes are gone is "exited".
std::string live_status(const Record& r);

/// True when `pid` is alive and started at `start_time` (0: do not check).
bool pid_alive(pid_t pid, uint64_t start_time = 0);
/// /proc/<pid>/stat field 22, 0 when gone.
uint64_t pid_start_time(pid_t pid);

}  // namespace ocikit::manage
