// `spec` and `features`: the default config.json and the features document.
#include <unistd.h>

#include "security.hpp"
#include "spec.hpp"

namespace ocikit::run {

nlohmann::ordered_json default_spec(bool rootless) {
  using oj = nlohmann::ordered_json;
  // runc's default capability set for `spec` (not docker's, which is wider).
  oj caps = oj::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  oj s;
  s["ociVersion"] = "1.2.0";
  s["process"] = {{"terminal", true},
                  {"user", {{"uid", 0}, {"gid", 0}}},
                  {"args", {"sh"}},
                  {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
                  {"cwd", "/"},
                  {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
                  {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
                  {"noNewPrivileges", true}};
  s["root"] = {{"path", "rootfs"}, {"readonly", true}};
  s["hostname"] = "oci-run";
  auto m = [](const char* d, const char* t, const char* src, oj opts) {
    return oj{{"destination", d}, {"type", t}, {"source", src}, {"options", opts}};
  };
  oj mounts = oj::array();
  mounts.push_back(m("/proc", "proc", "proc", oj::array()));
  mounts.push_back(m("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  mounts.push_back(m("/dev/pts", "devpts", "devpts",
                     rootless ? oj{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
                              : oj{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  mounts.push_back(m("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(m("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  if (rootless)
    mounts.push_back(m("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  else
    mounts.push_back(m("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  if (!rootless)
    mounts.push_back(m("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  s["mounts"] = mounts;
  oj linux;
  if (rootless) {
    linux["uidMappings"] = {{{"containerID", 0}, {"hostID", getuid()}, {"size", 1}}};
    linux["gidMappings"] = {{{"containerID", 0}, {"hostID", getgid()}, {"size", 1}}};
  }
  if (!rootless) linux["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
  oj ns = oj::array();
  for (const char* t : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) ns.push_back({{"type", t}});
  if (rootless) ns.push_back({{"type", "user"}});
  linux["namespaces"] = ns;
  linux["maskedPaths"] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                          "/proc/scsi"};
  linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  s["linux"] = linux;
  return s;
}

nlohmann::ordered_json features() {
  using oj = nlohmann::ordered_json;
  oj f;
  f["ociVersionMin"] = "1.0.0";
  f["ociVersionMax"] = "1.2.0";
  f["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
  f["mountOptions"] = {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "loud",
                       "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime",
                       "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate",
                       "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
                       "suid", "sync", "unbindable"};
  oj lin;
  lin["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
  oj caps = oj::array();
  for (int c = 0; c <= 40; c++) {
    static const char* names[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
                                  "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
                                  "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
                                  "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
                                  "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
                                  "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
                                  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
                                  "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
                                  "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
    caps.push_back(names[c]);
  }
  lin["capabilities"] = caps;
  lin["cgroup"] = {{"v1", OCIKIT_RUN_HAVE_CGROUP != 0}, {"v2", OCIKIT_RUN_HAVE_CGROUP != 0}, {"systemd", false},
                   {"systemdUser", false}};
  lin["seccomp"] = {{"enabled", OCIKIT_RUN_HAVE_SECCOMP != 0}};
  lin["apparmor"] = {{"enabled", false}};
  lin["selinux"] = {{"enabled", false}};
  f["linux"] = lin;
  f["annotations"] = {{"org.opencontainers.runc.checkpoint.enabled", "false"}, {"run.oci.ocikit.version", "0.1.0"}};
  return f;
}

}  // namespace ocikit::run
