#include "common/signature.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/auth.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/layout.hpp"
#include "error_of.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using nlohmann::json;

namespace {

// Written by upstream skopeo 1.9.3 (containers/image 5.22.1) signing with
// an ocikit-generated key: a cross-implementation vector.
const std::string kSkopeoPub =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEo7Jb6VWLbsl64P2SUEUsMUgdvmR7\n"
    "nB5Bwc/Ce7eDaFaqDtgBQoW5E1m8EqJAYr+ZArvqI45AqwJrbYjss5PP/A==\n"
    "-----END PUBLIC KEY-----\n";
const std::string kSkopeoPayload =
    R"({"critical":{"identity":{"docker-reference":"127.0.0.1:24151/a/img:v1"},"image":{"docker-manifest-digest":)"
    R"("sha256:481966d76416aa3d6e55e8c943736636d4a01b7a4343beaf4e4c21be5affd820"},"type":"cosign container image )"
    R"(signature"},"optional":{"creator":"containers/image 5.22.1","timestamp":1796655482}})";
const std::string kSkopeoSig =
    "MEQCIA44Y0NnAK7Btxs1X/5uYIB3CIMednaXVARtzkQi/WkRAiAqTgJZDS2PLuV74F2O5nGyzWOYCJfdVBfIimNFqLNfWA==";

const std::string kDigest = "sha256:481966d76416aa3d6e55e8c943736636d4a01b7a4343beaf4e4c21be5affd820";

// One generated key for the whole file (scrypt takes a moment).
const signature::KeyPair& pair() {
  static signature::KeyPair kp = signature::generate_key_pair("secret");
  return kp;
}

// The envelope of a private key PEM, as JSON, and back.
json envelope(const std::string& pem) {
  std::string body;
  bool in = false;
  for (size_t pos = 0; pos < pem.size();) {
    size_t nl = pem.find('\n', pos);
    std::string line = pem.substr(pos, nl - pos);
    pos = nl == std::string::npos ? pem.size() : nl + 1;
    if (line.starts_with("-----BEGIN")) in = true;
    else if (line.starts_with("-----END")) in = false;
    else if (in) body += line;
  }
  return json::parse(auth::base64_decode(body));
}
std::string pem_of(const json& env, const std::string& type = "ENCRYPTED COSIGN PRIVATE KEY") {
  return "-----BEGIN " + type + "-----\n" + auth::base64_encode(env.dump()) + "\n-----END " + type + "-----\n";
}

}  // namespace

TEST_CASE("signature: a signature skopeo wrote verifies, and its payload parses") {
  signature::Key pub = signature::load_public_key(kSkopeoPub);
  CHECK(signature::verify(pub, kSkopeoPayload, kSkopeoSig));
  CHECK_FALSE(signature::verify(pub, kSkopeoPayload + " ", kSkopeoSig));
  signature::Payload p = signature::parse_payload(kSkopeoPayload);
  CHECK(p.docker_reference == "127.0.0.1:24151/a/img:v1");
  CHECK(p.manifest_digest == kDigest);
}

TEST_CASE("signature: generated keys are cosign's envelope and sign what the public key verifies") {
  const auto& kp = pair();
  CHECK(kp.private_pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
  CHECK(kp.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
  json env = envelope(kp.private_pem);
  CHECK(env["kdf"]["name"] == "scrypt");
  CHECK(env["kdf"]["params"] == json{{"N", 32768}, {"r", 8}, {"p", 1}});
  CHECK(auth::base64_decode(env["kdf"]["salt"].get<std::string>()).size() == 32);
  CHECK(env["cipher"]["name"] == "nacl/secretbox");
  CHECK(auth::base64_decode(env["cipher"]["nonce"].get<std::string>()).size() == 24);

  signature::Key priv = signature::load_private_key(kp.private_pem, "secret");
  signature::Key pub = signature::load_public_key(kp.public_pem);
  CHECK(signature::public_pem(priv) == kp.public_pem);
  std::string payload = signature::make_payload("example.com/a/b:v1", kDigest, "ocikit", 1700000000);
  std::string sig = signature::sign(priv, payload);
  CHECK(signature::verify(pub, payload, sig));
  CHECK_FALSE(signature::verify(pub, payload + "x", sig));
  CHECK_FALSE(signature::verify(signature::load_public_key(kSkopeoPub), payload, sig));
  CHECK_FALSE(signature::verify(pub, payload, "not base64!"));
  CHECK_FALSE(signature::verify(pub, payload, ""));

  // The newer label is the same envelope.
  std::string relabelled = pem_of(env, "ENCRYPTED SIGSTORE PRIVATE KEY");
  CHECK(signature::public_pem(signature::load_private_key(relabelled, "secret")) == kp.public_pem);
}

TEST_CASE("signature: private keys that must not load") {
  json env = envelope(pair().private_pem);
  CHECK(testing::error_of([&] { signature::load_private_key(pair().private_pem, "wrong"); }, Errc::unauthorized) ==
        "private key: wrong passphrase (or a damaged key)");
  struct Row {
    std::string name;
    std::function<void(json&)> edit;
    std::string error;
  };
  for (const Row& r : {
           Row{"kdf", [](json& e) { e["kdf"]["name"] = "pbkdf2"; }, "private key: unsupported kdf (only scrypt)"},
           Row{"cipher", [](json& e) { e["cipher"]["name"] = "aes"; },
               "private key: unsupported cipher (only nacl/secretbox)"},
           Row{"huge N", [](json& e) { e["kdf"]["params"]["N"] = 1 << 24; },
               "private key: scrypt parameters out of bounds"},
           Row{"N not a power of two", [](json& e) { e["kdf"]["params"]["N"] = 1000; },
               "private key: scrypt parameters out of bounds"},
           Row{"missing r", [](json& e) { e["kdf"]["params"].erase("r"); }, "private key: scrypt parameter r missing"},
           Row{"short nonce", [](json& e) { e["cipher"]["nonce"] = auth::base64_encode("abc"); },
               "private key: nonce must be 24 bytes"},
           Row{"flipped ciphertext",
               [](json& e) {
                 std::string c = auth::base64_decode(e["ciphertext"].get<std::string>());
                 c[20] ^= 1;
                 e["ciphertext"] = auth::base64_encode(c);
               },
               "private key: wrong passphrase (or a damaged key)"},
           Row{"no ciphertext", [](json& e) { e.erase("ciphertext"); }, "private key: \"ciphertext\" missing"},
       }) {
    CAPTURE(r.name);
    json e = env;
    r.edit(e);
    CHECK(testing::error_of([&] { signature::load_private_key(pem_of(e), "secret"); }) == r.error);
  }
  CHECK(testing::error_of([&] { signature::load_private_key(pair().public_pem, "secret"); }, Errc::invalid) ==
        "private key: not an \"ENCRYPTED COSIGN PRIVATE KEY\" or \"ENCRYPTED SIGSTORE PRIVATE KEY\" PEM block");
  CHECK(testing::error_of([&] { signature::load_public_key(pair().private_pem); }, Errc::invalid) ==
        "public key: not a \"PUBLIC KEY\" PEM block");
  CHECK(testing::error_of([&] {
          signature::load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
        }) == "public key: malformed PKIX key");
}

TEST_CASE("signature: payloads are parsed strictly") {
  std::string good = signature::make_payload("example.com/a:v1", kDigest);
  CHECK(json::parse(good)["critical"]["type"] == "cosign container image signature");
  CHECK(signature::parse_payload(good).docker_reference == "example.com/a:v1");
  struct Row {
    std::string name;
    std::function<void(json&)> edit;
    std::string error;
  };
  for (const Row& r : {
           Row{"extra critical field", [](json& j) { j["critical"]["x"] = 1; },
               "signature payload: unexpected fields in critical"},
           Row{"extra top field", [](json& j) { j["x"] = 1; }, "signature payload: unexpected field \"x\""},
           Row{"other type", [](json& j) { j["critical"]["type"] = "atomic container signature"; },
               "signature payload: unsupported type (want \"cosign container image signature\")"},
           Row{"no identity",
               [](json& j) {
                 j["critical"].erase("identity");
                 j["critical"]["x"] = 1;
               },
               "signature payload: critical lacks \"identity\""},
           Row{"extra image field", [](json& j) { j["critical"]["image"]["y"] = 1; },
               "signature payload: unexpected fields in critical.image"},
           Row{"digest not a string", [](json& j) { j["critical"]["image"]["docker-manifest-digest"] = 5; },
               "signature payload: digest and reference must be strings"},
           Row{"bad digest", [](json& j) { j["critical"]["image"]["docker-manifest-digest"] = "sha256:zz"; },
               "signature payload: docker-manifest-digest: invalid digest \"sha256:zz\""},
           Row{"optional not an object", [](json& j) { j["optional"] = 3; },
               "signature payload: optional is not an object"},
       }) {
    CAPTURE(r.name);
    json j = json::parse(good);
    r.edit(j);
    std::string msg = testing::error_of([&] { signature::parse_payload(j.dump()); }, Errc::invalid);
    CHECK(msg.starts_with(r.error));
  }
  CHECK(testing::error_of([] { signature::parse_payload("[1]"); }) == "signature payload: not a JSON object");
  CHECK(testing::error_of([] { signature::parse_payload("{"); }) == "signature payload: not a JSON object");
}

TEST_CASE("signature: attachment tag and manifest") {
  CHECK(signature::attachment_tag(kDigest) ==
        "sha256-481966d76416aa3d6e55e8c943736636d4a01b7a4343beaf4e4c21be5affd820.sig");
  CHECK_FALSE(testing::error_of([] { signature::attachment_tag("sha256:../x"); }).empty());
  std::vector<signature::Attached> sigs{{"p1", "s1"}, {"payload two", "s2"}};
  auto [config, manifest] = signature::build_attachment(sigs);
  json m = json::parse(manifest);
  CHECK(m["mediaType"] == "application/vnd.oci.image.manifest.v1+json");
  CHECK(m["config"]["digest"] == digest::of(config).str());
  REQUIRE(m["layers"].size() == 2);
  CHECK(m["layers"][1]["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json");
  CHECK(m["layers"][1]["digest"] == digest::of("payload two").str());
  CHECK(m["layers"][1]["size"] == 11);
  CHECK(m["layers"][1]["annotations"]["dev.cosignproject.cosign/signature"] == "s2");
  CHECK(json::parse(config)["rootfs"]["diff_ids"][0] == digest::of("p1").str());
}

TEST_CASE("signature: an OCI layout keeps signatures beside the image") {
  testing::TempDir t;
  layout::Layout l = layout::Layout::open_or_create(t.path + "/lay");
  CHECK(signature::load_from_layout(l, kDigest).empty());
  std::vector<signature::Attached> sigs{{signature::make_payload("a.io/x:1", kDigest), "c2ln"}, {"{}", "c2lnMg=="}};
  signature::store_in_layout(l, kDigest, sigs);
  auto back = signature::load_from_layout(l, kDigest);
  REQUIRE(back.size() == 2);
  CHECK(back[0].payload == sigs[0].payload);
  CHECK(back[1].signature == "c2lnMg==");
  // stored again with one more: the tag points at the new attachment
  sigs.push_back({"{\"x\":1}", "c2lnMw=="});
  signature::store_in_layout(l, kDigest, sigs);
  CHECK(signature::load_from_layout(l, kDigest).size() == 3);
  CHECK(l.list().size() == 1);
}
