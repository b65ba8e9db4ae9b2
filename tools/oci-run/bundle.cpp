// `spec --image`: a bundle made from an image of the store. In both
// binaries: the lean oci-run makes bundles of warm images (every snapshot
// there) and hands the others to oci-run-manage, which extracts layers.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "cmd_spec.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/runtime_spec.hpp"
#include "common/snapshot.hpp"

namespace ocikit::run {

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

// Create `path` with `data`, failing with Errc::exists when it is there.
// The file appears whole or not at all (an O_TMPFILE inode linked in when
// written) but is not fsynced: like runc spec's config.json, a bundle is
// runtime state (its overlay mount does not survive a reboot either), and
// an fsync costs more than the rest of a warm `spec --image`.
void create_file(const std::string& path, const std::string& data) {
  std::string dir = path.substr(0, path.rfind('/'));
  fs::UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
  bool tmpfile = static_cast<bool>(fd);
  if (!tmpfile) fd.reset(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  if (!fd) {
    if (errno == EEXIST) fail(Errc::exists, "File " + path + " exists. Remove it first");
    throw_errno("create " + path);
  }
  try {
    fs::write_all(fd.get(), data.data(), data.size());
    if (::fchmod(fd.get(), 0644) != 0) throw_errno("chmod " + path);
  } catch (...) {
    if (!tmpfile) ::unlink(path.c_str());
    throw;
  }
  if (!tmpfile) return;
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    if (errno == EEXIST) fail(Errc::exists, "File " + path + " exists. Remove it first");
    throw_errno("create " + path);
  }
}

}  // namespace

bool write_bundle(const BundleOptions& o, const PrepareLayers& prepare) {
  std::string bundle = o.bundle.empty() ? "." : o.bundle;
  std::string config_path = bundle + "/config.json";
  if (fs::exists(config_path)) fail(Errc::exists, "File " + config_path + " exists. Remove it first");

  std::string store_dir = o.store.empty() ? layout::default_store_path() : o.store;
  auto store = layout::Layout::open(store_dir);
  auto top = store.resolve(o.image);
  if (!top) fail(Errc::not_found, "image \"" + o.image + "\" not found in the store " + store_dir);
  auto manifest = store.read_manifest(pick_manifest(store, *top, o.image));
  auto config = store.read_config(manifest.config);

  // Layers first: a failure here leaves no bundle dir behind. The shared
  // snapshot lock, held until the rootfs is mounted, keeps a gc from
  // removing the snapshots in between (gc keeps mounted ones after).
  auto snaps = snapshot::Store::open(snapshot::default_dir(store_dir));
  fs::FileLock hold(snaps.dir() + "/.lock", false);
  std::vector<std::string> lowers;
  if (auto warm = snaps.ready(manifest, config)) {
    lowers = std::move(*warm);
  } else {
    if (!prepare) return false;
    layout::Layout::Lease lease(store);
    lowers = prepare(snaps, store, manifest, config);
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
  create_file(config_path, spec.dump(2) + "\n");
  undo.dismiss();
  return true;
}

}  // namespace ocikit::run
