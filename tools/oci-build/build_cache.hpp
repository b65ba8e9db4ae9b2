#pragma once
// oci-build's layer cache: cache key -> the layer a step produced. It lives
// beside the image store, in <store>.build-cache/ (a sibling, like the
// snapshots, so the layout itself only holds what the OCI spec allows):
//   layers/<key-hex>   {"layer": descriptor, "diff_id": "sha256:..", "created": RFC 3339}
//   steps/<key-hex>    the time a metadata-only step (ENV, LABEL, CMD ...) was
//                      first built: a rebuild gives the step, and so the
//                      image, the same time, and a fully cached build
//                      the same image id (as docker's builders)
//   stat/<ctx-hex>     the stat cache of one build context (stat_cache.hpp)
//   mounts/<id-hex>/   RUN --mount=type=cache directories
//   tmp/               per-build scratch dirs (removed when a build ends)
// A record keeps no blob alive: the store's gc removes layers no image
// references, and a record whose layer blob is gone is dropped when it is
// next looked up, or by prune(). Records are written atomically, so
// concurrent builds may share the cache.

#include <optional>
#include <string>

#include "common/digest.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"

namespace ocikit::build {

/// <store_dir>.build-cache (trailing slashes of store_dir ignored).
std::string cache_dir(const std::string& store_dir);

/// What a cache record holds.
struct CacheRecord {
  image::Descriptor layer;
  digest::Digest diff_id;
  std::string created;  ///< when the step was built (history's created); "" in old records
};

/// The key -> layer records of one store.
class LayerCache {
 public:
  /// Records under `dir`/layers (created when missing). Throws Errc::io.
  explicit LayerCache(std::string dir);

  /// The record of `key` ("sha256:<hex>") when there is one whose blob
  /// `store` still has; a record whose blob is gone (or that does not
  /// parse) is removed and nullopt returned.
  std::optional<CacheRecord> find(const std::string& key, const layout::Layout& store) const;

  /// Record `r` under `key` (atomic replace).
  void put(const std::string& key, const CacheRecord& r) const;

  /// The time metadata-only step `key` was first built: the recorded one
  /// when `reuse` and there is one, else `now`, recorded.
  std::string step_time(const std::string& key, const std::string& now, bool reuse) const;

  /// Remove every record whose layer blob `store` no longer has (run after
  /// the store's gc). Returns how many were removed.
  size_t prune(const layout::Layout& store) const;

 private:
  std::string path(const std::string& key) const;
  std::string dir_, steps_;
};

}  // namespace ocikit::build
