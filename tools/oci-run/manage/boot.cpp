// oci-run manage/boot: `oci-run system boot`, what dockerd does for its
// containers when it starts (daemon.restore): after a host reboot the
// runtime root (/run/ocikit, a tmpfs) is empty and no monitor runs, but the
// records in the state dir remain, saying "running". No daemon starts here,
// so an init system runs this once at boot (examples/init/).
#include <unistd.h>

#include <iostream>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "container.hpp"
#include "manage/manage.hpp"
#include "manage/monitor.hpp"

namespace ocikit::manage {

namespace {

// Whether the policy restarts a container at boot. `was_running`: its
// record said running when its monitor went away (the reboot killed it).
bool starts_at_boot(const Record& r, bool was_running) {
  if (r.restart_policy == "always") return true;
  if (r.restart_policy == "unless-stopped") return !r.manually_stopped;
  if (r.restart_policy == "on-failure")
    return was_running && !r.manually_stopped && (r.restart_max == 0 || r.restart_count < r.restart_max);
  return false;
}

// A container whose monitor is gone: remove what is left of its run (the
// runtime's state dir and processes, the rootfs mount, the monitor's
// files) and record it as exited. True when it was running.
bool clean_stale(const StateDir& st, const std::string& id) {
  Record r = st.load(id);
  if (pid_alive(r.monitor_pid, r.monitor_start)) return false;
  bool was_running = r.status == "running" || r.status == "restarting";
  if (fs::exists(r.runtime_root + "/" + id)) {
    try {
      run::delete_container(r.runtime_root, id, true);
    } catch (const Error& e) {
      log::warn("remove stale runtime state of " + r.name + ": " + e.what());
      fs::remove_all(r.runtime_root + "/" + id);
    }
  }
  for (const char* f : {"/attach.sock", "/init.pid", "/monitor.pid"}) unlink((st.container_dir(id) + f).c_str());
  if (was_running || r.monitor_pid != 0 || r.pid != 0) {
    r = st.update(id, [&](Record& x) {
      if (was_running) {
        x.status = "exited";
        x.exit_code = 255;
        x.finished = log::now_rfc3339();
      }
      x.monitor_pid = 0;
      x.monitor_start = 0;
      x.pid = 0;
    });
  }
  release_container(st, r, false);
  return was_running;
}

}  // namespace

int system_boot(const Globals& g) {
  StateDir st(g.state_dir.empty() ? default_state_dir() : g.state_dir);
  int rc = 0;
  // Oldest first, as they were created.
  auto records = st.list();
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    const std::string& id = it->id;
    try {
      bool was_running = clean_stale(st, id);
      Record r = st.load(id);
      if (pid_alive(r.monitor_pid, r.monitor_start)) continue;  // it runs (boot ran twice)
      if (r.auto_remove && was_running) {
        // --rm: the container is removed when it ends; the reboot ended it.
        auto lock = st.lock();
        release_container(st, r, true);
        container_event(r, "destroy");
        continue;
      }
      if (!starts_at_boot(r, was_running)) continue;
      start_managed(g, id);
      std::cout << r.name << std::endl;
    } catch (const Error& e) {
      log::error("start " + it->name + ": " + e.what());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace ocikit::manage
