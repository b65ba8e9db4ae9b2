// Image transfer and housekeeping endpoints: push (oci-push), pull's
// credentials, auth (`oci-run login --verify-only`), save and load
// (`oci-run save|load`, the load body streamed), history, the prunes of
// images, volumes (oci-run) and networks (oci-net), and search (refused).
//
// Registry credentials come only from the request (X-Registry-Auth, or the
// body of /auth), as dockerd takes them: they reach oci-push/oci-fetch in a
// 0600 auth file inside a 0700 directory of oci-api's, removed when the
// request ends, and `oci-run login` on its stdin; never in an argv or an
// environment.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/reference.hpp"
#include "handlers.hpp"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

// A name from a path or query that goes on a tool's command line.
void check_name(const std::string& n, const std::string& what = "reference") {
  if (n.empty() || n.size() > 1024 || n[0] == '-' || n.find_first_of(" \t\r\n\"'\\") != std::string::npos)
    fail_api(400, "invalid " + what + " format: \"" + n.substr(0, 200) + "\"");
}

// docker's X-Registry-Auth: base64url (padding optional) of a JSON
// AuthConfig. Empty or "{}" means none.
struct AuthConfig {
  std::string username, password, identitytoken, serveraddress;
  bool empty() const { return username.empty() && password.empty() && identitytoken.empty(); }
};

AuthConfig auth_config_of(const json& j) {
  AuthConfig a;
  if (!j.is_object()) fail_api(400, "invalid X-Registry-Auth: want a JSON object");
  auto str = [&](const char* k) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return std::string();
    if (!it->is_string()) fail_api(400, std::string("invalid X-Registry-Auth: ") + k + " is not a string");
    return it->get<std::string>();
  };
  a.username = str("username");
  a.password = str("password");
  a.identitytoken = str("identitytoken");
  a.serveraddress = str("serveraddress");
  // The legacy "auth" member (base64 of user:password).
  if (std::string enc = str("auth"); !enc.empty() && a.username.empty()) {
    try {
      std::string dec = auth::base64_decode(enc);
      auto c = dec.find(':');
      if (c != std::string::npos) a.username = dec.substr(0, c), a.password = dec.substr(c + 1);
    } catch (const Error&) {
      fail_api(400, "invalid X-Registry-Auth: auth is not base64");
    }
  }
  return a;
}

AuthConfig registry_auth(const Exchange& x) {
  auto it = x.req.find("X-Registry-Auth");
  if (it == x.req.end()) return {};
  std::string v(it->value());
  if (v.empty()) return {};
  for (char& c : v) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (v.size() % 4) v.push_back('=');
  std::string dec;
  try {
    dec = auth::base64_decode(v);
  } catch (const Error&) {
    fail_api(400, "invalid X-Registry-Auth: not base64url");
  }
  json j = json::parse(dec, nullptr, false);
  if (j.is_discarded()) fail_api(400, "invalid X-Registry-Auth: not JSON");
  return auth_config_of(j);
}

// The request's credentials for `domain` as an auth file (containers'
// auth.json form) that only this request's tool reads: a 0600 file in a
// fresh 0700 directory, both removed with this object. Without
// credentials the file has no entry (the pull or push is anonymous, as
// dockerd's without X-Registry-Auth).
class RequestAuthFile {
 public:
  RequestAuthFile(const AuthConfig& a, const std::string& domain) : dir_("oci-api-auth") {
    json entry = json::object();
    if (!a.identitytoken.empty()) entry["identitytoken"] = a.identitytoken;
    else if (!a.username.empty() || !a.password.empty())
      entry["auth"] = auth::base64_encode(a.username + ":" + a.password);
    json file{{"auths", json::object()}};
    if (!entry.empty()) file["auths"][domain] = entry;
    path_ = dir_.path() + "/auth.json";
    fs::UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) fail_api(500, "create the request's auth file: " + std::string(strerror(errno)));
    std::string s = file.dump();
    if (::write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size()))
      fail_api(500, "write the request's auth file: " + std::string(strerror(errno)));
  }
  const std::string& path() const { return path_; }

 private:
  fs::TempDir dir_;  // mkdtemp: 0700
  std::string path_;
};

std::string domain_of(const std::string& name) {
  try {
    return reference::parse(name).domain;
  } catch (const Error& e) {
    fail_api(400, std::string("invalid reference format: ") + e.what());
  }
}

std::string json_line(const json& j) { return j.dump() + "\r\n"; }
json error_msg(const std::string& m) { return {{"errorDetail", {{"message", m}}}, {"error", m}}; }

// docker's progress bar text: "[=====>      ]  1.2MB/3.4MB".
std::string progress_bar(uint64_t cur, uint64_t total) {
  auto human = [](uint64_t b) {
    const char* u[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(b);
    int i = 0;
    while (v >= 1000 && i < 4) v /= 1000, ++i;
    char buf[32];
    snprintf(buf, sizeof buf, i ? "%.3g%s" : "%.0f%s", v, u[i]);
    return std::string(buf);
  };
  std::string bar;
  if (total) {
    int fill = static_cast<int>(50.0 * static_cast<double>(std::min(cur, total)) / static_cast<double>(total));
    bar = "[" + std::string(fill > 0 ? fill - 1 : 0, '=') + (fill > 0 ? ">" : "") + std::string(50 - fill, ' ') + "] ";
  }
  return bar + human(cur) + (total ? "/" + human(total) : "");
}

// Run oci-push / oci-fetch with --progress json: their JSON progress lines
// (stderr) become docker's progress messages; other stderr lines are kept
// for the error message. Returns the tool's exit code (-1: the client
// left, the tool was killed), its stdout and its message.
struct Transfer {
  int rc = -1;
  std::string out, message;
};
Transfer run_transfer(Exchange& x, const std::vector<std::string>& argv, bool push, bool& ok) {
  Child c = spawn_piped(argv, false);
  std::string pending[2], err_text;
  auto progress_line = [&](const std::string& line) {
    json p = json::parse(line, nullptr, false);
    if (!p.is_object() || !p.contains("id") || !p["id"].is_string()) {
      err_text += line + "\n";
      if (err_text.size() > 65536) err_text.erase(0, err_text.size() - 65536);
      return;
    }
    std::string id = p["id"].get<std::string>();
    json m{{"id", id}, {"progressDetail", json::object()}};
    if (p.contains("status")) {
      std::string s = p.value("status", "");
      if (push)
        m["status"] = s == "exists" ? "Layer already exists"
            : s == "mounted"        ? "Mounted from another repository"
                                    : "Pushed";
      else m["status"] = s == "exists" ? "Already exists" : "Pull complete";
    } else if (p.contains("current")) {
      uint64_t cur = p.value("current", uint64_t{0}), total = p.value("total", uint64_t{0});
      m["status"] = push ? "Pushing" : "Downloading";
      m["progressDetail"] = {{"current", cur}, {"total", total}};
      m["progress"] = progress_bar(cur, total);
    } else {
      m["status"] = push ? "Preparing" : "Pulling fs layer";
    }
    if (ok) ok = x.chunk(json_line(m));
  };
  Transfer t;
  t.rc = pump_output(
      c, Framing::multiplexed,
      [&](std::string_view f) {
        int s = f[0] == 2 ? 2 : 1;
        std::string& p = pending[s - 1];
        p.append(f.substr(8));
        if (s == 1) {
          if (p.size() > (1 << 20)) p.erase(0, p.size() - (1 << 20));
          return true;
        }
        size_t nl;
        while ((nl = p.find('\n')) != std::string::npos) {
          progress_line(p.substr(0, nl));
          p.erase(0, nl + 1);
        }
        if (p.size() > 65536) p.clear();
        return ok;
      },
      [&] { return x.client_gone(); });
  if (!pending[1].empty()) progress_line(pending[1]);
  t.out = pending[0];
  t.message = Result{t.rc, "", err_text}.message();
  return t;
}

std::map<std::string, std::vector<std::string>> filters_of(const Exchange& x) {
  std::map<std::string, std::vector<std::string>> out;
  std::string f = x.q("filters");
  if (f.empty()) return out;
  json j = json::parse(f, nullptr, false);
  if (!j.is_object()) fail_api(400, "invalid filters: " + f.substr(0, 200));
  for (auto& [k, v] : j.items()) {
    if (v.is_object()) {
      for (auto& [val, on] : v.items())
        if (!on.is_boolean() || on.get<bool>()) out[k].push_back(val);
    } else if (v.is_array()) {
      for (const auto& e : v)
        if (e.is_string()) out[k].push_back(e.get<std::string>());
    } else {
      fail_api(400, "invalid filters: " + f.substr(0, 200));
    }
  }
  return out;
}

// --filter KEY=VALUE arguments for the keys in `allowed`; 400 for others.
std::vector<std::string> filter_args(const std::map<std::string, std::vector<std::string>>& filters,
                                     const std::vector<std::string>& allowed, const std::vector<std::string>& skip) {
  std::vector<std::string> args;
  for (const auto& [k, vals] : filters) {
    if (std::find(skip.begin(), skip.end(), k) != skip.end()) continue;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) fail_api(400, "invalid filter '" + k + "'");
    for (const auto& v : vals) {
      check_name(v, "filter value");
      args.push_back("--filter=" + k + "=" + v);
    }
  }
  return args;
}

bool filter_bool(const std::map<std::string, std::vector<std::string>>& filters, const std::string& k, bool def) {
  auto it = filters.find(k);
  if (it == filters.end() || it->second.empty()) return def;
  const std::string& v = it->second.front();
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  fail_api(400, "invalid filter '" + k + "=" + v + "'");
}

// "NAME" of "NAME:TAG" or "NAME@DIGEST" for docker's messages.
std::string with_tag(const std::string& name, const std::string& tag) {
  if (tag.empty()) return name;
  return name + (tag.rfind("sha256:", 0) == 0 ? "@" : ":") + tag;
}

}  // namespace

bool streams_body(const Exchange& x) {
  return build_streams_body(x) || archive_streams_body(x) || (x.method == "POST" && x.path == "/images/load");
}

// ---- push, pull's credentials, auth ----

void image_push(Exchange& x, const std::string& name) {
  check_name(name);
  std::string tag = x.q("tag");
  if (!tag.empty()) check_name(tag, "tag");
  AuthConfig a = registry_auth(x);
  std::string domain = domain_of(name);
  // Without a tag, every tag of the repository (docker push --all-tags).
  std::vector<std::string> tags;
  if (!tag.empty()) {
    tags.push_back(tag);
  } else {
    Result r = run_oci({"images", "--format", "json", name});
    for (std::istringstream is(r.out); std::getline(is, tag);) {
      json j = json::parse(tag, nullptr, false);
      if (j.is_object() && j.value("Tag", "") != "<none>" && !j.value("Tag", "").empty()) tags.push_back(j["Tag"]);
    }
    if (tags.empty()) fail_api(404, "An image does not exist locally with the tag: " + name);
  }
  RequestAuthFile af(a, domain);
  x.begin_stream("application/json");
  bool ok = x.chunk(json_line({{"status", "The push refers to repository [" + name + "]"}}));
  for (const auto& t : tags) {
    std::string src = with_tag(name, t);
    if (run_oci({"image", "inspect", src}, "", 60000).status != 0) {
      if (ok) ok = x.chunk(json_line(error_msg("An image does not exist locally with the tag: " + src)));
      break;
    }
    Transfer tr = run_transfer(
        x,
        {tools().oci_push, "--progress=json", "--format=json", "--authfile=" + af.path(), "--", src, "docker://" + src},
        true, ok);
    if (tr.rc < 0) return;  // the client left
    if (tr.rc != 0) {
      if (ok) ok = x.chunk(json_line(error_msg(tr.message)));
      break;
    }
    json d = json::parse(tr.out, nullptr, false);
    std::string digest = d.is_object() ? d.value("digest", "") : "";
    int64_t size = d.is_object() ? d.value("size", int64_t{0}) : 0;
    if (ok) ok = x.chunk(json_line({{"status", t + ": digest: " + digest + " size: " + std::to_string(size)}}));
    if (ok)
      ok = x.chunk(
          json_line({{"progressDetail", json::object()}, {"aux", {{"Tag", t}, {"Digest", digest}, {"Size", size}}}}));
  }
  if (ok) x.end_stream();
}

// pull: oci-fetch into the store with the request's credentials, reported
// as docker's JSON progress stream.
void image_create(Exchange& x) {
  std::string from = x.q("fromImage"), tag = x.q("tag");
  if (from.empty()) fail_api(400, "fromSrc (import) is not supported by oci-api; want fromImage");
  check_name(from);
  if (!tag.empty()) check_name(tag, "tag");
  std::string ref = from;
  // fromImage may carry the tag itself (docker-py's pull("name:tag")).
  auto slash = from.rfind('/');
  bool tagged = from.find('@') != std::string::npos ||
      from.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
  if (!tag.empty() && !tagged) ref = with_tag(from, tag);
  else if (!tagged) ref += ":latest";
  AuthConfig a = registry_auth(x);
  RequestAuthFile af(a, domain_of(ref));
  std::vector<std::string> argv{tools().oci_fetch, "--format=json", "--progress=json", "--authfile=" + af.path()};
  if (auto p = x.q("platform"); !p.empty()) {
    check_name(p, "platform");
    argv.push_back("--platform=" + p);
  }
  argv.insert(argv.end(), {"--", "docker://" + ref});
  x.begin_stream("application/json");
  bool ok = x.chunk(json_line({{"status", "Pulling from " + from}, {"id", tag.empty() ? "latest" : tag}}));
  Transfer tr = run_transfer(x, argv, false, ok);
  if (tr.rc < 0) return;
  if (tr.rc != 0) {
    if (ok) ok = x.chunk(json_line(error_msg(tr.message)));
  } else {
    json d = json::parse(tr.out, nullptr, false);
    std::string digest = d.is_object() ? d.value("digest", "") : "";
    if (!digest.empty() && ok) ok = x.chunk(json_line({{"status", "Digest: " + digest}}));
    if (ok) ok = x.chunk(json_line({{"status", "Status: Downloaded newer image for " + ref}}));
  }
  if (ok) x.end_stream();
}

// POST /auth: a real login against the registry (Basic or the token flow)
// by `oci-run login --verify-only`, the password on its stdin; nothing is
// stored (the docker CLI keeps the credentials itself).
void system_auth(Exchange& x) {
  json b = x.body_json();
  AuthConfig a = auth_config_of(b);
  std::string server = a.serveraddress.empty() ? "docker.io" : a.serveraddress;
  // docker sends an address with a scheme and path for Docker Hub.
  for (const char* p : {"https://", "http://"})
    if (server.rfind(p, 0) == 0) server = server.substr(std::string(p).size());
  while (!server.empty() && server.back() == '/') server.pop_back();
  if (server == "index.docker.io/v1") server = "docker.io";
  check_name(server, "server address");
  std::string user = a.identitytoken.empty() ? a.username : std::string(auth::Credentials::kIdentityTokenUser);
  std::string secret = a.identitytoken.empty() ? a.password : a.identitytoken;
  if (user.empty() || secret.empty()) fail_api(400, "username and password (or identitytoken) are required");
  if (user.find_first_of("\r\n") != std::string::npos || user.size() > 1024) fail_api(400, "invalid username");
  Result r =
      run_oci({"login", "--verify-only", "--username=" + user, "--password-stdin", "--", server}, secret + "\n", 60000);
  if (r.status != 0) {
    std::string m = r.message();
    fail_api(m.find("unauthorized") != std::string::npos ? 401 : status_of(r), m);
  }
  json out = json::parse(r.out, nullptr, false);
  if (!out.is_object()) fail_api(500, "oci-run login --verify-only: not JSON");
  x.json(200, {{"Status", out.value("Status", "Login Succeeded")}, {"IdentityToken", out.value("IdentityToken", "")}});
}

// ---- save, load, history ----

// GET /images/{name}/get, GET /images/get?names=...: `oci-run save` (a
// docker-archive) streamed as it is written.
void image_save(Exchange& x, const std::vector<std::string>& names) {
  if (names.empty()) fail_api(400, "no image names given");
  for (const auto& n : names) {
    check_name(n);
    Result r = run_oci({"image", "inspect", n}, "", 60000);
    if (r.status != 0)
      fail_api(status_of(r) == 404 ? 404 : status_of(r), status_of(r) == 404 ? "No such image: " + n : r.message());
  }
  std::vector<std::string> argv{tools().oci_run};
  argv.insert(argv.end(), tools().run_globals.begin(), tools().run_globals.end());
  argv.insert(argv.end(), {"save", "--"});
  argv.insert(argv.end(), names.begin(), names.end());
  Child c = spawn_piped(argv, false);
  x.begin_stream("application/x-tar");
  std::string err;
  int rc = pump_output(
      c, Framing::multiplexed,
      [&](std::string_view f) {
        if (f[0] == 2) {
          if (err.size() < 65536) err.append(f.substr(8));
          return true;
        }
        return x.chunk(f.substr(8));
      },
      [&] { return x.client_gone(); });
  // A failed save ends the connection without the last chunk: the client
  // sees a cut transfer, not a short archive that looks whole.
  if (rc == 0) x.end_stream();
  else if (rc > 0) log::warn("GET image archive: oci-run save: " + Result{rc, "", err}.message());
}

// POST /images/load: the body (a docker-archive or OCI archive tar, of any
// size: streamed, not read under the body limit) into `oci-run load`'s
// stdin; its "Loaded image: NAME" lines as docker's JSON stream.
void image_load(Exchange& x) {
  std::vector<std::string> argv{tools().oci_run};
  argv.insert(argv.end(), tools().run_globals.begin(), tools().run_globals.end());
  argv.insert(argv.end(), {"load"});
  Child c = spawn_piped(argv, true);
  std::string feed_error;
  std::thread feeder = feed_body(x, c, feed_error);
  x.begin_stream("application/json");
  std::string out, err;
  int rc = pump_output(
      c, Framing::multiplexed,
      [&](std::string_view f) {
        std::string& s = f[0] == 2 ? err : out;
        if (s.size() < 65536) s.append(f.substr(8));
        return true;
      },
      [&] { return x.client_gone(); });
  feeder.join();
  if (rc < 0) return;
  bool ok = true;
  for (std::istringstream is(out); ok && std::getline(is, out);)
    if (!out.empty()) ok = x.chunk(json_line({{"stream", out + "\n"}}));
  if (rc != 0) {
    std::string m = Result{rc, "", err}.message();
    if (!feed_error.empty()) m += " (body: " + feed_error + ")";
    if (ok) ok = x.chunk(json_line(error_msg(m)));
  }
  if (ok) x.end_stream();
}

void image_history(Exchange& x, const std::string& name) {
  check_name(name);
  Result r = run_oci({"image", "inspect", name}, "", 60000);
  if (r.status != 0)
    fail_api(status_of(r) == 404 ? 404 : status_of(r), status_of(r) == 404 ? "No such image: " + name : r.message());
  json info = json::parse(r.out, nullptr, false);
  if (!info.is_array() || info.empty()) fail_api(404, "No such image: " + name);
  std::string out = check_oci({"history", "--no-trunc", "--human=false", "--format=json", "--", name});
  json list = json::array();
  bool first = true;
  for (std::istringstream is(out); std::getline(is, out);) {
    json h = json::parse(out, nullptr, false);
    if (!h.is_object()) continue;
    struct tm tm {};
    std::string created = h.value("CreatedAt", "");
    int64_t t = strptime(created.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) ? timegm(&tm) : 0;
    int64_t size = 0;
    try {
      size = std::stoll(h.value("Size", "0"));
    } catch (const std::exception&) {
    }
    json tags = first ? info[0].value("RepoTags", json::array()) : json(nullptr);
    if (tags.is_array() && tags.empty()) tags = nullptr;
    list.push_back({{"Id", h.value("ID", "<missing>")},
                    {"Created", t},
                    {"CreatedBy", h.value("CreatedBy", "")},
                    {"Tags", tags},
                    {"Size", size},
                    {"Comment", h.value("Comment", "")}});
    first = false;
  }
  x.json(200, list);
}

// ---- prunes, search ----

// POST /images/prune: filters dangling (default true; false prunes every
// unused image), until, label, label!.
void image_prune(Exchange& x) {
  auto f = filters_of(x);
  std::vector<std::string> args{"image", "prune", "--force", "--format=json"};
  if (!filter_bool(f, "dangling", true)) args.push_back("--all");
  auto fa = filter_args(f, {"until", "label", "label!"}, {"dangling"});
  args.insert(args.end(), fa.begin(), fa.end());
  json out = json::parse(check_oci(args), nullptr, false);
  if (!out.is_object()) fail_api(500, "oci-run image prune: not JSON");
  x.json(200, out);
}

// POST /volumes/prune: API 1.41 prunes every unused volume, named or
// anonymous (dockerd 23+ keeps that for clients below 1.42); the "all"
// filter of 1.42 (all=false: anonymous only) is honoured.
void volume_prune(Exchange& x) {
  auto f = filters_of(x);
  std::vector<std::string> args{"volume", "prune", "--force", "--format=json"};
  if (filter_bool(f, "all", true)) args.push_back("--all");
  auto fa = filter_args(f, {"label", "label!"}, {"all"});
  args.insert(args.end(), fa.begin(), fa.end());
  json out = json::parse(check_oci(args), nullptr, false);
  if (!out.is_object()) fail_api(500, "oci-run volume prune: not JSON");
  x.json(200, out);
}

// POST /networks/prune: `oci-net prune` (unused networks but "bridge").
void network_prune(Exchange& x) {
  auto f = filters_of(x);
  std::vector<std::string> argv{tools().oci_net, "prune"};
  auto fa = filter_args(f, {"until", "label", "label!"}, {});
  argv.insert(argv.end(), fa.begin(), fa.end());
  Result r = run_tool(argv, "", 120000);
  if (r.status != 0) fail_api(status_of(r), r.message());
  json names = json::array();
  std::string l;
  for (std::istringstream is(r.out); std::getline(is, l);)
    if (!l.empty()) names.push_back(l);
  x.json(200, {{"NetworksDeleted", names}});
}

void image_search(Exchange& x) {
  x.error(501,
          "searching registries is not supported by oci-api: the distribution API has no search; "
          "look the image up on the registry's website");
}

}  // namespace ocikit::api
