// containers-policy.json(5) for the docker transport (see policy.hpp).
#include "common/policy.hpp"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace ocikit::policy {

using nlohmann::json;

namespace {

constexpr size_t kMaxPolicySize = 1u << 20;
constexpr size_t kMaxKeySize = 64u << 10;

std::string read_bounded(const std::string& path, size_t max, const std::string& what) {
  // Regular files only: a FIFO or a device would block or never end.
  struct stat st{};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) fail(Errc::invalid, what + " " + path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::not_found, what + " " + path + ": cannot open");
  std::string s(max + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  if (s.size() > max) fail(Errc::invalid, what + " " + path + ": too large");
  return s;
}

// Fields of an object must be among `allowed` (containers/image refuses
// unknown fields, so a typo does not silently weaken a policy).
void only_fields(const json& o, std::initializer_list<const char*> allowed, const std::string& where) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) fail(Errc::invalid, where + ": unknown field \"" + it.key() + "\"");
  }
}

std::string string_field(const json& o, const char* name, const std::string& where) {
  if (!o.contains(name) || !o[name].is_string() || o[name].get<std::string>().empty())
    fail(Errc::invalid, where + ": \"" + name + "\" must be a non-empty string");
  return o[name].get<std::string>();
}

Identity parse_identity(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail(Errc::invalid, where + ": signedIdentity needs a \"type\"");
  std::string t = j["type"].get<std::string>();
  std::string w = where + ": signedIdentity " + t;
  Identity id;
  if (t == "matchRepoDigestOrExact" || t == "matchExact" || t == "matchRepository") {
    only_fields(j, {"type"}, w);
    id.type = t == "matchExact"        ? Identity::Type::match_exact
              : t == "matchRepository" ? Identity::Type::match_repository
                                       : Identity::Type::match_repo_digest_or_exact;
  } else if (t == "exactReference") {
    only_fields(j, {"type", "dockerReference"}, w);
    id.type = Identity::Type::exact_reference;
    id.reference = string_field(j, "dockerReference", w);
    reference::Reference r = with_context(w, [&] { return reference::parse_no_default_tag(id.reference); });
    if (r.tag.empty() && !r.digest) fail(Errc::invalid, w + ": dockerReference must have a tag or digest");
  } else if (t == "exactRepository") {
    only_fields(j, {"type", "dockerRepository"}, w);
    id.type = Identity::Type::exact_repository;
    id.reference = string_field(j, "dockerRepository", w);
    (void)with_context(w, [&] { return reference::parse_no_default_tag(id.reference); });
  } else if (t == "remapIdentity") {
    only_fields(j, {"type", "prefix", "signedPrefix"}, w);
    id.type = Identity::Type::remap_identity;
    id.prefix = string_field(j, "prefix", w);
    id.signed_prefix = string_field(j, "signedPrefix", w);
  } else {
    fail(Errc::invalid, where + ": unknown signedIdentity type \"" + t + "\"");
  }
  return id;
}

Requirement parse_requirement(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail(Errc::invalid, where + ": a requirement needs a \"type\"");
  Requirement r;
  r.name = j["type"].get<std::string>();
  std::string w = where + ": " + r.name;
  if (r.name == "insecureAcceptAnything") {
    only_fields(j, {"type"}, w);
    r.type = Requirement::Type::accept;
  } else if (r.name == "reject") {
    only_fields(j, {"type"}, w);
    r.type = Requirement::Type::reject;
  } else if (r.name == "signedBy") {
    r.type = Requirement::Type::unsupported;
    r.why = "GPG signatures (signedBy) are not supported by ocikit";
  } else if (r.name == "sigstoreSigned") {
    only_fields(j, {"type", "keyPath", "keyData", "fulcio", "rekorPublicKeyPath", "rekorPublicKeyData",
                    "signedIdentity"},
                w);
    bool path = j.contains("keyPath"), data = j.contains("keyData");
    if (j.contains("fulcio") || j.contains("rekorPublicKeyPath") || j.contains("rekorPublicKeyData")) {
      r.type = Requirement::Type::unsupported;
      r.why = "keyless sigstore (fulcio, rekor) is not supported by ocikit";
      return r;
    }
    if (path == data) fail(Errc::invalid, w + ": exactly one of keyPath and keyData is required");
    r.type = Requirement::Type::sigstore_signed;
    if (path) {
      r.key_path = string_field(j, "keyPath", w);
    } else {
      std::string d = string_field(j, "keyData", w);
      r.key_pem = with_context(w + ": keyData", [&] { return auth::base64_decode(d); });
      (void)with_context(w, [&] { return signature::load_public_key(r.key_pem); });
    }
    if (j.contains("signedIdentity")) r.identity = parse_identity(j["signedIdentity"], w);
  } else {
    fail(Errc::invalid, where + ": unknown requirement type \"" + r.name + "\"");
  }
  return r;
}

std::vector<Requirement> parse_list(const json& j, const std::string& where) {
  if (!j.is_array() || j.empty()) fail(Errc::invalid, where + ": must be a non-empty list of requirements");
  std::vector<Requirement> out;
  for (const auto& e : j) out.push_back(parse_requirement(e, where));
  return out;
}

// Whether `s` starts with `prefix` at a component boundary: the next
// character ends the repository path, host or namespace.
bool has_prefix(const std::string& s, const std::string& prefix) {
  if (!s.starts_with(prefix)) return false;
  if (s.size() == prefix.size()) return true;
  char next = s[prefix.size()];
  return next == '/' || next == ':' || next == '@';
}

std::optional<reference::Reference> parse_signed(const std::string& s) {
  try {
    return reference::parse_no_default_tag(s);
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool repo_digest_or_exact(const reference::Reference& image, const reference::Reference& sig) {
  if (image.digest) return sig.repository() == image.repository();
  return !sig.digest && !sig.tag.empty() && sig.repository() == image.repository() && sig.tag == image.tag;
}

}  // namespace

std::string policy_identity(const reference::Reference& ref) {
  if (ref.digest) return ref.repository() + "@" + ref.digest->str();
  return ref.repository() + ":" + ref.tag;
}

Policy parse(std::string_view text, const std::string& where) {
  if (text.size() > kMaxPolicySize) fail(Errc::invalid, where + ": too large");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(Errc::invalid, where + ": not a JSON object");
  only_fields(j, {"default", "transports"}, where);
  if (!j.contains("default")) fail(Errc::invalid, where + ": \"default\" is required");
  Policy p;
  p.default_reqs = parse_list(j["default"], where + ": default");
  if (j.contains("transports")) {
    if (!j["transports"].is_object()) fail(Errc::invalid, where + ": \"transports\" must be an object");
    for (auto t = j["transports"].begin(); t != j["transports"].end(); ++t) {
      if (!t->is_object()) fail(Errc::invalid, where + ": transport \"" + t.key() + "\" must be an object");
      for (auto s = t->begin(); s != t->end(); ++s) {
        std::string w = where + ": " + t.key() + " scope \"" + s.key() + "\"";
        std::vector<Requirement> reqs = parse_list(*s, w);
        if (t.key() == "docker") p.docker[s.key()] = std::move(reqs);
      }
    }
  }
  return p;
}

Policy load(const std::string& path, const std::string& default_path) {
  std::string file = path.empty() ? default_path : path;
  struct stat st{};
  if (path.empty() && stat(file.c_str(), &st) != 0) {
    Policy p;
    Requirement accept;
    accept.type = Requirement::Type::accept;
    accept.name = "insecureAcceptAnything";
    p.default_reqs.push_back(accept);
    return p;
  }
  std::string text = read_bounded(file, kMaxPolicySize, "policy");
  return parse(text, "policy " + file);
}

std::string scope_for(const Policy& p, const reference::Reference& ref) {
  std::vector<std::string> candidates{policy_identity(ref)};
  std::string repo = ref.repository();
  for (std::string s = repo;;) {
    candidates.push_back(s);
    auto slash = s.rfind('/');
    if (slash == std::string::npos) break;
    s.resize(slash);
  }
  // "*.example.com" matches hosts below example.com (not with a port).
  if (ref.domain.find(':') == std::string::npos)
    for (auto dot = ref.domain.find('.'); dot != std::string::npos; dot = ref.domain.find('.', dot + 1))
      candidates.push_back("*" + ref.domain.substr(dot));
  candidates.push_back("");
  for (const auto& c : candidates)
    if (p.docker.count(c)) return c;
  return "default";
}

const std::vector<Requirement>& requirements_for(const Policy& p, const reference::Reference& ref) {
  std::string s = scope_for(p, ref);
  return s == "default" ? p.default_reqs : p.docker.at(s);
}

bool needs_signatures(const Policy& p, const reference::Reference& ref) {
  for (const auto& r : requirements_for(p, ref))
    if (r.type == Requirement::Type::sigstore_signed) return true;
  return false;
}

bool identity_matches(const Identity& id, const reference::Reference& image, const std::string& signed_reference) {
  auto sig = parse_signed(signed_reference);
  if (!sig) return false;
  switch (id.type) {
    case Identity::Type::match_repo_digest_or_exact:
      return repo_digest_or_exact(image, *sig);
    case Identity::Type::match_exact:
      return sig->str() == (image.digest ? image.repository() + "@" + image.digest->str() : image.str());
    case Identity::Type::match_repository:
      return sig->repository() == image.repository();
    case Identity::Type::exact_reference:
      return sig->str() == reference::parse_no_default_tag(id.reference).str();
    case Identity::Type::exact_repository:
      return sig->repository() == reference::parse_no_default_tag(id.reference).repository();
    case Identity::Type::remap_identity: {
      std::string name = policy_identity(image);
      if (!has_prefix(name, id.prefix)) return repo_digest_or_exact(image, *sig);
      auto remapped = parse_signed(id.signed_prefix + name.substr(id.prefix.size()));
      return remapped && repo_digest_or_exact(*remapped, *sig);
    }
  }
  return false;
}

void check(const Policy& p, const reference::Reference& image, const std::string& manifest_digest,
           const std::function<std::vector<signature::Attached>()>& signatures) {
  std::string scope = scope_for(p, image);
  const std::vector<Requirement>& reqs = requirements_for(p, image);
  std::string who = policy_identity(image) + " rejected by policy (scope \"" + scope + "\"): ";
  std::optional<std::vector<signature::Attached>> sigs;
  for (const auto& r : reqs) {
    switch (r.type) {
      case Requirement::Type::accept:
        break;
      case Requirement::Type::reject:
        fail(Errc::unauthorized, who + "requirement reject: images here are rejected");
      case Requirement::Type::unsupported:
        fail(Errc::unauthorized, who + "requirement " + r.name + ": " + r.why);
      case Requirement::Type::sigstore_signed: {
        if (!sigs) sigs = signatures();
        if (sigs->empty())
          fail(Errc::unauthorized, who + "requirement sigstoreSigned: a signature was required, but no signature exists");
        signature::Key key;
        try {
          std::string pem = r.key_path.empty() ? r.key_pem : read_bounded(r.key_path, kMaxKeySize, "keyPath");
          key = signature::load_public_key(pem);
        } catch (const Error& e) {
          fail(Errc::unauthorized, who + "requirement sigstoreSigned: " + e.what());
        }
        std::string last;
        bool accepted = false;
        for (const auto& s : *sigs) {
          if (!signature::verify(key, s.payload, s.signature)) {
            last = "the signature does not verify with the policy's key";
            continue;
          }
          signature::Payload pl;
          try {
            pl = signature::parse_payload(s.payload);
          } catch (const Error& e) {
            last = e.what();
            continue;
          }
          if (pl.manifest_digest != manifest_digest) {
            last = "the signature is for manifest " + pl.manifest_digest + ", not " + manifest_digest;
            continue;
          }
          if (!identity_matches(r.identity, image, pl.docker_reference)) {
            last = "the signature's identity \"" + pl.docker_reference + "\" does not match " + policy_identity(image);
            continue;
          }
          accepted = true;
          break;
        }
        if (!accepted) fail(Errc::unauthorized, who + "requirement sigstoreSigned: " + last);
        log::debug(policy_identity(image) + ": sigstore signature verified");
        break;
      }
    }
  }
}

}  // namespace ocikit::policy
