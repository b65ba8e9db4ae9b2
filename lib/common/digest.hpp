#pragma once
// ocikit::digest: content digests ("sha256:<hex>") as the OCI image spec
// defines them, computed by streaming through OpenSSL SHA-2 (SHA-NI where the
// CPU has it).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ocikit::digest {

/// The algorithms the OCI image spec registers.
enum class Algorithm { sha256, sha512 };

/// A parsed, validated digest.
struct Digest {
  Algorithm algorithm = Algorithm::sha256;
  std::string hex;  ///< lowercase hex, 64 (sha256) or 128 (sha512) chars

  /// "sha256:<hex>".
  std::string str() const;
  /// The algorithm's name ("sha256").
  std::string_view algorithm_name() const;
  /// First 12 hex digits, as docker prints short ids.
  std::string short_hex() const { return hex.substr(0, 12); }
  bool operator==(const Digest&) const = default;
};

/// Parse "algo:hex". Throws Errc::invalid with a message naming the input
/// when the algorithm is unknown or the hex part has the wrong length/charset.
Digest parse(std::string_view s);
/// True when parse(s) would succeed.
bool is_valid(std::string_view s);
/// Parse an algorithm name ("sha256", "sha512"); throws Errc::invalid.
Algorithm parse_algorithm(std::string_view s);

/// A streaming hasher. Not copyable; movable.
class Hasher {
 public:
  explicit Hasher(Algorithm a = Algorithm::sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  /// Feed bytes.
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Bytes fed so far.
  uint64_t size() const { return size_; }
  /// Finish and return the digest; the hasher may not be fed afterwards.
  Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Algorithm algo_;
  uint64_t size_ = 0;
};

/// Digest of an in-memory buffer.
Digest of(std::string_view data, Algorithm a = Algorithm::sha256);
/// Digest of a file's content; throws Errc::io when it cannot be read.
Digest of_file(const std::string& path, Algorithm a = Algorithm::sha256);
/// Digest of everything readable from `fd` (read to EOF); throws Errc::io.
Digest of_fd(int fd, Algorithm a = Algorithm::sha256, uint64_t* size = nullptr);

}  // namespace ocikit::digest
