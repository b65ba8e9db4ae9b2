#include "common/credentials.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using credentials::DockerConfig;

namespace {

// Set an environment variable for one scope, restoring the old value.
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* o = std::getenv(name)) old_ = o;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }
  const char* name_;
  std::optional<std::string> old_;
};

mode_t mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// A docker-credential-NAME in `dir` speaking the protocol, keeping one
// credential per server in dir/store-NAME/<escaped server> as JSON.
void write_helper(const std::string& dir, const std::string& name) {
  std::string store = dir + "/store-" + name;
  fs::mkdir_p(store);
  std::string script =
      "#!/bin/sh\n"
      "s=" +
      store +
      "\n"
      "key() { printf %s \"$1\" | od -An -tx1 | tr -d ' \\n'; }\n"
      "case $1 in\n"
      "store) j=$(cat); u=$(printf %s \"$j\" | sed 's/.*\"ServerURL\":\"\\([^\"]*\\)\".*/\\1/');"
      " printf %s \"$j\" >\"$s/$(key \"$u\")\" ;;\n"
      "get) u=$(cat); if [ -f \"$s/$(key \"$u\")\" ]; then cat \"$s/$(key \"$u\")\";"
      " else echo 'credentials not found in native keychain'; exit 1; fi ;;\n"
      "erase) u=$(cat); if [ -f \"$s/$(key \"$u\")\" ]; then rm \"$s/$(key \"$u\")\";"
      " else echo 'credentials not found in native keychain'; exit 1; fi ;;\n"
      "list) echo '{\"a.io\":\"alice\"}' ;;\n"
      "*) echo \"unknown action $1\"; exit 1 ;;\n"
      "esac\n";
  fs::write_file_atomic(dir + "/docker-credential-" + name, script, 0755);
}

}  // namespace

TEST_CASE("credentials: registry names and docker's keys") {
  CHECK(credentials::normalize_registry("127.0.0.1:5000") == "127.0.0.1:5000");
  CHECK(credentials::normalize_registry("https://Reg.Example:5000/v2/") == "reg.example:5000");
  CHECK(credentials::normalize_registry("http://q.io") == "q.io");
  CHECK(credentials::normalize_registry("index.docker.io") == "docker.io");
  CHECK(credentials::normalize_registry("https://index.docker.io/v1/") == "docker.io");
  CHECK(credentials::normalize_registry("registry-1.docker.io") == "docker.io");
  CHECK_THROWS_AS(credentials::normalize_registry("https://"), Error);
  CHECK(credentials::server_key("docker.io") == "https://index.docker.io/v1/");
  CHECK(credentials::server_key("q.io:5000") == "q.io:5000");
}

TEST_CASE("credentials: config.json's auths, credsStore and credHelpers") {
  auto c = credentials::parse_docker_config(R"({
    "auths": {"q.io": {"auth": "eDp5"}, "h.io": {}},
    "credsStore": "desktop",
    "credHelpers": {"gcr.io": "gcloud", "https://index.docker.io/v1/": "hub"},
    "experimental": "enabled"
  })");
  CHECK(c.creds_store == "desktop");
  CHECK(c.cred_helpers.size() == 2);
  CHECK(c.cred_helpers["gcr.io"] == "gcloud");
  CHECK(credentials::helper_for(c, "gcr.io") == "gcloud");  // credHelpers wins
  CHECK(credentials::helper_for(c, "q.io") == "desktop");  // else credsStore
  CHECK(credentials::helper_for(c, "docker.io") == "hub");
  auto a = credentials::auths_lookup(c.auths, "q.io");
  REQUIRE(a);
  CHECK(a->username == "x");
  CHECK(a->password == "y");
  CHECK_FALSE(credentials::auths_lookup(c.auths, "h.io"));  // a helper-backed entry holds nothing
  CHECK_FALSE(credentials::auths_lookup(c.auths, "other.io"));

  c = credentials::parse_docker_config(R"({"auths":{"https://index.docker.io/v1/":{"auth":"ZG9jazpodWI="},
    "http://p.io:5000":{"auth":"YTpiOmM="}, "t.io":{"identitytoken":"tok"}}})");
  CHECK(c.creds_store.empty());
  CHECK(credentials::helper_for(c, "q.io").empty());
  CHECK(credentials::auths_lookup(c.auths, "docker.io")->username == "dock");
  CHECK(credentials::auths_lookup(c.auths, "p.io:5000")->password == "b:c");
  CHECK(credentials::auths_lookup(c.auths, "t.io")->username == "<token>");
  CHECK(credentials::auths_lookup(c.auths, "t.io")->password == "tok");

  CHECK(credentials::parse_docker_config("").creds_store.empty());
  CHECK(credentials::parse_docker_config("{}").cred_helpers.empty());
  CHECK_THROWS_WITH(credentials::parse_docker_config("{nope"), "not valid JSON");
  CHECK_THROWS_WITH(credentials::parse_docker_config("[]"), "not a JSON object");
  CHECK_THROWS_WITH(credentials::parse_docker_config(R"({"auths":[]})"), "\"auths\" is not an object");
  CHECK_THROWS_WITH(credentials::parse_docker_config(R"({"credsStore":1})"), "\"credsStore\" is not a string");
  CHECK_THROWS_WITH(credentials::parse_docker_config(R"({"credHelpers":{"a":1}})"),
                    "\"credHelpers\" entry for a is not a string");
  c = credentials::parse_docker_config(R"({"auths":{"q.io":{"auth":"bm9jb2xvbg=="}}})");
  CHECK_THROWS_WITH(credentials::auths_lookup(c.auths, "q.io"), "auth entry for q.io is not base64 of user:password");
}

TEST_CASE("credentials: the helper protocol's messages") {
  auto req = nlohmann::json::parse(credentials::helper_store_request("q.io", {"bob", "s\"3"}));
  CHECK(req == nlohmann::json{{"ServerURL", "q.io"}, {"Username", "bob"}, {"Secret", "s\"3"}});

  auto g = credentials::parse_helper_get(R"({"ServerURL":"q.io","Username":"bob","Secret":"pw"})");
  REQUIRE(g);
  CHECK(g->username == "bob");
  CHECK(g->password == "pw");
  g = credentials::parse_helper_get(R"({"Username":"<token>","Secret":"idtok"})");
  CHECK(g->username == "<token>");
  CHECK_FALSE(credentials::parse_helper_get(R"({"ServerURL":"q.io","Username":"","Secret":""})"));
  CHECK_THROWS_WITH(credentials::parse_helper_get("garbage"), "the answer is not a JSON object");
  CHECK_THROWS_WITH(credentials::parse_helper_get("[1]"), "the answer is not a JSON object");
  CHECK_THROWS_WITH(credentials::parse_helper_get(R"({"Username":"bob"})"), "the answer has no \"Secret\"");
  CHECK_THROWS_WITH(credentials::parse_helper_get(R"({"Username":1,"Secret":"x"})"),
                    "the answer's \"Username\" is not a string");

  auto l = credentials::parse_helper_list(R"({"https://index.docker.io/v1/":"dock","q.io":"bob"})");
  CHECK(l.size() == 2);
  CHECK(l["q.io"] == "bob");
  CHECK_THROWS_AS(credentials::parse_helper_list(R"({"q.io":2})"), Error);
  CHECK_THROWS_AS(credentials::parse_helper_list("x"), Error);

  CHECK(credentials::is_not_found_answer("credentials not found in native keychain\n"));
  CHECK_FALSE(credentials::is_not_found_answer("some other failure"));
}

TEST_CASE("credentials: a helper on PATH: store, get, erase, list; failures name it") {
  testing::TempDir t;
  write_helper(t.path, "okt");
  ScopedEnv path("PATH", t.path + ":" + std::getenv("PATH"));
  credentials::Helper h("okt");
  CHECK(h.program() == "docker-credential-okt");
  CHECK_FALSE(h.get("q.io"));
  h.store("q.io", {"bob", "pw"});
  auto c = h.get("q.io");
  REQUIRE(c);
  CHECK(c->username == "bob");
  CHECK(c->password == "pw");
  CHECK(h.list()["a.io"] == "alice");
  CHECK(h.erase("q.io"));
  CHECK_FALSE(h.erase("q.io"));
  CHECK_FALSE(h.get("q.io"));

  CHECK_THROWS_WITH(credentials::Helper("okt-missing").get("q.io"),
                    "credential helper docker-credential-okt-missing: not found in PATH");
  fs::write_file_atomic(t.path + "/docker-credential-bad",
                        "#!/bin/sh\nprintf '\\n  \\n it\\001broke?\\r\\nmore\\n'; exit 3\n", 0755);
  CHECK_THROWS_WITH(credentials::Helper("bad").get("q.io"),
                    "credential helper docker-credential-bad: get failed (exit 3): it?broke?");
  // A failing store that echoes its input does not show the secret.
  fs::write_file_atomic(t.path + "/docker-credential-echo", "#!/bin/sh\necho \"no: $(cat)\"; exit 1\n", 0755);
  CHECK_THROWS_WITH(credentials::Helper("echo").store("q.io", {"bob", "t0p-s3cret"}),
                    "credential helper docker-credential-echo: store failed (exit 1): no: "
                    "{\"Secret\":\"***\",\"ServerURL\":\"q.io\",\"Username\":\"bob\"}");
  fs::write_file_atomic(t.path + "/docker-credential-junk", "#!/bin/sh\necho '{not json'\n", 0755);
  CHECK_THROWS_WITH(credentials::Helper("junk").get("q.io"),
                    "credential helper docker-credential-junk: get: invalid answer (not the credential helper "
                    "protocol's JSON)");
  fs::write_file_atomic(t.path + "/docker-credential-slow", "#!/bin/sh\nexec sleep 30\n", 0755);
  CHECK_THROWS_WITH(credentials::Helper("slow", 200).get("q.io"),
                    "credential helper docker-credential-slow: no answer to get within 200 ms (killed)");
  fs::write_file_atomic(t.path + "/docker-credential-chatty", "#!/bin/sh\nexec cat /dev/zero\n", 0755);
  CHECK_THROWS_WITH(credentials::Helper("chatty", 10000, 4096).get("q.io"),
                    "credential helper docker-credential-chatty: get wrote more than 4 KiB (killed)");
  CHECK_THROWS_AS(credentials::Helper("../x"), Error);
}

TEST_CASE("credentials: login storage in config.json, lookup order of find_credentials") {
  testing::TempDir t;
  write_helper(t.path, "okt");
  ScopedEnv path("PATH", t.path + ":" + std::getenv("PATH"));
  ScopedEnv cfg("DOCKER_CONFIG", t.path + "/cfg");
  ScopedEnv xdg("XDG_RUNTIME_DIR", t.path + "/xdg");
  ScopedEnv raf("REGISTRY_AUTH_FILE", t.path + "/auth.json");
  std::string file = t.path + "/cfg/config.json";

  // No file: nothing, and logout finds nothing.
  CHECK(credentials::docker_config_path() == file);
  CHECK_FALSE(credentials::lookup("q.io"));
  CHECK_FALSE(credentials::erase_login("q.io"));

  // A first login makes the directory 0700 and the file 0600.
  CHECK(credentials::store_login("q.io", {"bob", "pw"}) == credentials::StoredIn::config);
  CHECK(mode_of(t.path + "/cfg") == 0700);
  CHECK(mode_of(file) == 0600);
  auto j = nlohmann::json::parse(fs::read_file(file));
  CHECK(j["auths"]["q.io"]["auth"] == auth::base64_encode("bob:pw"));
  CHECK(auth::find_credentials("q.io").username == "bob");

  // Other keys, and their order, stay as they were.
  fs::write_file_atomic(file, R"({"zeta": 1, "auths": {"r.io": {"auth": "eDp5"}}, "alpha": {"k": [1, 2]}})", 0644);
  credentials::store_login("q.io", {"bob", "pw2"});
  CHECK(mode_of(file) == 0600);
  std::string text = fs::read_file(file);
  CHECK(text.find("\"zeta\"") < text.find("\"auths\""));
  CHECK(text.find("\"auths\"") < text.find("\"alpha\""));
  j = nlohmann::json::parse(text);
  CHECK(j["zeta"] == 1);
  CHECK(j["alpha"]["k"] == nlohmann::json::array({1, 2}));
  CHECK(j["auths"]["r.io"]["auth"] == "eDp5");
  CHECK(credentials::lookup("q.io")->password == "pw2");

  // $REGISTRY_AUTH_FILE, named on purpose, wins (as skopeo's); docker's
  // config wins over the session's containers auth.json.
  fs::write_file_atomic(t.path + "/auth.json", R"({"auths":{"q.io":{"auth":"YTpi"},"s.io":{"auth":"YTpi"}}})");
  CHECK(auth::find_credentials("q.io").username == "a");
  CHECK(auth::find_credentials("s.io").username == "a");
  fs::mkdir_p(t.path + "/xdg/containers");
  fs::write_file_atomic(t.path + "/xdg/containers/auth.json", R"({"auths":{"q.io":{"auth":"eDp5"}}})");
  {
    ScopedEnv no_raf("REGISTRY_AUTH_FILE", "");
    CHECK(auth::find_credentials("q.io").username == "bob");
  }
  fs::remove_all(t.path + "/xdg");

  // Logout removes every spelling of the registry, keeps the rest.
  fs::write_file_atomic(file, R"({"auths":{"q.io":{"auth":"eDp5"},"https://q.io":{"auth":"eDp5"},"r.io":{}}})");
  CHECK(credentials::erase_login("q.io"));
  j = nlohmann::json::parse(fs::read_file(file));
  CHECK(j["auths"] == nlohmann::json{{"r.io", nlohmann::json::object()}});
  CHECK_FALSE(credentials::erase_login("q.io"));
  CHECK(auth::find_credentials("q.io").username == "a");  // from REGISTRY_AUTH_FILE
  fs::remove_all(t.path + "/auth.json");

  // credsStore: the secret goes to the helper, config.json gets an empty entry.
  fs::write_file_atomic(file, R"({"credsStore":"okt"})");
  CHECK(credentials::store_login("h.io", {"hel", "per"}) == credentials::StoredIn::helper);
  j = nlohmann::json::parse(fs::read_file(file));
  CHECK(j["auths"]["h.io"] == nlohmann::json::object());
  CHECK(fs::read_file(file).find("per") == std::string::npos);
  CHECK(auth::find_credentials("h.io").password == "per");
  CHECK(credentials::Helper("okt").get("h.io")->username == "hel");

  // credHelpers wins over credsStore: a missing helper for that registry is an error.
  fs::write_file_atomic(file, R"({"credsStore":"okt","credHelpers":{"h.io":"okt-missing"}})");
  CHECK_THROWS_WITH(auth::find_credentials("h.io"),
                    "credential helper docker-credential-okt-missing: not found in PATH");
  CHECK(auth::find_credentials("z.io").empty());  // credsStore's not-found is anonymous

  fs::write_file_atomic(file, R"({"credsStore":"okt"})");
  CHECK(credentials::erase_login("h.io"));
  CHECK_FALSE(credentials::Helper("okt").get("h.io"));
  CHECK(nlohmann::json::parse(fs::read_file(file))["auths"].empty());
}

TEST_CASE("credentials: identity tokens in config.json and helpers") {
  // Parsing: "identitytoken" wins over "auth" (docker's login may leave the
  // user name there), comes back as user "<token>".
  auto c = credentials::parse_docker_config(R"({"auths":{
    "a.io":{"auth":"Ym9iOg==","identitytoken":"rt-1"},
    "b.io":{"auth":"Ym9iOnB3","identitytoken":""},
    "c.io":{"identitytoken":7},
    "https://d.io":{"identitytoken":"rt-d"}}})");
  auto a = credentials::auths_lookup(c.auths, "a.io");
  REQUIRE(a);
  CHECK(a->username == "<token>");
  CHECK(a->password == "rt-1");
  CHECK(a->identity_token());
  auto b = credentials::auths_lookup(c.auths, "b.io");  // an empty token: the password
  REQUIRE(b);
  CHECK(b->username == "bob");
  CHECK_FALSE(b->identity_token());
  CHECK_THROWS_WITH(credentials::auths_lookup(c.auths, "c.io"), "identitytoken entry for c.io is not a string");
  CHECK(credentials::auths_lookup(c.auths, "d.io")->password == "rt-d");
  CHECK_FALSE((auth::Credentials{"<token>", ""}).identity_token());
  CHECK_FALSE((auth::Credentials{"token", "x"}).identity_token());

  testing::TempDir t;
  write_helper(t.path, "okt");
  ScopedEnv path("PATH", t.path + ":" + std::getenv("PATH"));
  ScopedEnv cfg("DOCKER_CONFIG", t.path + "/cfg");
  ScopedEnv xdg("XDG_RUNTIME_DIR", t.path + "/xdg");
  ScopedEnv raf("REGISTRY_AUTH_FILE", t.path + "/auth.json");
  std::string file = t.path + "/cfg/config.json";

  // Writing: the token alone under "identitytoken", no "auth"; a later
  // password login replaces it.
  CHECK(credentials::store_login("q.io", {"<token>", "rt-q"}) == credentials::StoredIn::config);
  auto j = nlohmann::json::parse(fs::read_file(file));
  CHECK(j["auths"]["q.io"] == nlohmann::json{{"identitytoken", "rt-q"}});
  auto found = auth::find_credentials("q.io");
  CHECK(found.identity_token());
  CHECK(found.password == "rt-q");
  credentials::store_login("q.io", {"bob", "pw"});
  j = nlohmann::json::parse(fs::read_file(file));
  CHECK(j["auths"]["q.io"] == nlohmann::json{{"auth", auth::base64_encode("bob:pw")}});
  CHECK_FALSE(auth::find_credentials("q.io").identity_token());

  // Through a helper: Username "<token>", the refresh token as Secret.
  fs::write_file_atomic(file, R"({"credsStore":"okt"})");
  CHECK(credentials::store_login("h.io", {"<token>", "rt-h"}) == credentials::StoredIn::helper);
  CHECK(fs::read_file(file).find("rt-h") == std::string::npos);
  auto stored = nlohmann::json::parse(credentials::helper_store_request("h.io", {"<token>", "rt-h"}));
  CHECK(stored["Username"] == "<token>");
  CHECK(stored["Secret"] == "rt-h");
  found = auth::find_credentials("h.io");
  CHECK(found.identity_token());
  CHECK(found.password == "rt-h");
}
