// Registry authentication (see auth.hpp).
#include "common/auth.hpp"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/credentials.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::auth {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
      std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

// RFC 7235: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ],
// several challenges separated by commas.
std::vector<Challenge> parse_challenges(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto read_token = [&] {
    size_t b = i;
    while (i < h.size() && is_token_char(h[i])) ++i;
    return std::string(h.substr(b, i - b));
  };
  while (i < h.size()) {
    skip_ws();
    if (i < h.size() && h[i] == ',') {
      ++i;
      continue;
    }
    std::string word = read_token();
    if (word.empty()) {
      if (i >= h.size()) break;
      fail(Errc::invalid, "malformed WWW-Authenticate header \"" + std::string(h) + "\"");
    }
    skip_ws();
    if (i < h.size() && h[i] == '=' && !out.empty()) {
      // An auth-param of the current challenge.
      ++i;
      skip_ws();
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        bool closed = false;
        while (i < h.size()) {
          char c = h[i++];
          if (c == '\\' && i < h.size()) {
            value += h[i++];
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            value += c;
          }
        }
        if (!closed)
          fail(Errc::invalid,
               "malformed WWW-Authenticate header \"" + std::string(h) + "\": unterminated quoted string");
      } else {
        value = read_token();
      }
      out.back().params[lower(word)] = value;
      continue;
    }
    out.push_back(Challenge{lower(word), {}});
  }
  return out;
}

Credentials parse_creds_flag(std::string_view s) {
  auto c = s.find(':');
  if (c == std::string_view::npos || c == 0) fail(Errc::usage, "--creds must be USER:PASSWORD");
  return {std::string(s.substr(0, c)), std::string(s.substr(c + 1))};
}

std::string base64_encode(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) fail(Errc::invalid, "invalid base64 data");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::optional<Credentials> lookup_in_auth_file(const std::string& path, const std::string& registry) {
  if (!fs::exists(path)) return std::nullopt;
  return with_context(path, [&]() -> std::optional<Credentials> {
    auto j = nlohmann::json::parse(fs::read_file(path));
    if (!j.is_object() || !j.contains("auths")) return std::nullopt;
    return credentials::auths_lookup(j["auths"], registry);
  });
}

Credentials find_credentials(const std::string& registry) {
  auto from_file = [&](const std::string& f) -> std::optional<Credentials> {
    auto c = lookup_in_auth_file(f, registry);
    if (c) log::debug("using credentials for " + registry + " from " + f);
    return c;
  };
  // $REGISTRY_AUTH_FILE, named on purpose, first (as skopeo and podman);
  // then docker's config: its credHelpers, credsStore, auths; then the
  // containers auth.json of the session.
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f)
    if (auto c = from_file(f)) return *c;
  if (auto c = credentials::lookup(registry)) return *c;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x)
    if (auto c = from_file(std::string(x) + "/containers/auth.json")) return *c;
  return {};
}

Credentials select_credentials(const std::string& creds_flag, const std::string& authfile,
                               const std::string& registry) {
  if (!creds_flag.empty() && !authfile.empty()) fail(Errc::usage, "--creds and --authfile are mutually exclusive");
  if (!creds_flag.empty()) return parse_creds_flag(creds_flag);
  if (authfile.empty()) return find_credentials(registry);
  if (!fs::exists(authfile)) fail(Errc::not_found, "--authfile " + authfile + ": no such file");
  return lookup_in_auth_file(authfile, registry).value_or(Credentials{});
}

std::string repository_scope(std::string_view repo, bool push) {
  return "repository:" + std::string(repo) + (push ? ":pull,push" : ":pull");
}

Authenticator::Authenticator(http::Transport& t, Credentials creds, http::RetryPolicy retry)
    : transport_(t), creds_(std::move(creds)), retry_(retry) {}

std::string Authenticator::authorization(const std::string& scope) {
  std::lock_guard lk(mu_);
  if (auto it = tokens_.find(scope); it != tokens_.end()) return it->second;
  if (basic_) return "Basic " + base64_encode(creds_.username + ":" + creds_.password);
  return "";
}

bool Authenticator::handle_challenge(const http::Response& r, const std::string& scope, const std::string& sent) {
  auto challenges = parse_challenges(r.header("WWW-Authenticate"));
  for (const auto& c : challenges) {
    if (c.scheme == "bearer") {
      std::lock_guard fetching(fetch_mu_);
      {
        std::lock_guard lk(mu_);
        auto it = tokens_.find(scope);
        if (it != tokens_.end() && it->second != sent) return true;  // refreshed by another thread
        tokens_.erase(scope);  // a cached token was refused (expired or too narrow)
      }
      std::string tok = fetch_token(c, scope);
      std::lock_guard lk(mu_);
      tokens_[scope] = "Bearer " + tok;
      return true;
    }
  }
  for (const auto& c : challenges) {
    if (c.scheme == "basic") {
      std::lock_guard lk(mu_);
      if (creds_.empty()) fail(Errc::unauthorized, "authentication required (no credentials for this registry)");
      if (basic_) return false;
      basic_ = true;
      return true;
    }
  }
  return false;
}

void Authenticator::request_offline_token() {
  std::lock_guard lk(mu_);
  offline_ = true;
}

std::string Authenticator::refresh_token() {
  std::lock_guard lk(mu_);
  return refresh_token_;
}

std::string Authenticator::fetch_token(const Challenge& c, const std::string& scope) {
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty()) fail(Errc::invalid, "bearer challenge without a realm");
  const std::string& where = realm->second;
  std::string service;
  if (auto s = c.params.find("service"); s != c.params.end()) service = s->second;
  std::string sc = scope.empty() ? (c.params.count("scope") ? c.params.at("scope") : "") : scope;
  std::vector<std::string> scopes;
  for (size_t b = 0; b < sc.size();) {
    size_t e = sc.find(' ', b);
    if (e == std::string::npos) e = sc.size();
    if (e > b) scopes.push_back(sc.substr(b, e - b));
    b = e + 1;
  }
  bool offline;
  {
    std::lock_guard lk(mu_);
    offline = offline_ && !creds_.empty() && !creds_.identity_token();
  }
  // The OAuth2 form (the token spec's "OAuth2 Token Authentication"):
  // POST to the realm, form-encoded, the scopes space-separated in one
  // parameter.
  auto oauth_form = [&](const std::string& grant) {
    std::string joined;
    for (const auto& s : scopes) joined += (joined.empty() ? "" : " ") + s;
    http::Request r;
    r.method = "POST";
    r.url = where;
    r.body = grant + "&client_id=" + std::string(kClientId);
    if (!service.empty()) r.body += "&service=" + url_escape(service);
    if (!joined.empty()) r.body += "&scope=" + url_escape(joined);
    r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return r;
  };
  // OAuth2 refuses a grant with 400 invalid_grant, a token server with 401/403.
  auto refused = [](const http::Response& r) {
    if (r.status == 401 || r.status == 403) return true;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return r.status == 400 && j.is_object() && j.value("error", nlohmann::json()) == "invalid_grant";
  };
  std::optional<http::Response> got;
  http::Request req;
  if (creds_.identity_token()) {
    // The refresh_token grant, as docker does with an identity token.
    req = oauth_form("grant_type=refresh_token&refresh_token=" + url_escape(creds_.password));
    log::debug("fetching token from " + where + " with the identity token (refresh_token grant)");
  } else {
    if (offline) {
      // docker login: the password grant with access_type=offline first;
      // a server without the OAuth2 POST endpoint gets the GET below.
      http::Request p = oauth_form("grant_type=password&username=" + url_escape(creds_.username) +
                                   "&password=" + url_escape(creds_.password) + "&access_type=offline");
      log::debug("fetching an offline token from " + where + " (password grant)");
      http::Response pr = http::perform_with_retry(transport_, p, retry_);
      if (pr.ok()) got = std::move(pr);
      else if (refused(pr)) fail(Errc::unauthorized, "token endpoint " + where + ": " + http::describe_status(pr));
      else
        log::debug("token endpoint " + where + ": no OAuth2 password grant (" + http::describe_status(pr) +
                   "), using GET");
    }
    std::string q;
    if (!service.empty()) q += "service=" + url_escape(service);
    // Several scopes (a mount needs push here and pull there) are separate
    // scope parameters, as the token spec and docker send them.
    for (const auto& s : scopes) q += (q.empty() ? "" : "&") + std::string("scope=") + url_escape(s);
    if (offline) q += std::string(q.empty() ? "" : "&") + "offline_token=true&client_id=" + std::string(kClientId);
    req.url = where;
    if (!q.empty()) req.url += (where.find('?') == std::string::npos ? "?" : "&") + q;
    if (!creds_.empty())
      req.headers.emplace_back("Authorization", "Basic " + base64_encode(creds_.username + ":" + creds_.password));
    if (!got) log::debug("fetching token from " + req.url);
  }
  http::Response resp = got ? std::move(*got) : http::perform_with_retry(transport_, req, retry_);
  if (creds_.identity_token() && !resp.ok()) {
    // A refused token (401, 403, or OAuth2's 400 invalid_grant) means log in
    // again; another status means the server has no OAuth2 POST endpoint
    // (docker falls back to GET only with a password, which is not kept).
    if (refused(resp))
      fail(
          Errc::unauthorized,
          "token endpoint " + where + " refused the identity token: " + http::describe_status(resp) + "; log in again");
    fail("token endpoint " + where +
         " does not accept the OAuth2 POST form needed with an identity token: " + http::describe_status(resp));
  }
  if (resp.status == 401 || resp.status == 403)
    fail(Errc::unauthorized, "token endpoint " + where + ": " + http::describe_status(resp));
  if (!resp.ok()) fail("token endpoint " + where + ": " + http::describe_status(resp));
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (!j.is_object()) fail(Errc::invalid, "token endpoint " + where + ": response is not a JSON object");
  if (offline)
    if (auto r = j.find("refresh_token"); r != j.end() && r->is_string() && !r->get<std::string>().empty()) {
      std::lock_guard lk(mu_);
      refresh_token_ = r->get<std::string>();
    }
  for (const char* k : {"token", "access_token"})
    if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()) return j[k].get<std::string>();
  fail(Errc::invalid, "token endpoint " + where + ": response has no token");
}

}  // namespace ocikit::auth
