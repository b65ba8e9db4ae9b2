#pragma once
// ocikit::transfer: whole-image copies between a registry and local storage,
// built on registry::Client. pull_image resolves a tag or digest (choosing a
// platform from an index, or keeping them all), then streams every missing
// blob into the target in parallel, manifests after their blobs and indexes
// last. push_image walks the other way: blobs first (skipping those the
// registry has, mounting those another repository has), then manifests, then
// the index. Both may record where blobs live (blobloc) for later mounts. The storage side is given as callbacks so that any layout (the
// store, an oci: directory) can be the other end.

#include <functional>
#include <string>
#include <vector>

#include "common/blob_locations.hpp"
#include "common/fs.hpp"
#include "common/http.hpp"
#include "common/image.hpp"
#include "common/platform.hpp"
#include "common/progress.hpp"
#include "common/registry.hpp"

namespace ocikit::transfer {

/// Where pulled content goes.
struct PullTarget {
  /// True when the target already has the blob (it is then not fetched).
  std::function<bool(const image::Descriptor&)> has_blob;
  /// Store one blob: call `fill(sink)`, which streams the verified content
  /// into `sink` (or throws, in which case nothing may become visible).
  std::function<void(const image::Descriptor&, const std::function<void(const http::Sink&)>& fill)> write_blob;
  /// True when write_blob itself checks digest and size before the blob
  /// becomes visible (then the content is not hashed twice).
  bool verifies = false;
};

/// Pull settings.
struct PullOptions {
  platform::Platform platform = platform::host();  ///< image chosen from an index
  bool all_platforms = false;  ///< keep the whole index
  int jobs = 4;  ///< blobs fetched at once
  progress::Bars* bars = nullptr;  ///< per-blob progress (optional)
  /// When set, the image's blobs are recorded as held by the repository.
  blobloc::BlobLocations* locations = nullptr;
  /// When set, called with the top manifest (as served for `ref`) before
  /// anything is fetched or stored: the trust policy's check. Throwing
  /// stops the pull with nothing stored.
  std::function<void(const registry::Manifest& top)> check_top;
};

/// Pull `repo` at `ref` (tag or digest) into `target`. A blob the registry
/// lacks (404) but whose descriptor lists `urls` (foreign / non-distributable
/// layers) is fetched from those URLs in order, verified the same way. Returns the descriptor
/// the local name should point to: the chosen platform's manifest, or the
/// index with all_platforms (or when the registry served a manifest). Throws
/// Errc::not_found for a missing tag/blob or a platform the index lacks,
/// Errc::invalid for malformed manifests and digest or size mismatches.
image::Descriptor pull_image(registry::Client& c, const std::string& repo, const std::string& ref,
                             const PullTarget& target, const PullOptions& o);

/// Where pushed content comes from.
struct PushSource {
  /// The full content of a small blob (manifest, index, config).
  std::function<std::string(const image::Descriptor&)> read_blob;
  /// An open descriptor on a blob's content (read with pread from 0).
  std::function<fs::UniqueFd(const image::Descriptor&)> open_blob;
};

/// Push settings.
struct PushOptions {
  int jobs = 4;  ///< blobs uploaded at once
  std::vector<std::string> mount_from;  ///< repositories of the same registry to mount from
  progress::Bars* bars = nullptr;
  /// When set, each blob is also mounted from the repositories it was last
  /// seen in (after mount_from), and the pushed blobs are recorded.
  blobloc::BlobLocations* locations = nullptr;
};

/// Push the image `top` (a manifest or an index) from `src` to `repo` under
/// `tag` ("" pushes by digest only). Foreign / non-distributable layers with
/// `urls` are not uploaded (as docker and skopeo do by default): their
/// descriptors stay in the manifest and `src` need not have them. Returns the pushed manifest digest.
/// Errors name the blob or manifest that failed.
std::string push_image(registry::Client& c, const std::string& repo, const std::string& tag,
                       const image::Descriptor& top, const PushSource& src, const PushOptions& o);

/// Run `fn(i)` for i in [0, n) on up to `jobs` threads; the first error is
/// rethrown after every worker stopped (the others stop taking work).
void parallel_for(size_t n, int jobs, const std::function<void(size_t)>& fn);

}  // namespace ocikit::transfer
