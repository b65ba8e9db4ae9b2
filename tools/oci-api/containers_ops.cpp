// Container endpoints around a container's contents and resources, each an
// `oci-run` docker-style command: update, top, stats (--format api),
// archive (HEAD/GET: `cp CONTAINER:PATH -`; PUT: `cp - CONTAINER:DIR`, the
// body streamed), export, commit and containers/prune.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/auth.hpp"
#include "common/fs.hpp"
#include "handlers.hpp"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

int64_t num_of(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || it->is_null()) return 0;
  if (!it->is_number_integer()) fail_api(400, std::string(k) + ": want an integer");
  return it->get<int64_t>();
}

std::string string_of(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || it->is_null()) return "";
  if (!it->is_string()) fail_api(400, std::string(k) + ": want a string");
  return it->get<std::string>();
}

std::vector<std::string> oci_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tools().oci_run};
  argv.insert(argv.end(), tools().run_globals.begin(), tools().run_globals.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool is_running(const json& c) { return c.contains("State") && c["State"].value("Running", false); }

// docker's filters parameter ({"k": {"v": true}} or {"k": ["v"]}) as
// `--filter k=v` arguments; keys other than `allowed` are a 400.
std::vector<std::string> filter_args(const Exchange& x, const std::set<std::string>& allowed) {
  std::vector<std::string> a;
  std::string f = x.q("filters");
  if (f.empty()) return a;
  json fj = json::parse(f, nullptr, false);
  if (!fj.is_object()) fail_api(400, "invalid filters: " + f.substr(0, 200));
  for (auto& [k, v] : fj.items()) {
    if (!allowed.count(k)) fail_api(400, "invalid filter '" + k + "'");
    std::vector<std::string> vals;
    if (v.is_object()) {
      for (auto& [val, on] : v.items()) vals.push_back(val);
    } else if (v.is_array()) {
      for (auto& e : v)
        if (e.is_string()) vals.push_back(e.get<std::string>());
    } else {
      fail_api(400, "invalid filters: " + f.substr(0, 200));
    }
    for (auto& val : vals) a.insert(a.end(), {"--filter", k + "=" + val});
  }
  return a;
}

// Read the child's stdout into `buf` until `enough(buf)` or its end (false).
template <class F>
bool read_until(Child& c, std::string& buf, F&& enough) {
  char tmp[65536];
  while (!enough(buf)) {
    ssize_t n = ::read(c.out.get(), tmp, sizeof tmp);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    if (buf.size() > (64u << 20)) return true;
  }
  return true;
}

// A child that ended before it wrote what was wanted: its exit code and stderr.
Result finish_failed(Child& c) {
  Result r;
  std::string err;
  char tmp[4096];
  ssize_t n;
  while ((n = ::read(c.err.get(), tmp, sizeof tmp)) > 0 && err.size() < 65536) err.append(tmp, static_cast<size_t>(n));
  r.err = err;
  r.status = reap_child(c);
  if (r.status == 0) r.status = 1;
  return r;
}

// Stream the child's stdout as the chunked body that begin_stream started
// (after `first`); a failure midway ends the connection without the last
// chunk, so the client sees a truncated body and not a whole one.
void stream_rest(Exchange& x, Child& c, const std::string& first) {
  if (!x.chunk(first)) return kill_child(c);
  int rc = pump_output(
      c, Framing::raw, [&](std::string_view d) { return x.chunk(d); }, [&] { return x.client_gone(); }, true, false);
  if (rc == 0) x.end_stream();
}

// ---- archive: the stat of a path, from the first entry of its tar ----

uint64_t octal(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && p[i]; i++) {
    if (p[i] == ' ') continue;
    if (p[i] < '0' || p[i] > '7') break;
    v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  }
  return v;
}

std::string field(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

struct PathStat {
  uint64_t size = 0, mode = 0;  // mode: Go's os.FileMode bits
  int64_t mtime = 0;
  std::string link;
};

// The first real entry of the tar in `buf` (pax and GNU long-name headers
// before it are taken in); false while `buf` does not hold it whole.
// ApiError 500 for a stream that is no tar.
bool first_entry(const std::string& buf, PathStat& st) {
  size_t off = 0;
  std::string pax_link, pax_size, pax_mtime, long_link;
  for (;;) {
    if (buf.size() < off + 512) return false;
    const char* h = buf.data() + off;
    if (std::memcmp(h + 257, "ustar", 5) != 0) fail_api(500, "oci-run cp: not a tar stream");
    char type = h[156];
    uint64_t size = octal(h + 124, 12);
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (size > (1u << 20)) fail_api(500, "oci-run cp: oversized tar extension header");
      size_t padded = (size + 511) / 512 * 512;
      if (buf.size() < off + 512 + padded) return false;
      std::string data = buf.substr(off + 512, size);
      if (type == 'K') long_link = data.c_str();
      if (type == 'x') {
        // "LEN key=value\n" records.
        for (size_t p = 0; p < data.size();) {
          size_t sp = data.find(' ', p);
          if (sp == std::string::npos) break;
          size_t len = std::strtoull(data.c_str() + p, nullptr, 10);
          if (len == 0 || p + len > data.size()) break;
          std::string rec = data.substr(sp + 1, p + len - sp - 2);
          auto eq = rec.find('=');
          std::string k = rec.substr(0, eq), v = eq == std::string::npos ? "" : rec.substr(eq + 1);
          if (k == "linkpath") pax_link = v;
          if (k == "size") pax_size = v;
          if (k == "mtime") pax_mtime = v;
          p += len;
        }
      }
      off += 512 + padded;
      continue;
    }
    uint64_t perm = octal(h + 100, 8);
    st.mode = perm & 0777;
    if (perm & 04000) st.mode |= 1u << 23;  // ModeSetuid
    if (perm & 02000) st.mode |= 1u << 22;  // ModeSetgid
    if (perm & 01000) st.mode |= 1u << 20;  // ModeSticky
    switch (type) {
      case '5': st.mode |= 1u << 31; break;  // ModeDir
      case '2': st.mode |= 1u << 27; break;  // ModeSymlink
      case '3': st.mode |= (1u << 26) | (1u << 21); break;  // ModeDevice | ModeCharDevice
      case '4': st.mode |= 1u << 26; break;
      case '6': st.mode |= 1u << 25; break;  // ModeNamedPipe
      default: break;
    }
    st.size = pax_size.empty() ? size : std::strtoull(pax_size.c_str(), nullptr, 10);
    st.mtime = pax_mtime.empty() ? static_cast<int64_t>(octal(h + 136, 12)) : std::atoll(pax_mtime.c_str());
    st.link = !pax_link.empty() ? pax_link : !long_link.empty() ? long_link : field(h + 157, 100);
    return true;
  }
}

// docker's X-Docker-Container-Path-Stat: base64 of {name,size,mode,mtime,linkTarget}.
std::string stat_header(const std::string& path, const PathStat& st) {
  std::string clean = fs::clean_path("/" + path);
  std::string name = clean == "/" ? "/" : clean.substr(clean.rfind('/') + 1);
  char when[64];
  time_t t = static_cast<time_t>(st.mtime);
  struct tm tm {};
  gmtime_r(&t, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json j = {{"name", name}, {"size", st.size}, {"mode", st.mode}, {"mtime", when}, {"linkTarget", st.link}};
  return auth::base64_encode(j.dump());
}

[[noreturn]] void fail_path(const Result& r, const std::string& id, const std::string& path) {
  std::string m = r.message();
  // A bad archive (an entry that escapes, a dir/non-dir clash) or target.
  if (m.find("layer entry") != std::string::npos || m.find("cannot overwrite") != std::string::npos ||
      m.find("extraction point is not a directory") != std::string::npos || m.find("layer:") != std::string::npos)
    fail_api(400, m);
  if (m.find("no such file or directory") != std::string::npos || m.find(": not a directory") != std::string::npos)
    fail_api(404, "Could not find the file " + path + " in container " + id);
  fail_api(status_of(r), m);
}

void archive_get(Exchange& x, const json& c, const std::string& id, const std::string& path) {
  Child ch = spawn_piped(oci_argv({"cp", c.value("Id", id) + ":" + path, "-"}), false);
  std::string head;
  PathStat st;
  bool got = false;
  try {
    got = read_until(ch, head, [&](const std::string& b) { return first_entry(b, st); });
  } catch (...) {
    kill_child(ch);
    throw;
  }
  if (!got) fail_path(finish_failed(ch), id, path);
  x.add_header("X-Docker-Container-Path-Stat", stat_header(path, st));
  if (x.head()) {
    kill_child(ch);
    return x.reply(200, "", "application/x-tar");
  }
  x.begin_stream("application/x-tar");
  stream_rest(x, ch, head);
}

// PUT: the body streams into `oci-run cp - ID:PATH` on a thread. When the
// tool stops early (a bad path or entry) the rest of the body is read and
// dropped, so that the client gets the answer.
void archive_put(Exchange& x, const json& c, const std::string& id, const std::string& path) {
  Child ch = spawn_piped(oci_argv({"cp", "-", c.value("Id", id) + ":" + path}), true);
  int in = ch.in.release();
  std::string feed_error;
  std::thread feeder([&x, in, &feed_error] {
    std::vector<char> buf(65536);
    bool open = true;
    try {
      for (;;) {
        size_t n = x.read_body(buf.data(), buf.size());
        if (n == 0) break;
        const char* p = buf.data();
        while (open && n > 0) {
          ssize_t w = ::write(in, p, n);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) {
            open = false;
            break;
          }
          p += w;
          n -= static_cast<size_t>(w);
        }
      }
    } catch (const ApiError& e) {
      feed_error = e.message;
    } catch (const std::exception& e) {
      feed_error = e.what();
    }
    ::close(in);
  });
  std::string err;
  int rc = pump_output(
      ch, Framing::raw,
      [&](std::string_view d) {
        if (err.size() < 65536) err.append(d);
        return true;
      },
      {}, false, true);
  feeder.join();
  if (!feed_error.empty()) fail_api(400, "reading the archive: " + feed_error);
  if (rc != 0) fail_path(Result{rc, "", err}, id, path);
  x.reply(200, "", "");
}

// docker's stats object of a container that is not running: zeros.
json empty_stats(const json& c) {
  json cpu = {{"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
              {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
  json blkio = json::object();
  for (const char* k :
       {"io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
        "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive"})
    blkio[k] = nullptr;
  return {{"read", "0001-01-01T00:00:00Z"},
          {"preread", "0001-01-01T00:00:00Z"},
          {"pids_stats", json::object()},
          {"blkio_stats", blkio},
          {"num_procs", 0},
          {"storage_stats", json::object()},
          {"cpu_stats", cpu},
          {"precpu_stats", cpu},
          {"memory_stats", json::object()},
          {"name", c.value("Name", "")},
          {"id", c.value("Id", "")}};
}

// A Dockerfile string: quoted, with \, " and $ escaped (no expansion).
std::string dq(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '\\' || ch == '"' || ch == '$') o.push_back('\\');
    if (ch == '\n') {
      o += "\\n";
      continue;
    }
    o.push_back(ch);
  }
  return o + "\"";
}

// The commit body (a container Config) as Dockerfile instructions for
// `oci-run commit --change`: the fields it sets replace the image's.
std::vector<std::string> config_changes(const json& cfg) {
  std::vector<std::string> ch;
  if (cfg.is_null()) return ch;
  if (!cfg.is_object()) fail_api(400, "invalid container config: want a JSON object");
  auto words = [&](const char* k) -> std::optional<json> {
    auto it = cfg.find(k);
    if (it == cfg.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return json::array({*it});
    if (!it->is_array()) fail_api(400, std::string(k) + ": want an array of strings");
    for (auto& e : *it)
      if (!e.is_string()) fail_api(400, std::string(k) + ": want an array of strings");
    return *it;
  };
  if (auto v = words("Cmd")) ch.push_back("CMD " + v->dump());
  if (auto v = words("Entrypoint")) ch.push_back("ENTRYPOINT " + v->dump());
  if (auto v = words("Env"))
    for (auto& e : *v) {
      std::string s = e.get<std::string>();
      auto eq = s.find('=');
      if (eq == 0 || eq == std::string::npos) fail_api(400, "Env: want KEY=VALUE: \"" + s.substr(0, 100) + "\"");
      ch.push_back("ENV " + s.substr(0, eq) + "=" + dq(s.substr(eq + 1)));
    }
  if (cfg.contains("Labels") && cfg["Labels"].is_object())
    for (auto& [k, v] : cfg["Labels"].items())
      if (v.is_string()) ch.push_back("LABEL " + dq(k) + "=" + dq(v.get<std::string>()));
  if (auto w = string_of(cfg, "WorkingDir"); !w.empty()) ch.push_back("WORKDIR " + w);
  if (auto u = string_of(cfg, "User"); !u.empty()) ch.push_back("USER " + u);
  if (auto s = string_of(cfg, "StopSignal"); !s.empty()) ch.push_back("STOPSIGNAL " + s);
  for (const char* k : {"ExposedPorts", "Volumes"})
    if (cfg.contains(k) && cfg[k].is_object())
      for (auto& [key, v] : cfg[k].items())
        ch.push_back(std::string(k) == "Volumes" ? "VOLUME " + json::array({key}).dump() : "EXPOSE " + key);
  for (auto& c : ch)
    if (c.find('\n') != std::string::npos || c.find('\r') != std::string::npos)
      fail_api(400, "invalid container config: a value holds a line break");
  return ch;
}

}  // namespace

bool archive_streams_body(const Exchange& x) {
  const std::string& p = x.path;
  return x.method == "PUT" && p.rfind("/containers/", 0) == 0 && p.size() > 20 &&
      p.compare(p.size() - 8, 8, "/archive") == 0;
}

// update: docker's UpdateConfig (Resources + RestartPolicy) as `oci-run update` flags.
void container_update(Exchange& x, const std::string& id) {
  json b = x.body_json();
  if (!b.is_object()) fail_api(400, "invalid update config: want a JSON object");
  json c = inspect_container(id);
  std::vector<std::string> a{"update"};
  for (auto [k, flag] : {std::pair{"Memory", "--memory"},
                         {"MemorySwap", "--memory-swap"},
                         {"MemoryReservation", "--memory-reservation"},
                         {"CpuShares", "--cpu-shares"},
                         {"CpuQuota", "--cpu-quota"},
                         {"CpuPeriod", "--cpu-period"},
                         {"BlkioWeight", "--blkio-weight"}})
    if (int64_t v = num_of(b, k)) a.insert(a.end(), {flag, std::to_string(v)});
  if (int64_t n = num_of(b, "NanoCpus")) {
    if (n < 0) fail_api(400, "NanoCpus: must not be negative");
    std::ostringstream os;
    os << static_cast<double>(n) / 1e9;
    a.insert(a.end(), {"--cpus", os.str()});
  }
  if (b.contains("PidsLimit") && !b["PidsLimit"].is_null())
    a.insert(a.end(), {"--pids-limit", std::to_string(num_of(b, "PidsLimit"))});
  for (auto [k, flag] : {std::pair{"CpusetCpus", "--cpuset-cpus"}, {"CpusetMems", "--cpuset-mems"}})
    if (auto v = string_of(b, k); !v.empty()) a.insert(a.end(), {flag, v});
  if (b.contains("RestartPolicy") && b["RestartPolicy"].is_object()) {
    std::string n = string_of(b["RestartPolicy"], "Name");
    int64_t max = num_of(b["RestartPolicy"], "MaximumRetryCount");
    if (!n.empty()) a.insert(a.end(), {"--restart", n == "on-failure" && max > 0 ? n + ":" + std::to_string(max) : n});
  }
  if (a.size() > 1) {
    a.push_back(c.value("Id", id));
    check_oci(a);
  }
  x.json(200, {{"Warnings", json::array()}});
}

// top?ps_args=: `oci-run top` (the host's ps, limited to the container's
// cgroup) as {"Titles": [...], "Processes": [[...]]}; the last column takes
// the rest of a line (the command), as dockerd's parser.
void container_top(Exchange& x, const std::string& id) {
  json c = inspect_container(id);
  if (!is_running(c)) fail_api(409, "Container " + id + " is not running");
  std::vector<std::string> a{"top", c.value("Id", id)};
  std::istringstream ps(x.q("ps_args"));
  for (std::string w; ps >> w;) {
    if (a.size() > 66 || w.size() > 1024) fail_api(400, "ps_args: too long");
    a.push_back(w);
  }
  Result r = run_oci(a, "", 60000);
  if (r.status != 0) fail_api(status_of(r) == 404 ? 404 : 500, r.message());
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  json titles = json::array(), procs = json::array();
  std::istringstream hs(line);
  for (std::string w; hs >> w;) titles.push_back(w);
  if (std::find(titles.begin(), titles.end(), "PID") == titles.end())
    fail_api(500, "Couldn't find PID field in ps output");
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> f;
    for (std::string w; ls >> w;) f.push_back(w);
    if (f.empty()) continue;
    json row = json::array();
    for (size_t i = 0; i < f.size(); i++) {
      if (i + 1 == titles.size() && i + 1 < f.size()) {
        std::string rest = f[i];
        for (size_t k = i + 1; k < f.size(); k++) rest += " " + f[k];
        row.push_back(rest);
        break;
      }
      row.push_back(f[i]);
    }
    procs.push_back(row);
  }
  x.json(200, {{"Titles", titles}, {"Processes", procs}});
}

// stats: `oci-run stats --format api`; stream (default) one object a
// second until the container stops or the client leaves; stream=false one
// (precpu from a sample before it); one-shot=true without precpu.
void container_stats(Exchange& x, const std::string& id) {
  json c = inspect_container(id);
  bool stream = x.q_bool("stream", true), one_shot = x.q_bool("one-shot");
  if (stream && one_shot) fail_api(400, "cannot have stream=true and one-shot=true");
  std::string full = c.value("Id", id);
  if (!is_running(c)) {
    if (!stream) return x.json(200, empty_stats(c));
    x.begin_stream("application/json");
    if (x.chunk(empty_stats(c).dump() + "\n")) x.end_stream();
    return;
  }
  if (!stream) {
    Result r = run_oci({"stats", "--format", "api", "--no-stream", full}, "", 60000);
    if (r.status != 0) {
      if (!is_running(inspect_container(full))) return x.json(200, empty_stats(c));
      fail_api(status_of(r), r.message());
    }
    json j = json::parse(r.out.substr(0, r.out.find('\n')), nullptr, false);
    if (!j.is_object()) fail_api(500, "oci-run stats: no stats for " + id);
    if (one_shot) {
      j["precpu_stats"] = empty_stats(c)["precpu_stats"];
      j["preread"] = "0001-01-01T00:00:00Z";
    }
    return x.json(200, j);
  }
  Child ch = spawn_piped(oci_argv({"stats", "--format", "api", full}), false);
  x.begin_stream("application/json");
  std::string pending;
  int rc = pump_output(
      ch, Framing::raw,
      [&](std::string_view d) {
        pending.append(d);
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
          if (!x.chunk(pending.substr(0, nl + 1))) return false;
          pending.erase(0, nl + 1);
        }
        return pending.size() < (1u << 20);
      },
      [&] { return x.client_gone(); }, true, false);
  if (rc >= 0) x.end_stream();
}

void container_archive(Exchange& x, const std::string& id) {
  std::string path = x.q("path");
  if (path.empty()) fail_api(400, "bad parameter: path cannot be empty");
  if (path.size() > 4096 || path.find('\0') != std::string::npos) fail_api(400, "bad parameter: path");
  json c = inspect_container(id);
  if (x.method == "PUT") return archive_put(x, c, id, path);
  archive_get(x, c, id, path);
}

// export: `oci-run export` (the container's merged filesystem) as a tar stream.
void container_export(Exchange& x, const std::string& id) {
  json c = inspect_container(id);
  Child ch = spawn_piped(oci_argv({"export", c.value("Id", id)}), false);
  std::string head;
  if (!read_until(ch, head, [](const std::string& b) { return !b.empty(); })) {
    Result r = finish_failed(ch);
    fail_api(status_of(r), r.message());
  }
  x.begin_stream("application/x-tar");
  stream_rest(x, ch, head);
}

// commit?container=&repo=&tag=&comment=&author=&pause=&changes=, the body a
// Config whose fields replace the image's: `oci-run commit` -> {"Id"}.
void container_commit(Exchange& x) {
  std::string id = x.q("container");
  if (id.empty()) fail_api(400, "container is required");
  json cfg = x.req.body().empty() ? json() : x.body_json();
  json c = inspect_container(id);
  std::vector<std::string> a{"commit"};
  if (auto v = x.q("author"); !v.empty()) a.insert(a.end(), {"--author", v});
  if (auto v = x.q("comment"); !v.empty()) a.insert(a.end(), {"--message", v});
  if (!x.q_bool("pause", true)) a.push_back("--pause=false");
  for (const auto& change : x.q_all("changes")) {
    std::istringstream in(change);
    for (std::string line; std::getline(in, line);)
      if (line.find_first_not_of(" \t\r") != std::string::npos) a.insert(a.end(), {"--change", line});
  }
  for (auto& ch : config_changes(cfg)) a.insert(a.end(), {"--change", ch});
  a.push_back(c.value("Id", id));
  std::string repo = x.q("repo"), tag = x.q("tag");
  if (repo.empty() && !tag.empty()) fail_api(400, "tag given without repo");
  if (!repo.empty()) a.push_back(tag.empty() ? repo : repo + ":" + tag);
  std::string out = check_oci(a);
  std::string image = out.substr(0, out.find('\n'));
  if (image.rfind("sha256:", 0) != 0) fail_api(500, "oci-run commit: no image id");
  x.json(201, {{"Id", image}});
}

// containers/prune?filters={until,label,label!}: `oci-run container prune`.
void container_prune(Exchange& x) {
  std::vector<std::string> a{"container", "prune", "--force", "--format", "json"};
  auto f = filter_args(x, {"until", "label", "label!"});
  a.insert(a.end(), f.begin(), f.end());
  json j = json::parse(check_oci(a), nullptr, false);
  if (!j.is_object()) fail_api(500, "oci-run container prune: unexpected output");
  if (j["ContainersDeleted"].empty()) j["ContainersDeleted"] = nullptr;  // dockerd's nil slice
  x.json(200, j);
}

}  // namespace ocikit::api
