// `spec` and `features`: the default config.json, a bundle made from an
// image of the store, and the features document.
#include "cmd_spec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/runtime_spec.hpp"
#include "common/snapshot.hpp"
#include "security.hpp"
#include "spec.hpp"

namespace ocikit::run {

nlohmann::ordered_json default_spec(bool rootless) { return runtime_spec::default_spec(rootless); }

namespace {

// Steps that undo what write_bundle did so far, run in reverse unless dismissed.
class Undo {
 public:
  ~Undo() {
    if (dismissed_) return;
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      try {
        (*it)();
      } catch (const std::exception& e) {
        log::warn(std::string("cleanup: ") + e.what());
      }
    }
  }
  void add(std::function<void()> fn) { steps_.push_back(std::move(fn)); }
  void dismiss() { dismissed_ = true; }

 private:
  std::vector<std::function<void()>> steps_;
  bool dismissed_ = false;
};

bool is_empty_dir(const std::string& path) {
  fs::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return false;
  DIR* d = ::fdopendir(fd.release());
  if (!d) return false;
  bool empty = true;
  while (auto* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Make `path` an empty dir for the bundle: create it (undone by removing
// it) or accept an existing empty one (undone by emptying it).
void make_bundle_dir(const std::string& path, mode_t mode, Undo& undo) {
  if (::mkdir(path.c_str(), mode) == 0) {
    undo.add([path] { fs::remove_all(path); });
    return;
  }
  if (errno != EEXIST) throw_errno("mkdir " + path);
  if (!is_empty_dir(path)) fail(Errc::exists, path + " exists and is not an empty directory");
  undo.add([path, mode] {
    fs::remove_all(path);
    if (::mkdir(path.c_str(), mode) != 0) throw_errno("mkdir " + path);
  });
}

// The manifest of `d`, picking this host's platform from an index.
image::Descriptor pick_manifest(const layout::Layout& store, const image::Descriptor& d, const std::string& name) {
  if (!image::is_index_media_type(d.media_type)) return d;
  auto idx = store.read_index(d);
  auto host = platform::host();
  for (auto& m : idx.manifests)
    if (m.platform && platform::matches(host, *m.platform)) return pick_manifest(store, m, name);
  fail(Errc::not_found, "image \"" + name + "\" has no manifest for " + host.str());
}

}  // namespace

void write_bundle(const BundleOptions& o) {
  std::string bundle = o.bundle.empty() ? "." : o.bundle;
  std::string config_path = bundle + "/config.json";
  if (fs::exists(config_path)) fail(Errc::exists, "File " + config_path + " exists. Remove it first");

  std::string store_dir = o.store.empty() ? layout::default_store_path() : o.store;
  auto store = layout::Layout::open(store_dir);
  auto top = store.resolve(o.image);
  if (!top) fail(Errc::not_found, "image \"" + o.image + "\" not found in the store " + store_dir);
  auto manifest = store.read_manifest(pick_manifest(store, *top, o.image));
  auto config = store.read_config(manifest.config);

  // Layers first: a failure here leaves no bundle dir behind.
  int jobs = std::max(1u, std::thread::hardware_concurrency());
  auto snaps = snapshot::Store::open(snapshot::default_dir(store_dir));
  std::vector<std::string> lowers;
  {
    layout::Layout::Lease lease(store);
    lowers = snaps.prepare(store, manifest, config, jobs);
  }

  Undo undo;
  if (!fs::exists(bundle)) {
    fs::mkdir_p(bundle);
    undo.add([bundle] { fs::remove_all(bundle); });
  }
  std::string rootfs = bundle + "/rootfs";
  make_bundle_dir(rootfs, 0755, undo);
  if (o.copy) {
    snapshot::copy_merged(lowers, rootfs);
  } else {
    std::string upper = bundle + "/.upper", work = bundle + "/.work";
    make_bundle_dir(upper, 0755, undo);
    make_bundle_dir(work, 0700, undo);
    snapshot::mount_rootfs(lowers, upper, work, rootfs);
    undo.add([rootfs] { snapshot::unmount_rootfs(rootfs); });
  }

  auto spec = runtime_spec::from_image(config, rootfs, "rootfs", {});
  fs::AtomicFile f(config_path, 0644);
  f.write(spec.dump(2) + "\n");
  f.commit(false);
  undo.dismiss();
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
