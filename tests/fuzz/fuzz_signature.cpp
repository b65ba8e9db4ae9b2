// What a registry serves as a sigstore signature: the simple-signing
// payload (parsed only after verification, but parsed strictly anyway), the
// base64 signature, and public keys as policies carry them.
#include "common/signature.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ocikit::signature::Key key = ocikit::signature::load_public_key(
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEo7Jb6VWLbsl64P2SUEUsMUgdvmR7\n"
      "nB5Bwc/Ce7eDaFaqDtgBQoW5E1m8EqJAYr+ZArvqI45AqwJrbYjss5PP/A==\n"
      "-----END PUBLIC KEY-----\n");
  return fuzz_one(data, size, [](std::string_view text) {
    try {
      (void)ocikit::signature::parse_payload(text);
    } catch (const std::exception&) {
    }
    (void)ocikit::signature::verify(key, "payload", text);
    try {
      (void)ocikit::signature::load_public_key(text);
    } catch (const std::exception&) {
    }
    (void)ocikit::signature::load_public_key(
        "-----BEGIN PUBLIC KEY-----\n" + std::string(text) + "\n-----END PUBLIC KEY-----\n");
  });
}
