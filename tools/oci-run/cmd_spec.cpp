// `spec` and `features`: the default config.json and the features document
// (`spec --image` is bundle.cpp, in oci-run-manage).
#include "cmd_spec.hpp"

#include "common/caps.hpp"

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
  // Every capability this build knows (caps.cpp's table, CAP_CHOWN..CAP_CHECKPOINT_RESTORE).
  for (int c = 0; c <= 40; c++) caps.push_back(caps::name(c));
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
