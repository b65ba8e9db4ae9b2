#pragma once
// ocikit::signature: sigstore image signatures in the form containers/image
// (skopeo, podman) and cosign write them:
//
//  - keys: ECDSA P-256. The public key is a PEM "PUBLIC KEY" (PKIX). The
//    private key is cosign's encrypted envelope, a PEM of type
//    "ENCRYPTED COSIGN PRIVATE KEY" (or the newer, otherwise identical,
//    "ENCRYPTED SIGSTORE PRIVATE KEY") holding JSON
//      {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
//       "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
//    whose plaintext is the PKCS#8 DER key (scrypt by libsodium's
//    crypto_pwhash_scryptsalsa208sha256_ll, secretbox by crypto_secretbox).
//  - payload: the "simple signing" JSON, {"critical":{"identity":
//    {"docker-reference":R},"image":{"docker-manifest-digest":D},
//    "type":"cosign container image signature"},"optional":{...}}.
//  - signature: base64 of the DER ECDSA signature of SHA-256(payload).
//  - attachment: in the image's repository, tag "sha256-<hex>.sig", an OCI
//    manifest whose layers (media type
//    application/vnd.dev.cosign.simplesigning.v1+json) are payloads, each
//    with its signature in the "dev.cosignproject.cosign/signature"
//    annotation.
// Everything read from a registry is untrusted: sizes are bounded, parsing
// is strict, and a payload is only parsed after its signature verified.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/layout.hpp"
#include "common/registry.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace ocikit::signature {

inline constexpr std::string_view kPayloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kSignatureAnnotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view kPayloadType = "cosign container image signature";
inline constexpr std::string_view kCosignKeyPemType = "ENCRYPTED COSIGN PRIVATE KEY";
inline constexpr std::string_view kSigstoreKeyPemType = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// Payloads (and the attachment manifest) larger than this are refused.
inline constexpr size_t kMaxPayloadSize = 4u << 20;
/// At most this many signatures are read from one attachment manifest.
inline constexpr size_t kMaxSignatures = 64;

/// An OpenSSL key (private or public), owned.
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const noexcept;
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;

/// A new key pair as files hold it.
struct KeyPair {
  std::string private_pem;  ///< "ENCRYPTED COSIGN PRIVATE KEY" PEM
  std::string public_pem;  ///< "PUBLIC KEY" PEM
};

/// Generate an ECDSA P-256 key pair; the private key is encrypted with
/// `passphrase` (scrypt N=32768 r=8 p=1, random 32-byte salt and 24-byte
/// nonce). Throws Errc::failure when the crypto libraries fail.
KeyPair generate_key_pair(const std::string& passphrase);

/// Decrypt a cosign/sigstore encrypted private key PEM. Throws Errc::invalid
/// for another PEM type, a malformed envelope, unsupported KDF or cipher
/// names or parameters out of bounds, or a non-ECDSA key, and
/// Errc::unauthorized ("wrong passphrase ...") when decryption fails.
Key load_private_key(std::string_view pem, const std::string& passphrase);

/// The public key of a PEM "PUBLIC KEY" (ECDSA only). Throws Errc::invalid.
Key load_public_key(std::string_view pem);

/// The PEM "PUBLIC KEY" of a (private or public) key.
std::string public_pem(const Key& k);

/// The simple-signing payload for `docker_reference` and `manifest_digest`,
/// with optional creator and timestamp (seconds since the epoch; 0: none).
std::string make_payload(const std::string& docker_reference, const std::string& manifest_digest,
                         const std::string& creator = "", int64_t timestamp = 0);

/// What a payload claims.
struct Payload {
  std::string docker_reference;
  std::string manifest_digest;
};

/// Parse a payload strictly as containers/image does: "critical" must have
/// exactly "type" (the cosign type), "image" (exactly
/// "docker-manifest-digest") and "identity" (exactly "docker-reference");
/// "optional" may hold anything. Throws Errc::invalid naming what is wrong.
Payload parse_payload(std::string_view bytes);

/// Sign `payload` with `key`: base64 of the DER ECDSA-SHA256 signature.
std::string sign(const Key& key, std::string_view payload);

/// True when `b64_signature` is a valid signature of `payload` by `key`.
/// Malformed base64 or DER is false, not an error.
bool verify(const Key& key, std::string_view payload, std::string_view b64_signature);

/// One signature as attached to an image.
struct Attached {
  std::string payload;  ///< the layer's bytes (digest-checked)
  std::string signature;  ///< the annotation (base64)
};

/// The attachment tag of `manifest_digest`: "sha256:<hex>" -> "sha256-<hex>.sig".
/// Throws Errc::invalid for a malformed digest.
std::string attachment_tag(const std::string& manifest_digest);

/// The signatures attached to `manifest_digest` in `repo` (none when the
/// tag does not exist). Layers of other media types are skipped; payload
/// blobs are fetched bounded and verified against their digest.
std::vector<Attached> read_attached(registry::Client& c, const std::string& repo,
                                    const std::string& manifest_digest);

/// Attach `sig` to `manifest_digest` in `repo`: the existing attachment
/// manifest (if any) gains a layer unless it already has this one; the
/// config and payload blobs are uploaded first, then the manifest is put
/// under the attachment tag.
void attach(registry::Client& c, const std::string& repo, const std::string& manifest_digest, const Attached& sig);
/// attach() for several signatures at once (one read, one manifest put);
/// nothing is written when every one is already there.
void attach_all(registry::Client& c, const std::string& repo, const std::string& manifest_digest,
                const std::vector<Attached>& sigs);

/// Keep `sigs` of `manifest_digest` in an OCI layout as the registry does:
/// the attachment manifest, its config and payloads as blobs, tagged
/// "sha256-<hex>.sig" (replacing an earlier one). Used for oci:DIR copies.
void store_in_layout(layout::Layout& l, const std::string& manifest_digest, const std::vector<Attached>& sigs);

/// The signatures an OCI layout keeps for `manifest_digest` (none when it
/// has no "sha256-<hex>.sig" entry). Bounded and verified as read_attached.
std::vector<Attached> load_from_layout(const layout::Layout& l, const std::string& manifest_digest);

/// The attachment manifest and its config for `sigs` (exposed for tests):
/// {config bytes, manifest bytes}.
std::pair<std::string, std::string> build_attachment(const std::vector<Attached>& sigs);

/// Read a passphrase: the first line of `file` when given, else from the
/// terminal (/dev/tty, echo off) after `prompt`; with `confirm` it is asked
/// twice and must match. Throws Errc::usage when there is no terminal.
std::string read_passphrase(const std::string& file, const std::string& prompt, bool confirm);

}  // namespace ocikit::signature
