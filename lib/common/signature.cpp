// Sigstore keys, payloads, signatures and attachments (see signature.hpp).
#include "common/signature.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/auth.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"

namespace ocikit::signature {

using nlohmann::json;

void KeyDeleter::operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }

namespace {

// cosign's parameters (and the bounds of what we accept when reading: a
// crafted envelope must not make scrypt take gigabytes).
constexpr uint64_t kScryptN = 32768;
constexpr uint32_t kScryptR = 8, kScryptP = 1;
constexpr uint64_t kMaxScryptMemory = 256ull << 20;  // 128 * N * r bytes

void init_sodium() {
  if (sodium_init() < 0) fail("libsodium: initialisation failed");
}

struct BioDeleter {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;

std::string bio_string(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return std::string(p, static_cast<size_t>(n));
}

// The base64 body of a PEM block of exactly `type` (the first such block).
std::optional<std::string> pem_body(std::string_view pem, std::string_view type) {
  std::string begin = "-----BEGIN " + std::string(type) + "-----";
  std::string end = "-----END " + std::string(type) + "-----";
  auto b = pem.find(begin);
  if (b == std::string_view::npos) return std::nullopt;
  auto e = pem.find(end, b + begin.size());
  if (e == std::string_view::npos) return std::nullopt;
  std::string body;
  for (char ch : pem.substr(b + begin.size(), e - b - begin.size()))
    if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t') body += ch;
  return body;
}

std::string pem_wrap(std::string_view type, std::string_view der) {
  std::string b64 = auth::base64_encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(type) + "-----\n";
  return out;
}

std::string derive_key(const std::string& passphrase, const std::string& salt, uint64_t n, uint32_t r, uint32_t p) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (crypto_pwhash_scryptsalsa208sha256_ll(reinterpret_cast<const uint8_t*>(passphrase.data()), passphrase.size(),
                                            reinterpret_cast<const uint8_t*>(salt.data()), salt.size(), n, r, p,
                                            reinterpret_cast<uint8_t*>(key.data()), key.size()) != 0)
    fail("scrypt: key derivation failed");
  return key;
}

void require_ec(EVP_PKEY* k, const std::string& what) {
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC) fail(Errc::invalid, what + ": not an ECDSA key");
}

std::string b64_field(const json& j, const char* name, const std::string& what) {
  if (!j.contains(name) || !j[name].is_string()) fail(Errc::invalid, what + ": \"" + name + "\" missing");
  return with_context(what + ": \"" + std::string(name) + "\"", [&] { return auth::base64_decode(j[name].get<std::string>()); });
}

}  // namespace

KeyPair generate_key_pair(const std::string& passphrase) {
  init_sodium();
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("generate an ECDSA P-256 key: OpenSSL failed");
  // PKCS#8 DER, the plaintext cosign encrypts.
  Bio der(BIO_new(BIO_s_mem()));
  if (!der || i2d_PKCS8PrivateKey_bio(der.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("encode the private key: OpenSSL failed");
  std::string plain = bio_string(der.get());

  std::string salt(32, '\0'), nonce(crypto_secretbox_NONCEBYTES, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  std::string k = derive_key(passphrase, salt, kScryptN, kScryptR, kScryptP);
  std::string sealed(plain.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<uint8_t*>(sealed.data()), reinterpret_cast<const uint8_t*>(plain.data()),
                        plain.size(), reinterpret_cast<const uint8_t*>(nonce.data()),
                        reinterpret_cast<const uint8_t*>(k.data()));
  sodium_memzero(plain.data(), plain.size());
  sodium_memzero(k.data(), k.size());
  json env = {
      {"kdf",
       {{"name", "scrypt"}, {"params", {{"N", kScryptN}, {"r", kScryptR}, {"p", kScryptP}}},
        {"salt", auth::base64_encode(salt)}}},
      {"cipher", {{"name", "nacl/secretbox"}, {"nonce", auth::base64_encode(nonce)}}},
      {"ciphertext", auth::base64_encode(sealed)},
  };
  return KeyPair{pem_wrap(kCosignKeyPemType, env.dump()), public_pem(key)};
}

Key load_private_key(std::string_view pem, const std::string& passphrase) {
  init_sodium();
  std::string what = "private key";
  auto body = pem_body(pem, kCosignKeyPemType);
  if (!body) body = pem_body(pem, kSigstoreKeyPemType);
  if (!body)
    fail(Errc::invalid, what + ": not an \"" + std::string(kCosignKeyPemType) + "\" or \"" +
                            std::string(kSigstoreKeyPemType) + "\" PEM block");
  std::string text = with_context(what, [&] { return auth::base64_decode(*body); });
  json env = json::parse(text, nullptr, false);
  if (!env.is_object() || !env.contains("kdf") || !env["kdf"].is_object() || !env.contains("cipher") ||
      !env["cipher"].is_object())
    fail(Errc::invalid, what + ": malformed envelope (want kdf, cipher and ciphertext)");
  const json& kdf = env["kdf"];
  const json& cipher = env["cipher"];
  if (kdf.value("name", json()) != "scrypt")
    fail(Errc::invalid, what + ": unsupported kdf (only scrypt)");
  if (cipher.value("name", json()) != "nacl/secretbox")
    fail(Errc::invalid, what + ": unsupported cipher (only nacl/secretbox)");
  const json params = kdf.value("params", json());
  auto num = [&](const char* n) -> uint64_t {
    if (!params.is_object() || !params.contains(n) || !params[n].is_number_unsigned())
      fail(Errc::invalid, what + ": scrypt parameter " + n + " missing");
    return params[n].get<uint64_t>();
  };
  uint64_t n = num("N"), r = num("r"), p = num("p");
  if (n < 2 || (n & (n - 1)) != 0 || r == 0 || p == 0 || r > 64 || p > 16 || n > (1ull << 20) ||
      128 * n * r > kMaxScryptMemory)
    fail(Errc::invalid, what + ": scrypt parameters out of bounds");
  std::string salt = b64_field(kdf, "salt", what);
  std::string nonce = b64_field(cipher, "nonce", what);
  std::string sealed = b64_field(env, "ciphertext", what);
  if (nonce.size() != crypto_secretbox_NONCEBYTES) fail(Errc::invalid, what + ": nonce must be 24 bytes");
  if (sealed.size() < crypto_secretbox_MACBYTES) fail(Errc::invalid, what + ": ciphertext too short");
  std::string k = derive_key(passphrase, salt, n, static_cast<uint32_t>(r), static_cast<uint32_t>(p));
  std::string plain(sealed.size() - crypto_secretbox_MACBYTES, '\0');
  int rc = crypto_secretbox_open_easy(reinterpret_cast<uint8_t*>(plain.data()),
                                      reinterpret_cast<const uint8_t*>(sealed.data()), sealed.size(),
                                      reinterpret_cast<const uint8_t*>(nonce.data()),
                                      reinterpret_cast<const uint8_t*>(k.data()));
  sodium_memzero(k.data(), k.size());
  if (rc != 0) fail(Errc::unauthorized, what + ": wrong passphrase (or a damaged key)");
  const unsigned char* q = reinterpret_cast<const unsigned char*>(plain.data());
  Key key(d2i_AutoPrivateKey(nullptr, &q, static_cast<long>(plain.size())));
  sodium_memzero(plain.data(), plain.size());
  if (!key) fail(Errc::invalid, what + ": the decrypted key is not PKCS#8 DER");
  require_ec(key.get(), what);
  return key;
}

Key load_public_key(std::string_view pem) {
  auto body = pem_body(pem, "PUBLIC KEY");
  if (!body) fail(Errc::invalid, "public key: not a \"PUBLIC KEY\" PEM block");
  std::string der = with_context("public key", [&] { return auth::base64_decode(*body); });
  const unsigned char* q = reinterpret_cast<const unsigned char*>(der.data());
  Key key(d2i_PUBKEY(nullptr, &q, static_cast<long>(der.size())));
  if (!key) fail(Errc::invalid, "public key: malformed PKIX key");
  require_ec(key.get(), "public key");
  return key;
}

std::string public_pem(const Key& k) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PUBKEY(b.get(), k.get()) != 1) fail("encode the public key: OpenSSL failed");
  return bio_string(b.get());
}

std::string make_payload(const std::string& docker_reference, const std::string& manifest_digest,
                         const std::string& creator, int64_t timestamp) {
  json optional = json::object();
  if (!creator.empty()) optional["creator"] = creator;
  if (timestamp != 0) optional["timestamp"] = timestamp;
  json j = {
      {"critical",
       {{"identity", {{"docker-reference", docker_reference}}},
        {"image", {{"docker-manifest-digest", manifest_digest}}},
        {"type", kPayloadType}}},
      {"optional", optional},
  };
  return j.dump();
}

Payload parse_payload(std::string_view bytes) {
  if (bytes.size() > kMaxPayloadSize) fail(Errc::invalid, "signature payload: too large");
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(Errc::invalid, "signature payload: not a JSON object");
  auto exact_keys = [](const json& o, std::initializer_list<const char*> keys, const std::string& what) {
    if (!o.is_object()) fail(Errc::invalid, "signature payload: " + what + " is not an object");
    if (o.size() != keys.size()) fail(Errc::invalid, "signature payload: unexpected fields in " + what);
    for (const char* k : keys)
      if (!o.contains(k)) fail(Errc::invalid, "signature payload: " + what + " lacks \"" + k + "\"");
  };
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "critical" && it.key() != "optional")
      fail(Errc::invalid, "signature payload: unexpected field \"" + it.key() + "\"");
  if (!j.contains("critical")) fail(Errc::invalid, "signature payload: lacks \"critical\"");
  if (j.contains("optional") && !j["optional"].is_object())
    fail(Errc::invalid, "signature payload: optional is not an object");
  const json& c = j["critical"];
  exact_keys(c, {"type", "image", "identity"}, "critical");
  if (!c["type"].is_string() || c["type"].get<std::string>() != kPayloadType)
    fail(Errc::invalid, "signature payload: unsupported type (want \"" + std::string(kPayloadType) + "\")");
  exact_keys(c["image"], {"docker-manifest-digest"}, "critical.image");
  exact_keys(c["identity"], {"docker-reference"}, "critical.identity");
  const json& d = c["image"]["docker-manifest-digest"];
  const json& r = c["identity"]["docker-reference"];
  if (!d.is_string() || !r.is_string()) fail(Errc::invalid, "signature payload: digest and reference must be strings");
  Payload p{r.get<std::string>(), d.get<std::string>()};
  with_context("signature payload: docker-manifest-digest", [&] { (void)digest::parse(p.manifest_digest); });
  return p;
}

std::string sign(const Key& key, std::string_view payload) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) fail("sign: OpenSSL failed");
  std::string sig;
  size_t n = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1;
  if (ok) {
    sig.resize(n);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                        reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1;
    sig.resize(n);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) fail("sign: OpenSSL failed (is this a private key?)");
  return auth::base64_encode(sig);
}

bool verify(const Key& key, std::string_view payload, std::string_view b64_signature) {
  std::string sig;
  try {
    sig = auth::base64_decode(b64_signature);
  } catch (const Error&) {
    return false;
  }
  if (sig.empty() || sig.size() > 512) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string attachment_tag(const std::string& manifest_digest) {
  digest::Digest d = digest::parse(manifest_digest);
  return std::string(d.algorithm_name()) + "-" + d.hex + ".sig";
}

std::pair<std::string, std::string> build_attachment(const std::vector<Attached>& sigs) {
  // The config lists the payloads as the rootfs' diff IDs, as
  // containers/image writes it (nothing reads it back for verification).
  json diff_ids = json::array();
  json layers = json::array();
  for (const auto& s : sigs) {
    std::string d = digest::of(s.payload).str();
    diff_ids.push_back(d);
    layers.push_back({{"mediaType", kPayloadMediaType},
                      {"digest", d},
                      {"size", s.payload.size()},
                      {"annotations", {{kSignatureAnnotation, s.signature}}}});
  }
  json config = {{"architecture", ""}, {"os", ""}, {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  std::string config_bytes = config.dump();
  json manifest = {
      {"schemaVersion", 2},
      {"mediaType", image::media::kOciManifest},
      {"config",
       {{"mediaType", image::media::kOciConfig},
        {"digest", digest::of(config_bytes).str()},
        {"size", config_bytes.size()}}},
      {"layers", layers},
  };
  return {config_bytes, manifest.dump()};
}

namespace {

// The Attached signatures of an attachment manifest, payloads read by `get`.
std::vector<Attached> signatures_of(const image::Manifest& man, const std::string& where,
                                    const std::function<std::string(const image::Descriptor&)>& get) {
  std::vector<Attached> out;
  for (const auto& l : man.layers) {
    if (l.media_type != kPayloadMediaType) continue;
    auto a = l.annotations.find(std::string(kSignatureAnnotation));
    if (a == l.annotations.end()) continue;
    if (out.size() >= kMaxSignatures) fail(Errc::invalid, "signatures " + where + ": too many signatures");
    if (l.size < 0 || static_cast<uint64_t>(l.size) > kMaxPayloadSize)
      fail(Errc::invalid, "signatures " + where + ": payload " + l.digest.str() + " too large");
    out.push_back(Attached{get(l), a->second});
  }
  return out;
}

}  // namespace

std::vector<Attached> read_attached(registry::Client& c, const std::string& repo,
                                    const std::string& manifest_digest) {
  std::string tag = attachment_tag(manifest_digest);
  registry::Manifest m;
  try {
    m = c.get_manifest(repo, tag);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return {};
    throw;
  }
  std::string where = c.host() + "/" + repo + ":" + tag;
  if (m.body.size() > kMaxPayloadSize) fail(Errc::invalid, "signatures " + where + ": manifest too large");
  image::Manifest man = with_context("signatures " + where, [&] { return image::parse_manifest(m.body); });
  return signatures_of(man, where, [&](const image::Descriptor& l) {
    std::string payload;
    c.fetch_blob(repo, l.digest.str(), l.size, [&](const char* p, size_t n) {
      if (payload.size() + n > kMaxPayloadSize) fail(Errc::invalid, "payload " + l.digest.str() + ": too large");
      payload.append(p, n);
    });
    return payload;
  });
}


void attach(registry::Client& c, const std::string& repo, const std::string& manifest_digest, const Attached& sig) {
  attach_all(c, repo, manifest_digest, {sig});
}

void attach_all(registry::Client& c, const std::string& repo, const std::string& manifest_digest,
                const std::vector<Attached>& add) {
  std::vector<Attached> sigs = read_attached(c, repo, manifest_digest);
  size_t before = sigs.size();
  for (const auto& sig : add) {
    bool there = false;
    for (const auto& s : sigs) there = there || (s.payload == sig.payload && s.signature == sig.signature);
    if (!there) sigs.push_back(sig);
  }
  if (sigs.size() == before) return;  // already there
  auto [config, manifest] = build_attachment(sigs);
  for (const auto& s : sigs) {
    std::string d = digest::of(s.payload).str();
    if (!c.head_blob(repo, d)) c.push_blob_data(repo, d, s.payload);
  }
  std::string cd = digest::of(config).str();
  if (!c.head_blob(repo, cd)) c.push_blob_data(repo, cd, config);
  c.put_manifest(repo, attachment_tag(manifest_digest), image::media::kOciManifest, manifest);
}

void store_in_layout(layout::Layout& l, const std::string& manifest_digest, const std::vector<Attached>& sigs) {
  auto [config, manifest] = build_attachment(sigs);
  for (const auto& s : sigs) l.put_blob(s.payload, std::string(kPayloadMediaType));
  l.put_blob(config, std::string(image::media::kOciConfig));
  image::Descriptor d = l.put_blob(manifest, std::string(image::media::kOciManifest));
  l.tag(attachment_tag(manifest_digest), d);
}

std::vector<Attached> load_from_layout(const layout::Layout& l, const std::string& manifest_digest) {
  std::string tag = attachment_tag(manifest_digest);
  for (const auto& e : l.list()) {
    if (e.ref_name() != tag) continue;
    std::string where = l.path() + ":" + tag;
    if (e.size < 0 || static_cast<uint64_t>(e.size) > kMaxPayloadSize)
      fail(Errc::invalid, "signatures " + where + ": manifest too large");
    image::Manifest man = with_context("signatures " + where, [&] { return l.read_manifest(e); });
    return signatures_of(man, where, [&](const image::Descriptor& d) { return l.read_blob(d); });
  }
  return {};
}

std::string read_passphrase(const std::string& file, const std::string& prompt, bool confirm) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) fail(Errc::io, "passphrase file " + file + ": cannot open");
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail(Errc::usage, "no terminal to ask for the passphrase: give --passphrase-file");
  fs::UniqueFd tty(fd);
  auto ask = [&](const std::string& text) {
    (void)!write(fd, text.data(), text.size());
    termios old{};
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    std::string line;
    char ch;
    while (read(fd, &ch, 1) == 1 && ch != '\n' && line.size() < 4096) line += ch;
    if (restore) tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    return line;
  };
  std::string p = ask(prompt);
  if (confirm && ask("Confirm " + prompt) != p) fail(Errc::usage, "the passphrases do not match");
  return p;
}

}  // namespace ocikit::signature
