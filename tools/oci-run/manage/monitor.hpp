#pragma once
// oci-run manage/monitor: the per-container supervisor (see monitor.cpp).

#include <string>
#include <vector>

#include "manage/monitor_protocol.hpp"
#include "manage/manage.hpp"
#include "manage/record.hpp"
#include "manage/relay.hpp"

namespace ocikit::manage {

/// Run container `id` (record in `st`) until it is done, restarting it as
/// its policy says; returns the last exit code. Serves attach.sock in the
/// container dir; `clients` are already connected (their hello is read
/// before the start, so the first window size is known). Mounts the rootfs
/// first and unmounts it (removing the container with --rm) at the end,
/// then sends the clients kExit (or kFailed when it could not start: the
/// record stays "created" with the exit code and error, as docker's).
int supervise(const Globals& g, const StateDir& st, const std::string& id, std::vector<AttachClient> clients);

/// Start a detached monitor (double fork, setsid) for `id`. Without
/// `attach` return 0 once it has started the container; with it, stay
/// attached (attach_session) and return the container's exit code. A start
/// failure is thrown as attach_session does (127, 126, else 125).
int spawn_monitor(const Globals& g, const StateDir& st, const std::string& id, const AttachOptions* attach = nullptr);

/// Mount the container's overlay rootfs at bundle/rootfs unless mounted.
void mount_container_rootfs(const StateDir& st, const Record& r);
/// Unmount its rootfs; with `remove` also delete its dir and anonymous volumes.
void release_container(const StateDir& st, const Record& r, bool remove);

}  // namespace ocikit::manage
