#pragma once
// ocikit::layout: an OCI image layout on disk ("oci-layout", "index.json",
// "blobs/<alg>/<hex>"), used both as the local image store and for
// `oci:DIR` layouts shared with skopeo, umoci and podman.
//
// Safety rules (a killed or concurrent writer never leaves a broken store):
// - blobs are written to an unnamed O_TMPFILE inode (or a named temp file in
//   "ingest/" where O_TMPFILE is unsupported), hashed while written, checked
//   against the expected digest and size, fsynced, then linked/renamed into
//   blobs/<alg>/<hex>; a blob path therefore only ever holds complete content;
// - the blobs/<alg> directories are fsynced before every index.json update
//   (not after each blob), so index.json never names a blob whose directory
//   entry a crash could lose;
// - index.json is rewritten atomically (fs::AtomicFile) while holding an
//   exclusive flock on ".index.lock";
// - gc() holds ".gc.lock" exclusively; blob writers and Lease holders hold
//   it shared, so gc never removes a blob that is being written or that a
//   caller is about to tag.
// Names live in the org.opencontainers.image.ref.name annotation of
// index.json entries, so `oci-image-tool validate --type image --ref
// name=NAME DIR` finds them.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"

namespace ocikit::layout {

using image::Descriptor;

/// The image store path: $OCIKIT_STORE, else /var/lib/ocikit/store as root,
/// else $XDG_DATA_HOME/ocikit/store (default ~/.local/share/ocikit/store).
std::string default_store_path();

/// True when `name` fits the image-spec ref.name grammar:
/// component ("/" component)*, component = alnum+ (separator alnum+)*,
/// separator = one of "-._:@+" or "--".
bool is_valid_ref_name(std::string_view name);

class Layout;

/// A blob being written. Bytes are hashed as they are written; commit()
/// verifies and publishes the blob. Destroyed without a successful commit(),
/// it leaves nothing behind. Movable, not copyable. It holds the layout's gc
/// lock shared until commit/destruction: do not call Layout::gc() from the
/// same process while a writer is open (flock would deadlock).
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept = default;
  BlobWriter& operator=(BlobWriter&&) noexcept;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();

  /// Append bytes. Throws Errc::io.
  void write(const void* data, size_t len);
  void write(std::string_view s) { write(s.data(), s.size()); }
  /// Bytes written so far.
  uint64_t size() const { return hasher_.size(); }

  /// Verify the content against `expected` digest and `expected_size` (when
  /// given), fsync, and move it to blobs/<alg>/<hex> (a blob already there
  /// is kept). Its directory entry becomes durable with the next index.json
  /// update. Returns the descriptor {media type given to begin_blob,
  /// digest, size}. On mismatch throws Errc::invalid
  /// "digest mismatch: want X, got Y" (or "size mismatch: want N, got M")
  /// and leaves nothing. May be called once.
  Descriptor commit(std::optional<digest::Digest> expected = std::nullopt,
                    std::optional<int64_t> expected_size = std::nullopt);
  /// After commit(): true when this writer created the blob, false when an
  /// identical blob was already there.
  bool created() const { return created_; }

 private:
  friend class Layout;
  BlobWriter(std::string root, std::string media_type, digest::Algorithm alg);
  void discard() noexcept;
  void flush();
  void put(const char* p, size_t len);  ///< write to the file, start writeback per chunk

  std::string root_;
  std::string media_type_;
  fs::UniqueFd fd_;
  std::string tmp_path_;  ///< named temp file, only when O_TMPFILE is unsupported
  digest::Hasher hasher_;
  std::optional<fs::FileLock> gc_lock_;
  std::unique_ptr<char[]> buf_;  ///< pending bytes, written out per kBufferSize
  size_t buf_len_ = 0;
  uint64_t written_ = 0;  ///< bytes handed to the file
  uint64_t writeback_ = 0;  ///< bytes whose writeback has been started
  bool done_ = false;
  bool created_ = false;
  static constexpr size_t kBufferSize = 64 << 10;
  static constexpr uint64_t kWritebackChunk = 8 << 20;
};

/// Blobs and entries gc() removed.
struct GcResult {
  uint64_t blobs = 0;  ///< blobs removed
  uint64_t bytes = 0;  ///< their total size
  uint64_t temps = 0;  ///< stale temporary files removed
};

/// An OCI image layout directory. Cheap to copy (it only holds the path).
class Layout {
 public:
  /// Open an existing layout. Throws Errc::not_found when `dir` or its
  /// oci-layout file is missing ("DIR: not an OCI image layout"), and
  /// Errc::invalid when oci-layout or index.json are malformed.
  static Layout open(const std::string& dir);
  /// Open `dir`, creating it (and oci-layout, index.json, blobs/sha256) when
  /// it is not a layout yet. Throws like open() when it is a broken layout.
  static Layout open_or_create(const std::string& dir);

  /// The layout's directory.
  const std::string& path() const { return root_; }

  // ---- blobs ----

  /// True when blobs/<alg>/<hex> exists.
  bool has_blob(const digest::Digest& d) const;
  /// blobs/<alg>/<hex> under the layout (whether or not it exists).
  std::string blob_path(const digest::Digest& d) const;
  /// Start writing a blob of `media_type`, hashed with `alg`.
  BlobWriter begin_blob(std::string media_type = "application/octet-stream",
                        digest::Algorithm alg = digest::Algorithm::sha256);
  /// Store `data` as a blob; returns its descriptor.
  Descriptor put_blob(std::string_view data, std::string media_type);
  /// Store `j` (serialised with image::dump) as a blob of `media_type`.
  Descriptor put_json(const nlohmann::json& j, std::string media_type);
  /// Read a whole blob and verify its digest (and size, for a Descriptor).
  /// Throws Errc::not_found "blob sha256:..: not found" or Errc::invalid on
  /// a mismatch.
  std::string read_blob(const digest::Digest& d) const;
  std::string read_blob(const Descriptor& d) const;
  /// Open a blob for reading (no verification). Throws Errc::not_found.
  fs::UniqueFd open_blob(const digest::Digest& d) const;
  /// read_blob + image::parse_manifest / parse_index / parse_config.
  image::Manifest read_manifest(const Descriptor& d) const;
  image::Index read_index(const Descriptor& d) const;
  image::ImageConfig read_config(const Descriptor& d) const;

  // ---- index.json ----

  /// The whole index.json (unknown fields and annotations kept).
  image::Index index() const;
  /// The entries of index.json.
  std::vector<Descriptor> list() const;
  /// Find an entry: first by exact ref.name, then by normalised docker
  /// reference ("alpine" finds "docker.io/library/alpine:latest"), then by
  /// manifest digest ("sha256:<hex>") or a unique hex prefix of at least 6
  /// digits. nullopt when nothing matches.
  std::optional<Descriptor> resolve(std::string_view name) const;
  /// Like resolve() but throws Errc::not_found "image \"x\" not found".
  Descriptor resolve_or_throw(std::string_view name) const;
  /// Point `name` at `d` (ref.name annotation set on a copy of d): entries
  /// with the same name (exactly or normalised) are replaced. The blob must
  /// exist (Errc::not_found) and `name` must be a valid ref.name
  /// (Errc::invalid).
  void tag(std::string_view name, const Descriptor& d);
  /// Remove the entries named `name` (as resolve() matches names). Returns
  /// false when there was none.
  bool untag(std::string_view name);
  /// Remove an image: every entry that resolve(name) would match (by name,
  /// or all names of a manifest digest). Blobs stay until gc(). Throws
  /// Errc::not_found.
  void delete_image(std::string_view name);

  /// Remove blobs not reachable from index.json entries or `extra_roots`
  /// (walked like entries when they are manifests or indexes), and stale
  /// temp files. Must not be called while this process holds a Lease.
  GcResult gc(const std::vector<digest::Digest>& extra_roots = {});

  /// Remove blob `d` (a corrupt one: store_check) under the exclusive gc
  /// lock. Returns false when it was not there.
  bool remove_blob(const digest::Digest& d);

  /// A shared hold on the gc lock: keep one while writing blobs and then
  /// tagging them, so a concurrent gc() cannot remove them in between.
  class Lease {
   public:
    explicit Lease(const Layout& l);

   private:
    fs::FileLock lock_;
  };

 private:
  explicit Layout(std::string root) : root_(std::move(root)) {}
  template <class F>
  void update_index(F&& fn);
  /// fsync the blobs/<alg> directories (before each index.json update).
  void sync_blob_dirs() const;
  std::vector<size_t> match(const std::vector<Descriptor>& entries, std::string_view name, bool by_digest) const;

  std::string root_;
};

/// Copy blob `d` from `from` into `to` (verified by BlobWriter), unless `to`
/// has it already. Throws Errc::not_found when `from` lacks it.
void copy_blob(const Layout& from, Layout& to, const image::Descriptor& d);

/// Copy an image, manifest or index with everything below it, from `from`
/// into `to`, children first (layers `from` lacks, such as skipped foreign
/// layers, are left out). Does not tag it.
void copy_image(const Layout& from, Layout& to, const image::Descriptor& top);

}  // namespace ocikit::layout
