// `login` and `logout` (manage.hpp): docker's commands, their prompts and
// messages. The credentials are checked with the registry through
// lib/common's registry client (its Authenticator answers Basic and Bearer
// challenges) and stored by lib/common/credentials (config.json or a
// docker-credential-* helper).
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/auth.hpp"
#include "common/credentials.hpp"
#include "common/error.hpp"
#include "common/http.hpp"
#include "common/registry.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {
namespace {

// The terminal's settings while a password is read without echo, restored
// by a signal that ends the process meanwhile.
struct termios g_saved_tty;
volatile sig_atomic_t g_echo_off = 0;

void restore_tty_and_die(int sig) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

std::string read_line(const std::string& prompt) {
  std::cout << prompt << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) {
    std::cout << "\n";
    fail("login: no input");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string read_password(const std::string& prompt) {
  if (::tcgetattr(STDIN_FILENO, &g_saved_tty) != 0) throw_errno("login: read the terminal's settings");
  struct termios quiet = g_saved_tty;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  struct sigaction sa {
  }, old[4];
  sa.sa_handler = restore_tty_and_die;
  const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  // (A signal this process ignores stays ignored.)
  for (int i = 0; i < 4; ++i) {
    ::sigaction(sigs[i], nullptr, &old[i]);
    if (old[i].sa_handler != SIG_IGN) ::sigaction(sigs[i], &sa, nullptr);
  }
  g_echo_off = 1;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::string line;
  bool got = false;
  try {
    std::cout << prompt << std::flush;
    got = static_cast<bool>(std::getline(std::cin, line));
  } catch (...) {
  }
  ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
  g_echo_off = 0;
  for (int i = 0; i < 4; ++i) ::sigaction(sigs[i], &old[i], nullptr);
  std::cout << "\n";
  if (!got) fail("login: no input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// GET /v2/ with the credentials; the registry's 401 challenge decides
// between Basic and the token flow. In the token flow the token server is
// asked for an offline token, as docker login does: the refresh token it
// may give (an identity token) is returned, "" when none.
std::string verify(const std::string& host, const auth::Credentials& creds, const LoginOptions& o) {
  http::CurlTransport transport(http::TlsOptions{o.tls_verify, o.cert_dir});
  registry::Client client(host, transport, creds);
  client.authenticator().request_offline_token();
  http::Request req;
  req.url = "/v2/";
  http::Response r;
  try {
    r = client.send(req, "");
  } catch (const Error& e) {
    if (e.code() == Errc::unauthorized)
      fail(Errc::unauthorized, "login " + host + ": unauthorized: incorrect username or password");
    fail(e.code(), "login " + host + ": " + e.what());
  }
  if (r.status == 401 || r.status == 403)
    fail(Errc::unauthorized, "login " + host + ": unauthorized: incorrect username or password");
  if (!r.ok()) fail("login " + host + ": " + http::describe_status(r));
  return client.authenticator().refresh_token();
}

}  // namespace

int registry_login(const LoginOptions& o) {
  std::string host = credentials::normalize_registry(o.registry.empty() ? "docker.io" : o.registry);
  if (o.password && o.password_stdin) fail(Errc::usage, "--password and --password-stdin are mutually exclusive");
  auth::Credentials creds{o.username, o.password.value_or("")};
  if (o.password_stdin) {
    if (o.username.empty()) fail(Errc::usage, "must provide --username with --password-stdin");
    creds.password.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (!creds.password.empty() && creds.password.back() == '\n') creds.password.pop_back();
    if (!creds.password.empty() && creds.password.back() == '\r') creds.password.pop_back();
  } else if (o.password) {
    std::cerr << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
  }

  if (o.verify_only) {
    if (creds.username.empty() || (!o.password && !o.password_stdin))
      fail(Errc::usage, "--verify-only needs --username and a password (--password-stdin)");
    nlohmann::json j{{"Status", "Login Succeeded"}};
    if (std::string token = verify(host, creds, o); !token.empty()) j["IdentityToken"] = token;
    std::cout << j.dump() << std::endl;
    return 0;
  }
  std::optional<auth::Credentials> stored;
  if (o.username.empty() && !o.password) {
    stored = credentials::lookup(host);
    // As docker: stored credentials are tried first, and only prompted for
    // again when the registry refuses them.
    if (stored && !stored->empty()) {
      std::cout << "Authenticating with existing credentials..." << std::endl;
      try {
        verify(host, *stored, o);
        std::cout << "Login Succeeded" << std::endl;
        return 0;
      } catch (const Error& e) {
        if (e.code() != Errc::unauthorized) throw;
        std::cerr << "Login did not succeed, error: " << e.what() << "\n";
      }
    }
  }
  if (creds.username.empty() || (!o.password && !o.password_stdin)) {
    if (!::isatty(STDIN_FILENO)) fail("cannot perform an interactive login from a non TTY device");
    if (creds.username.empty()) {
      std::string def = stored && stored->username != "<token>" ? stored->username : "";
      creds.username = read_line(def.empty() ? "Username: " : "Username (" + def + "): ");
      if (creds.username.empty()) creds.username = def;
      if (creds.username.empty()) fail(Errc::usage, "a username is required");
    }
    if (!o.password && !o.password_stdin) {
      creds.password = read_password("Password: ");
      if (creds.password.empty()) fail(Errc::usage, "a password is required");
    }
  }
  // As docker: an identity token is stored instead of the password.
  if (std::string token = verify(host, creds, o); !token.empty())
    creds = auth::Credentials{std::string(auth::Credentials::kIdentityTokenUser), token};
  std::string path = credentials::docker_config_path();
  if (credentials::store_login(host, creds) == credentials::StoredIn::config)
    std::cerr << "WARNING! Your password will be stored unencrypted in " << path
              << ".\nConfigure a credential helper to remove this warning.\n";
  std::cout << "Login Succeeded" << std::endl;
  return 0;
}

int registry_logout(const std::string& registry) {
  std::string host = credentials::normalize_registry(registry.empty() ? "docker.io" : registry);
  // docker names Docker Hub by its key, other registries by their host.
  std::string shown = credentials::server_key(host);
  if (!credentials::erase_login(host)) {
    std::cout << "Not logged in to " << shown << std::endl;
    return 0;
  }
  std::cout << "Removing login credentials for " << shown << std::endl;
  return 0;
}

}  // namespace ocikit::manage
