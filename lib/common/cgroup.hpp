#pragma once
// ocikit::cgroup: a container's control groups on cgroup v1, v2 and hybrid
// hosts (v1 controllers plus a cgroup2 mount, as this machine has).
//
// A Manager knows one directory per mounted hierarchy for one container. It
// is created from the spec's linux.cgroupsPath, saved in the container state
// (to_json / from_json) and reused by later runtime commands (kill, pause,
// update, events, delete). Resources follow OCI linux.resources; a field the
// host cannot honour is an Errc::failure naming it, never silently ignored.

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ocikit::cgroup {

/// Which cgroup layout the host has.
enum class Mode {
  v1,  ///< only cgroup v1 hierarchies
  hybrid,  ///< v1 controllers plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
  v2,  ///< only the unified cgroup2 hierarchy
};

/// "v1", "hybrid" or "v2".
const char* mode_name(Mode m);

/// Where the hierarchies are mounted (read from /proc/self/mountinfo, or
/// given by tests to point a Manager at another root).
struct Hierarchies {
  Mode mode = Mode::v1;
  /// v1 hierarchy per controller name ("memory", "cpu", "name=systemd" ...)
  /// -> its mount point. Co-mounted controllers share a mount point.
  std::map<std::string, std::string> v1;
  /// The cgroup2 mount point, "" when there is none.
  std::string unified;
};

/// The host's layout from /proc/self/mountinfo. Throws Errc::io.
Hierarchies detect_hierarchies();
/// The host's mode (detect_hierarchies().mode).
Mode detect_mode();

/// Map a cgroupsPath to a cgroup path: "" -> "/ocikit/<id>", the systemd
/// form "slice:prefix:name" -> "/a.slice/a-b.slice/prefix-name.scope",
/// anything else cleaned. A relative result stays relative (it is nested
/// under the runtime's own cgroup by create). Throws Errc::invalid for a
/// path with ".." escaping the root or a malformed systemd form.
std::string resolve_path(const std::string& cgroups_path, const std::string& id);

/// One container's cgroups.
class Manager {
 public:
  Manager() = default;

  /// A manager for `cgroups_path` (see resolve_path) of container `id` on
  /// the host's layout. Creates nothing yet. Throws Errc::invalid.
  static Manager create(const std::string& cgroups_path, const std::string& id);
  /// Same on an explicit layout (tests point this at a chosen root).
  static Manager create(const std::string& cgroups_path, const std::string& id, const Hierarchies& layout);
  /// Restore from to_json(). Throws Errc::invalid on a malformed object.
  static Manager from_json(const nlohmann::json& j);
  /// {"mode","path","v1":{controller:dir},"unified":dir} for the state file.
  nlohmann::json to_json() const;

  /// Create the cgroup directories (each v1 hierarchy and the unified one)
  /// and move `pid` into all of them. pid 0 creates only. On a v2 host the
  /// available controllers are enabled in the parents; on a hybrid host
  /// nothing is enabled here: set() enables in cgroup2 only the controller
  /// a resource needs (hugetlb here), and destroy() undoes only that.
  /// Throws Errc::io.
  void apply(pid_t pid);
  /// Apply OCI linux.resources (see the module comment). Throws
  /// Errc::invalid for malformed values, Errc::failure for a field the host
  /// cannot honour ("cannot set memory.kernel: ..."), Errc::io on writes.
  void set(const nlohmann::json& resources);

  /// Freeze every process (v1 freezer or v2 cgroup.freeze) and wait until
  /// the kernel reports them frozen. Throws Errc::failure without a freezer.
  void freeze();
  /// Thaw. Throws as freeze.
  void thaw();
  /// True when the cgroup is frozen.
  bool frozen() const;

  /// Every process in the cgroup and its descendants.
  std::vector<pid_t> pids() const;
  /// Send `sig` to every process (frozen while signalled where a freezer
  /// exists, so that no new process escapes; v2 SIGKILL uses cgroup.kill).
  void kill_all(int sig);
  /// Statistics in the shape of runc's `events --stats` "data" object.
  nlohmann::json stats() const;
  /// Remove the cgroup directories (children first), retrying briefly on
  /// EBUSY while exiting processes leave. Missing ones are fine. Then turn
  /// off, deepest first, the cgroup2 controllers this manager enabled in
  /// subtree_control, each only where no other populated cgroup remains
  /// below that parent. Throws Errc::io.
  void destroy();

  /// The resolved cgroup path ("/ocikit/<id>").
  const std::string& path() const { return path_; }
  /// The layout mode this manager uses.
  Mode mode() const { return mode_; }
  /// The directory of `controller` (v1) or "" when not mounted.
  std::string v1_dir(const std::string& controller) const;
  /// The unified (cgroup2) directory, "" when there is none.
  const std::string& unified_dir() const { return unified_; }

 private:
  Mode mode_ = Mode::v1;
  std::string path_;
  std::map<std::string, std::string> v1_;  ///< controller -> cgroup dir
  std::string unified_;  ///< cgroup2 dir, "" if none
  /// cgroup dir -> its hierarchy's mount root, as create() found them (not
  /// saved in to_json: a manager from from_json looks them up).
  std::map<std::string, std::string> mounts_;
  /// (parent dir, controller) pairs this manager wrote "+controller" to.
  std::vector<std::pair<std::string, std::string>> enabled_;

  /// Enable cgroup2 `controller` from the mount root down to unified_'s
  /// parent where it is not on yet, recording each change. Errc::failure
  /// naming `field` when the hierarchy does not have the controller.
  void enable_v2(const std::string& controller, const std::string& field);

  /// The mount root of the hierarchy holding cgroup dir `dir`.
  std::string mount_for(const std::string& dir) const;

  /// The directory used for process listing / freezing.
  std::string procs_dir() const;
};

/// OOM notifications of one container's memory cgroup: on v1 an eventfd
/// registered through cgroup.event_control on memory.oom_control, on v2 an
/// inotify watch on memory.events (whose oom_kill counter is compared).
class OomWatch {
 public:
  /// Start watching `m`'s memory cgroup. Throws Errc::failure when no
  /// memory controller is mounted, Errc::io when the kernel refuses.
  explicit OomWatch(const Manager& m);
  OomWatch(const OomWatch&) = delete;
  OomWatch& operator=(const OomWatch&) = delete;
  ~OomWatch();
  /// The descriptor to poll for POLLIN.
  int fd() const { return fd_; }
  /// After POLLIN: how many OOM events happened since the last call (may be 0).
  uint64_t consume();

 private:
  int fd_ = -1;
  int ctl_fd_ = -1;  ///< v1: memory.oom_control, kept open while registered
  std::string events_;  ///< v2: the cgroup2 directory holding memory.events
  uint64_t last_kills_ = 0;
};


}  // namespace ocikit::cgroup
