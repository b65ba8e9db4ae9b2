// Streaming layer codecs: ISA-L (or zlib) gzip and libzstd, hashing the
// compressed and the uncompressed side as bytes pass.
#include "common/layer_codec.hpp"

#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "ocikit_config.h"

#if OCIKIT_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

namespace ocikit::layer {

Compression detect_compression(const void* head, size_t n) {
  auto* b = static_cast<const uint8_t*>(head);
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return Compression::gzip;
  if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return Compression::zstd;
  return Compression::none;
}

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
    case Compression::none: break;
  }
  return "none";
}

namespace detail {

namespace {
constexpr size_t kBufSize = 1 << 20;
}

// ---------------------------------------------------------------- reading

struct DecompressReader::Impl {
  int fd;
  std::vector<uint8_t> in = std::vector<uint8_t>(kBufSize);
  std::vector<uint8_t> out = std::vector<uint8_t>(kBufSize);
  size_t in_pos = 0, in_len = 0;  // unconsumed input is in[in_pos, in_len)
  bool eof = false;  // fd reached its end
  bool detected = false;
  bool done = false;  // every byte read and decompressed
  bool member_end = false;  // the last gzip member / zstd frame is complete
  Compression comp = Compression::none;
  digest::Hasher compressed, uncompressed;
#if OCIKIT_HAVE_ISAL
  std::unique_ptr<inflate_state> isal;
#else
  z_stream z{};
  bool z_init = false;
#endif
  ZSTD_DCtx* zstd = nullptr;

  ~Impl() {
    if (zstd) ZSTD_freeDCtx(zstd);
#if !OCIKIT_HAVE_ISAL
    if (z_init) inflateEnd(&z);
#endif
  }

  // Read more input (keeping the unconsumed tail); false at end of file.
  bool fill() {
    if (eof) return false;
    if (in_pos > 0) {
      std::memmove(in.data(), in.data() + in_pos, in_len - in_pos);
      in_len -= in_pos;
      in_pos = 0;
    }
    while (in_len < in.size()) {
      ssize_t n = ::read(fd, in.data() + in_len, in.size() - in_len);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("read layer");
      }
      if (n == 0) {
        eof = true;
        break;
      }
      compressed.update(in.data() + in_len, static_cast<size_t>(n));
      in_len += static_cast<size_t>(n);
      break;
    }
    return in_len > in_pos;
  }

  void detect() {
    while (in_len < 4 && fill()) {
    }
    comp = detect_compression(in.data(), in_len);
    const uint8_t* b = in.data();
    if (in_len >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h')
      fail(Errc::invalid, "layer: bzip2 compression is not supported");
    if (in_len >= 6 &&
        std::memcmp(b,
                    "\xfd"
                    "7zXZ\0",
                    6) == 0)
      fail(Errc::invalid, "layer: xz compression is not supported");
    if (comp == Compression::zstd) {
      zstd = ZSTD_createDCtx();
      if (!zstd) fail("layer: out of memory");
    } else if (comp == Compression::gzip) {
      start_gzip_member();
    }
    detected = true;
  }

  void start_gzip_member() {
#if OCIKIT_HAVE_ISAL
    if (!isal) isal = std::make_unique<inflate_state>();
    isal_inflate_init(isal.get());
    isal->crc_flag = ISAL_GZIP;
#else
    if (z_init) {
      inflateReset(&z);
    } else {
      if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail("layer: inflateInit failed");
      z_init = true;
    }
#endif
    member_end = false;
  }

  // After a complete gzip member/zstd frame: another one may follow
  // (concatenated streams are valid); trailing zero padding is tolerated.
  bool next_member() {
    if (in_pos == in_len && !fill()) return false;
    const uint8_t* b = in.data() + in_pos;
    size_t n = in_len - in_pos;
    if (comp == Compression::gzip && b[0] == 0x1f) {
      start_gzip_member();
      return true;
    }
    if (comp == Compression::zstd && b[0] == 0x28) {
      member_end = false;
      return true;
    }
    for (;;) {
      for (size_t i = 0; i < n; ++i)
        if (b[i] != 0)
          fail(Errc::invalid, std::string("layer: trailing garbage after the ") + compression_name(comp) + " stream");
      in_pos = in_len;
      if (!fill()) return false;
      b = in.data() + in_pos;
      n = in_len - in_pos;
    }
  }

  // Decompress into `out`; returns the number of bytes produced (0 = end).
  size_t inflate_some() {
    for (;;) {
      if (member_end && !next_member()) return 0;
      if (in_pos == in_len && !fill())
        fail(Errc::invalid, std::string("layer: truncated ") + compression_name(comp) + " stream");
      size_t produced = 0;
      if (comp == Compression::gzip) {
#if OCIKIT_HAVE_ISAL
        isal->next_in = in.data() + in_pos;
        isal->avail_in = static_cast<uint32_t>(in_len - in_pos);
        isal->next_out = out.data();
        isal->avail_out = static_cast<uint32_t>(out.size());
        int rc = isal_inflate(isal.get());
        if (rc < 0) fail(Errc::invalid, "layer: invalid gzip data (isa-l error " + std::to_string(rc) + ")");
        in_pos = in_len - isal->avail_in;
        produced = out.size() - isal->avail_out;
        if (isal->block_state == ISAL_BLOCK_FINISH) {
          // ISA-L reads ahead in 8-byte words: give back the bytes it
          // buffered past the member's end (they start the next member).
          in_pos -= isal->read_in_length / 8;
          isal->read_in_length = 0;
          member_end = true;
        }
#else
        z.next_in = in.data() + in_pos;
        z.avail_in = static_cast<uInt>(in_len - in_pos);
        z.next_out = out.data();
        z.avail_out = static_cast<uInt>(out.size());
        int rc = ::inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
          fail(Errc::invalid, std::string("layer: invalid gzip data: ") + (z.msg ? z.msg : "zlib error"));
        in_pos = in_len - z.avail_in;
        produced = out.size() - z.avail_out;
        if (rc == Z_STREAM_END) member_end = true;
#endif
      } else {
        ZSTD_inBuffer ib{in.data(), in_len, in_pos};
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        size_t rc = ZSTD_decompressStream(zstd, &ob, &ib);
        if (ZSTD_isError(rc)) fail(Errc::invalid, std::string("layer: invalid zstd data: ") + ZSTD_getErrorName(rc));
        in_pos = ib.pos;
        produced = ob.pos;
        if (rc == 0) member_end = true;
      }
      if (produced > 0) return produced;
    }
  }
};

DecompressReader::DecompressReader(int fd) : impl_(std::make_unique<Impl>()) { impl_->fd = fd; }
DecompressReader::~DecompressReader() = default;

std::pair<const void*, size_t> DecompressReader::next() {
  Impl& s = *impl_;
  if (!s.detected) s.detect();
  if (s.done) return {nullptr, 0};
  if (s.comp == Compression::none) {
    if (s.in_pos == s.in_len && !s.fill()) {
      s.done = true;
      return {nullptr, 0};
    }
    const uint8_t* p = s.in.data() + s.in_pos;
    size_t n = s.in_len - s.in_pos;
    s.in_pos = s.in_len;
    s.uncompressed.update(p, n);
    return {p, n};
  }
  size_t n = s.inflate_some();
  if (n == 0) {
    s.done = true;
    return {nullptr, 0};
  }
  s.uncompressed.update(s.out.data(), n);
  return {s.out.data(), n};
}

void DecompressReader::drain() {
  while (next().second > 0) {
  }
}

Compression DecompressReader::compression() const { return impl_->comp; }

void DecompressReader::finish(ApplyResult& r) {
  r.compressed_size = impl_->compressed.size();
  r.compressed_digest = impl_->compressed.finish();
  r.uncompressed_size = impl_->uncompressed.size();
  r.diff_id = impl_->uncompressed.finish();
  r.compression = impl_->comp;
}

// ---------------------------------------------------------------- writing

struct CompressWriter::Impl {
  int fd;
  Compression comp;
  std::vector<uint8_t> out = std::vector<uint8_t>(kBufSize);
  digest::Hasher compressed, uncompressed;
#if OCIKIT_HAVE_ISAL
  isal_zstream isal{};
  std::vector<uint8_t> level_buf;
#else
  z_stream z{};
  bool z_init = false;
#endif
  ZSTD_CCtx* zstd = nullptr;

  ~Impl() {
    if (zstd) ZSTD_freeCCtx(zstd);
#if !OCIKIT_HAVE_ISAL
    if (z_init) deflateEnd(&z);
#endif
  }

  void emit(const uint8_t* p, size_t n) {
    if (n == 0) return;
    compressed.update(p, n);
    fs::write_all(fd, p, n);
  }

  // Feed `len` bytes (end = last call) through the codec.
  void pump(const uint8_t* data, size_t len, bool end) {
    if (comp == Compression::gzip) {
#if OCIKIT_HAVE_ISAL
      isal.next_in = const_cast<uint8_t*>(data);
      isal.avail_in = static_cast<uint32_t>(len);
      isal.end_of_stream = end ? 1 : 0;
      isal.flush = NO_FLUSH;
      do {
        isal.next_out = out.data();
        isal.avail_out = static_cast<uint32_t>(out.size());
        int rc = isal_deflate(&isal);
        if (rc != COMP_OK) fail("layer: isa-l deflate failed (error " + std::to_string(rc) + ")");
        emit(out.data(), out.size() - isal.avail_out);
      } while (isal.avail_in > 0 || (end && isal.internal_state.state != ZSTATE_END));
#else
      z.next_in = const_cast<uint8_t*>(data);
      z.avail_in = static_cast<uInt>(len);
      int rc;
      do {
        z.next_out = out.data();
        z.avail_out = static_cast<uInt>(out.size());
        rc = ::deflate(&z, end ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) fail("layer: deflate failed");
        emit(out.data(), out.size() - z.avail_out);
      } while (z.avail_in > 0 || z.avail_out == 0 || (end && rc != Z_STREAM_END));
#endif
    } else {
      ZSTD_inBuffer ib{data, len, 0};
      size_t rc;
      do {
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        rc = ZSTD_compressStream2(zstd, &ob, &ib, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(rc)) fail(std::string("layer: zstd compression failed: ") + ZSTD_getErrorName(rc));
        emit(out.data(), ob.pos);
      } while (ib.pos < ib.size || (end && rc != 0));
    }
  }
};

CompressWriter::CompressWriter(int fd, Compression c, int level) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.fd = fd;
  s.comp = c;
  if (c == Compression::gzip) {
#if OCIKIT_HAVE_ISAL
    // ISA-L has levels 0-3; map gzip's 1-9 onto them (default: 1, which
    // compresses about like gzip -4 at several times its speed).
    int l = level < 0 ? 1 : level <= 3 ? 1 : level <= 6 ? 2 : 3;
    isal_deflate_init(&s.isal);
    size_t sizes[] = {ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT, ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT};
    s.level_buf.resize(sizes[l]);
    s.isal.level = static_cast<uint32_t>(l);
    s.isal.level_buf = s.level_buf.data();
    s.isal.level_buf_size = static_cast<uint32_t>(s.level_buf.size());
    s.isal.gzip_flag = IGZIP_GZIP;  // header (mtime 0) and crc32 trailer
#else
    if (deflateInit2(&s.z, level < 0 ? 6 : level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail("layer: deflateInit failed");
    s.z_init = true;
#endif
  } else if (c == Compression::zstd) {
    s.zstd = ZSTD_createCCtx();
    if (!s.zstd) fail("layer: out of memory");
    ZSTD_CCtx_setParameter(s.zstd, ZSTD_c_compressionLevel, level < 0 ? 3 : level);
    ZSTD_CCtx_setParameter(s.zstd, ZSTD_c_checksumFlag, 1);
  }
}

CompressWriter::~CompressWriter() = default;

void CompressWriter::write(const void* data, size_t len) {
  Impl& s = *impl_;
  s.uncompressed.update(data, len);
  if (s.comp == Compression::none) {
    s.emit(static_cast<const uint8_t*>(data), len);
    return;
  }
  if (len > 0) s.pump(static_cast<const uint8_t*>(data), len, false);
}

DiffResult CompressWriter::finish() {
  Impl& s = *impl_;
  if (s.comp != Compression::none) s.pump(nullptr, 0, true);
  DiffResult r;
  r.size = s.compressed.size();
  r.digest = s.compressed.finish();
  r.uncompressed_size = s.uncompressed.size();
  r.diff_id = s.uncompressed.finish();
  return r;
}

}  // namespace detail
}  // namespace ocikit::layer
