#pragma once
// ocikit::auth: registry authentication as docker and the distribution token
// spec do it: parse a 401's WWW-Authenticate challenge, answer it with Basic
// credentials or a Bearer token fetched from the realm with a per-repository
// scope, and cache tokens. Credentials come from --creds or find_credentials:
// $REGISTRY_AUTH_FILE, docker's config and credential helpers
// (credentials.hpp), $XDG_RUNTIME_DIR/containers/auth.json.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http.hpp"

namespace ocikit::auth {

/// One challenge of a WWW-Authenticate header: `Bearer realm="..",service=".."`.
struct Challenge {
  std::string scheme;  ///< lowercased: "basic", "bearer"
  std::map<std::string, std::string> params;  ///< keys lowercased, values unquoted
};

/// Parse a WWW-Authenticate header value into its challenges. Throws
/// Errc::invalid on a malformed quoted string.
std::vector<Challenge> parse_challenges(std::string_view header);

/// A user name and password (or identity token as password with user "<token>").
struct Credentials {
  std::string username;
  std::string password;
  bool empty() const { return username.empty() && password.empty(); }
  /// An identity token (an OAuth2 refresh token, docker's "identitytoken";
  /// helpers carry it with the username "<token>"): Bearer flows trade it
  /// for access tokens with the refresh_token grant instead of Basic auth.
  bool identity_token() const { return username == kIdentityTokenUser && !password.empty(); }
  static constexpr std::string_view kIdentityTokenUser = "<token>";
};

/// The OAuth2 client_id ocikit sends to token servers (docker sends "docker").
inline constexpr std::string_view kClientId = "ocikit";

/// Parse --creds "user:pass" (the password may contain ':'). Throws Errc::usage.
Credentials parse_creds_flag(std::string_view s);

/// Standard base64 encode/decode (decode throws Errc::invalid).
std::string base64_encode(std::string_view in);
std::string base64_decode(std::string_view in);

/// The credentials stored for `registry` ("host[:port]") in an auth file's
/// "auths" map (docker config.json or containers auth.json). Keys match as
/// docker does: exact host, "https://host", "http://host", "https://host/v1/",
/// and docker.io also as "https://index.docker.io/v1/". nullopt when none;
/// throws Errc::invalid on a malformed file.
std::optional<Credentials> lookup_in_auth_file(const std::string& path, const std::string& registry);

/// The credentials for `registry`, looked up in order: $REGISTRY_AUTH_FILE
/// (named on purpose, as skopeo and podman read it first), docker's config
/// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json: its
/// credHelpers[registry], else its credsStore, through the helper, else its
/// "auths"; see credentials.hpp), then $XDG_RUNTIME_DIR/containers/auth.json. Empty credentials when none.
/// Throws when a file is malformed or a credential helper fails (a helper
/// that has nothing for the registry is not a failure).
Credentials find_credentials(const std::string& registry);

/// The credentials a tool's flags choose for `registry`: --creds USER:PASS
/// when given, else --authfile FILE's entry alone (as skopeo's --authfile:
/// docker's config.json or containers' auth.json "auths"; anonymous when
/// it has none), else find_credentials(). Both flags at once is
/// Errc::usage; an --authfile that does not exist is Errc::not_found.
Credentials select_credentials(const std::string& creds_flag, const std::string& authfile, const std::string& registry);

/// The scope a token must carry for `repo`: "repository:REPO:pull" or
/// "repository:REPO:pull,push".
std::string repository_scope(std::string_view repo, bool push);

/// Answers registry challenges and remembers what worked. Thread-safe.
class Authenticator {
 public:
  /// Use `t` to reach token realms; `creds` may be empty (anonymous).
  Authenticator(http::Transport& t, Credentials creds, http::RetryPolicy retry = http::default_retry_policy());

  /// The Authorization header value to send for `scope` (a
  /// repository_scope(), or "" for registry-wide calls), "" when none is
  /// known yet.
  std::string authorization(const std::string& scope);

  /// Handle a 401 response for `scope`: fetch a Bearer token (or switch to
  /// Basic). Returns true when a retry may succeed. Throws
  /// Errc::unauthorized when the token endpoint refuses the credentials,
  /// or when a Basic challenge comes without credentials having helped.
  /// `sent` is the Authorization value the refused request carried: when
  /// another thread has stored a different token for `scope` meanwhile,
  /// that one is used rather than fetching again (parallel layer requests
  /// hitting their first 401 together make one token request, not N).
  bool handle_challenge(const http::Response& r, const std::string& scope, const std::string& sent = {});

  /// Ask token servers for an offline token as docker login does (GET with
  /// offline_token=true&client_id=ocikit and Basic auth); a "refresh_token"
  /// in the answer is kept for refresh_token(). Not used with an identity
  /// token (it already is one).
  void request_offline_token();
  /// The refresh token a token server gave since request_offline_token(),
  /// "" when none.
  std::string refresh_token();

 private:
  std::string fetch_token(const Challenge& c, const std::string& scope);

  http::Transport& transport_;
  Credentials creds_;
  http::RetryPolicy retry_;
  std::mutex mu_;
  std::mutex fetch_mu_;  // one token request at a time
  bool basic_ = false;  // the registry wants Basic
  bool offline_ = false;  // ask for an offline (refresh) token
  std::string refresh_token_;
  std::map<std::string, std::string> tokens_;  // scope -> "Bearer ..."
};

}  // namespace ocikit::auth
