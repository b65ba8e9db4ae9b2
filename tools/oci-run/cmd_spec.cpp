// `spec` and `features`: the default config.json and the features document
// (`spec --image` is bundle.cpp, in oci-run-manage).
#include "cmd_spec.hpp"

#include <CLI/CLI.hpp>

#include "common/runtime_spec.hpp"
#include "security.hpp"
#include "spec.hpp"

namespace ocikit::run {

nlohmann::ordered_json default_spec(bool rootless) { return runtime_spec::default_spec(rootless); }

void add_bundle_options(CLI::App* spec, BundleOptions& o) {
  spec->add_option("--image", o.image, "make the bundle (config.json and rootfs) from this image of the store");
  spec->add_option("--store", o.store, "image store (default $OCIKIT_STORE or /var/lib/ocikit/store)");
  spec->add_flag("--copy", o.copy, "with --image: copy the image's files into rootfs instead of an overlay mount");
}

nlohmann::ordered_json features() {
  using oj = nlohmann::ordered_json;
  oj f;
  f["ociVersionMin"] = "1.0.0";
  f["ociVersionMax"] = "1.2.0";
  f["hooks"] = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};
  f["mountOptions"] = {"async",   "atime",      "bind",          "defaults",    "dev",     "diratime",    "dirsync",
                       "exec",    "loud",       "mand",          "noatime",     "nodev",   "nodiratime",  "noexec",
                       "nomand",  "norelatime", "nostrictatime", "nosuid",      "private", "rbind",       "relatime",
                       "remount", "ro",         "rprivate",      "rshared",     "rslave",  "runbindable", "rw",
                       "shared",  "silent",     "slave",         "strictatime", "suid",    "sync",        "unbindable"};
  oj lin;
  lin["namespaces"] = {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"};
  oj caps = oj::array();
  for (int c = 0; c <= 40; c++) {
    static const char* names[] = {"CAP_CHOWN",
                                  "CAP_DAC_OVERRIDE",
                                  "CAP_DAC_READ_SEARCH",
                                  "CAP_FOWNER",
                                  "CAP_FSETID",
                                  "CAP_KILL",
                                  "CAP_SETGID",
                                  "CAP_SETUID",
                                  "CAP_SETPCAP",
                                  "CAP_LINUX_IMMUTABLE",
                                  "CAP_NET_BIND_SERVICE",
                                  "CAP_NET_BROADCAST",
                                  "CAP_NET_ADMIN",
                                  "CAP_NET_RAW",
                                  "CAP_IPC_LOCK",
                                  "CAP_IPC_OWNER",
                                  "CAP_SYS_MODULE",
                                  "CAP_SYS_RAWIO",
                                  "CAP_SYS_CHROOT",
                                  "CAP_SYS_PTRACE",
                                  "CAP_SYS_PACCT",
                                  "CAP_SYS_ADMIN",
                                  "CAP_SYS_BOOT",
                                  "CAP_SYS_NICE",
                                  "CAP_SYS_RESOURCE",
                                  "CAP_SYS_TIME",
                                  "CAP_SYS_TTY_CONFIG",
                                  "CAP_MKNOD",
                                  "CAP_LEASE",
                                  "CAP_AUDIT_WRITE",
                                  "CAP_AUDIT_CONTROL",
                                  "CAP_SETFCAP",
                                  "CAP_MAC_OVERRIDE",
                                  "CAP_MAC_ADMIN",
                                  "CAP_SYSLOG",
                                  "CAP_WAKE_ALARM",
                                  "CAP_BLOCK_SUSPEND",
                                  "CAP_AUDIT_READ",
                                  "CAP_PERFMON",
                                  "CAP_BPF",
                                  "CAP_CHECKPOINT_RESTORE"};
    caps.push_back(names[c]);
  }
  lin["capabilities"] = caps;
  lin["cgroup"] = {{"v1", OCIKIT_RUN_HAVE_CGROUP != 0},
                   {"v2", OCIKIT_RUN_HAVE_CGROUP != 0},
                   {"systemd", false},
                   {"systemdUser", false}};
  lin["seccomp"] = {{"enabled", OCIKIT_RUN_HAVE_SECCOMP != 0}};
  lin["apparmor"] = {{"enabled", false}};
  lin["selinux"] = {{"enabled", false}};
  f["linux"] = lin;
  f["annotations"] = {{"org.opencontainers.runc.checkpoint.enabled", "false"}, {"run.oci.ocikit.version", "0.1.0"}};
  return f;
}

}  // namespace ocikit::run
