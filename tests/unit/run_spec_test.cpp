// oci-run's config.json parser and validator (tools/oci-run/spec.cpp).
#include "spec.hpp"

#include <doctest/doctest.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include <string>

#include "common/error.hpp"

using namespace ocikit;
using namespace ocikit::run;
using nlohmann::json;

namespace {

// A minimal valid config; tests patch it with `merge_patch`.
json base() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
  })");
}

Spec parse(const json& j) { return parse_spec(j.dump(), "/bundle"); }

Spec parse_patch(const json& patch) {
  json j = base();
  j.merge_patch(patch);
  return parse(j);
}

// The message parse_spec (or validate_spec) fails with, "" when it does not.
std::string error_of(const std::string& text, bool validate = false) {
  try {
    Spec s = parse_spec(text, "/bundle");
    if (validate) validate_spec(s);
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid);
    return e.what();
  }
  return "";
}

std::string error_of_patch(const json& patch, bool validate = false) {
  json j = base();
  j.merge_patch(patch);
  return error_of(j.dump(), validate);
}

}  // namespace

TEST_CASE("run_spec: a minimal config parses with the spec's defaults") {
  Spec s = parse(base());
  CHECK(s.oci_version == "1.0.2");
  CHECK(s.root_path == "/bundle/rootfs");
  CHECK_FALSE(s.root_readonly);
  CHECK(s.process.args == std::vector<std::string>{"sh"});
  CHECK(s.process.cwd == "/");
  CHECK(s.process.uid == 0);
  CHECK_FALSE(s.process.umask);
  CHECK_FALSE(s.process.scheduler);
  CHECK_FALSE(s.process.io_priority);
  CHECK(s.namespaces.size() == 2);
  CHECK(s.find_namespace(CLONE_NEWNS) != nullptr);
  CHECK(s.find_namespace(CLONE_NEWNET) == nullptr);
  CHECK(s.resources.is_null());
  CHECK(s.seccomp.is_null());
  CHECK_NOTHROW(validate_spec(s));
}

TEST_CASE("run_spec: unknown fields and null optional fields are tolerated") {
  Spec s = parse_patch(json::parse(R"({
    "x-vendor": {"a": 1}, "hostname": null, "mounts": null, "hooks": {"futureHook": [], "prestart": null},
    "process": {"futureField": true, "env": null, "user": {"uid": 5, "whatever": "x"}},
    "linux": {"futureLinux": [1, 2], "sysctl": null, "resources": {"unknownController": {"x": 1}}},
    "solaris": {}, "windows": null
  })"));
  CHECK(s.process.uid == 5);
  CHECK(s.mounts.empty());
  CHECK(s.hooks.prestart.empty());
  CHECK(s.resources.contains("unknownController"));
}

TEST_CASE("run_spec: malformed documents fail with the field and the reason") {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"{",
       "config.json: parse error at line 1, column 2: syntax error while parsing object key - unexpected end of "
       "input; expected string literal"},
      {"[]", "config.json: want a JSON object"},
      {R"({"process": {"args": ["sh"]}})", "config.json: root: missing"},
      {R"({"root": "rootfs", "process": {"args": ["sh"]}})", "config.json: root: want an object, got \"rootfs\""},
      {R"({"root": {"path": 5}, "process": {"args": ["sh"]}})", "config.json: root.path: want a string, got 5"},
      {R"({"root": {"path": "r"}, "process": {"args": []}})", "config.json: process.args: must not be empty"},
      {R"({"root": {"path": "r"}, "process": {"args": "sh"}})",
       "config.json: process.args: want an array of strings, got \"sh\""},
      {R"({"root": {"path": "r"}, "process": {"args": ["sh", 1]}})",
       "config.json: process.args: want an array of strings, got 1 in it"},
  };
  for (auto& c : cases) {
    CAPTURE(c.text);
    CHECK(error_of(c.text) == c.error);
  }
}

TEST_CASE("run_spec: invalid process values are rejected") {
  struct Case {
    const char* patch;
    const char* error;
  } cases[] = {
      {R"({"process": {"cwd": "tmp"}})", "config.json: process.cwd: \"tmp\" is not absolute"},
      {R"({"process": {"terminal": "yes"}})", "config.json: process.terminal: want true or false, got \"yes\""},
      {R"({"process": {"user": {"uid": -1}}})", "config.json: process.user.uid: -1 is out of range"},
      {R"({"process": {"user": {"uid": "root"}}})", "config.json: process.user.uid: want an integer, got \"root\""},
      {R"({"process": {"user": {"umask": 512}}})", "config.json: process.user.umask: 512 is out of range"},
      {R"({"process": {"user": {"additionalGids": [1, -2]}}})",
       "config.json: process.user.additionalGids[1]: want a group id, got -2"},
      {R"({"process": {"user": {"username": "bob"}}})", "config.json: process.user.username: is for Windows"},
      {R"({"process": {"oomScoreAdj": 1001}})", "config.json: process.oomScoreAdj: 1001 is out of range"},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}})",
       "config.json: process.rlimits[0].type: unknown rlimit type \"RLIMIT_BOGUS\""},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]}})",
       "config.json: process.rlimits[0]: soft limit 10 is above the hard limit 5"},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 5}]}})",
       "config.json: process.rlimits[0].soft: want an unsigned integer, got -1"},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_CORE", "soft": 1, "hard": 1},
                                   {"type": "RLIMIT_CORE", "soft": 2, "hard": 2}]}})",
       "config.json: process.rlimits[1].type: \"RLIMIT_CORE\" listed twice"},
      {R"({"process": {"capabilities": ["CAP_KILL"]}})",
       "config.json: process.capabilities: want an object, got [\"CAP_KILL\"]"},
      {R"({"process": {"scheduler": {"policy": "SCHED_FAST"}}})",
       "config.json: process.scheduler.policy: unknown value \"SCHED_FAST\""},
      {R"({"process": {"scheduler": {"nice": 3}}})", "config.json: process.scheduler.policy: missing"},
      {R"({"process": {"scheduler": {"policy": "SCHED_OTHER", "nice": 20}}})",
       "config.json: process.scheduler.nice: 20 is out of range"},
      {R"({"process": {"scheduler": {"policy": "SCHED_FIFO"}}})",
       "config.json: process.scheduler.priority: must be 1..99 for SCHED_FIFO"},
      {R"({"process": {"scheduler": {"policy": "SCHED_BATCH", "priority": 5}}})",
       "config.json: process.scheduler.priority: must be 0 for SCHED_BATCH"},
      {R"({"process": {"scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}}})",
       "config.json: process.scheduler.flags: unknown value \"SCHED_FLAG_NOPE\""},
      {R"({"process": {"scheduler": {"policy": "SCHED_DEADLINE"}}})",
       "config.json: process.scheduler.runtime: must be set for SCHED_DEADLINE"},
      {R"({"process": {"ioPriority": {"class": "IOPRIO_CLASS_FAST"}}})",
       "config.json: process.ioPriority.class: unknown value \"IOPRIO_CLASS_FAST\""},
      {R"({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}})",
       "config.json: process.ioPriority.priority: 8 is out of range"},
  };
  for (auto& c : cases) {
    CAPTURE(c.patch);
    CHECK(error_of_patch(json::parse(c.patch)) == c.error);
  }
}

TEST_CASE("run_spec: user, rlimits, scheduler and ioPriority are decoded") {
  Spec s = parse_patch(json::parse(R"({"process": {
    "terminal": true, "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 100, "umask": 63, "additionalGids": [5, 6]},
    "env": ["PATH=/bin", "A=b"],
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
    "noNewPrivileges": true, "oomScoreAdj": -500,
    "scheduler": {"policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
    "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 3}
  }})"));
  const Process& p = s.process;
  CHECK(p.terminal);
  CHECK(p.console_height == 24);
  CHECK(p.console_width == 80);
  CHECK(p.uid == 1000);
  CHECK(p.gid == 100);
  CHECK(*p.umask == 077);
  CHECK(p.additional_gids == std::vector<gid_t>{5, 6});
  REQUIRE(p.rlimits.size() == 1);
  CHECK(p.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(p.rlimits[0].soft == 1024);
  CHECK(p.rlimits[0].hard == 4096);
  CHECK(p.no_new_privileges);
  CHECK(p.oom_score_adj == -500);
  REQUIRE(p.scheduler);
  CHECK(p.scheduler->policy == SCHED_BATCH);
  CHECK(p.scheduler->nice == 7);
  CHECK(p.scheduler->flags == 1);
  REQUIRE(p.io_priority);
  CHECK(p.io_priority->io_class == IOPRIO_CLASS_IDLE);
  CHECK(p.io_priority->priority == 3);
}

TEST_CASE("run_spec: mounts decode options, propagation and bind sources") {
  Spec s = parse_patch(json::parse(R"({"mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev//shm/", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/data", "type": "bind", "source": "data", "options": ["ro", "rprivate"]},
    {"destination": "/host", "source": "/srv", "options": ["rbind", "nosuid", "suid", "rslave"]}
  ]})"));
  REQUIRE(s.mounts.size() == 4);
  CHECK(s.mounts[0].type == "proc");
  CHECK_FALSE(s.mounts[0].bind());
  CHECK(s.mounts[1].destination == "/dev/shm");
  CHECK(s.mounts[1].flags == (MS_NOSUID | MS_NOEXEC | MS_NODEV));
  CHECK(s.mounts[1].data == "mode=1777,size=65536k");
  CHECK(s.mounts[2].bind());
  CHECK(s.mounts[2].type.empty());
  CHECK(s.mounts[2].source == "/bundle/data");
  CHECK(s.mounts[2].flags == (MS_BIND | MS_RDONLY));
  CHECK(s.mounts[2].propagation == std::vector<unsigned long>{MS_PRIVATE | MS_REC});
  CHECK(s.mounts[3].source == "/srv");
  CHECK(s.mounts[3].flags == (MS_BIND | MS_REC));
  CHECK(s.mounts[3].clear == MS_NOSUID);
  CHECK(s.mounts[3].propagation == std::vector<unsigned long>{MS_SLAVE | MS_REC});
}

TEST_CASE("run_spec: invalid mounts, namespaces, mappings, devices and hooks are rejected") {
  struct Case {
    const char* patch;
    const char* error;
  } cases[] = {
      {R"({"mounts": {"destination": "/x"}})", "config.json: mounts: want an array, got {\"destination\":\"/x\"}"},
      {R"({"mounts": [{"type": "tmpfs"}]})", "config.json: mounts[0].destination: missing"},
      {R"({"mounts": [{"destination": "x", "type": "tmpfs"}]})",
       "config.json: mounts[0].destination: \"x\" is not absolute"},
      {R"({"mounts": [{"destination": "/x"}]})",
       "config.json: mounts[0].type: missing (and the options do not say bind)"},
      {R"({"mounts": [{"destination": "/x", "type": "bind"}]})",
       "config.json: mounts[0].source: a bind mount needs a source"},
      {R"({"mounts": [{"destination": "/x", "type": "bind", "source": "/y", "options": ["idmap"]}]})",
       "config.json: mounts[0]: mount /x: option \"idmap\" is not supported by oci-run"},
      {R"({"mounts": [{"destination": "/x", "type": "tmpfs", "options": "ro"}]})",
       "config.json: mounts[0]: options: want an array of strings, got \"ro\""},
      {R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "bogus"}]}})",
       "config.json: linux.namespaces[1].type: unknown namespace type \"bogus\""},
      {R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "mount"}]}})",
       "config.json: linux.namespaces: \"mount\" listed twice"},
      {R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "net", "path": "run/netns/x"}]}})",
       "config.json: linux.namespaces[1].type: unknown namespace type \"net\""},
      {R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "network", "path": "run/netns/x"}]}})",
       "config.json: linux.namespaces[1].path: \"run/netns/x\" is not absolute"},
      {R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000}]}})",
       "config.json: linux.uidMappings[0].size: missing"},
      {R"({"linux": {"gidMappings": [{"containerID": 0, "hostID": -1, "size": 1}]}})",
       "config.json: linux.gidMappings[0].hostID: -1 is out of range"},
      {R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1, "size": 0}]}})",
       "config.json: linux.uidMappings[0].size: must not be 0"},
      {R"({"linux": {"devices": [{"path": "/dev/x", "type": "z", "major": 1, "minor": 1}]}})",
       "config.json: linux.devices[0].type: \"z\" is not c, b, u or p"},
      {R"({"linux": {"devices": [{"path": "/dev/x", "type": "c"}]}})",
       "config.json: linux.devices[0]: major and minor are required"},
      {R"({"linux": {"devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 70000}]}})",
       "config.json: linux.devices[0].fileMode: 70000 is out of range"},
      {R"({"linux": {"rootfsPropagation": "sideways"}})",
       "config.json: linux.rootfsPropagation: unknown value \"sideways\""},
      {R"({"linux": {"maskedPaths": ["proc/kcore"]}})",
       "config.json: linux.maskedPaths: \"proc/kcore\" is not absolute"},
      {R"({"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}})",
       "config.json: linux.sysctl.net.ipv4.ip_forward: want a string, got 1"},
      {R"({"linux": {"sysctl": {"../../etc": "1"}}})", "config.json: linux.sysctl: invalid name \"../../etc\""},
      {R"({"linux": {"timeOffsets": {"realtime": {"secs": 1}}}})",
       "config.json: linux.timeOffsets.realtime: unknown clock (want monotonic or boottime)"},
      {R"({"linux": {"personality": {"domain": "BSD"}}})",
       "config.json: linux.personality.domain: unknown value \"BSD\""},
      {R"({"linux": {"intelRdt": {"closID": "x"}}})", "config.json: linux.intelRdt: not supported by oci-run"},
      {R"({"linux": {"resources": []}})", "config.json: linux.resources: want an object, got []"},
      {R"({"hooks": {"prestart": [{"path": "hook"}]}})",
       "config.json: hooks.prestart[0].path: \"hook\" is not absolute"},
      {R"({"hooks": {"poststop": [{"args": ["x"]}]}})", "config.json: hooks.poststop[0].path: missing"},
      {R"({"hooks": {"createRuntime": [{"path": "/h", "timeout": 0}]}})",
       "config.json: hooks.createRuntime[0].timeout: must be positive"},
      {R"({"hooks": {"poststart": {"path": "/h"}}})",
       "config.json: hooks.poststart: want an array, got {\"path\":\"/h\"}"},
      {R"({"annotations": {"a": 1}})", "config.json: annotations.a: want a string, got 1"},
  };
  for (auto& c : cases) {
    CAPTURE(c.patch);
    CHECK(error_of_patch(json::parse(c.patch)) == c.error);
  }
}

TEST_CASE("run_spec: namespaces, mappings, devices, hooks and the rest of linux are decoded") {
  Spec s = parse_patch(json::parse(R"({
    "hostname": "box",
    "hooks": {"prestart": [{"path": "/bin/hook", "args": ["hook", "pre"], "env": ["A=1"], "timeout": 5}],
              "poststop": [{"path": "/bin/post"}]},
    "annotations": {"org.example": "v"},
    "linux": {
      "namespaces": [{"type": "mount"}, {"type": "user"}, {"type": "network", "path": "/run/netns/x"},
                     {"type": "uts"}, {"type": "ipc"}, {"type": "cgroup"}, {"type": "time"}, {"type": "pid"}],
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 1000}],
      "timeOffsets": {"boottime": {"secs": 10, "nanosecs": 5}},
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 432, "uid": 3}],
      "cgroupsPath": "/okt/x", "rootfsPropagation": "rslave",
      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
      "sysctl": {"net.ipv4.ip_forward": "1"},
      "personality": {"domain": "LINUX32"},
      "seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}
    }
  })"));
  CHECK(s.hostname == "box");
  REQUIRE(s.namespaces.size() == 8);
  CHECK(s.namespaces[1].flag == CLONE_NEWUSER);
  CHECK(s.namespaces[2].flag == CLONE_NEWNET);
  CHECK(s.namespaces[2].path == "/run/netns/x");
  CHECK(s.find_namespace(0x80)->type == "time");
  REQUIRE(s.uid_mappings.size() == 1);
  CHECK(s.uid_mappings[0].host_id == 100000);
  CHECK(s.uid_mappings[0].size == 65536);
  CHECK(s.gid_mappings[0].host_id == 200000);
  CHECK(s.time_offsets.at("boottime") == std::pair<int64_t, uint32_t>{10, 5});
  REQUIRE(s.devices.size() == 1);
  CHECK(s.devices[0].major == 10);
  CHECK(s.devices[0].minor == 229);
  CHECK(s.devices[0].mode == 0660);
  CHECK(s.devices[0].uid == 3);
  CHECK(s.cgroups_path == "/okt/x");
  CHECK(s.rootfs_propagation == (MS_SLAVE | MS_REC));
  CHECK(s.masked_paths == std::vector<std::string>{"/proc/kcore"});
  CHECK(s.sysctl.at("net.ipv4.ip_forward") == "1");
  CHECK(s.personality == PER_LINUX32);
  CHECK(s.seccomp["defaultAction"] == "SCMP_ACT_ALLOW");
  REQUIRE(s.hooks.prestart.size() == 1);
  CHECK(s.hooks.prestart[0].args == std::vector<std::string>{"hook", "pre"});
  CHECK(s.hooks.prestart[0].env == std::vector<std::string>{"A=1"});
  CHECK(s.hooks.prestart[0].timeout == 5);
  CHECK(s.hooks.poststop[0].timeout == 0);
  CHECK(s.annotations.at("org.example") == "v");
  CHECK_NOTHROW(validate_spec(s));
}

TEST_CASE("run_spec: validate_spec refuses what cannot be honoured safely") {
  struct Case {
    const char* patch;
    const char* error;
  } cases[] = {
      {R"({"ociVersion": "2.0.0"})", "config.json: ociVersion \"2.0.0\" is not 1.x"},
      {R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}})",
       "config.json: linux.uidMappings: set without a user namespace"},
      {R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "user"}]}})",
       "config.json: linux.namespaces: a new user namespace needs uidMappings and gidMappings"},
      {R"({"hostname": "h", "linux": {"namespaces": [{"type": "mount"}]}})",
       "config.json: hostname: set without a uts namespace"},
      {R"({"linux": {"timeOffsets": {"boottime": {"secs": 1}}}})",
       "config.json: linux.timeOffsets: set without a new time namespace"},
      {R"({"process": {"apparmorProfile": "p"}})",
       "config.json: process.apparmorProfile: AppArmor is not supported by oci-run"},
      {R"({"linux": {"sysctl": {"kernel.shmmax": "1"}}})",
       "config.json: linux.sysctl: \"kernel.shmmax\" is not allowed in this container's namespaces"},
      {R"({"linux": {"sysctl": {"vm.swappiness": "1"}}})",
       "config.json: linux.sysctl: \"vm.swappiness\" is not allowed in this container's namespaces"},
      {R"({"linux": {"devices": [{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}]}})",
       "config.json: linux.devices: \"/etc/x\" is not under /dev"},
  };
  for (auto& c : cases) {
    CAPTURE(c.patch);
    CHECK(error_of_patch(json::parse(c.patch), true) == c.error);
  }
  // The same sysctl passes once the container owns an ipc namespace.
  Spec s = parse_patch(json::parse(
      R"({"linux": {"namespaces": [{"type": "mount"}, {"type": "ipc"}], "sysctl": {"kernel.shmmax": "1"}}})"));
  CHECK_NOTHROW(validate_spec(s));
}

TEST_CASE("run_spec: rlimit, namespace and mount option names") {
  CHECK(parse_rlimit_name("RLIMIT_NOFILE") == RLIMIT_NOFILE);
  CHECK(parse_rlimit_name("RLIMIT_RTTIME") == RLIMIT_RTTIME);
  CHECK_THROWS_WITH(parse_rlimit_name("NOFILE"), "unknown rlimit type \"NOFILE\"");
  CHECK(parse_namespace_type("network") == CLONE_NEWNET);
  CHECK(parse_namespace_type("cgroup") == CLONE_NEWCGROUP);
  CHECK_THROWS_WITH(parse_namespace_type("NET"), "unknown namespace type \"NET\"");
  Mount m;
  m.destination = "/m";
  parse_mount_options({"ro", "rw", "noatime", "atime", "strictatime", "shared", "x=y", "defaults"}, m);
  CHECK(m.flags == MS_STRICTATIME);
  CHECK(m.clear == (MS_RDONLY | MS_NOATIME));
  CHECK(m.propagation == std::vector<unsigned long>{MS_SHARED});
  CHECK(m.data == "x=y");
}

TEST_CASE("run_spec: parse_process alone (exec --process) names the process fields") {
  CHECK_THROWS_WITH(parse_process(json::parse(R"({"args": []})")), "process.args: must not be empty");
  CHECK_THROWS_WITH(parse_process(json::parse(R"("sh")")), "process: want an object, got \"sh\"");
  Process p = parse_process(json::parse(R"({"args": ["ls"], "cwd": "/tmp", "env": ["X=1"]})"));
  CHECK(p.cwd == "/tmp");
  CHECK(p.env == std::vector<std::string>{"X=1"});
}

TEST_CASE("run_spec: what runc accepts beyond the spec (recursive options, tmpcopyup, no process)") {
  json j = base();
  j["mounts"] =
      json::array({{{"destination", "/t"},
                    {"type", "tmpfs"},
                    {"source", "tmpfs"},
                    {"options", {"tmpcopyup", "rro", "rnosuid", "rrelatime", "X-mount.mkdir", "nosymfollow"}}}});
  Spec s = parse_spec(j.dump(), "/bundle");
  REQUIRE(s.mounts.size() == 1);
  CHECK(s.mounts[0].tmpcopyup);
  CHECK(s.mounts[0].rec_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_RELATIME));
  CHECK((s.mounts[0].rec_clr & MOUNT_ATTR__ATIME) == MOUNT_ATTR__ATIME);
  CHECK((s.mounts[0].flags & MS_NOSYMFOLLOW) == MS_NOSYMFOLLOW);
  CHECK(s.mounts[0].data.empty());
  CHECK(s.has_process);
  j.erase("process");
  Spec none = parse_spec(j.dump(), "/bundle");
  CHECK_FALSE(none.has_process);
  j["mounts"][0]["options"] = {"idmap"};
  CHECK(error_of(j.dump()).find("\"idmap\" is not supported") != std::string::npos);
}
