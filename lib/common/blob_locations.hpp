#pragma once
// ocikit::blobloc: where blobs were seen on registries (digest -> host and
// repository), remembered across runs so that a push can mount a blob from
// another repository of the same registry instead of uploading it: docker
// keeps such "v2 metadata" and skopeo a blob info cache for the same reason.
//
// A cache, so best effort: a missing, unreadable or damaged file means no
// hints, and a failure to save one is logged (debug) and ignored. One line
// per entry, "<digest> <host>/<repository>", oldest first, at most
// kMaxEntries; replaced whole (fs::AtomicFile, without fsync) under an flock
// on "<file>.lock".

#include <optional>
#include <string>
#include <vector>

namespace ocikit::blobloc {

/// $OCIKIT_BLOB_LOCATIONS (empty: no cache), else
/// /var/cache/ocikit/blob-locations as root, else
/// $XDG_CACHE_HOME/ocikit/blob-locations (default ~/.cache/...).
std::string default_path();

/// The entries of one cache file.
class BlobLocations {
 public:
  static constexpr size_t kMaxEntries = 4096;

  /// The cache in `path` ("" gives an empty, disabled cache), read on the
  /// first lookup (a pull only records).
  explicit BlobLocations(std::string path);

  /// Repositories of `host` known to hold `digest`, newest first, at most `max`.
  std::vector<std::string> repositories(const std::string& host, const std::string& digest, size_t max = 3) const;

  /// Remember that `host`/`repo` holds every digest in `digests`, merged with
  /// what other processes saved meanwhile.
  void record(const std::string& host, const std::string& repo, const std::vector<std::string>& digests);

 private:
  struct Entry {
    std::string digest, location;  ///< location: host/repository
  };
  static std::vector<Entry> parse(const std::string& text);
  const std::vector<Entry>& entries() const;  ///< loaded on first use

  std::string path_;
  mutable std::optional<std::vector<Entry>> entries_;  ///< oldest first
};

}  // namespace ocikit::blobloc
