#pragma once
// ocikit::archive: tar streams through libarchive, and the two image
// archive formats built on them:
// - oci-archive: a tar of an OCI image layout (oci-layout, index.json,
//   blobs/<alg>/<hex>), as skopeo and buildah write it;
// - docker-archive: `docker save` output: manifest.json
//   ([{"Config","RepoTags","Layers"}]), the config JSON and one tar per layer.
//
// Reading detects gzip / zstd / plain by content. Writing is deterministic:
// entries carry mtime 0, uid/gid 0, no user/group names, sorted order where
// the caller does not choose one, and gzip output has no timestamp.
//
// Imports verify every blob against its digest and size and leave nothing in
// the target layout when the archive is malformed (truncated tar, missing
// manifest.json or index.json, unsafe names such as "../x", digest
// mismatches): blobs an import added are removed again.

#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/reference.hpp"

struct archive;
struct archive_entry;

namespace ocikit::archive {

using image::Compression;
using image::Descriptor;

/// Check a tar entry name and return it cleaned ("./a//b" -> "a/b", a
/// trailing "/" dropped). Throws Errc::invalid `unsafe path "../x" in
/// archive` for absolute names and names with ".." components, and
/// `empty path in archive` for names that clean to nothing.
std::string safe_entry_path(std::string_view name);

/// Detect the compression of a stream from its first bytes.
Compression detect_compression(std::string_view head);

/// One tar entry's header.
struct Entry {
  enum class Type { file, dir, symlink, hardlink, other };
  std::string path;  ///< as stored in the archive (not cleaned)
  Type type = Type::file;
  int64_t size = 0;
  mode_t mode = 0;  ///< permission bits
  int64_t mtime = 0;
  int64_t uid = 0, gid = 0;
  std::string linkname;  ///< symlink / hardlink target
  struct archive_entry* raw = nullptr;  ///< libarchive's entry (xattrs etc.), valid until next()
};

/// A tar stream being read (plain, gzip or zstd, detected from content).
/// Errors are Errc::invalid "<name>: <what libarchive says>" (truncated,
/// not a tar, bad checksum) or Errc::io for read failures.
class TarReader {
 public:
  /// Read the file `path`, or stdin when `path` is "-". Throws
  /// Errc::not_found when the file is missing.
  static TarReader open(const std::string& path);
  /// Read from `fd` (not owned, not closed); `name` is used in errors.
  TarReader(int fd, std::string name);
  /// Read from memory (kept by the caller until the reader is gone).
  TarReader(std::string_view data, std::string name);
  TarReader(TarReader&&) noexcept;
  TarReader& operator=(TarReader&&) = delete;
  TarReader(const TarReader&) = delete;
  ~TarReader();

  /// Advance to the next entry; false at the end of the archive.
  bool next(Entry& e);
  /// Read up to `len` bytes of the current entry's data; 0 at its end.
  size_t read(void* buf, size_t len);
  /// The current entry's whole data; Errc::invalid when it exceeds `limit`.
  std::string read_all(size_t limit = 64 << 20);
  /// The compression detected (valid after the first next()).
  Compression compression() const;
  /// The name used in messages.
  const std::string& name() const { return name_; }
  /// libarchive's handle, for callers that need more.
  struct ::archive* raw() {
    return a_;
  }

 private:
  TarReader(std::string name, int owned_fd);
  [[noreturn]] void raise(std::string_view what) const;

  struct ::archive* a_ = nullptr;
  std::string name_;
  int owned_fd_ = -1;
};

/// A tar stream being written, deterministically (see above), in pax
/// "restricted" format (ustar unless a long name needs a pax header).
class TarWriter {
 public:
  /// Receives the (compressed) output bytes; may throw.
  using Sink = std::function<void(const void* data, size_t len)>;
  /// Write to `sink`, compressed with `c`.
  explicit TarWriter(Sink sink, Compression c = Compression::none);
  /// Write to `fd` (not owned).
  explicit TarWriter(int fd, Compression c = Compression::none);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  ~TarWriter();

  /// A regular file with `data`.
  void add_file(std::string_view path, std::string_view data, mode_t mode = 0644);
  /// A directory.
  void add_dir(std::string_view path, mode_t mode = 0755);
  /// Start a regular file of `size` bytes; feed it with write_data().
  void begin_file(std::string_view path, int64_t size, mode_t mode = 0644);
  /// A header with the caller's metadata (type, owner, times, link
  /// target, size); a regular file's data follows with write_data().
  void add_entry(struct ::archive_entry* e);
  /// Data of the file begun last; exactly its size in total.
  void write_data(const void* data, size_t len);
  /// Write the end-of-archive marker and flush. Must be called for a
  /// complete archive; a writer destroyed without it leaves a truncated one.
  void finish();
  /// libarchive's handle, for entries with more metadata.
  struct ::archive* raw() {
    return a_;
  }

 private:
  void header(std::string_view path, unsigned type, mode_t mode, int64_t size);
  void check(int rc, std::string_view what);

  struct ::archive* a_ = nullptr;
  Sink sink_;
  std::exception_ptr pending_;  ///< an exception the sink threw, rethrown by check()
  bool finished_ = false;
};

/// Stream the uncompressed content of a layer blob (gzip / zstd / plain,
/// detected from its content) to `fn`. Throws Errc::not_found for a
/// missing blob and Errc::invalid for corrupt compressed data.
void read_layer(const layout::Layout& l, const digest::Digest& blob,
                const std::function<void(const void* data, size_t len)>& fn);

/// The uncompressed digest (diff_id) and size of a layer blob, gzip / zstd /
/// plain detected from its content.
digest::Digest diff_id(const layout::Layout& l, const digest::Digest& blob, int64_t* uncompressed_size = nullptr);

/// An image in an archive: its names and manifest (or index) descriptor.
struct ArchiveImage {
  std::vector<std::string> names;  ///< oci: ref.name values; docker: normalised RepoTags
  Descriptor desc;  ///< manifest / index descriptor in the layout
};

/// Import an oci-archive (file or "-" for stdin) into `dst`: every blob is
/// verified; index.json entries are returned (names = their ref.name) and,
/// when `tag` is set, tagged into dst under their ref.name. Throws
/// Errc::invalid on a malformed archive (leaving dst as it was).
std::vector<ArchiveImage> import_oci_archive(const std::string& file, layout::Layout& dst, bool tag = true);

/// Write an oci-archive of `images` from `src` to `file` ("-" = stdout):
/// an index.json with one entry per name (ref.name annotation; an entry
/// with no name is written unnamed) and every blob they reach, in sorted
/// order. A file is written atomically (temp + rename).
void export_oci_archive(const layout::Layout& src, const std::vector<ArchiveImage>& images, const std::string& file,
                        Compression c = Compression::none);

/// Import a docker-archive (file or "-"): each manifest.json entry becomes
/// an OCI manifest in `dst` (config stored as is, layers stored as they are
/// in the archive, media types from their detected compression; diff_ids
/// computed and checked against the config), tagged with its RepoTags
/// (normalised, e.g. "docker.io/library/alpine:latest") when `tag` is set.
std::vector<ArchiveImage> import_docker_archive(const std::string& file, layout::Layout& dst, bool tag = true);

/// Write a docker-archive (docker 20.10's save format: manifest.json,
/// repositories, "<hex>.json" configs, and per layer a "<chain id hex>/"
/// dir with the uncompressed layer.tar, VERSION and a v1 json) of `images` (manifest
/// descriptors; an index is resolved to its host-platform manifest) with
/// their names as RepoTags in docker's familiar form.
void export_docker_archive(const layout::Layout& src, const std::vector<ArchiveImage>& images, const std::string& file);

/// A local image that oci-fetch and oci-push read: `oci:DIR[:TAG]` (TAG
/// defaults to "latest"), the local store (the `store` directory, "" = the
/// default store), or an oci-archive / docker-archive, imported (every blob
/// verified) into a temporary layout under $TMPDIR that is removed with this
/// object. `spelled` is SRC as the user wrote it, for messages. Throws
/// Errc::invalid (an empty or malformed archive), Errc::usage (an archive of
/// several images and no :TAG) and Errc::not_found (no such name).
class LocalImage {
 public:
  LocalImage(const reference::ImageRef& src, const std::string& spelled, const std::string& store);
  LocalImage(const LocalImage&) = delete;
  LocalImage& operator=(const LocalImage&) = delete;

  layout::Layout& layout() { return *layout_; }
  /// The name the image has in layout(): the TAG, the store reference, or
  /// the archive's (first) name or digest.
  const std::string& name() const { return name_; }
  const Descriptor& top() const { return top_; }

 private:
  std::optional<fs::TempDir> temp_;  // first member: removed even when the constructor throws
  std::optional<layout::Layout> layout_;
  std::string name_;
  Descriptor top_;
};

}  // namespace ocikit::archive
