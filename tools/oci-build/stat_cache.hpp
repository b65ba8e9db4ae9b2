#pragma once
// oci-build's stat cache: remembers the content digest of build-context
// files by their stat data, as git's index does, so that a rebuild whose
// sources did not change does not read them again. The cache key of a COPY
// is still the files' content: an entry is used only while the file's
// (dev, inode, size, mtime, ctime, mode) are exactly those recorded, and a
// file changed within a second of being hashed is "racy" (a write in the
// same timestamp tick could leave its stat unchanged) and is hashed again.
//
// The cache is one text file per build context, one line per file:
//   <digest-hex> <dev> <ino> <size> <mtime-ns> <ctime-ns> <mode> <hashed-at-ns> <path>
// Lines that do not parse are ignored; the file is rewritten atomically.
// Thread-safe.

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace ocikit::build {

class StatCache {
 public:
  /// A cache kept in `file` (loaded now when it exists; an unreadable or
  /// malformed file is an empty cache). An empty `file` keeps nothing on disk.
  explicit StatCache(std::string file = "");

  /// The sha256 hex of the regular file `path` whose lstat() gave `st`:
  /// from the cache when its stat data match and it is not racy, else read
  /// and hashed (and recorded). Throws Errc::io when it cannot be read.
  std::string digest(const std::string& path, const struct stat& st);

  /// Write the cache back when something was hashed (atomic replace).
  /// Entries of files that no longer exist are dropped then.
  void save();

  /// How many digest() calls read the file (for tests and logs).
  uint64_t hashed() const { return hashed_; }

 private:
  struct Entry {
    std::string hex;
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime = 0, ctime = 0, hashed_at = 0;
    uint32_t mode = 0;
    bool used = false;
  };
  std::string file_;
  std::map<std::string, Entry> entries_;
  std::mutex mu_;
  uint64_t hashed_ = 0;
  bool dirty_ = false;
};

}  // namespace ocikit::build
