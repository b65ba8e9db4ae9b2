#include "common/policy.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "error_of.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using nlohmann::json;
using policy::Identity;

namespace {

const std::string kDigest = "sha256:481966d76416aa3d6e55e8c943736636d4a01b7a4343beaf4e4c21be5affd820";
const std::string kOther = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const signature::KeyPair& pair() {
  static signature::KeyPair kp = signature::generate_key_pair("pw");
  return kp;
}
const signature::KeyPair& other_pair() {
  static signature::KeyPair kp = signature::generate_key_pair("pw");
  return kp;
}

json sigstore(const signature::KeyPair& kp, json identity = nullptr) {
  json r = {{"type", "sigstoreSigned"}, {"keyData", auth::base64_encode(kp.public_pem)}};
  if (!identity.is_null()) r["signedIdentity"] = identity;
  return r;
}

signature::Attached signed_by(const signature::KeyPair& kp, const std::string& ref, const std::string& digest) {
  std::string payload = signature::make_payload(ref, digest);
  return {payload, signature::sign(signature::load_private_key(kp.private_pem, "pw"), payload)};
}

std::string check(const json& pol, const std::string& image, const std::string& digest,
                  std::vector<signature::Attached> sigs) {
  policy::Policy p = policy::parse(pol.dump());
  return testing::error_of([&] { policy::check(p, reference::parse(image), digest, [&] { return sigs; }); });
}

}  // namespace

TEST_CASE("policy: malformed policies are refused with the reason") {
  struct Row {
    std::string text, error;
  };
  for (const Row& r : {
           Row{"[]", "p: not a JSON object"},
           Row{"{}", "p: \"default\" is required"},
           Row{R"({"default":[]})", "p: default: must be a non-empty list of requirements"},
           Row{R"({"default":[{"type":"bogus"}]})", "p: default: unknown requirement type \"bogus\""},
           Row{R"({"default":[{"type":"reject","x":1}]})", "p: default: reject: unknown field \"x\""},
           Row{R"({"default":[{"type":"reject"}],"extra":1})", "p: unknown field \"extra\""},
           Row{R"({"default":[{"type":"sigstoreSigned"}]})",
               "p: default: sigstoreSigned: exactly one of keyPath and keyData is required"},
           Row{R"({"default":[{"type":"sigstoreSigned","keyData":"AAAA"}]})",
               "p: default: sigstoreSigned: public key: not a \"PUBLIC KEY\" PEM block"},
           Row{R"({"default":[{"type":"reject"}],"transports":{"docker":{"a.io":[]}}})",
               "p: docker scope \"a.io\": must be a non-empty list of requirements"},
       }) {
    CAPTURE(r.text);
    CHECK(testing::error_of([&] { policy::parse(r.text, "p"); }) == r.error);
  }
  json bad_identity = {{"default", {sigstore(pair(), {{"type", "exactReference"}, {"dockerReference", "a.io/b"}})}}};
  CHECK(testing::error_of([&] { policy::parse(bad_identity.dump(), "p"); }) ==
        "p: default: sigstoreSigned: signedIdentity exactReference: dockerReference must have a tag or digest");
  json unknown_identity = {{"default", {sigstore(pair(), {{"type", "matchAnything"}})}}};
  CHECK(testing::error_of([&] { policy::parse(unknown_identity.dump(), "p"); }) ==
        "p: default: sigstoreSigned: unknown signedIdentity type \"matchAnything\"");
  CHECK(testing::error_of([] { policy::load("/nonexistent/policy.json"); }, Errc::not_found) ==
        "policy /nonexistent/policy.json: cannot open");
}

TEST_CASE("policy: without a --policy, the default file, or accept anything when it is absent") {
  testing::TempDir t;
  auto verdict = [&](const policy::Policy& p) {
    return testing::error_of([&] {
      policy::check(p, reference::parse("a.io/app:v1"), kDigest, [] { return std::vector<signature::Attached>{}; });
    });
  };
  std::string def = t.path + "/policy.json";
  CHECK(verdict(policy::load("", def)) == "");  // no file: today's behaviour
  fs::write_file_atomic(def, R"({"default":[{"type":"reject"}]})");
  CHECK(verdict(policy::load("", def)).ends_with("requirement reject: images here are rejected"));
  fs::write_file_atomic(def, "{");
  CHECK(testing::error_of([&] { policy::load("", def); }) == "policy " + def + ": not a JSON object");
  CHECK(verdict(policy::load("", t.path + "/absent.json")) == "");
}

TEST_CASE("policy: the most specific docker scope applies") {
  json pol = {{"default", {{{"type", "reject"}}}},
              {"transports",
               {{"docker",
                 {{"", {{{"type", "reject"}}}},
                  {"reg.example.com", {{{"type", "insecureAcceptAnything"}}}},
                  {"reg.example.com/ns", {{{"type", "reject"}}}},
                  {"reg.example.com/ns/app", {{{"type", "insecureAcceptAnything"}}}},
                  {"reg.example.com/ns/app:v1", {{{"type", "reject"}}}},
                  {"*.example.org", {{{"type", "insecureAcceptAnything"}}}},
                  {"localhost:5000", {{{"type", "insecureAcceptAnything"}}}}}},
                {"atomic", {{"x", {{{"type", "reject"}}}}}}}}};
  policy::Policy p = policy::parse(pol.dump());
  struct Row {
    std::string image, scope;
  };
  for (const Row& r : {
           Row{"reg.example.com/ns/app:v1", "reg.example.com/ns/app:v1"},
           Row{"reg.example.com/ns/app:v2", "reg.example.com/ns/app"},
           Row{"reg.example.com/ns/app@" + kDigest, "reg.example.com/ns/app"},
           Row{"reg.example.com/ns/other:v1", "reg.example.com/ns"},
           Row{"reg.example.com/top:v1", "reg.example.com"},
           Row{"a.b.example.org/x:1", "*.example.org"},
           Row{"localhost:5000/x:1", "localhost:5000"},
           Row{"localhost:5001/x:1", ""},
           Row{"busybox", ""},
       }) {
    CAPTURE(r.image);
    CHECK(policy::scope_for(p, reference::parse(r.image)) == r.scope);
  }
  policy::Policy only_default = policy::parse(R"({"default":[{"type":"insecureAcceptAnything"}]})");
  CHECK(policy::scope_for(only_default, reference::parse("busybox")) == "default");
  CHECK_FALSE(policy::needs_signatures(only_default, reference::parse("busybox")));
}

TEST_CASE("policy: signedIdentity rules as containers/image matches them") {
  auto match = [](const Identity& id, const std::string& image, const std::string& signed_ref) {
    reference::Reference r = reference::parse(image);
    return policy::identity_matches(id, r, signed_ref);
  };
  Identity def;  // matchRepoDigestOrExact
  CHECK(match(def, "a.io/x/app:v1", "a.io/x/app:v1"));
  CHECK_FALSE(match(def, "a.io/x/app:v1", "a.io/x/app:v2"));
  CHECK_FALSE(match(def, "a.io/x/app:v1", "a.io/x/app"));
  CHECK_FALSE(match(def, "a.io/x/app:v1", "a.io/x/other:v1"));
  CHECK(match(def, "a.io/x/app@" + kDigest, "a.io/x/app:anything"));
  CHECK_FALSE(match(def, "a.io/x/app@" + kDigest, "a.io/y/app:v1"));
  CHECK(match(def, "busybox", "docker.io/library/busybox:latest"));
  CHECK(match(def, "busybox", "busybox:latest"));
  CHECK_FALSE(match(def, "busybox", "not a reference"));

  Identity exact{Identity::Type::match_exact, "", "", ""};
  CHECK(match(exact, "a.io/app:v1", "a.io/app:v1"));
  CHECK_FALSE(match(exact, "a.io/app@" + kDigest, "a.io/app:v1"));
  CHECK(match(exact, "a.io/app@" + kDigest, "a.io/app@" + kDigest));

  Identity repo{Identity::Type::match_repository, "", "", ""};
  CHECK(match(repo, "a.io/app:v1", "a.io/app:v9"));
  CHECK_FALSE(match(repo, "a.io/app:v1", "b.io/app:v1"));

  Identity exact_ref{Identity::Type::exact_reference, "b.io/signed:1", "", ""};
  CHECK(match(exact_ref, "a.io/app:v1", "b.io/signed:1"));
  CHECK_FALSE(match(exact_ref, "a.io/app:v1", "a.io/app:v1"));

  Identity exact_repo{Identity::Type::exact_repository, "b.io/signed", "", ""};
  CHECK(match(exact_repo, "a.io/app:v1", "b.io/signed:7"));
  CHECK_FALSE(match(exact_repo, "a.io/app:v1", "b.io/signed2:7"));

  Identity remap{Identity::Type::remap_identity, "", "mirror.io/proj", "origin.io/proj"};
  CHECK(match(remap, "mirror.io/proj/app:v1", "origin.io/proj/app:v1"));
  CHECK_FALSE(match(remap, "mirror.io/proj/app:v1", "mirror.io/proj/app:v1"));
  CHECK_FALSE(match(remap, "mirror.io/project/app:v1", "origin.io/project/app:v1"));  // not at a boundary
  CHECK(match(remap, "other.io/app:v1", "other.io/app:v1"));  // no prefix: matchRepoDigestOrExact
}

TEST_CASE("policy: evaluation accepts, rejects and says why") {
  json accept = {{"default", {{{"type", "insecureAcceptAnything"}}}}};
  CHECK(check(accept, "a.io/app:v1", kDigest, {}) == "");
  json reject = {{"default", {{{"type", "reject"}}}}};
  CHECK(check(reject, "a.io/app:v1", kDigest, {}) ==
        "a.io/app:v1 rejected by policy (scope \"default\"): requirement reject: images here are rejected");

  json signed_pol = {{"default", {{{"type", "reject"}}}},
                     {"transports", {{"docker", {{"a.io", {sigstore(pair())}}}}}}};
  std::string who = "a.io/app:v1 rejected by policy (scope \"a.io\"): requirement sigstoreSigned: ";
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {signed_by(pair(), "a.io/app:v1", kDigest)}) == "");
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {}) ==
        who + "a signature was required, but no signature exists");
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {signed_by(other_pair(), "a.io/app:v1", kDigest)}) ==
        who + "the signature does not verify with the policy's key");
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {signed_by(pair(), "a.io/app:v1", kOther)}) ==
        who + "the signature is for manifest " + kOther + ", not " + kDigest);
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {signed_by(pair(), "a.io/evil:v1", kDigest)}) ==
        who + "the signature's identity \"a.io/evil:v1\" does not match a.io/app:v1");
  // one good signature among bad ones is enough
  CHECK(check(signed_pol, "a.io/app:v1", kDigest,
              {signed_by(other_pair(), "a.io/app:v1", kDigest), signed_by(pair(), "a.io/app:v1", kDigest)}) == "");
  // a valid signature over a payload that is not a simple-signing payload
  std::string junk = R"({"critical":{}})";
  signature::Attached bad{junk, signature::sign(signature::load_private_key(pair().private_pem, "pw"), junk)};
  CHECK(check(signed_pol, "a.io/app:v1", kDigest, {bad}).starts_with(who + "signature payload:"));

  // a keyPath is read when its requirement is evaluated (a missing one
  // rejects only the images it applies to)
  json missing_key = {{"default", {{{"type", "insecureAcceptAnything"}}}},
                      {"transports",
                       {{"docker", {{"k.io", {{{"type", "sigstoreSigned"}, {"keyPath", "/nonexistent/k.pub"}}}}}}}}};
  CHECK(check(missing_key, "a.io/app:v1", kDigest, {}) == "");
  CHECK(check(missing_key, "k.io/app:v1", kDigest, {signed_by(pair(), "k.io/app:v1", kDigest)}) ==
        "k.io/app:v1 rejected by policy (scope \"k.io\"): requirement sigstoreSigned: keyPath /nonexistent/k.pub: "
        "cannot open");

  // every requirement of the list must accept
  json both = {{"default", {{{"type", "insecureAcceptAnything"}}, sigstore(pair())}}};
  CHECK(!check(both, "a.io/app:v1", kDigest, {}).empty());
  // GPG is refused clearly, only where it applies
  json gpg = {{"default", {{{"type", "insecureAcceptAnything"}}}},
              {"transports", {{"docker", {{"gpg.io", {{{"type", "signedBy"}, {"keyType", "GPGKeys"}}}}}}}}};
  CHECK(check(gpg, "a.io/app:v1", kDigest, {}) == "");
  CHECK(check(gpg, "gpg.io/app:v1", kDigest, {}) ==
        "gpg.io/app:v1 rejected by policy (scope \"gpg.io\"): requirement signedBy: GPG signatures (signedBy) are not "
        "supported by ocikit");
  // signatures are not looked up when no requirement needs them
  policy::Policy p = policy::parse(accept.dump());
  bool asked = false;
  policy::check(p, reference::parse("a.io/app:v1"), kDigest, [&] {
    asked = true;
    return std::vector<signature::Attached>{};
  });
  CHECK_FALSE(asked);
}
