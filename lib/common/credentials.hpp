#pragma once
// ocikit::credentials: docker's credential storage. The docker config file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) with its "auths"
// (base64 user:password per registry), "credsStore" (a helper for every
// registry) and "credHelpers" (a helper per registry, winning over
// credsStore), and the docker-credential-* helper protocol: a program
// `docker-credential-NAME` on $PATH, run as `NAME get|store|erase|list` with
// its request on stdin and its answer on stdout. `docker login` and
// `oci-run login` write what this module reads; auth::find_credentials looks
// here first.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/auth.hpp"

namespace ocikit::credentials {

/// The docker config file: $DOCKER_CONFIG/config.json, else
/// $HOME/.docker/config.json ("" when neither variable is set).
std::string docker_config_path();

/// The registry host a login names: "http(s)://" and any path dropped
/// ("https://127.0.0.1:5000/v2/" -> "127.0.0.1:5000"); docker.io,
/// index.docker.io and registry-1.docker.io are "docker.io". Throws
/// Errc::usage when nothing is left.
std::string normalize_registry(std::string_view registry);

/// The key docker stores `registry` (a normalized host) under, in "auths"
/// and in helpers: "https://index.docker.io/v1/" for docker.io, else the host.
std::string server_key(const std::string& registry);

/// What a docker config file says about credentials.
struct DockerConfig {
  std::string creds_store;  ///< "credsStore": a helper for every registry ("" when none)
  std::map<std::string, std::string> cred_helpers;  ///< "credHelpers": key -> helper name
  nlohmann::json auths = nlohmann::json::object();  ///< "auths", as in the file
};

/// Parse a docker config file's text. Throws Errc::invalid when it is not a
/// JSON object, or "auths", "credsStore" or "credHelpers" have the wrong type.
DockerConfig parse_docker_config(std::string_view text);

/// The helper name for `registry` (a normalized host): credHelpers under its
/// key or host (for docker.io also "docker.io", "index.docker.io"), else
/// credsStore; "" when none.
std::string helper_for(const DockerConfig& c, const std::string& registry);

/// The credentials in "auths" for `registry`, matched as docker does (see
/// auth::lookup_in_auth_file); an "identitytoken" wins (as user "<token>",
/// see auth::Credentials::identity_token); an entry without "auth" or
/// "identitytoken" (what a helper-backed login leaves) is none. Throws
/// Errc::invalid on a malformed entry.
std::optional<auth::Credentials> auths_lookup(const nlohmann::json& auths, const std::string& registry);

// ---- the helper protocol's messages ----

/// The JSON `store` reads: {"ServerURL","Username","Secret"}.
std::string helper_store_request(const std::string& server, const auth::Credentials& c);
/// Parse `get`'s answer {"ServerURL","Username","Secret"}. Throws
/// Errc::invalid when it is not such an object. nullopt when both the
/// username and the secret are empty.
std::optional<auth::Credentials> parse_helper_get(std::string_view out);
/// Parse `list`'s answer {"server URL": "username", ...}. Throws Errc::invalid.
std::map<std::string, std::string> parse_helper_list(std::string_view out);
/// Whether a helper's output says "credentials not found in native keychain"
/// (the protocol's not-found answer, with a non-zero exit).
bool is_not_found_answer(std::string_view out);

/// A credential helper `docker-credential-NAME`, run with a bounded output
/// and time. Every failure (not on $PATH, non-zero exit other than
/// not-found, output that is not the protocol's, too much output, no answer
/// in time) throws one line naming the program, e.g.
/// "credential helper docker-credential-foo: not found in PATH".
class Helper {
 public:
  explicit Helper(std::string name, int timeout_ms = 30000, size_t max_output = 1 << 20);
  /// "docker-credential-NAME".
  const std::string& program() const { return program_; }
  /// The credentials stored for `server`; nullopt when it has none.
  std::optional<auth::Credentials> get(const std::string& server) const;
  /// Store credentials for `server`.
  void store(const std::string& server, const auth::Credentials& c) const;
  /// Remove them; false when there were none.
  bool erase(const std::string& server) const;
  /// Every server it holds credentials for, with the username.
  std::map<std::string, std::string> list() const;

 private:
  struct Answer {
    int status;
    std::string out;
  };
  // Run `action` with `input` on stdin; `secret` is kept out of error messages.
  Answer call(const std::string& action, const std::string& input, const std::string& secret = "") const;
  [[noreturn]] void failed(const std::string& action) const;

  std::string name_;
  std::string program_;
  int timeout_ms_;
  size_t max_output_;
};

/// The credentials the docker config holds for `registry` (a host as in a
/// reference): through credHelpers or credsStore when one applies (its
/// failure throws; its not-found falls through), else from "auths".
/// nullopt when none, or when there is no config file.
std::optional<auth::Credentials> lookup(const std::string& registry);

/// Where `store_login` put the credentials.
enum class StoredIn { config, helper };

/// Store credentials for `registry` as docker login does: through its helper
/// (config.json then gets an empty "auths" entry) or base64 in "auths"
/// (an identity token as "identitytoken", without "auth"). The
/// file is replaced atomically, mode 0600 (its directory made 0700 when
/// missing), every other key kept. Returns where they went.
StoredIn store_login(const std::string& registry, const auth::Credentials& c);

/// Remove the credentials of `registry` (its helper's and its "auths"
/// entries under every spelling docker accepts). False when there were none.
bool erase_login(const std::string& registry);

}  // namespace ocikit::credentials
