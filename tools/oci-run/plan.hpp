#pragma once
// oci-run plan: turns a parsed Spec into the ChildPlan (plain C data) the
// child runs from, and owns every string and array the plan points into.
// Also the clone + sync-socket plumbing shared by create, run and exec.

#include <sys/types.h>

#include <deque>
#include <string>
#include <vector>

#include "child.hpp"
#include "spec.hpp"
#include "sync.hpp"

namespace ocikit::run {

/// Storage for a ChildPlan; keep it alive (and unmoved) until the child is cloned.
class PlanStore {
 public:
  PlanStore();
  PlanStore(const PlanStore&) = delete;
  PlanStore& operator=(const PlanStore&) = delete;

  /// Fill the rootfs part of the plan (mounts, devices, paths, sysctl, hooks).
  void set_rootfs(const Spec& s, bool no_pivot);
  /// Fill the process part (user, caps, rlimits, args, env, seccomp).
  void set_process(const Process& p, const nlohmann::json& linux_seccomp);

  /// A copy of `s` owned by the store.
  const char* str(const std::string& s);
  /// A NULL-terminated argv/envp owned by the store.
  char* const* vec(const std::vector<std::string>& v);

  ChildPlan plan;

 private:
  std::string root_path_;  ///< set_rootfs's, for set_process's cwd
  std::deque<std::string> strs_;
  std::deque<std::vector<char*>> vecs_;
  std::vector<ChildMount> mounts_;
  std::deque<std::vector<unsigned long>> props_;
  std::vector<ChildDevice> devices_;
  std::vector<const char*> masked_, readonly_, sysctl_paths_, sysctl_values_;
  std::vector<ChildHook> create_container_, start_container_;
  std::vector<gid_t> groups_;
  std::vector<ChildRlimit> rlimits_;
  std::vector<char> state_buf_, cgroup_buf_;
  sec::SeccompProgram seccomp_;
  void hooks(const std::vector<Hook>& in, std::vector<ChildHook>& out);
};

/// Clone the child with CLONE_* `flags`; the plan's internal fds are moved
/// above the preserved ones first. Returns the child's pid and sets *sync to
/// the parent's end of the sync socket. Throws Errc::io.
pid_t spawn_child(PlanStore& store, unsigned long flags, int* sync);

/// Send a message (and optionally a blob packet after it). Throws Errc::io.
void send_sync(int fd, SyncType t, const std::string* blob = nullptr);

/// Receive one message; EOF gives type 0. A kError is thrown as an Error
/// (exit codes 126/127 for a command that cannot run / is not found).
SyncType recv_sync(int fd);

/// Run hooks from the parent (the runtime namespace); throws on the first
/// failure naming `phase`, or with `fatal` false only logs a warning.
void run_parent_hooks(const std::vector<Hook>& hooks, const std::string& state, const std::string& phase, bool fatal);

}  // namespace ocikit::run
