#include "common/auth.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <tuple>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "fake_transport.hpp"

using namespace ocikit;
using testing::FakeTransport;
using testing::resp;

TEST_CASE("auth: parse bearer and basic challenges") {
  auto cs = auth::parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull")");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "bearer");
  CHECK(cs[0].params["realm"] == "https://auth.docker.io/token");
  CHECK(cs[0].params["service"] == "registry.docker.io");
  CHECK(cs[0].params["scope"] == "repository:library/alpine:pull");

  cs = auth::parse_challenges(R"(Basic realm="Registry Realm", Bearer realm="x\"y", error=invalid_token)");
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].scheme == "basic");
  CHECK(cs[0].params["realm"] == "Registry Realm");
  CHECK(cs[1].params["realm"] == "x\"y");
  CHECK(cs[1].params["error"] == "invalid_token");

  CHECK_THROWS_WITH(auth::parse_challenges(R"(Bearer realm="open)"),
                    "malformed WWW-Authenticate header \"Bearer realm=\"open\": unterminated quoted string");
}

TEST_CASE("auth: base64 round trips") {
  for (const char* s : {"", "a", "ab", "abc", "user:pa:ss", "\xff\x00\x10"}) {
    CAPTURE(s);
    CHECK(auth::base64_decode(auth::base64_encode(s)) == s);
  }
  CHECK(auth::base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK_THROWS_WITH(auth::base64_decode("a*b"), "invalid base64 data");
}

TEST_CASE("auth: --creds parsing") {
  auto c = auth::parse_creds_flag("bob:se:cret");
  CHECK(c.username == "bob");
  CHECK(c.password == "se:cret");
  CHECK_THROWS_WITH(auth::parse_creds_flag("bob"), "--creds must be USER:PASSWORD");
}

TEST_CASE("auth: credentials from auth files in docker's order") {
  char tmpl[] = "/tmp/okt-registry-authXXXXXX";
  std::string dir = mkdtemp(tmpl);
  fs::write_file_atomic(dir + "/reg.json", R"({"auths":{"127.0.0.1:5000":{"auth":"YTpi"}}})");
  fs::mkdir_p(dir + "/home/.docker");
  fs::write_file_atomic(dir + "/home/.docker/config.json",
                        R"({"auths":{"https://index.docker.io/v1/":{"auth":"ZG9jazpodWI="},"q.io":{"auth":"eDp5"}}})");
  setenv("REGISTRY_AUTH_FILE", (dir + "/reg.json").c_str(), 1);
  setenv("XDG_RUNTIME_DIR", (dir + "/none").c_str(), 1);
  unsetenv("DOCKER_CONFIG");
  setenv("HOME", (dir + "/home").c_str(), 1);
  auto c = auth::find_credentials("127.0.0.1:5000");
  CHECK(c.username == "a");
  CHECK(c.password == "b");
  c = auth::find_credentials("docker.io");
  CHECK(c.username == "dock");
  CHECK(c.password == "hub");
  c = auth::find_credentials("q.io");
  CHECK(c.username == "x");
  CHECK(auth::find_credentials("other.io").empty());
  fs::write_file_atomic(dir + "/reg.json", "{nope");
  CHECK_THROWS_AS(auth::find_credentials("127.0.0.1:5000"), Error);
  unsetenv("REGISTRY_AUTH_FILE");
  fs::remove_all(dir);
}

TEST_CASE("auth: --authfile alone decides, --creds wins, both at once is a usage error") {
  char tmpl[] = "/tmp/okt-registry-authfileXXXXXX";
  std::string dir = mkdtemp(tmpl);
  fs::write_file_atomic(dir + "/a.json",
                        R"({"auths":{"127.0.0.1:5000":{"auth":"YTpi"},"tok.io":{"identitytoken":"rt-1"}}})");
  fs::mkdir_p(dir + "/home/.docker");
  fs::write_file_atomic(dir + "/home/.docker/config.json", R"({"auths":{"other.io":{"auth":"eDp5"}}})");
  unsetenv("REGISTRY_AUTH_FILE");
  unsetenv("DOCKER_CONFIG");
  setenv("XDG_RUNTIME_DIR", (dir + "/none").c_str(), 1);
  setenv("HOME", (dir + "/home").c_str(), 1);
  auto c = auth::select_credentials("", dir + "/a.json", "127.0.0.1:5000");
  CHECK(c.username == "a");
  CHECK(c.password == "b");
  c = auth::select_credentials("", dir + "/a.json", "tok.io");
  CHECK(c.identity_token());
  CHECK(c.password == "rt-1");
  // Nothing for the registry in the file: anonymous, docker's config not consulted.
  CHECK(auth::select_credentials("", dir + "/a.json", "other.io").empty());
  CHECK(auth::select_credentials("", "", "other.io").username == "x");
  CHECK(auth::select_credentials("u:p", "", "other.io").username == "u");
  try {
    auth::select_credentials("u:p", dir + "/a.json", "other.io");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::usage);
    CHECK(std::string(e.what()) == "--creds and --authfile are mutually exclusive");
  }
  try {
    auth::select_credentials("", dir + "/missing.json", "other.io");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()) == "--authfile " + dir + "/missing.json: no such file");
  }
  fs::remove_all(dir);
}

TEST_CASE("auth: bearer token fetched per scope and cached") {
  FakeTransport t;
  int token_calls = 0;
  t.handler = [&](const http::Request& r) {
    ++token_calls;
    CHECK(r.url == "https://auth.example/token?service=reg&scope=repository%3Alib%2Fa%3Apull");
    CHECK(r.headers.at(0).second == "Basic " + auth::base64_encode("u:p"));
    return resp(200, R"({"token":"T1"})");
  };
  auth::Authenticator a(t, {"u", "p"}, {2, 1, 1});
  std::string scope = auth::repository_scope("lib/a", false);
  CHECK(a.authorization(scope) == "");
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token",service="reg")"}});
  CHECK(a.handle_challenge(challenge, scope));
  CHECK(a.authorization(scope) == "Bearer T1");
  CHECK(a.authorization(auth::repository_scope("lib/b", true)) == "");
  CHECK(token_calls == 1);
}

TEST_CASE("auth: a 401 answered by another thread meanwhile reuses its token") {
  FakeTransport t;
  int token_calls = 0;
  t.handler = [&](const http::Request&) {
    ++token_calls;
    return resp(200, "{\"token\":\"T" + std::to_string(token_calls) + "\"}");
  };
  auth::Authenticator a(t, {}, {1, 1, 1});
  std::string scope = auth::repository_scope("lib/a", false);
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://a/t")"}});
  // Two requests went out with no token; the first 401 fetches T1 ...
  CHECK(a.handle_challenge(challenge, scope, ""));
  CHECK(a.authorization(scope) == "Bearer T1");
  // ... the second, also sent without a token, uses T1 rather than fetching.
  CHECK(a.handle_challenge(challenge, scope, ""));
  CHECK(token_calls == 1);
  // T1 itself refused (expired): a new token is fetched.
  CHECK(a.handle_challenge(challenge, scope, "Bearer T1"));
  CHECK(a.authorization(scope) == "Bearer T2");
  CHECK(token_calls == 2);
}

TEST_CASE("auth: several scopes become several scope parameters") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    CHECK(r.url == "https://a/t?scope=repository%3Ax%3Apull%2Cpush&scope=repository%3Ay%3Apull");
    return resp(200, R"({"token":"T"})");
  };
  auth::Authenticator a(t, {}, {1, 1, 1});
  std::string scope = auth::repository_scope("x", true) + " " + auth::repository_scope("y", false);
  CHECK(a.handle_challenge(resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://a/t")"}}), scope));
  CHECK(a.authorization(scope) == "Bearer T");
  CHECK(t.seen.size() == 1);
}

TEST_CASE("auth: refused token request is unauthorized") {
  FakeTransport t;
  t.handler = [&](const http::Request&) {
    return resp(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad"}]})");
  };
  auth::Authenticator a(t, {"u", "wrong"}, {2, 1, 1});
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token")"}});
  try {
    a.handle_challenge(challenge, "repository:x:pull");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::unauthorized);
    CHECK(std::string(e.what()) == "token endpoint https://auth.example/token: HTTP 401 (UNAUTHORIZED: bad)");
  }
}

TEST_CASE("auth: basic challenge uses credentials once") {
  FakeTransport t;
  t.handler = [&](const http::Request&) { return resp(500); };
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Basic realm="r")"}});
  auth::Authenticator anon(t, {}, {1, 1, 1});
  CHECK_THROWS_WITH(anon.handle_challenge(challenge, "s"),
                    "authentication required (no credentials for this registry)");
  auth::Authenticator a(t, {"u", "p"}, {1, 1, 1});
  CHECK(a.handle_challenge(challenge, "s"));
  CHECK(a.authorization("s") == "Basic dTpw");
  CHECK_FALSE(a.handle_challenge(challenge, "s"));
}

namespace {
std::string header_of(const http::Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}
}  // namespace

TEST_CASE("auth: an identity token is traded with the OAuth2 refresh_token grant, not Basic") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    CHECK(r.method == "POST");
    CHECK(r.url == "https://auth.example/token");
    CHECK(r.body ==
          "grant_type=refresh_token&refresh_token=rt%2B1&client_id=ocikit&service=reg"
          "&scope=repository%3Ax%3Apull%2Cpush%20repository%3Ay%3Apull");
    CHECK(header_of(r, "Content-Type") == "application/x-www-form-urlencoded");
    CHECK(header_of(r, "Authorization") == "");
    return resp(200, R"({"access_token":"A1","expires_in":300})");
  };
  auth::Authenticator a(t, {"<token>", "rt+1"}, {1, 1, 1});
  a.request_offline_token();  // an identity token is not traded for another
  std::string scope = auth::repository_scope("x", true) + " " + auth::repository_scope("y", false);
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token",service="reg")"}});
  CHECK(a.handle_challenge(challenge, scope));
  CHECK(a.authorization(scope) == "Bearer A1");
  CHECK(a.refresh_token() == "");
  CHECK(t.seen.size() == 1);
}

TEST_CASE("auth: a refused identity token, a server without the POST form: one line each") {
  FakeTransport t;
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token")"}});
  for (auto [status, body, code, msg] : std::vector<std::tuple<long, std::string, Errc, std::string>>{
           {400, R"({"error":"invalid_grant","error_description":"bad\ntoken"})", Errc::unauthorized,
            "token endpoint https://auth.example/token refused the identity token: HTTP 400 (invalid_grant: "
            "bad?token); log in again"},
           {401, R"({"error":"invalid_grant"})", Errc::unauthorized,
            "token endpoint https://auth.example/token refused the identity token: HTTP 401 (invalid_grant); log "
            "in again"},
           {405, "", Errc::failure,
            "token endpoint https://auth.example/token does not accept the OAuth2 POST form needed with an "
            "identity token: HTTP 405"}}) {
    t.handler = [&](const http::Request&) { return resp(status, body); };
    auth::Authenticator a(t, {"<token>", "rt"}, {1, 1, 1});
    try {
      a.handle_challenge(challenge, "repository:x:pull");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == code);
      CHECK(std::string(e.what()) == msg);
    }
  }
}

TEST_CASE("auth: login's offline token: the password grant first, GET with offline_token when refused") {
  FakeTransport t;
  // A server with the OAuth2 password grant: its refresh_token is kept.
  t.handler = [&](const http::Request& r) {
    CHECK(r.method == "POST");
    CHECK(r.body ==
          "grant_type=password&username=u&password=p%26q&access_type=offline&client_id=ocikit&service=reg"
          "&scope=repository%3Ax%3Apull");
    return resp(200, R"({"access_token":"A","refresh_token":"R1"})");
  };
  auto challenge = resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://a/t",service="reg")"}});
  {
    auth::Authenticator a(t, {"u", "p&q"}, {1, 1, 1});
    a.request_offline_token();
    CHECK(a.handle_challenge(challenge, "repository:x:pull"));
    CHECK(a.authorization("repository:x:pull") == "Bearer A");
    CHECK(a.refresh_token() == "R1");
  }
  // A server without it (400 unsupported_grant_type): docker's GET.
  t.seen.clear();
  t.handler = [&](const http::Request& r) {
    if (r.method == "POST") return resp(400, R"({"error":"unsupported_grant_type"})");
    CHECK(r.url == "https://a/t?service=reg&scope=repository%3Ax%3Apull&offline_token=true&client_id=ocikit");
    CHECK(header_of(r, "Authorization") == "Basic " + auth::base64_encode("u:p&q"));
    return resp(200, R"({"token":"G","refresh_token":"R2"})");
  };
  {
    auth::Authenticator a(t, {"u", "p&q"}, {1, 1, 1});
    a.request_offline_token();
    CHECK(a.handle_challenge(challenge, "repository:x:pull"));
    CHECK(a.authorization("repository:x:pull") == "Bearer G");
    CHECK(a.refresh_token() == "R2");
    CHECK(t.seen.size() == 2);
  }
  // Refused credentials on the password grant: unauthorized, no GET.
  t.seen.clear();
  t.handler = [&](const http::Request&) { return resp(401, R"({"error":"invalid_grant"})"); };
  {
    auth::Authenticator a(t, {"u", "bad"}, {1, 1, 1});
    a.request_offline_token();
    try {
      a.handle_challenge(challenge, "repository:x:pull");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::unauthorized);
    }
    CHECK(t.seen.size() == 1);
  }
  // Without request_offline_token (every tool but login): the GET alone,
  // and a refresh_token in the answer is not kept.
  t.seen.clear();
  t.handler = [&](const http::Request& r) {
    CHECK(r.method == "GET");
    CHECK(r.url == "https://a/t?service=reg&scope=repository%3Ax%3Apull");
    return resp(200, R"({"token":"G","refresh_token":"R3"})");
  };
  auth::Authenticator a(t, {"u", "p"}, {1, 1, 1});
  CHECK(a.handle_challenge(challenge, "repository:x:pull"));
  CHECK(a.refresh_token() == "");
  CHECK(t.seen.size() == 1);
}
