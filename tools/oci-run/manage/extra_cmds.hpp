#pragma once
// The extra commands behind extra.cpp's CLI: each prints its result on
// stdout (tables, ids or JSON) and returns the exit code; errors are thrown
// as ocikit::Error.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ocikit::manage {

/// Where the commands find things (global flags).
struct Env {
  std::string root = "/run/ocikit";  ///< runtime state (--root)
  std::string store;                 ///< image store (--store)
  std::string state_dir;             ///< container records and volumes (--state-dir)
};

// ---- volume (volume_cmds.cpp) ----

/// `volume create [NAME]`: prints the name.
int volume_create(const Env& env, const std::string& name, const std::map<std::string, std::string>& labels);
/// `volume ls`: DRIVER VOLUME NAME, or names (-q), or JSON lines / a template.
int volume_ls(const Env& env, bool quiet, const std::string& format);
/// `volume inspect NAME...`: a JSON array (or a template per volume).
/// Returns 1 when a name is missing (after printing the others).
int volume_inspect(const Env& env, const std::vector<std::string>& names, const std::string& format);
/// `volume rm NAME...`: prints each name removed; 1 when one failed.
int volume_rm(const Env& env, const std::vector<std::string>& names, bool force);
/// `volume prune`: prints the removed names and the space reclaimed.
int volume_prune(const Env& env, bool all);

// ---- images (image_cmds.cpp) ----

/// Options of `images` / `image ls`.
struct ImagesOptions {
  bool quiet = false, digests = false, no_trunc = false, all = false;
  std::string format;      ///< "", "table", "json" or a template
  std::string repository;  ///< optional REPOSITORY[:TAG] filter
};
/// `images`: REPOSITORY TAG [DIGEST] IMAGE ID CREATED SIZE, one row per name.
int images_ls(const Env& env, const ImagesOptions& o);
/// `image rm` / `rmi`: untag names, delete images no name points at any
/// more, then gc the store's blobs. 1 when one of `keys` failed.
int image_rm(const Env& env, const std::vector<std::string>& keys, bool force);
/// `tag SOURCE TARGET`.
int image_tag(const Env& env, const std::string& source, const std::string& target);
/// `image inspect`: a JSON array (or a template per image).
int image_inspect(const Env& env, const std::vector<std::string>& keys, const std::string& format);
/// `history IMAGE`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first.
int image_history(const Env& env, const std::string& key, bool no_trunc, bool quiet, const std::string& format);
/// `system check [--quick] [--repair]`: verify the image store and its
/// snapshots (store_check), print each problem and a summary line; with
/// `repair` remove what is broken or unreferenced. 1 when errors remain.
int system_check(const Env& env, bool quick, bool repair);
/// `image prune`: dangling (unnamed) images, with `all` every image no
/// container uses; then gc blobs and snapshots.
int image_prune(const Env& env, bool all);

// ---- containers (stats.cpp, cp.cpp, commit.cpp) ----

/// Fill a new volume's data dir `dst_dir` with what the image holds at
/// `src_dir` (a path already resolved inside the container rootfs), as
/// docker does on a volume's first mount: owners, modes, times, links kept;
/// the volume root takes the image dir's mode and owner. Nothing is done
/// when `src_dir` is not a directory. Errc::io on failure.
void seed_volume(const std::string& src_dir, const std::string& dst_dir);

/// `top CONTAINER [PS OPTIONS]`: the host's ps (default -ef) limited to the
/// container's processes (its cgroup). Errc::failure when it is not running.
int container_top(const Env& env, const std::string& key, const std::vector<std::string>& ps_args);
/// `stats --no-stream [CONTAINER...]`: CPU %, memory usage / limit, memory
/// %, net and block io, pids of the given (default: every running) containers.
/// With `stream` it samples again every second until interrupted (or until
/// every named container has stopped), redrawing the table on a terminal
/// and printing one JSON object a container a second with format "json".
int container_stats(const Env& env, const std::vector<std::string>& keys, const std::string& format, bool stream = false);
/// `cp SRC DEST`, one of them CONTAINER:PATH; `follow` (-L) follows a
/// symlink at the end of SRC (inside the container's root).
int container_cp(const Env& env, const std::string& src, const std::string& dst, bool follow);

/// Options of `commit`.
struct CommitOptions {
  std::string container;
  std::string repository;  ///< REPO[:TAG]; "" keeps the image under its id only
  std::string author, message;
  std::vector<std::string> changes;  ///< Dockerfile instructions (--change)
  bool pause = true;
};
/// `commit`: prints the new image id (sha256:<config digest>).
int container_commit(const Env& env, const CommitOptions& o);

// ---- containers (container_view.cpp) ----

/// What the image commands need to know of one managed container.
struct ContainerUse {
  std::string id, name;
  std::string image_digest;  ///< manifest digest "sha256:..." ("" when unknown)
};
/// The managed containers of env.state_dir.
std::vector<ContainerUse> container_uses(const Env& env);

}  // namespace ocikit::manage
