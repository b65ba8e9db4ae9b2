#pragma once
// ocikit::policy: containers-policy.json(5), the trust policy skopeo and
// podman evaluate before they take an image, for the docker transport:
//
//   {"default": [REQ...],
//    "transports": {"docker": {"SCOPE": [REQ...], ...}, ...}}
//
// The scope for an image is the most specific one present among
// "host/ns/repo:tag" (or "@digest"), "host/ns/repo", "host/ns", "host",
// "*.parent.domain" wildcards, "" (the transport's default), then "default".
// Every requirement of the list must accept. Requirements:
// insecureAcceptAnything, reject, sigstoreSigned (keyPath | keyData, and
// signedIdentity: matchRepoDigestOrExact (default), matchExact,
// matchRepository, exactReference, exactRepository, remapIdentity).
// signedBy (GPG) and keyless sigstore (fulcio/rekor) are parsed but reject,
// saying they are unsupported.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/reference.hpp"
#include "common/signature.hpp"

namespace ocikit::policy {

/// The default policy file (Debian's containers-common ships one that
/// accepts anything).
inline constexpr const char* kDefaultPath = "/etc/containers/policy.json";

/// How a signature's claimed reference must relate to the image's.
struct Identity {
  enum class Type { match_repo_digest_or_exact, match_exact, match_repository, exact_reference, exact_repository, remap_identity };
  Type type = Type::match_repo_digest_or_exact;
  std::string reference;  ///< exactReference: dockerReference; exactRepository: dockerRepository
  std::string prefix, signed_prefix;  ///< remapIdentity
};

/// One requirement of a scope's list.
struct Requirement {
  enum class Type { accept, reject, sigstore_signed, unsupported };
  Type type = Type::reject;
  std::string name;  ///< the "type" as written ("sigstoreSigned", ...)
  std::string key_pem;  ///< sigstoreSigned: the public key's PEM (from keyData)
  std::string key_path;  ///< sigstoreSigned: keyPath, read when the requirement is evaluated (as containers/image does)
  std::string why;  ///< unsupported: what is not supported
  Identity identity;
};

/// A parsed policy (docker transport only; other transports are kept
/// unevaluated, as ocikit pulls only from registries).
struct Policy {
  std::vector<Requirement> default_reqs;
  std::map<std::string, std::vector<Requirement>> docker;  ///< scope -> requirements
};

/// Parse policy JSON. keyData keys are checked at once; keyPath files are
/// read when a requirement naming them is evaluated, so a scope that does
/// not apply cannot break other pulls. Throws
/// Errc::invalid with `where` (usually the file name) and what is wrong.
Policy parse(std::string_view text, const std::string& where = "policy");

/// Load `path`; when `path` is empty use kDefaultPath, and when that does
/// not exist return a policy that accepts anything (ocikit's behaviour
/// before policies). An explicit path that does not exist is an error.
/// `default_path` is for tests.
Policy load(const std::string& path, const std::string& default_path = kDefaultPath);

/// The scope that applies to `ref` ("default" when none of the docker scopes does).
std::string scope_for(const Policy& p, const reference::Reference& ref);

/// The requirements for `ref`.
const std::vector<Requirement>& requirements_for(const Policy& p, const reference::Reference& ref);

/// True when some requirement for `ref` needs signatures.
bool needs_signatures(const Policy& p, const reference::Reference& ref);

/// Whether a signature's claimed `signed_reference` satisfies `id` for
/// `image` (the reference being pulled, normalised, tag or digest).
bool identity_matches(const Identity& id, const reference::Reference& image, const std::string& signed_reference);

/// Evaluate the policy for `image` whose top manifest has digest
/// `manifest_digest`; `signatures` is called at most once, when a
/// requirement needs them. Throws Errc::unauthorized with one line naming
/// the image, the scope and the requirement that rejected it and why.
void check(const Policy& p, const reference::Reference& image, const std::string& manifest_digest,
           const std::function<std::vector<signature::Attached>()>& signatures);

/// The image's identity as policies name it: "host/repo@digest" when it has
/// a digest, else "host/repo:tag".
std::string policy_identity(const reference::Reference& ref);

}  // namespace ocikit::policy
