#pragma once
// ocikit::store_check: verify an image store (an OCI layout) and its
// snapshot dir as a user wants after a crash, a full disk or a bad disk, and
// repair what can be repaired (in the spirit of `git fsck`, `ctr content
// verify` and `podman system check --repair`).
//
// Errors (the store is damaged):
//   corrupt_blob     a blob whose content does not match its name (digest),
//                    or that is not a regular file
//   missing_blob     a blob an image needs is not there (foreign layers,
//                    which registries may keep to themselves, excepted)
//   broken_image     an index.json entry whose manifest, index or config is
//                    missing, corrupt, unparsable or inconsistent (size
//                    differs from its descriptor, layers vs diff_ids)
//   bad_index        index.json or oci-layout cannot be read
//   bad_snapshot     a snapshot an image needs that is not a directory
// Garbage (left by a crash or by removals; harmless, reclaimable):
//   unreferenced_blob, unreferenced_snapshot, stale_temp
//
// repair() removes corrupt blobs, the entries of broken images (they can be
// pulled or built again), then everything unreferenced, through the same
// locks as Layout::gc and snapshot::Store::gc, so it is safe beside
// concurrent pulls, builds and runs.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/layout.hpp"

namespace ocikit::store_check {

enum class Kind {
  corrupt_blob,
  missing_blob,
  broken_image,
  bad_index,
  bad_snapshot,
  unreferenced_blob,
  unreferenced_snapshot,
  stale_temp,
};

/// "corrupt blob", "missing blob", ... as printed.
const char* kind_name(Kind k);
/// True for the kinds that mean damage (not garbage).
bool is_error(Kind k);

struct Problem {
  Kind kind;
  std::string subject;  ///< a digest, an image name, a snapshot chain id, a path
  std::string detail;  ///< why, one line
};

struct Options {
  bool quick = false;  ///< sizes only: do not hash blob contents
  std::vector<digest::Digest> extra_roots;  ///< blobs kept beside index.json (containers' images)
  std::set<std::string> extra_chain_ids;  ///< snapshots kept beside the images' (containers')
};

struct Report {
  uint64_t blobs = 0;  ///< blobs looked at
  uint64_t bytes = 0;  ///< their size
  uint64_t images = 0;  ///< index.json entries
  uint64_t snapshots = 0;  ///< snapshot dirs
  std::vector<Problem> problems;
  /// index.json entries (as digests) to remove: broken images.
  std::vector<std::string> broken_entries;
  /// Blobs found corrupt.
  std::vector<digest::Digest> corrupt_blobs;
  /// Chain ids the images that are fine (and extra_chain_ids) need.
  std::set<std::string> live_chain_ids;
  size_t errors() const;
};

/// Check the layout at `store_dir` and the snapshot dir `snapshot_dir` (""
/// or absent: none). Never changes anything.
Report check(const std::string& store_dir, const std::string& snapshot_dir, const Options& o);

struct RepairResult {
  uint64_t blobs = 0;  ///< corrupt and unreferenced blobs removed
  uint64_t bytes = 0;
  uint64_t images = 0;  ///< broken index.json entries removed
  uint64_t snapshots = 0;  ///< snapshots removed (unreferenced or bad)
  uint64_t temps = 0;  ///< stale temp files removed
};

/// Repair what `r` (from check()) found. Returns what was removed.
RepairResult repair(const std::string& store_dir, const std::string& snapshot_dir, const Report& r, const Options& o);

}  // namespace ocikit::store_check
