#pragma once
// oci-run spec: the runtime-spec config.json parsed into plain structs.
//
// Stage one of three (spec -> validate -> kernel): nothing here touches the
// kernel. Mount options are already split into mount(2) flags, propagation
// flags and the data string; names (namespaces, rlimits) are already numbers.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ocikit::run {

/// One entry of `mounts`, with its options decoded.
struct Mount {
  std::string destination;  ///< absolute, cleaned, inside the rootfs
  std::string source;  ///< host path for binds (made absolute against the bundle)
  std::string type;  ///< "" for binds
  unsigned long flags = 0;  ///< MS_* flags for mount(2) (MS_BIND/MS_REC included)
  unsigned long clear = 0;  ///< MS_* flags the options turned off (rw, suid ...)
  std::vector<unsigned long> propagation;  ///< MS_PRIVATE/MS_SHARED/... (with MS_REC) in order
  std::string data;  ///< the options mount(2) does not know as flags
  uint64_t rec_set = 0, rec_clr = 0;  ///< MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) (rro, rnosuid ...)
  bool tmpcopyup = false;  ///< tmpfs seeded with the directory's original content (runc's extension)
  bool bind() const;
};

/// One entry of linux.devices.
struct Device {
  std::string path;
  char type = 'c';  ///< c, b, u or p
  int64_t major = 0, minor = 0;
  mode_t mode = 0666;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// One namespace of linux.namespaces: created (path empty) or joined.
struct Namespace {
  int flag = 0;  ///< CLONE_NEW*
  std::string type;  ///< the spec's name ("pid")
  std::string path;
};

/// One id mapping line.
struct IdMap {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

/// One hook.
struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  int timeout = 0;  ///< seconds, 0 = none
};

/// The hooks, by phase.
struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

/// One rlimit.
struct Rlimit {
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

/// process.scheduler, decoded for sched_setattr(2).
struct Scheduler {
  uint32_t policy = 0;  ///< SCHED_* number
  int32_t nice = 0;  ///< -20..19
  uint32_t priority = 0;  ///< 1..99 for SCHED_FIFO/SCHED_RR, else 0
  uint64_t flags = 0;  ///< SCHED_FLAG_* bits
  uint64_t runtime = 0, deadline = 0, period = 0;  ///< SCHED_DEADLINE, in ns
};

/// process.ioPriority, decoded for ioprio_set(2).
struct IoPriority {
  int io_class = 0;  ///< IOPRIO_CLASS_RT/BE/IDLE
  int priority = 0;  ///< 0..7
};

/// `process`.
struct Process {
  bool terminal = false;
  unsigned console_height = 0, console_width = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::optional<mode_t> umask;
  std::vector<std::string> args, env;
  std::string cwd = "/";
  nlohmann::json capabilities;  ///< kept as JSON for ocikit::caps::parse
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile, selinux_label;
  std::optional<Scheduler> scheduler;
  std::optional<IoPriority> io_priority;
};

/// The whole config.json.
struct Spec {
  std::string oci_version;
  std::string root_path;  ///< absolute host path of the rootfs
  bool root_readonly = false;
  std::string hostname, domainname;
  Process process;
  bool has_process = false;  ///< config.json has a process (`start` of one without fails)
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  // linux
  std::vector<Namespace> namespaces;
  std::vector<IdMap> uid_mappings, gid_mappings;
  std::map<std::string, std::pair<int64_t, uint32_t>> time_offsets;  ///< "monotonic"/"boottime" -> (secs, nanosecs)
  std::vector<Device> devices;
  std::string cgroups_path;
  nlohmann::json resources;  ///< linux.resources as is (null when absent)
  unsigned long rootfs_propagation = 0;
  std::vector<std::string> masked_paths, readonly_paths;
  std::map<std::string, std::string> sysctl;
  nlohmann::json seccomp;  ///< linux.seccomp as is (null when absent)
  std::optional<unsigned long> personality;
  std::string mount_label;

  /// The namespace of `flag`, or nullptr when the spec does not list it.
  const Namespace* find_namespace(int flag) const;
};

/// Parse a runtime-spec config.json text. `bundle` is the bundle directory
/// (root.path and bind sources are resolved against it). Throws
/// Errc::invalid naming the field ("config.json: process.args: ...").
Spec parse_spec(const std::string& text, const std::string& bundle);
/// The same for a config already parsed (state.json's copy): no text round trip.
Spec parse_spec(const nlohmann::json& j, const std::string& bundle);

/// Read <bundle>/config.json and parse it; Errc::not_found when missing.
Spec load_spec(const std::string& bundle);

/// Parse a `process` object (as `exec --process FILE` takes it). Throws Errc::invalid.
Process parse_process(const nlohmann::json& j);

/// Decode mount options into `m` (flags, clear, propagation, data).
/// Throws Errc::invalid for options oci-run cannot honour (idmap, tmpcopyup).
void parse_mount_options(const std::vector<std::string>& options, Mount& m);

/// The rlimit resource number of "RLIMIT_NOFILE" etc.; Errc::invalid otherwise.
int parse_rlimit_name(const std::string& name);

/// CLONE_NEW* of a namespace type name ("pid", "network" ...); Errc::invalid otherwise.
int parse_namespace_type(const std::string& type);

/// Reject what oci-run cannot honour or what is unsafe (relative mount
/// destinations, mappings without a user namespace, hostname without a UTS
/// namespace, sysctls outside the container's namespaces ...). Errc::invalid.
void validate_spec(const Spec& s);

/// The default config.json `oci-run spec` writes (runc's defaults; with
/// `rootless`, a user namespace mapping the caller's ids).
nlohmann::ordered_json default_spec(bool rootless);

/// The runtime-spec "features" document (`oci-run features`).
nlohmann::ordered_json features();

}  // namespace ocikit::run
