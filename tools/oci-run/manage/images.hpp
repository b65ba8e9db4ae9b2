#pragma once
// The images of the local store as docker shows them: one Image per
// distinct index.json target (a manifest, or an index resolved to its
// host-platform manifest), with every name pointing at it. The image id is
// the config digest, as docker's.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/image.hpp"
#include "common/layout.hpp"

namespace ocikit::manage {

/// One image of the store.
struct Image {
  std::vector<std::string> names;  ///< ref.name annotations pointing at it (sorted)
  image::Descriptor target;  ///< the index.json entry (manifest or index)
  image::Descriptor manifest_desc;  ///< the platform manifest
  image::Manifest manifest;
  image::ImageConfig config;
  /// The config digest hex (docker's image id).
  std::string id() const { return manifest.config.digest.hex; }
  /// Sum of the config and layer blob sizes.
  uint64_t size() const;
  /// The config's chain ids (hex), lowest layer first.
  std::vector<std::string> chain_ids() const;
};

/// A store name split for display: {"okt/busybox", "latest"} from
/// "docker.io/okt/busybox:latest"; a name that is no docker reference (an
/// `oci:` layout tag) gives {name, "<none>"}.
std::pair<std::string, std::string> split_name(const std::string& ref_name);

/// True for the name an untagged image is kept under ("sha256:<64 hex>",
/// from commit without a name).
bool is_id_name(const std::string& ref_name);

/// True when no name but id names point at `img` (docker's dangling).
bool is_dangling(const Image& img);

/// Every image of `store`, newest first. Entries whose blobs are missing or
/// that have no manifest for this platform are skipped with a warning.
std::vector<Image> list_images(const layout::Layout& store);

/// Find an image by name (exact ref.name or docker-normalised reference), by
/// config (id) or manifest digest, or by a unique prefix of either. Throws
/// Errc::not_found `no such image: KEY`, Errc::invalid for an ambiguous prefix.
Image find_image(const layout::Layout& store, std::string_view key);
/// Like find_image but nullopt when nothing matches.
std::optional<Image> try_find_image(const layout::Layout& store, std::string_view key);

/// The name `key` is (exactly or normalised) in `img`, "" when key is not one
/// of its names (an id, a digest).
std::string matching_name(const Image& img, std::string_view key);

/// docker's `image inspect` object for `img` (Id, RepoTags, RepoDigests,
/// Created, Author, Config, Architecture, Os, Variant, Size, RootFS,
/// Metadata).
nlohmann::ordered_json inspect_json(const Image& img);

/// The snapshot chain ids (hex) of every layer prefix of `images`.
std::set<std::string> live_chain_ids(const std::vector<Image>& images);

/// The platform manifest of the store entry `d` (itself, or the host's
/// manifest of an index). Throws Errc::not_found when an index has none.
image::Descriptor platform_manifest(const layout::Layout& store, const image::Descriptor& d);

/// The manifest and config a container was made from: `digest` names a
/// manifest (or an index, resolved to the host's manifest) whose blobs are
/// in `store`, whether or not a name still points at it. Throws
/// Errc::not_found for a missing blob, Errc::invalid for a malformed one.
std::pair<image::Manifest, image::ImageConfig> read_image_by_digest(const layout::Layout& store,
                                                                    const std::string& digest);

struct Globals;
/// image prune's work: untag and delete unused images (dangling ones unless
/// `all`; only those `selected` accepts when given), gc blobs and snapshots.
/// Appends docker's "untagged: / deleted:" lines; returns the bytes freed.
uint64_t prune_images(const Globals& env, bool all, std::vector<std::string>& lines,
                      const std::function<bool(const Image&)>& selected = {}, size_t* snapshots = nullptr);

}  // namespace ocikit::manage
