#pragma once
// oci-run manage/monitor: the per-container supervisor (see monitor.cpp).

#include <string>

#include "manage/manage.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

/// The caller's stdio for an attached (foreground) container.
struct Attach {
  int in_fd = 0, out_fd = 1, err_fd = 2;
};

/// Run container `id` (record in `st`) until it is done, restarting it as
/// its policy says; returns the last exit code. With `attach` the streams
/// are also copied to the caller. Mounts the rootfs first and unmounts it
/// (removing the container with --rm) at the end.
int supervise(const Globals& g, const StateDir& st, const std::string& id, const Attach* attach);

/// Start a detached monitor (double fork, setsid) for `id` and return once
/// it has started the container (or failed to).
void spawn_monitor(const Globals& g, const StateDir& st, const std::string& id);

/// Mount the container's overlay rootfs at bundle/rootfs unless mounted.
void mount_container_rootfs(const StateDir& st, const Record& r);
/// Unmount its rootfs; with `remove` also delete its dir and anonymous volumes.
void release_container(const StateDir& st, const Record& r, bool remove);

}  // namespace ocikit::manage
