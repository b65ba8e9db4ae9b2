#pragma once
// ocikit::layer: apply OCI image layers (tar changesets) onto a directory and
// produce layers from a directory's changes, as the OCI image spec's
// "layer.md" defines them: whiteouts (.wh.NAME, .wh..wh..opq), hard links,
// symlinks, device nodes, ownership, modes, times and xattrs.
//
// Apply is safe against hostile layers: every path is resolved inside the
// target root (openat2 RESOLVE_IN_ROOT), the last component is never
// followed, and entries whose names climb out of the root are refused. The
// compressed stream is decompressed outside libarchive (ISA-L for gzip,
// libzstd for zstd) while both the blob digest and the diff_id are computed.
//
// Both apply() and the diff functions keep no global state: they may run
// concurrently on different roots from different threads.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.hpp"

namespace ocikit::layer {

/// The stream compressions the OCI image spec allows for layers.
enum class Compression { none, gzip, zstd };

/// Detect the compression of a stream from its first bytes (gzip 1f 8b,
/// zstd 28 b5 2f fd); anything else is Compression::none (a plain tar).
Compression detect_compression(const void* head, size_t n);

/// The media-type suffix-free name of a compression ("none", "gzip", "zstd").
const char* compression_name(Compression c);

/// One contiguous range of a uid/gid mapping, as in /proc/PID/uid_map and the
/// runtime spec's linux.uidMappings: container ids [container_id,
/// container_id + size) map to host ids [host_id, host_id + size).
struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

/// Map a container id to a host id through `map` (identity when empty).
/// Returns std::nullopt when the id is not covered by any range.
std::optional<uint32_t> map_id(const std::vector<IdMapping>& map, uint32_t id);

/// How apply() writes entries.
struct ApplyOptions {
  /// container id -> host id (rootless); empty = identity.
  std::vector<IdMapping> uid_map, gid_map;
  /// chown entries to their (mapped) owner; false: files stay owned by the caller.
  bool same_owner = true;
  /// create block/char devices (needs root; skipped with a debug log otherwise).
  bool allow_devices = true;
  /// Write whiteouts as overlayfs does (char 0/0 device for .wh.NAME, the
  /// trusted.overlay.opaque=y xattr for .wh..wh..opq) instead of only
  /// deleting, for snapshot dirs used as overlay lower layers.
  bool overlay_whiteouts = false;
  /// false: .wh.NAME entries are plain files (docker cp's archives, not layers).
  bool whiteouts = true;
  /// Refuse to replace a directory with a non-directory or the reverse
  /// (docker's noOverwriteDirNonDir): Errc::exists "cannot overwrite ...".
  bool no_overwrite_dir_non_dir = false;
};

/// What apply() read.
struct ApplyResult {
  digest::Digest diff_id;  ///< sha256 of the uncompressed tar
  uint64_t uncompressed_size = 0;  ///< bytes of the uncompressed tar
  digest::Digest compressed_digest;  ///< sha256 of the bytes read from fd (the blob digest)
  uint64_t compressed_size = 0;  ///< bytes read from fd
  Compression compression = Compression::none;  ///< detected compression
};

/// Read a (gzip | zstd | plain, auto-detected) layer tar from `fd` to its end
/// and apply it onto the existing directory `root`. Entries are resolved
/// inside root; a name that escapes it ("../x") is refused with
/// Errc::invalid `layer entry "../x": path escapes the root`; symlinks met
/// while resolving are followed as if root were "/" (contained). Errors name
/// the entry: `layer entry "a/b": ...`. A corrupt stream throws
/// Errc::invalid. On error, root may hold part of the layer (callers extract
/// into a fresh snapshot dir and remove it on failure).
ApplyResult apply(int fd, const std::string& root, const ApplyOptions& opts = {});
/// apply() onto the directory open as `root_fd` (not closed), e.g. one a
/// caller resolved inside a container's root with fs::open_in_root.
ApplyResult apply(int fd, int root_fd, const ApplyOptions& opts = {});

/// How the diff functions write a layer.
struct DiffOptions {
  Compression compression = Compression::gzip;
  /// Clamp every mtime to at most this (SOURCE_DATE_EPOCH); unset = keep times.
  std::optional<int64_t> source_date_epoch;
  /// Compression level: -1 the codec's default; gzip 1..9, zstd 1..19.
  int level = -1;
};

/// What a diff wrote.
struct DiffResult {
  digest::Digest digest;  ///< sha256 of the bytes written (the blob digest)
  uint64_t size = 0;  ///< bytes written
  digest::Digest diff_id;  ///< sha256 of the uncompressed tar
  uint64_t uncompressed_size = 0;  ///< bytes of the uncompressed tar
};

/// Write a layer tar of the overlayfs upper dir `upper` to `out_fd`: char
/// 0/0 devices become .wh.NAME, directories with trusted.overlay.opaque=y
/// (or user.overlay.opaque=y) get a .wh..wh..opq entry. Entries are sorted,
/// owners numeric (no user/group names), times clamped to
/// source_date_epoch, no atime/ctime; PAX headers only where ustar cannot
/// hold an entry. Throws Errc::io when `upper` cannot be read or out_fd written.
DiffResult diff_upper(const std::string& upper, int out_fd, const DiffOptions& opts = {});

/// Write a layer tar of the changes from the tree `lower` to the tree
/// `upper` to `out_fd`: new and changed entries (with their parent
/// directories), and .wh.NAME for entries of lower missing from upper.
/// A regular file counts as changed when its type, mode, owner, size, mtime
/// or xattrs differ (or, when its mtime has no sub-second part, its content).
DiffResult diff_trees(const std::string& lower, const std::string& upper, int out_fd, const DiffOptions& opts = {});

}  // namespace ocikit::layer
