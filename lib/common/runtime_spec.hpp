#pragma once
// ocikit::runtime_spec: an image's config turned into a runtime bundle's
// config.json, the way docker turns `docker run IMAGE` into an OCI spec:
// entrypoint + cmd, env, working dir, USER resolved from the image's
// /etc/passwd and /etc/group, docker's default capabilities, mounts,
// namespaces, masked/read-only paths and seccomp profile.
//
// Privileged (docker's --privileged, kept simple): every capability the
// kernel knows, no seccomp filter, no masked or read-only paths, /sys and
// /sys/fs/cgroup mounted read-write, every device allowed in the devices
// cgroup. Host devices are not bind-mounted into /dev (docker does that).
//
// The document written is the runtime spec's config.json with ociVersion
// "1.0.2" (crun 1.8 rejects newer versions); runc, crun and oci-run all run
// it unchanged.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/image.hpp"
#include "common/users.hpp"

namespace ocikit::runtime_spec {

/// What `runc spec` writes (`oci-run spec` without --image): a shell in
/// "rootfs", runc's small capability set, the standard mounts and
/// namespaces; with `rootless`, a user namespace mapping the caller's uid and
/// gid to root and no cgroup mount or device rules.
nlohmann::ordered_json default_spec(bool rootless = false);

/// docker's masked and read-only paths, which every container ocikit
/// configures gets (oci-run run, oci-build's RUN) unless privileged.
std::vector<std::string> docker_masked_paths();
std::vector<std::string> docker_readonly_paths();

/// What a `run` command line changes in the image's settings.
struct Options {
  std::optional<std::vector<std::string>> entrypoint;  ///< --entrypoint; an empty vector resets it
  std::vector<std::string> cmd;  ///< non-empty replaces the image's Cmd
  std::vector<std::string> env;  ///< KEY=VALUE, override the image's
  std::string workdir, user, hostname;  ///< empty = the image's / default
  bool terminal = false, read_only = false, privileged = false, no_new_privileges = false;
  std::vector<std::string> cap_add, cap_drop;  ///< "NET_ADMIN" or "CAP_NET_ADMIN", "ALL"
  std::string seccomp;  ///< "" docker's default profile, "unconfined", or a JSON file path
  std::map<std::string, std::string> annotations;  ///< added to the image's labels
  /// OCI mount objects after the standard ones (binds, volumes, tmpfs, RUN's mounts).
  std::vector<nlohmann::json> mounts;
  /// linux.resources members (memory, cpu, pids ...) set beside the device rules.
  nlohmann::json resources = nlohmann::json::object();
  /// process.rlimits entries {"type","soft","hard"} (docker's --ulimit), replacing the same type.
  std::vector<nlohmann::json> rlimits;
  /// "host": no network namespace (the host's); "" or "none": a new, empty
  /// one; any other name: an oci-net network the container joins in the
  /// runtime's createRuntime hook and leaves in its poststop hook, which run
  /// `net_tool hook STAGE --network NAME net_args...`.
  std::string network;
  std::string net_tool;  ///< oci-net's path (with a network name)
  std::vector<std::string> net_args;  ///< more hook arguments: --name N, -p P, --no-etc
  /// An init binary bound read-only at /dev/init and run in front of the
  /// command (docker's --init), "" for none.
  std::string init;
};

/// A complete config.json for the image `config`:
/// - process.args = entrypoint + cmd, docker's rules: a non-empty
///   opts.entrypoint replaces the image's and drops its Cmd; an empty one
///   resets the entrypoint only; a non-empty opts.cmd replaces Cmd.
///   Errc::usage "no command specified" when the result is empty.
/// - process.env: the image's Env, then opts.env by key ("KEY" alone takes
///   the caller's environment value, as docker does; dropped when unset);
///   PATH defaults to the usual one, HOSTNAME is set, HOME from the user's
///   passwd entry when unset, TERM=xterm with a terminal.
/// - process.cwd: opts.workdir, else the image's WorkingDir, else "/".
/// - process.user: users::resolve(rootfs, opts.user or the image's User).
/// - capabilities: docker's default set with cap_add/cap_drop ("ALL" in
///   cap_add means every capability, in cap_drop none but the added ones;
///   an unknown name is Errc::usage "unknown capability \"X\""), the same in
///   bounding, effective and permitted; RLIMIT_NOFILE 1048576 (docker's),
///   or this process's hard limit when lower (a runtime could not raise it).
/// - root {path = root_path, readonly = opts.read_only}, hostname
///   (opts.hostname, default "oci-run").
/// - mounts /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys,
///   /sys/fs/cgroup; namespaces pid, network, ipc, uts, mount, cgroup;
///   docker's masked and read-only paths; docker's devices cgroup rules.
/// - linux.seccomp: seccomp::default_profile() unless opts.seccomp is
///   "unconfined" or opts.privileged; a file path is read and must hold a
///   JSON object (Errc::invalid "seccomp profile PATH: ...").
/// - annotations: the image's labels, org.opencontainers.image.stopSignal
///   when the image sets StopSignal, then opts.annotations.
/// - then the caller's: opts.mounts after the standard mounts (then
///   /dev/init with opts.init), opts.resources, opts.rlimits by type, the
///   network hooks or the host's network (opts.network).
/// `rootfs` is the host path of the image's files (for the user lookup only).
/// Errors from resolve_user pass through.
nlohmann::ordered_json from_image(const image::ImageConfig& config, const std::string& rootfs,
                                  const std::string& root_path, const Options& opts);

}  // namespace ocikit::runtime_spec
