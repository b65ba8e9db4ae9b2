#pragma once
// ocikit::snapshot: the snapshot cache between the image store and container
// root filesystems. Each layer of an image is extracted once, with overlayfs
// whiteouts (char 0/0 devices, the trusted.overlay.opaque xattr), into
// <snapshots>/<chainID-hex>/, so that an image's snapshots stacked as
// overlay lower dirs give its root filesystem. The chain ID is the one of the
// OCI image spec (config.md "Layer ChainID"): ChainID(L0) = DiffID(L0),
// ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
//
// Safety: a layer is extracted into a temp dir ".tmp-<hex>-XXXXXX" in the
// snapshot dir and renamed to its final name only once it is complete and
// verified (blob digest against the manifest's descriptor, diff_id against
// the config's rootfs.diff_ids), so a snapshot dir is always whole; a failure
// or a crash leaves at most a temp dir, which gc() removes. Concurrent
// prepare() calls (threads or processes) may race on one layer: the first
// rename wins, the loser drops its copy. prepare() holds "<dir>/.lock"
// shared and gc() exclusive, so gc never removes a snapshot being made.

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"

namespace ocikit::snapshot {

namespace detail {
/// The prefix of the temp dirs a layer is extracted into (gc removes them).
inline constexpr const char* kTmpPrefix = ".tmp-";
}  // namespace detail

/// The snapshot dir of the image store `store_dir`: store_dir + ".snapshots"
/// (a sibling of the store, e.g. /var/lib/ocikit/store.snapshots; never
/// shared by two stores, and not inside the layout, which must only hold
/// what the OCI layout spec allows).
std::string default_dir(const std::string& store_dir);

/// The chain ID of the layer stack `diff_ids` (lowest first). Throws
/// Errc::invalid for an empty list.
digest::Digest chain_id(const std::vector<digest::Digest>& diff_ids);

/// The chain IDs of every prefix of `diff_ids`: result[i] = chain_id(diff_ids[0..i]).
std::vector<digest::Digest> chain_ids(const std::vector<digest::Digest>& diff_ids);

/// A directory of extracted layers, one per chain ID.
class Store {
 public:
  /// Open (creating it when missing) the snapshot dir `dir`. Throws Errc::io.
  static Store open(const std::string& dir);

  /// The directory.
  const std::string& dir() const { return dir_; }

  /// Make sure every layer of `manifest` is extracted: missing ones are read
  /// from `layout`, checked and extracted, up to `jobs` at a time (threads).
  /// Returns the snapshot dirs, lowest layer first (empty for an image with
  /// no layers). Throws Errc::invalid when the manifest's layer count differs
  /// from the config's diff_ids, or on a digest/diff_id mismatch
  /// ("layer sha256:..: diff_id mismatch: want X, got Y"); Errc::not_found
  /// when a blob is missing. On error no new snapshot is left behind.
  std::vector<std::string> prepare(layout::Layout& layout, const image::Manifest& manifest,
                                   const image::ImageConfig& config, int jobs = 2);

  /// The snapshot dirs of `manifest`'s layers, lowest first, when every one
  /// is already extracted (a "warm" image); std::nullopt when one is
  /// missing. Needs no layer extraction code (snapshot_prepare.cpp), so the
  /// lean oci-run binary can use it. Throws Errc::invalid as prepare does.
  std::optional<std::vector<std::string>> ready(const image::Manifest& manifest,
                                                const image::ImageConfig& config) const;

  /// <dir>/<chain_id_hex>, whether or not it exists.
  std::string path(const std::string& chain_id_hex) const;

  /// True when the snapshot of `chain_id_hex` exists.
  bool has(const std::string& chain_id_hex) const;

  /// The chain id hexes of the snapshots present, sorted.
  std::vector<std::string> list() const;

  /// The chain id hexes of the snapshots that a mount in this process's
  /// mount namespace uses (an overlay lower dir or a bind source), read from
  /// /proc/self/mountinfo.
  std::set<std::string> mounted() const;

  /// Remove every snapshot whose chain id hex is neither in `keep` nor
  /// mounted(), and stale temp dirs. Returns how many snapshots were removed.
  size_t gc(const std::set<std::string>& keep);

 private:
  explicit Store(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

/// Mount at `target` (an existing dir) the root filesystem made of `lowers`
/// (lowest first), the writable `upper` and overlay's `work` dir (both
/// existing, empty at first, on the same file system). With overlayfs it is
/// an overlay mount, built through the new mount API with one "lowerdir+"
/// per lower (no page-size limit on the number of layers; the legacy
/// mount(2) options string is used on kernels older than 6.8). With no
/// lowers, `upper` is bind-mounted at target. Where overlayfs is not
/// available (no such file system, or refused), the merged tree is copied
/// into target (copy_merged) and upper/work stay unused. Throws Errc::io.
void mount_rootfs(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                  const std::string& target);

/// Undo mount_rootfs: unmount `target` when it is a mount point (lazily, so a
/// process still inside does not block it). A copied tree is left for the
/// caller to remove. Throws Errc::io.
void unmount_rootfs(const std::string& target);

/// Copy the union of `lowers` (lowest first, overlay whiteout format) into
/// the existing dir `target`, as overlayfs would show it: char 0/0 devices
/// delete what lower layers had, opaque dirs hide lower content. Keeps
/// modes, owners (as root), times, symlinks, devices and xattrs other than
/// trusted.overlay.*. Throws Errc::io.
void copy_merged(const std::vector<std::string>& lowers, const std::string& target);

}  // namespace ocikit::snapshot
