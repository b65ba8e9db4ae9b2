#pragma once
// Internal to the layer module: streaming gzip/zstd codecs that sit between
// a file descriptor and libarchive, hashing both the compressed bytes (the
// blob digest) and the uncompressed tar (the diff_id) on the way.
//
// libarchive's own gzip filter goes through zlib, which is 4-5x slower than
// ISA-L on this hardware (measured: bench/unpack.sh); feeding libarchive an already
// decompressed stream lifts that floor.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "common/digest.hpp"
#include "common/layer.hpp"

namespace ocikit::layer::detail {

/// Reads a compressed layer from a descriptor and hands out uncompressed bytes.
class DecompressReader {
 public:
  /// Read from `fd` (not owned). Nothing is read until next().
  explicit DecompressReader(int fd);
  ~DecompressReader();
  DecompressReader(const DecompressReader&) = delete;
  DecompressReader& operator=(const DecompressReader&) = delete;

  /// The next chunk of uncompressed data (valid until the next call);
  /// {nullptr, 0} at the end. Throws Errc::invalid on corrupt or truncated
  /// data, Errc::io on read errors.
  std::pair<const void*, size_t> next();
  /// Read and decompress everything left, so both digests cover every byte.
  void drain();
  /// The detected compression (valid after the first next()).
  Compression compression() const;
  /// Finish the digests; call once, after drain().
  void finish(ApplyResult& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Takes an uncompressed tar stream and writes it, compressed, to a descriptor.
class CompressWriter {
 public:
  /// Write to `fd` (not owned) with compression `c` at `level` (-1 default).
  CompressWriter(int fd, Compression c, int level);
  ~CompressWriter();
  CompressWriter(const CompressWriter&) = delete;
  CompressWriter& operator=(const CompressWriter&) = delete;

  /// Compress and write `len` bytes. Throws Errc::io.
  void write(const void* data, size_t len);
  /// Flush the end of the stream and return the digests. Call once.
  DiffResult finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocikit::layer::detail
