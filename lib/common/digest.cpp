#include "common/digest.hpp"

#include <fcntl.h>
#include <unistd.h>

// OpenSSL's one-algorithm SHA-2 functions rather than EVP: the same
// assembly (SHA-NI, AVX2), but a static link pulls in only SHA-2, where
// EVP brings the whole default provider (4 MB in the lean static oci-run,
// which hashes for `spec --image`). Deprecated in OpenSSL 3, not removed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cerrno>
#include <vector>

#include "common/error.hpp"

namespace ocikit::digest {

struct Hasher::Impl {
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

namespace {
size_t hex_len(Algorithm a) { return a == Algorithm::sha256 ? 64 : 128; }
}  // namespace

std::string_view Digest::algorithm_name() const { return algorithm == Algorithm::sha256 ? "sha256" : "sha512"; }

std::string Digest::str() const {
  std::string s(algorithm_name());
  s += ':';
  s += hex;
  return s;
}

Algorithm parse_algorithm(std::string_view s) {
  if (s == "sha256") return Algorithm::sha256;
  if (s == "sha512") return Algorithm::sha512;
  fail(Errc::invalid, "unsupported digest algorithm \"" + std::string(s) + "\"");
}

Digest parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos)
    fail(Errc::invalid, "invalid digest \"" + std::string(s) + "\": missing algorithm");
  Digest d;
  try {
    d.algorithm = parse_algorithm(s.substr(0, colon));
  } catch (Error& e) {
    e.prefix("invalid digest \"" + std::string(s) + "\"");
    throw;
  }
  std::string_view hex = s.substr(colon + 1);
  if (hex.size() != hex_len(d.algorithm))
    fail(Errc::invalid,
         "invalid digest \"" + std::string(s) + "\": want " + std::to_string(hex_len(d.algorithm)) +
             " hex digits, got " + std::to_string(hex.size()));
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      fail(Errc::invalid, "invalid digest \"" + std::string(s) + "\": not lowercase hex");
  d.hex = std::string(hex);
  return d;
}

bool is_valid(std::string_view s) {
  return no_error([&] { parse(s); });
}

Hasher::Hasher(Algorithm a) : impl_(std::make_unique<Impl>()), algo_(a) {
  int ok = a == Algorithm::sha256 ? SHA256_Init(&impl_->sha256) : SHA512_Init(&impl_->sha512);
  if (ok != 1) fail("openssl: cannot initialise digest");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t len) {
  if (len == 0) return;
  if (algo_ == Algorithm::sha256) SHA256_Update(&impl_->sha256, data, len);
  else SHA512_Update(&impl_->sha512, data, len);
  size_ += len;
}

Digest Hasher::finish() {
  unsigned char md[SHA512_DIGEST_LENGTH];
  unsigned n = algo_ == Algorithm::sha256 ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  if (algo_ == Algorithm::sha256) SHA256_Final(md, &impl_->sha256);
  else SHA512_Final(md, &impl_->sha512);
  static const char* kHex = "0123456789abcdef";
  Digest d;
  d.algorithm = algo_;
  d.hex.resize(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    d.hex[2 * i] = kHex[md[i] >> 4];
    d.hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return d;
}

Digest of(std::string_view data, Algorithm a) {
  Hasher h(a);
  h.update(data);
  return h.finish();
}

Digest of_fd(int fd, Algorithm a, uint64_t* size) {
  Hasher h(a);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  if (size) *size = h.size();
  return h.finish();
}

Digest of_file(const std::string& path, Algorithm a) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + path);
  try {
    Digest d = of_fd(fd, a);
    close(fd);
    return d;
  } catch (Error& e) {
    close(fd);
    e.prefix(path);
    throw;
  }
}

}  // namespace ocikit::digest
