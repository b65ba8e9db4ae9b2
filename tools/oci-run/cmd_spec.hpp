#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/snapshot.hpp"
// `oci-run spec --image IMAGE --bundle DIR`: a runtime bundle made from an
// image of the store (config.json from the image config, rootfs from the
// snapshot cache).

#include <string>

namespace CLI {
class App;
}

namespace ocikit::run {

/// What `oci-run spec --image` needs.
struct BundleOptions {
  std::string image;  ///< a store ref name, docker reference or manifest digest
  std::string bundle;  ///< the bundle directory (created when missing)
  std::string store;  ///< the image store; "" = layout::default_store_path()
  bool copy = false;  ///< a plain merged copy in rootfs instead of an overlay mount
};

/// Write <bundle>/config.json (runtime_spec::from_image, root.path
/// "rootfs") and <bundle>/rootfs for the image `o.image`, after preparing
/// its layer snapshots. The
/// rootfs is an overlay mount of the snapshots with <bundle>/.upper and
/// <bundle>/.work (`umount <bundle>/rootfs` undoes it), or with `o.copy` a
/// plain copy of the merged tree (snapshot::copy_merged, like `umoci
/// unpack`). Errors: Errc::exists "File <bundle>/config.json exists. Remove
/// it first" (as runc spec), Errc::exists when rootfs, .upper or .work is
/// there and not an empty dir, Errc::not_found for an unknown image (or a
/// manifest missing for this host's platform); on any error nothing it
/// created is left (mount undone, dirs removed).
///
/// `prepare` extracts missing snapshots (snapshot::Store::prepare, in
/// oci-run-manage). Without it (the lean oci-run, which links no layer
/// extraction) an image whose snapshots are not all there is left alone:
/// write_bundle returns false having created nothing, for the caller to
/// hand the command to oci-run-manage. Returns true once the bundle is made.
using PrepareLayers = std::function<std::vector<std::string>(snapshot::Store&, layout::Layout&, const image::Manifest&,
                                                             const image::ImageConfig&)>;
bool write_bundle(const BundleOptions& o, const PrepareLayers& prepare);

}  // namespace ocikit::run

namespace ocikit::run {

/// Add the options of `spec` that make a bundle from an image (--image,
/// --store, --copy) to the subcommand `spec`.
void add_bundle_options(CLI::App* spec, BundleOptions& o);

}  // namespace ocikit::run
