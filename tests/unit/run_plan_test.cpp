// oci-run's plan builder (tools/oci-run/plan.cpp): Spec -> ChildPlan.
#include "plan.hpp"

#include <doctest/doctest.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"

using namespace ocikit;
using namespace ocikit::run;
using nlohmann::json;

namespace {

struct TempRoot {
  std::string dir;
  TempRoot() {
    char t[] = "/tmp/okt-rt3-plan-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    dir = t;
    fs::mkdir_p(dir + "/rootfs/etc", 0755);
  }
  ~TempRoot() { fs::remove_all(dir); }
};

Spec spec_in(const std::string& bundle, const json& patch) {
  json j = json::parse(R"({
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "env": ["HOME=/root", "PATH=/usr/bin:/bin"]},
    "linux": {"namespaces": [{"type": "mount"}]}
  })");
  j.merge_patch(patch);
  return parse_spec(j.dump(), bundle);
}

std::vector<std::string> strs(const char* const* v, int n) { return {v, v + n}; }

}  // namespace

TEST_CASE("run_plan: mounts become rootfs-relative destinations, symlinks resolved inside the rootfs") {
  TempRoot t;
  // /etc/link -> /var/target inside the rootfs: a mount on /etc/link lands on var/target.
  REQUIRE(symlink("/var/target", (t.dir + "/rootfs/etc/link").c_str()) == 0);
  // An escaping link is resolved as if the rootfs were "/".
  REQUIRE(symlink("../../../../etc", (t.dir + "/rootfs/escape").c_str()) == 0);
  Spec s = spec_in(t.dir, json::parse(R"({"mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/etc/link", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "size=1k", "rprivate"]},
      {"destination": "/escape/x", "type": "bind", "source": "data"},
      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
  ]})"));
  PlanStore store;
  store.set_rootfs(s, false);
  const ChildPlan& p = store.plan;
  CHECK(std::string(p.rootfs) == t.dir + "/rootfs");
  REQUIRE(p.n_mounts == 4);
  CHECK(std::string(p.mounts[0].dest) == "proc");
  CHECK(std::string(p.mounts[0].type) == "proc");
  CHECK(std::string(p.mounts[1].dest) == "var/target");
  CHECK(p.mounts[1].flags == MS_RDONLY);
  CHECK(std::string(p.mounts[1].data) == "size=1k");
  REQUIRE(p.mounts[1].n_propagation == 1);
  CHECK(p.mounts[1].propagation[0] == (MS_PRIVATE | MS_REC));
  CHECK(std::string(p.mounts[2].dest) == "etc/x");
  CHECK(p.mounts[2].type == nullptr);
  CHECK(std::string(p.mounts[2].source) == t.dir + "/data");
  CHECK_FALSE(p.mounts[2].cgroup);
  CHECK(p.mounts[3].cgroup);
  CHECK_FALSE(p.dev_tmpfs);
  CHECK(p.n_devices == 0);
}

TEST_CASE("run_plan: a /dev mount brings the default devices, linux.devices override them") {
  TempRoot t;
  Spec s = spec_in(t.dir, json::parse(R"({
    "mounts": [{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
    "linux": {"devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 384, "uid": 7},
                          {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
  })"));
  PlanStore store;
  store.set_rootfs(s, true);
  const ChildPlan& p = store.plan;
  CHECK(p.no_pivot);
  CHECK(p.dev_tmpfs);
  std::vector<std::string> paths;
  for (int i = 0; i < p.n_devices; i++) paths.push_back(p.devices[i].path);
  // The five remaining defaults first, then the spec's own, /dev/null only once.
  CHECK(
      paths ==
      std::vector<std::string>{"dev/zero", "dev/full", "dev/random", "dev/urandom", "dev/tty", "dev/null", "dev/fuse"});
  const ChildDevice& null = p.devices[5];
  CHECK(null.mode == (S_IFCHR | 0600));
  CHECK(null.dev == makedev(1, 3));
  CHECK(null.uid == 7);
  CHECK(std::string(null.host) == "/dev/null");
  CHECK(p.devices[6].dev == makedev(10, 229));
}

TEST_CASE("run_plan: sysctl names become /proc/sys paths; paths, hooks and names are copied") {
  TempRoot t;
  Spec s = spec_in(t.dir, json::parse(R"({
    "hostname": "h", "domainname": "d",
    "hooks": {"createContainer": [{"path": "/bin/cc"}], "startContainer": [{"path": "/bin/sc", "args": ["sc", "1"]}]},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "network"}],
              "sysctl": {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.forwarding": "0"},
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys", "/proc/bus"],
              "personality": {"domain": "LINUX"}}
  })"));
  PlanStore store;
  store.set_rootfs(s, false);
  const ChildPlan& p = store.plan;
  CHECK(strs(p.sysctl_paths, p.n_sysctl) ==
        std::vector<std::string>{"/proc/sys/net/ipv4/conf/all/forwarding", "/proc/sys/net/ipv4/ip_forward"});
  CHECK(strs(p.sysctl_values, p.n_sysctl) == std::vector<std::string>{"0", "1"});
  CHECK(strs(p.masked, p.n_masked) == std::vector<std::string>{"/proc/kcore"});
  CHECK(strs(p.readonly, p.n_readonly) == std::vector<std::string>{"/proc/sys", "/proc/bus"});
  REQUIRE(p.n_create_container == 1);
  CHECK(std::string(p.create_container[0].argv[0]) == "/bin/cc");  // argv defaults to the path
  CHECK(p.create_container[0].argv[1] == nullptr);
  REQUIRE(p.n_start_container == 1);
  CHECK(std::string(p.start_container[0].argv[1]) == "1");
  CHECK(std::string(p.hostname) == "h");
  CHECK(std::string(p.domainname) == "d");
  CHECK(p.personality == 0);
}

TEST_CASE("run_plan: the process part carries user, PATH, rlimits, scheduler and ioPriority") {
  TempRoot t;
  Spec s = spec_in(t.dir, json::parse(R"({"process": {
    "args": ["top", "-b"], "cwd": "/work",
    "user": {"uid": 10, "gid": 20, "additionalGids": [30]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 64, "hard": 128}],
    "oomScoreAdj": 300, "noNewPrivileges": true,
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL", "CAP_CHOWN"]},
    "scheduler": {"policy": "SCHED_IDLE", "nice": 5},
    "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6}
  }})"));
  PlanStore store;
  store.set_process(s.process, s.seccomp);
  const ChildPlan& p = store.plan;
  CHECK(p.uid == 10);
  CHECK(p.gid == 20);
  REQUIRE(p.n_groups == 1);
  CHECK(p.groups[0] == 30);
  CHECK(p.umask == 022);  // runc's default when the spec has none
  CHECK(std::string(p.cwd) == "/work");
  CHECK(std::string(p.argv[0]) == "top");
  CHECK(std::string(p.argv[1]) == "-b");
  CHECK(p.argv[2] == nullptr);
  CHECK(std::string(p.envp[1]) == "PATH=/usr/bin:/bin");
  CHECK(std::string(p.path_env) == "/usr/bin:/bin");
  REQUIRE(p.n_rlimits == 1);
  CHECK(p.rlimits[0].soft == 64);
  CHECK(p.set_oom);
  CHECK(p.oom_score_adj == 300);
  CHECK(p.no_new_privileges);
  CHECK(p.set_caps);
  CHECK(p.caps.bounding == (uint64_t(1) << 5));
  CHECK(p.caps.effective == ((uint64_t(1) << 5) | 1));
  CHECK(p.caps.ambient == 0);
  REQUIRE(p.set_sched);
  CHECK(p.sched.size == 48);  // SCHED_ATTR_SIZE_VER0: sched_setattr(2) without the util clamps
  CHECK(p.sched.policy == SCHED_IDLE);
  CHECK(p.sched.nice == 5);
  CHECK(p.ioprio == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 6));
  REQUIRE(p.seccomp != nullptr);
  CHECK(p.seccomp->filter.empty());
}

TEST_CASE("run_plan: no ioPriority or scheduler leaves the process's own") {
  TempRoot t;
  Spec s = spec_in(t.dir, json::object());
  PlanStore store;
  store.set_process(s.process, s.seccomp);
  CHECK_FALSE(store.plan.set_sched);
  CHECK(store.plan.ioprio == -1);
  CHECK_FALSE(store.plan.set_oom);
  CHECK(store.plan.caps.bounding == 0);  // a spec without capabilities gets none, as runc
}

TEST_CASE("run_plan: a bad seccomp profile or capability is refused while planning") {
  TempRoot t;
  Spec s = spec_in(t.dir, json::parse(R"({"process": {"capabilities": {"bounding": ["CAP_NOPE"]}}})"));
  PlanStore store;
  CHECK_THROWS_AS(store.set_process(s.process, s.seccomp), Error);
  Spec s2 = spec_in(t.dir, json::parse(R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_BOGUS"}}})"));
  PlanStore store2;
  CHECK_THROWS_AS(store2.set_process(s2.process, s2.seccomp), Error);
}
