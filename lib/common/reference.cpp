#include "common/reference.hpp"

#include "common/error.hpp"

namespace ocikit::reference {

namespace {

constexpr size_t kMaxNameLength = 255;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

[[noreturn]] void bad(std::string_view input, std::string_view why) {
  fail(Errc::invalid, "invalid reference \"" + std::string(input) + "\": " + std::string(why));
}

// One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = i + 1;
      if (j < c.size() && c[j] == '_') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !is_lower_alnum(c[j])) return false;
    i = j;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (char ch : c)
    if (!is_alnum(ch) && ch != '-') return false;
  return true;
}

bool valid_domain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (!d.empty() && d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1))
      if (!is_hex(c) && c != ':') return false;
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    host = {};
  } else if (auto colon = d.find(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (port.empty()) return false;
  }
  for (char c : port)
    if (c < '0' || c > '9') return false;
  if (!host.empty() || d.front() != '[') {
    size_t start = 0;
    while (true) {
      auto dot = host.find('.', start);
      if (!valid_domain_component(host.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  return true;
}

bool has_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

Reference parse_impl(std::string_view s, bool default_tag) {
  if (s.empty()) bad(s, "empty reference");
  Reference r;
  std::string_view name = s;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    name = s.substr(0, at);
    try {
      r.digest = digest::parse(s.substr(at + 1));
    } catch (Error& e) {
      bad(s, e.what());
    }
  }
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!is_valid_tag(tag)) bad(s, "invalid tag \"" + std::string(tag) + "\"");
    r.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) bad(s, "empty repository name");
  // Split off the domain as docker does (normalize.go splitDockerDomain).
  std::string_view remainder = name;
  auto first = name.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = name.substr(0, first);
    if (head.find_first_of(".:") != std::string_view::npos || head == "localhost" || has_upper(head)) {
      if (!valid_domain(head)) bad(s, "invalid domain \"" + std::string(head) + "\"");
      r.domain = std::string(head);
      remainder = name.substr(first + 1);
    }
  }
  if (r.domain.empty() || r.domain == "index.docker.io") r.domain = std::string(kDefaultDomain);
  if (has_upper(remainder)) bad(s, "repository name must be lowercase");
  size_t start = 0;
  while (true) {
    auto sl = remainder.find('/', start);
    std::string_view comp = remainder.substr(start, sl == std::string_view::npos ? sl : sl - start);
    if (!valid_path_component(comp)) bad(s, "invalid path component \"" + std::string(comp) + "\"");
    if (sl == std::string_view::npos) break;
    start = sl + 1;
  }
  r.path = std::string(remainder);
  if (r.domain == kDefaultDomain && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
  if (r.repository().size() > kMaxNameLength)
    bad(s, "repository name longer than " + std::to_string(kMaxNameLength) + " characters");
  if (default_tag && r.tag.empty() && !r.digest) r.tag = std::string(kDefaultTag);
  return r;
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || !is_word(tag.front())) return false;
  for (char c : tag)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

std::string Reference::repository() const { return domain + "/" + path; }

std::string Reference::str() const {
  std::string s = repository();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return repository();
  if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) return path.substr(8);
  return path;
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

Reference parse(std::string_view s) { return parse_impl(s, true); }
Reference parse_no_default_tag(std::string_view s) { return parse_impl(s, false); }

bool is_valid(std::string_view s) {
  return no_error([&] { parse(s); });
}

std::string_view transport_name(Transport t) {
  switch (t) {
    case Transport::docker: return "docker";
    case Transport::oci: return "oci";
    case Transport::oci_archive: return "oci-archive";
    case Transport::docker_archive: return "docker-archive";
    case Transport::store: return "";
  }
  return "";
}

std::string ImageRef::str() const {
  switch (transport) {
    case Transport::docker: return "docker://" + ref.str();
    case Transport::store: return ref.str();
    default: break;
  }
  std::string s = std::string(transport_name(transport)) + ":" + path;
  if (!tag.empty()) s += ":" + tag;
  return s;
}

ImageRef parse_image_ref(std::string_view s) {
  ImageRef r;
  if (s.rfind("docker://", 0) == 0) {
    r.transport = Transport::docker;
    r.ref = parse(s.substr(9));
    return r;
  }
  struct Prefix {
    std::string_view name;
    Transport t;
  };
  for (Prefix p : {Prefix{"oci:", Transport::oci}, Prefix{"oci-archive:", Transport::oci_archive},
                   Prefix{"docker-archive:", Transport::docker_archive}}) {
    if (s.rfind(p.name, 0) != 0) continue;
    r.transport = p.t;
    std::string_view rest = s.substr(p.name.size());
    auto colon = rest.find(':');
    r.path = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      r.tag = std::string(rest.substr(colon + 1));
      if (r.tag.empty()) bad(s, "empty tag after path");
    }
    if (r.path.empty()) bad(s, "empty path");
    if (p.t == Transport::docker_archive && !r.tag.empty()) {
      // docker-archive names a docker reference ("alpine:3"): check it now.
      if (!is_valid(r.tag)) parse(r.tag);
    }
    return r;
  }
  if (auto sep = s.find("://"); sep != std::string_view::npos)
    bad(s, "unknown transport \"" + std::string(s.substr(0, sep)) + "\"");
  r.transport = Transport::store;
  r.ref = parse(s);
  return r;
}

}  // namespace ocikit::reference
