// POST /build: the request body (the build context as a tar, possibly
// compressed) streams into `oci-build ... -` on its stdin while its output
// streams back as docker's JSON messages, one {"stream": LINE} per line,
// ending as dockerd's classic builder does: {"aux":{"ID":...}},
// "Successfully built ID12" and "Successfully tagged NAME" per tag, or
// {"errorDetail":...,"error":...} when the build fails.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/fs.hpp"
#include "handlers.hpp"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

// A JSON object query parameter (buildargs, labels) as KEY=VALUE strings;
// docker's null value (a build arg named without one) is left out.
std::vector<std::string> kv_of(const Exchange& x, const std::string& k) {
  std::vector<std::string> out;
  std::string v = x.q(k);
  if (v.empty()) return out;
  json j = json::parse(v, nullptr, false);
  if (!j.is_object()) fail_api(400, "invalid " + k + ": want a JSON object");
  for (auto& [key, val] : j.items()) {
    if (key.empty() || key.find('=') != std::string::npos) fail_api(400, "invalid " + k + " key: \"" + key + "\"");
    if (val.is_null()) continue;
    if (!val.is_string()) fail_api(400, "invalid " + k + " value of \"" + key + "\": want a string");
    out.push_back(key + "=" + val.get<std::string>());
  }
  return out;
}

// The tag as dockerd reports it: NAME[:TAG] with :latest added.
std::string tag_shown(const std::string& t) {
  if (t.find('@') != std::string::npos) return t;
  auto slash = t.rfind('/');
  if (t.find(':', slash == std::string::npos ? 0 : slash) == std::string::npos) return t + ":latest";
  return t;
}

json stream_msg(const std::string& s) { return json{{"stream", s}}; }

// oci-build's progress lines in the words of dockerd's builder:
// "[2/3] STEP 1/4: RUN x" -> "[2/3] Step 1/4 : RUN x",
// "--> Using cache sha256:KEY" -> " ---> Using cache".
std::string docker_progress(const std::string& line) {
  size_t at = 0;
  if (!line.empty() && line[0] == '[') {
    size_t close = line.find("] ");
    if (close != std::string::npos && close < 16) at = close + 2;
  }
  if (line.compare(at, 5, "STEP ") == 0) {
    size_t colon = line.find(": ", at + 5);
    if (colon != std::string::npos && colon < at + 32)
      return line.substr(0, at) + "Step " + line.substr(at + 5, colon - at - 5) + " : " + line.substr(colon + 2);
  }
  if (line.rfind("--> Using cache", 0) == 0) return " ---> Using cache\n";
  return line;
}

}  // namespace

bool build_streams_body(const Exchange& x) { return x.method == "POST" && x.path == "/build"; }

void image_build(Exchange& x) {
  if (!x.q("remote").empty()) fail_api(400, "remote build contexts (remote=) are not supported by oci-api");
  std::string dockerfile = x.q("dockerfile", "Dockerfile");
  // Resolved lexically inside the context ("../x" is the context's x).
  if (dockerfile.size() > 4096 || fs::clean_path("/" + dockerfile) == "/")
    fail_api(400, "dockerfile must name a file inside the build context: \"" + dockerfile.substr(0, 200) + "\"");
  std::vector<std::string> tags = x.q_all("t");
  auto build_args = kv_of(x, "buildargs");
  auto labels = kv_of(x, "labels");
  if (auto c = x.q("cachefrom"); !c.empty() && !json::parse(c, nullptr, false).is_array())
    fail_api(400, "invalid cachefrom: want a JSON array");
  bool quiet = x.q_bool("q");

  fs::TempDir tmp("oci-api-build");
  std::string iidfile = tmp.path() + "/iid";
  std::vector<std::string> argv{tools().oci_build, "--file=" + fs::clean_path("/" + dockerfile).substr(1),
                                "--iidfile=" + iidfile};
  for (const auto& t : tags) {
    if (t.empty()) fail_api(400, "invalid tag: empty");
    argv.push_back("--tag=" + t);
  }
  for (const auto& b : build_args) argv.push_back("--build-arg=" + b);
  for (const auto& l : labels) argv.push_back("--label=" + l);
  if (auto t = x.q("target"); !t.empty()) argv.push_back("--target=" + t);
  if (auto p = x.q("platform"); !p.empty()) argv.push_back("--platform=" + p);
  if (x.q_bool("nocache")) argv.push_back("--no-cache");
  if (x.q_bool("pull")) argv.push_back("--pull=always");
  if (auto n = x.q("networkmode"); !n.empty() && n != "default") argv.push_back("--network=" + n);
  argv.push_back("-");

  Child c = spawn_piped(argv, true);
  // The context: from the client to oci-build's stdin on a thread, while
  // this one streams the output back.
  std::string feed_error;
  std::thread feeder = feed_body(x, c, feed_error);

  x.begin_stream("application/json");
  std::string pending[2], err_tail;
  bool ok = true;
  auto send = [&](const json& j) {
    if (ok) ok = x.chunk(j.dump() + "\r\n");
    return ok;
  };
  auto line_out = [&](int stream, std::string line) {
    if (stream == 2) {
      err_tail += line;
      if (err_tail.size() > 65536) err_tail.erase(0, err_tail.size() - 65536);
    }
    // oci-build's own last stdout line is the image id: the aux message says it.
    if (stream == 1 && line.size() == 72 && line.rfind("sha256:", 0) == 0) return true;
    if (quiet) return true;
    return send(stream_msg(docker_progress(line)));
  };
  int rc = pump_output(
      c, Framing::multiplexed,
      [&](std::string_view f) {
        int stream = f[0] == 2 ? 2 : 1;
        std::string& p = pending[stream - 1];
        p.append(f.substr(8));
        size_t nl;
        while ((nl = p.find('\n')) != std::string::npos) {
          if (!line_out(stream, p.substr(0, nl + 1))) return false;
          p.erase(0, nl + 1);
        }
        // A long line without its end yet goes out as it is.
        if (p.size() > 16384) {
          if (!line_out(stream, p)) return false;
          p.clear();
        }
        return true;
      },
      [&] { return x.client_gone(); });
  feeder.join();
  if (rc < 0) return;  // the client left: oci-build was killed
  for (int s = 1; s <= 2; ++s)
    if (!pending[s - 1].empty()) line_out(s, pending[s - 1] + "\n");
  std::string id;
  std::ifstream(iidfile) >> id;
  if (rc != 0 || id.rfind("sha256:", 0) != 0) {
    Result r{rc, "", err_tail};
    std::string m = r.message();
    if (!feed_error.empty() && rc != 0) m += " (context: " + feed_error + ")";
    send(json{{"errorDetail", {{"message", m}}}, {"error", m}});
  } else {
    send(json{{"aux", {{"ID", id}}}});
    if (quiet) {
      send(stream_msg(id + "\n"));
    } else {
      send(stream_msg("Successfully built " + id.substr(7, 12) + "\n"));
      for (const auto& t : tags) send(stream_msg("Successfully tagged " + tag_shown(t) + "\n"));
    }
  }
  if (ok) x.end_stream();
}

}  // namespace ocikit::api
