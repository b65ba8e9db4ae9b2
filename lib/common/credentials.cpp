// docker's credential storage and helper protocol (see credentials.hpp).
#include "common/credentials.hpp"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace ocikit::credentials {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view kDockerHubKey = "https://index.docker.io/v1/";

bool is_docker_hub(const std::string& registry) {
  return registry == "docker.io" || registry == "index.docker.io" || registry == "registry-1.docker.io";
}

// Every "auths" key docker accepts for `registry`, the preferred first.
std::vector<std::string> auth_keys(const std::string& registry) {
  std::vector<std::string> keys;
  if (is_docker_hub(registry)) keys.emplace_back(kDockerHubKey);
  for (std::string k : {registry, "https://" + registry, "http://" + registry, "https://" + registry + "/v1/",
                        "https://" + registry + "/v2/"})
    keys.push_back(k);
  if (is_docker_hub(registry))
    for (const char* k : {"index.docker.io", "docker.io", "https://index.docker.io", "registry-1.docker.io"})
      keys.emplace_back(k);
  return keys;
}

// One printable line of a helper's output, for an error message.
std::string first_line(const std::string& out, const std::string& err) {
  for (const std::string* s : {&out, &err}) {
    size_t b = 0;
    while (b < s->size()) {
      size_t e = s->find('\n', b);
      if (e == std::string::npos) e = s->size();
      std::string line;
      for (size_t i = b; i < e && line.size() < 200; ++i) {
        unsigned char c = static_cast<unsigned char>((*s)[i]);
        if (c == '\r') continue;
        line += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      line.erase(0, line.find_first_not_of(' ') == std::string::npos ? line.size() : line.find_first_not_of(' '));
      if (!line.empty()) return line;
      b = e + 1;
    }
  }
  return "";
}

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// An exclusive flock on the config's directory for a read-modify-write of
// config.json (two logins at once must not lose one of them).
class DirLock {
 public:
  explicit DirLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!fd_) throw_errno("open " + dir);
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw_errno("lock " + dir);
  }

 private:
  fs::UniqueFd fd_;
};

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The file to replace: config.json itself, or what it links to (docker
// writes through a symlink too).
std::string write_target(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf)) return buf;
  return path;
}

ordered_json read_ordered(const std::string& path) {
  if (!fs::exists(path)) return ordered_json::object();
  return with_context(path, [&] {
    std::string text = fs::read_file(path);
    if (trim(text).empty()) return ordered_json::object();
    auto j = ordered_json::parse(text);
    if (!j.is_object()) fail(Errc::invalid, "not a JSON object");
    return j;
  });
}

void write_config(const std::string& path, const ordered_json& j) {
  fs::write_file_atomic(write_target(path), j.dump(1, '\t') + "\n", 0600);
}

}  // namespace

std::string docker_config_path() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.docker/config.json";
  return "";
}

std::string normalize_registry(std::string_view registry) {
  std::string_view s = registry;
  for (std::string_view scheme : {"https://", "http://"})
    if (s.starts_with(scheme)) s.remove_prefix(scheme.size());
  if (auto slash = s.find('/'); slash != std::string_view::npos) s = s.substr(0, slash);
  std::string host(s);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host.empty()) fail(Errc::usage, "invalid registry \"" + std::string(registry) + "\"");
  if (is_docker_hub(host)) return "docker.io";
  return host;
}

std::string server_key(const std::string& registry) {
  return is_docker_hub(registry) ? std::string(kDockerHubKey) : registry;
}

DockerConfig parse_docker_config(std::string_view text) {
  DockerConfig c;
  if (trim(text).empty()) return c;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) fail(Errc::invalid, "not valid JSON");
  if (!j.is_object()) fail(Errc::invalid, "not a JSON object");
  if (auto it = j.find("auths"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) fail(Errc::invalid, "\"auths\" is not an object");
    c.auths = *it;
  }
  if (auto it = j.find("credsStore"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) fail(Errc::invalid, "\"credsStore\" is not a string");
    c.creds_store = it->get<std::string>();
  }
  if (auto it = j.find("credHelpers"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) fail(Errc::invalid, "\"credHelpers\" is not an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) fail(Errc::invalid, "\"credHelpers\" entry for " + k + " is not a string");
      c.cred_helpers[k] = v.get<std::string>();
    }
  }
  return c;
}

std::string helper_for(const DockerConfig& c, const std::string& registry) {
  for (const auto& k : auth_keys(registry))
    if (auto it = c.cred_helpers.find(k); it != c.cred_helpers.end() && !it->second.empty()) return it->second;
  return c.creds_store;
}

std::optional<auth::Credentials> auths_lookup(const nlohmann::json& auths, const std::string& registry) {
  if (!auths.is_object()) fail(Errc::invalid, "\"auths\" is not an object");
  for (const auto& k : auth_keys(registry)) {
    auto it = auths.find(k);
    if (it == auths.end() || !it->is_object()) continue;
    // An identity token wins over "auth" (docker then uses the token, and
    // its "auth" holds at most the user name).
    if (auto t = it->find("identitytoken"); t != it->end() && !t->is_null()) {
      if (!t->is_string()) fail(Errc::invalid, "identitytoken entry for " + k + " is not a string");
      if (!t->get<std::string>().empty())
        return auth::Credentials{std::string(auth::Credentials::kIdentityTokenUser), t->get<std::string>()};
    }
    auto a = it->find("auth");
    if (a == it->end() || !a->is_string() || a->get<std::string>().empty()) continue;
    std::string dec = auth::base64_decode(a->get<std::string>());
    auto c = dec.find(':');
    if (c == std::string::npos) fail(Errc::invalid, "auth entry for " + k + " is not base64 of user:password");
    return auth::Credentials{dec.substr(0, c), dec.substr(c + 1)};
  }
  return std::nullopt;
}

std::string helper_store_request(const std::string& server, const auth::Credentials& c) {
  return nlohmann::json{{"ServerURL", server}, {"Username", c.username}, {"Secret", c.password}}.dump();
}

std::optional<auth::Credentials> parse_helper_get(std::string_view out) {
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(Errc::invalid, "the answer is not a JSON object");
  auto field = [&](const char* k, bool required) -> std::string {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) {
      if (required) fail(Errc::invalid, std::string("the answer has no \"") + k + "\"");
      return "";
    }
    if (!it->is_string()) fail(Errc::invalid, std::string("the answer's \"") + k + "\" is not a string");
    return it->get<std::string>();
  };
  field("ServerURL", false);
  auth::Credentials c{field("Username", false), field("Secret", true)};
  if (c.empty()) return std::nullopt;
  return c;
}

std::map<std::string, std::string> parse_helper_list(std::string_view out) {
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(Errc::invalid, "the answer is not a JSON object");
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) fail(Errc::invalid, "the answer's entry for " + k + " is not a string");
    m[k] = v.get<std::string>();
  }
  return m;
}

bool is_not_found_answer(std::string_view out) { return trim(out) == "credentials not found in native keychain"; }

Helper::Helper(std::string name, int timeout_ms, size_t max_output)
    : name_(std::move(name)), program_("docker-credential-" + name_), timeout_ms_(timeout_ms), max_output_(max_output) {
  if (name_.empty() || name_.find('/') != std::string::npos)
    fail(Errc::invalid, "credential helper \"" + name_ + "\": not a helper name");
}

Helper::Answer Helper::call(const std::string& action, const std::string& input, const std::string& secret) const {
  process::Bounds b;
  b.input = input;
  b.max_output = max_output_;
  b.timeout_ms = timeout_ms_;
  process::Output r;
  try {
    log::debug("running " + program_ + " " + action);
    r = process::capture_bounded({.argv = {program_, action}}, b);
  } catch (const Error& e) {
    if (e.sys_errno() == ENOENT) fail("credential helper " + program_ + ": not found in PATH");
    fail("credential helper " + program_ + ": " + e.what());
  }
  if (r.timed_out)
    fail("credential helper " + program_ + ": no answer to " + action + " within " +
         (timeout_ms_ % 1000 == 0 ? std::to_string(timeout_ms_ / 1000) + " s" : std::to_string(timeout_ms_) + " ms") +
         " (killed)");
  if (r.too_large)
    fail("credential helper " + program_ + ": " + action + " wrote more than " + std::to_string(max_output_ >> 10) +
         " KiB (killed)");
  if (r.status != 0 && !is_not_found_answer(r.out)) {
    std::string why =
        r.status > 128 ? "killed by signal " + std::to_string(r.status - 128) : "exit " + std::to_string(r.status);
    std::string line = first_line(r.out, r.err);
    // A helper that fails may echo what it was given: never the secret.
    if (!secret.empty())
      for (size_t at; (at = line.find(secret)) != std::string::npos;) line.replace(at, secret.size(), "***");
    fail("credential helper " + program_ + ": " + action + " failed (" + why + ")" + (line.empty() ? "" : ": " + line));
  }
  return {r.status, std::move(r.out)};
}

void Helper::failed(const std::string& action) const {
  fail("credential helper " + program_ + ": " + action +
       ": invalid answer (not the credential helper protocol's JSON)");
}

std::optional<auth::Credentials> Helper::get(const std::string& server) const {
  Answer a = call("get", server);
  if (a.status != 0) return std::nullopt;  // not found
  try {
    return parse_helper_get(a.out);
  } catch (const Error&) {
    failed("get");
  }
}

void Helper::store(const std::string& server, const auth::Credentials& c) const {
  Answer a = call("store", helper_store_request(server, c), c.password);
  if (a.status != 0) fail("credential helper " + program_ + ": store failed: credentials not found in native keychain");
}

bool Helper::erase(const std::string& server) const { return call("erase", server).status == 0; }

std::map<std::string, std::string> Helper::list() const {
  Answer a = call("list", "");
  if (a.status != 0) return {};
  try {
    return parse_helper_list(a.out);
  } catch (const Error&) {
    failed("list");
  }
}

std::optional<auth::Credentials> lookup(const std::string& registry) {
  std::string path = docker_config_path();
  if (path.empty() || !fs::exists(path)) return std::nullopt;
  DockerConfig c = with_context(path, [&] { return parse_docker_config(fs::read_file(path)); });
  if (std::string h = helper_for(c, registry); !h.empty()) {
    if (auto found = Helper(h).get(server_key(registry))) {
      log::debug("using credentials for " + registry + " from docker-credential-" + h);
      return found;
    }
  }
  auto found = with_context(path, [&] { return auths_lookup(c.auths, registry); });
  if (found) log::debug("using credentials for " + registry + " from " + path);
  return found;
}

StoredIn store_login(const std::string& registry, const auth::Credentials& c) {
  std::string path = docker_config_path();
  if (path.empty()) fail("cannot store credentials: neither $DOCKER_CONFIG nor $HOME is set");
  std::string dir = dir_of(path);
  if (!fs::exists(dir)) fs::mkdir_p(dir, 0700);
  DirLock lock(dir);
  ordered_json j = read_ordered(path);
  DockerConfig cfg = with_context(path, [&] { return parse_docker_config(j.dump()); });
  std::string key = server_key(registry);
  std::string helper = helper_for(cfg, registry);
  if (!j.contains("auths") || j["auths"].is_null()) j["auths"] = ordered_json::object();
  if (!helper.empty()) {
    Helper(helper).store(key, c);
    // As docker: the file names the registry, the helper holds the secret.
    j["auths"][key] = ordered_json::object();
  } else {
    // An identity token goes alone in "identitytoken" (no password to keep).
    j["auths"][key] = c.identity_token() ? ordered_json{{"identitytoken", c.password}}
                                         : ordered_json{{"auth", auth::base64_encode(c.username + ":" + c.password)}};
  }
  write_config(path, j);
  return helper.empty() ? StoredIn::config : StoredIn::helper;
}

bool erase_login(const std::string& registry) {
  std::string path = docker_config_path();
  if (path.empty() || !fs::exists(path)) return false;
  DirLock lock(dir_of(path));
  ordered_json j = read_ordered(path);
  DockerConfig cfg = with_context(path, [&] { return parse_docker_config(j.dump()); });
  bool removed = false;
  if (std::string h = helper_for(cfg, registry); !h.empty()) removed = Helper(h).erase(server_key(registry));
  bool changed = false;
  if (auto it = j.find("auths"); it != j.end() && it->is_object())
    for (const auto& k : auth_keys(registry))
      if (it->erase(k) > 0) changed = true;
  if (changed) write_config(path, j);
  return removed || changed;
}

}  // namespace ocikit::credentials
