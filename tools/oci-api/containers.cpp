// Container endpoints carried out by `oci-run` docker-style commands:
// create, list, inspect, start, stop, kill, restart, wait, remove.
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <set>
#include <sstream>

#include "common/events.hpp"
#include "handlers.hpp"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

std::vector<std::string> strings_of(const json& j, const std::string& what) {
  std::vector<std::string> v;
  if (j.is_null()) return v;
  if (j.is_string()) return {j.get<std::string>()};
  if (!j.is_array()) fail_api(400, what + ": want an array of strings");
  for (const auto& e : j) {
    if (!e.is_string()) fail_api(400, what + ": want an array of strings");
    v.push_back(e.get<std::string>());
  }
  return v;
}

std::string str_of(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || it->is_null()) return "";
  if (!it->is_string()) fail_api(400, std::string(k) + ": want a string");
  return it->get<std::string>();
}

int64_t int_of(const json& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || it->is_null()) return 0;
  if (!it->is_number()) fail_api(400, std::string(k) + ": want a number");
  return it->get<int64_t>();
}

bool bool_of(const json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_boolean() && it->get<bool>();
}

std::string ns_to_flag(int64_t ns) { return std::to_string(ns / 1000000) + "ms"; }

// docker's "2026-12-07T10:00:00.123Z" as Unix seconds.
int64_t unix_of(const std::string& rfc3339) {
  struct tm tm {};
  if (!strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return timegm(&tm);
}

// The create body (Config with HostConfig inside) as `oci-run create` flags.
std::vector<std::string> create_args(const json& b, const std::string& name, std::vector<std::string>& warnings) {
  if (!b.is_object()) fail_api(400, "invalid container config: want a JSON object");
  std::vector<std::string> a{"create", "--pull", "never"};
  std::string image = str_of(b, "Image");
  if (image.empty()) fail_api(400, "no image specified (Config.Image)");
  if (!name.empty()) a.insert(a.end(), {"--name", name});
  if (bool_of(b, "Tty")) a.push_back("--tty");
  if (b.contains("ExposedPorts") && b["ExposedPorts"].is_object())
    for (auto& [port, v] : b["ExposedPorts"].items()) a.insert(a.end(), {"--expose", port});
  if (bool_of(b, "OpenStdin")) a.push_back("--interactive");
  for (const auto& e : strings_of(b.value("Env", json()), "Env")) a.insert(a.end(), {"--env", e});
  if (auto w = str_of(b, "WorkingDir"); !w.empty()) a.insert(a.end(), {"--workdir", w});
  if (auto u = str_of(b, "User"); !u.empty()) a.insert(a.end(), {"--user", u});
  if (auto h = str_of(b, "Hostname"); !h.empty()) a.insert(a.end(), {"--hostname", h});
  if (auto s = str_of(b, "StopSignal"); !s.empty()) a.insert(a.end(), {"--stop-signal", s});
  if (b.contains("StopTimeout") && b["StopTimeout"].is_number())
    a.insert(a.end(), {"--stop-timeout", std::to_string(b["StopTimeout"].get<int>())});
  if (b.contains("Labels") && b["Labels"].is_object())
    for (auto& [k, v] : b["Labels"].items())
      if (v.is_string()) a.insert(a.end(), {"--label", k + "=" + v.get<std::string>()});
  if (b.contains("Healthcheck") && b["Healthcheck"].is_object()) {
    const json& h = b["Healthcheck"];
    auto test = strings_of(h.value("Test", json()), "Healthcheck.Test");
    if (!test.empty() && test[0] == "NONE") {
      a.push_back("--no-healthcheck");
    } else if (test.size() >= 2 && (test[0] == "CMD-SHELL" || test[0] == "CMD")) {
      std::string cmd;
      for (size_t i = 1; i < test.size(); ++i) cmd += (i > 1 ? " " : "") + test[i];
      a.insert(a.end(), {"--health-cmd", cmd});
    }
    if (int64_t v = int_of(h, "Interval")) a.insert(a.end(), {"--health-interval", ns_to_flag(v)});
    if (int64_t v = int_of(h, "Timeout")) a.insert(a.end(), {"--health-timeout", ns_to_flag(v)});
    if (int64_t v = int_of(h, "StartPeriod")) a.insert(a.end(), {"--health-start-period", ns_to_flag(v)});
    if (int64_t v = int_of(h, "Retries")) a.insert(a.end(), {"--health-retries", std::to_string(v)});
  }

  json hc = b.value("HostConfig", json::object());
  if (hc.is_null()) hc = json::object();
  if (!hc.is_object()) fail_api(400, "HostConfig: want an object");
  for (const auto& v : strings_of(hc.value("Binds", json()), "HostConfig.Binds")) a.insert(a.end(), {"--volume", v});
  if (hc.contains("Mounts") && hc["Mounts"].is_array()) {
    for (const auto& m : hc["Mounts"]) {
      if (!m.is_object()) fail_api(400, "HostConfig.Mounts: want objects");
      std::string spec = "type=" + (str_of(m, "Type").empty() ? std::string("volume") : str_of(m, "Type"));
      if (auto s = str_of(m, "Source"); !s.empty()) spec += ",source=" + s;
      spec += ",target=" + str_of(m, "Target");
      if (bool_of(m, "ReadOnly")) spec += ",readonly";
      a.insert(a.end(), {"--mount", spec});
    }
  }
  // Config.Volumes: anonymous volumes (docker run -v /path), but for the
  // paths a bind or mount already covers (docker-compose lists those too).
  if (b.contains("Volumes") && b["Volumes"].is_object()) {
    std::set<std::string> covered;
    for (const auto& v : strings_of(hc.value("Binds", json()), "HostConfig.Binds")) {
      auto c1 = v.find(':');
      if (c1 != std::string::npos) covered.insert(v.substr(c1 + 1, v.find(':', c1 + 1) - c1 - 1));
    }
    if (hc.contains("Mounts") && hc["Mounts"].is_array())
      for (const auto& m : hc["Mounts"]) covered.insert(str_of(m, "Target"));
    if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
      for (auto& [dst, opts] : hc["Tmpfs"].items()) covered.insert(dst);
    for (auto& [dst, unused] : b["Volumes"].items())
      if (!dst.empty() && !covered.count(dst)) a.insert(a.end(), {"--volume", dst});
  }
  if (hc.contains("Tmpfs") && hc["Tmpfs"].is_object())
    for (auto& [dst, opts] : hc["Tmpfs"].items()) {
      std::string o = opts.is_string() ? opts.get<std::string>() : "";
      a.insert(a.end(), {"--tmpfs", o.empty() ? dst : dst + ":" + o});
    }
  if (hc.contains("PortBindings") && hc["PortBindings"].is_object())
    for (auto& [port, binds] : hc["PortBindings"].items()) {
      if (!binds.is_array()) continue;
      for (const auto& pb : binds) {
        std::string ip = pb.is_object() ? str_of(pb, "HostIp") : "", hp = pb.is_object() ? str_of(pb, "HostPort") : "";
        std::string spec = (ip.empty() ? "" : ip + ":") + (hp.empty() && ip.empty() ? "" : hp + ":") + port;
        a.insert(a.end(), {"--publish", spec});
      }
    }
  if (hc.contains("PublishAllPorts") && hc["PublishAllPorts"].is_boolean() && hc["PublishAllPorts"].get<bool>())
    a.push_back("--publish-all");
  if (hc.contains("RestartPolicy") && hc["RestartPolicy"].is_object()) {
    std::string n = str_of(hc["RestartPolicy"], "Name");
    int64_t max = int_of(hc["RestartPolicy"], "MaximumRetryCount");
    if (!n.empty() && n != "no") a.insert(a.end(), {"--restart", n == "on-failure" && max > 0 ? n + ":" + std::to_string(max) : n});
  }
  // docker's default network mode ("default", or none given) is its network
  // "bridge": oci-run's --network default. The mode's entry in
  // NetworkingConfig may name aliases (compose: the service's name).
  std::string nm = str_of(hc, "NetworkMode");
  a.insert(a.end(), {"--network", nm.empty() ? "default" : nm});
  if (b.contains("NetworkingConfig") && b["NetworkingConfig"].is_object()) {
    const json& eps = b["NetworkingConfig"].value("EndpointsConfig", json::object());
    if (!eps.is_object()) fail_api(400, "NetworkingConfig.EndpointsConfig: want an object");
    if (eps.size() > 1) fail_api(400, "Container cannot be connected to network endpoints: only one at create");
    for (auto& [net, ep] : eps.items()) {
      if (!ep.is_object() || net != nm || nm == "default" || nm == "bridge" || nm == "host" || nm == "none") continue;
      for (const auto& al : strings_of(ep.value("Aliases", json()), "Aliases"))
        a.insert(a.end(), {"--network-alias", al});
    }
  }
  if (int64_t m = int_of(hc, "Memory")) a.insert(a.end(), {"--memory", std::to_string(m)});
  if (int64_t n = int_of(hc, "NanoCpus")) {
    std::ostringstream os;
    os << static_cast<double>(n) / 1e9;
    a.insert(a.end(), {"--cpus", os.str()});
  } else if (int64_t q = int_of(hc, "CpuQuota"); q > 0) {
    int64_t p = int_of(hc, "CpuPeriod");
    std::ostringstream os;
    os << static_cast<double>(q) / static_cast<double>(p > 0 ? p : 100000);
    a.insert(a.end(), {"--cpus", os.str()});
  }
  if (int64_t p = int_of(hc, "PidsLimit"); p > 0) a.insert(a.end(), {"--pids-limit", std::to_string(p)});
  for (const auto& c : strings_of(hc.value("CapAdd", json()), "HostConfig.CapAdd")) a.insert(a.end(), {"--cap-add", c});
  for (const auto& c : strings_of(hc.value("CapDrop", json()), "HostConfig.CapDrop")) a.insert(a.end(), {"--cap-drop", c});
  for (const auto& s : strings_of(hc.value("SecurityOpt", json()), "HostConfig.SecurityOpt"))
    a.insert(a.end(), {"--security-opt", s});
  if (hc.contains("Ulimits") && hc["Ulimits"].is_array())
    for (const auto& u : hc["Ulimits"])
      if (u.is_object())
        a.insert(a.end(), {"--ulimit", str_of(u, "Name") + "=" + std::to_string(int_of(u, "Soft")) + ":" +
                                           std::to_string(int_of(u, "Hard"))});
  if (bool_of(hc, "Privileged")) a.push_back("--privileged");
  if (bool_of(hc, "ReadonlyRootfs")) a.push_back("--read-only");
  if (bool_of(hc, "Init")) a.push_back("--init");
  if (bool_of(hc, "AutoRemove")) a.push_back("--rm");
  for (const char* k : {"Dns", "DnsSearch", "DnsOptions", "ExtraHosts", "Devices", "Links", "VolumesFrom"})
    if (hc.contains(k) && hc[k].is_array() && !hc[k].empty())
      warnings.push_back(std::string("HostConfig.") + k + " is not supported by oci-api and was ignored");

  // docker's Entrypoint is an array: its first word is --entrypoint, the
  // rest goes before Cmd (an explicit empty one resets the image's).
  std::vector<std::string> cmd = strings_of(b.value("Cmd", json()), "Cmd");
  if (b.contains("Entrypoint") && !b["Entrypoint"].is_null()) {
    auto ep = strings_of(b["Entrypoint"], "Entrypoint");
    if (ep.empty()) {
      a.insert(a.end(), {"--entrypoint", ""});
    } else {
      a.insert(a.end(), {"--entrypoint", ep[0]});
      cmd.insert(cmd.begin(), ep.begin() + 1, ep.end());
    }
  }
  a.push_back(image);
  a.insert(a.end(), cmd.begin(), cmd.end());
  return a;
}

int status_of_inspect(const std::string& id) {
  Result r = run_oci({"inspect", id});
  return r.status == 0 ? 200 : status_of(r);
}

// oci-run ps quotes the command as docker's table does; the API has it bare.
std::string unquote(const std::string& s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

nlohmann::json inspect_container(const std::string& id) {
  Result r = run_oci({"inspect", id});
  if (r.status != 0) {
    int st = status_of(r);
    fail_api(st, st == 404 ? "No such container: " + id : r.message());
  }
  try {
    auto j = json::parse(r.out);
    if (!j.is_array() || j.empty()) fail_api(404, "No such container: " + id);
    json c = j[0];
    // docker's maps (Go map types) must be objects, never [] or null.
    auto as_object = [](json& v) {
      if (!v.is_object()) v = json::object();
    };
    if (c.contains("HostConfig")) {
      as_object(c["HostConfig"]["PortBindings"]);
      // The monitor writes docker's json-file log (docker-py reads the driver).
      if (!c["HostConfig"].contains("LogConfig")) c["HostConfig"]["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
    }
    if (c.contains("NetworkSettings")) as_object(c["NetworkSettings"]["Ports"]);
    if (c.contains("Config")) as_object(c["Config"]["Labels"]);
    return c;
  } catch (const json::exception& e) {
    fail_api(500, std::string("oci-run inspect: ") + e.what());
  }
}

void container_create(Exchange& x) {
  json b = x.body_json();
  std::vector<std::string> warnings;
  auto args = create_args(b, x.q("name"), warnings);
  Result r = run_oci(args);
  if (r.status != 0) {
    int st = status_of(r);
    if (st == 404) fail_api(404, "No such image: " + str_of(b, "Image"));
    fail_api(st, r.message());
  }
  std::string id = r.out.substr(0, r.out.find('\n'));
  x.json(201, {{"Id", id}, {"Warnings", warnings}});
}

void container_list(Exchange& x) {
  std::vector<std::string> args{"ps", "--format", "json", "--no-trunc"};
  if (x.q_bool("all")) args.push_back("--all");
  if (auto f = x.q("filters"); !f.empty()) {
    json fj;
    try {
      fj = json::parse(f);
    } catch (const json::exception&) {
      fail_api(400, "invalid filters: " + f);
    }
    if (!fj.is_object()) fail_api(400, "invalid filters: " + f);
    for (auto& [k, v] : fj.items()) {
      static const std::set<std::string> known = {"id", "name", "label", "status", "health", "exited"};
      if (!known.count(k)) fail_api(400, "invalid filter '" + k + "'");
      std::vector<std::string> vals;
      if (v.is_object())
        for (auto& [val, on] : v.items()) vals.push_back(val);
      else
        vals = strings_of(v, "filters");
      for (const auto& val : vals) args.insert(args.end(), {"--filter", k + "=" + val});
    }
  }
  std::string out = check_oci(args);
  json list = json::array();
  std::istringstream is(out);
  std::string line;
  long limit = x.q("limit").empty() ? -1 : std::atol(x.q("limit").c_str());
  // Ports, Mounts and ImageID from one `oci-run inspect` of all of them (a
  // container removed meanwhile fails it: those fields stay empty then).
  std::map<std::string, json> details;
  {
    std::vector<std::string> args{"inspect"};
    std::istringstream ids(out);
    for (std::string l; std::getline(ids, l);) {
      json c = json::parse(l, nullptr, false);
      if (c.is_object() && !c.value("ID", "").empty()) args.push_back(c.value("ID", ""));
    }
    if (args.size() > 1) {
      Result r = run_oci(args);
      json arr = json::parse(r.out, nullptr, false);
      if (r.status == 0 && arr.is_array())
        for (const auto& c : arr)
          if (c.is_object()) details[c.value("Id", "")] = c;
    }
  }
  // docker's Ports list from the inspect's NetworkSettings.Ports while it
  // runs (the host ports it got), else HostConfig.PortBindings
  // ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}).
  auto ports_of = [](const json& c) {
    json ports = json::array();
    const json* pbp = nullptr;
    if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() &&
        c["NetworkSettings"].contains("Ports") && c["NetworkSettings"]["Ports"].is_object() &&
        !c["NetworkSettings"]["Ports"].empty())
      pbp = &c["NetworkSettings"]["Ports"];
    else if (c.contains("HostConfig") && c["HostConfig"].contains("PortBindings"))
      pbp = &c["HostConfig"]["PortBindings"];
    if (!pbp || !pbp->is_object()) return ports;
    const json& pb = *pbp;
    for (auto& [key, binds] : pb.items()) {
      auto slash = key.find('/');
      int priv = std::atoi(key.substr(0, slash).c_str());
      std::string type = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
      if (priv <= 0 || !binds.is_array()) continue;
      for (const auto& b : binds) {
        std::string ip = b.is_object() ? b.value("HostIp", "") : "", hp = b.is_object() ? b.value("HostPort", "") : "";
        json p = {{"PrivatePort", priv}, {"Type", type}};
        if (std::atoi(hp.c_str()) > 0) p["IP"] = ip.empty() ? "0.0.0.0" : ip, p["PublicPort"] = std::atoi(hp.c_str());
        ports.push_back(p);
      }
    }
    return ports;
  };
  while (std::getline(is, line)) {
    if (line.empty()) continue;
    json c;
    try {
      c = json::parse(line);
    } catch (const json::exception&) {
      continue;
    }
    if (limit >= 0 && static_cast<long>(list.size()) >= limit) break;
    auto d = details.find(c.value("ID", ""));
    json detail = d == details.end() ? json::object() : d->second;
    json ports = ports_of(detail);
    json mounts = detail.contains("Mounts") && detail["Mounts"].is_array() ? detail["Mounts"] : json::array();
    list.push_back(
        {{"Id", c.value("ID", "")},
         {"Names", json::array({"/" + c.value("Names", "")})},
         {"Image", c.value("Image", "")},
         {"ImageID", detail.value("Image", "")},
         {"Command", unquote(c.value("Command", ""))},
         {"Created", unix_of(c.value("CreatedAt", ""))},
         {"Ports", ports},
         {"Labels", c.contains("Labels") && c["Labels"].is_object() ? c["Labels"] : json::object()},
         {"State", c.value("State", "")},
         {"Status", c.value("Status", "")},
         {"HostConfig",
          {{"NetworkMode",
            detail.contains("HostConfig") ? detail["HostConfig"].value("NetworkMode", "default") : "default"}}},
         {"NetworkSettings",
          {{"Networks",
            detail.contains("NetworkSettings") && detail["NetworkSettings"].contains("Networks")
                ? detail["NetworkSettings"]["Networks"]
                : json::object()}}},
         {"Mounts", mounts}});
  }
  x.json(200, list);
}

void container_inspect(Exchange& x, const std::string& id) { x.json(200, inspect_container(id)); }

bool is_full_id(const std::string& id) {
  return id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void container_start(Exchange& x, const std::string& id) {
  // docker run starts by full id after attaching: the attach saw it created.
  if (is_full_id(id) && start_pending_attach(id)) return x.reply(204);
  json c = inspect_container(id);
  std::string full = c.value("Id", id);
  if (c["State"].value("Running", false)) return x.reply(304);
  // A client attached before start (docker run) gets the output of
  // `oci-run start -a`; otherwise the monitor starts it detached.
  if (!start_pending_attach(full)) check_oci({"start", full});
  x.reply(204);
}

void container_simple(Exchange& x, const std::string& id, const std::string& verb) {
  if (verb == "pause" || verb == "unpause") inspect_container(id);  // 404 before runc's pause could see the id
  std::vector<std::string> args{verb};
  if (verb == "kill") args.insert(args.end(), {"--signal", x.q("signal", "SIGKILL")});
  if ((verb == "stop" || verb == "restart") && !x.q("t").empty()) args.insert(args.end(), {"--time", x.q("t")});
  if (verb == "stop") {
    json c = inspect_container(id);
    if (!c["State"].value("Running", false) && !c["State"].value("Restarting", false)) return x.reply(304);
  }
  args.push_back(id);
  Result r = run_oci(args);
  if (r.status != 0) {
    int st = status_of(r);
    fail_api(st, st == 404 ? "No such container: " + id : r.message());
  }
  x.reply(204);
}

// rename?name=NEW: oci-run rename (409 when the name is taken).
void container_rename(Exchange& x, const std::string& id) {
  std::string name = x.q("name");
  if (name.empty()) fail_api(400, "name is required");
  inspect_container(id);
  check_oci({"rename", id, name});
  x.reply(204);
}

// changes: oci-run diff's "A|C|D PATH" lines as docker's [{Path, Kind}]
// (Kind 0 modified, 1 added, 2 deleted); null when nothing changed.
void container_changes(Exchange& x, const std::string& id) {
  inspect_container(id);
  std::string out = check_oci({"diff", id});
  json list = json::array();
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? out.size() : nl + 1;
    if (line.size() < 3 || line[1] != ' ') continue;
    int kind = line[0] == 'C' ? 0 : line[0] == 'A' ? 1 : line[0] == 'D' ? 2 : -1;
    if (kind >= 0) list.push_back({{"Path", line.substr(2)}, {"Kind", kind}});
  }
  x.reply(200, list.empty() ? "null" : list.dump());
}

// wait: the events journal says when the container died (its exitCode) or
// was removed; the journal is read from before the state is looked at, so
// an exit in between is not missed.
void container_wait(Exchange& x, const std::string& id) {
  std::string cond = x.q("condition");
  if (cond.empty()) cond = "not-running";
  if (cond != "not-running" && cond != "next-exit" && cond != "removed")
    fail_api(400, "invalid condition: \"" + cond + "\"");
  int64_t since = events::now_nano();
  // docker run waits (next-exit, removed) by full id before it starts the
  // container and needs the headers first: no lookup before them then.
  std::string full = id, status = "created";
  int code = 0;
  bool early = is_full_id(id) && cond != "not-running";
  if (early) {
    x.begin_stream("application/json");
  } else {
    json c = inspect_container(id);
    full = c.value("Id", id);
    status = c["State"].value("Status", "");
    code = c["State"].value("ExitCode", 0);
    x.begin_stream("application/json");
  }

  bool done = false;
  if (cond == "not-running" && status != "running" && status != "restarting" && status != "created") done = true;
  bool died = false, missing = false;
  auto last_check = std::chrono::steady_clock::now();
  auto gone_or_removed = [&] {
    if (x.client_gone()) return true;
    // Early: a container that never existed (or vanished unseen) ends the
    // wait with docker's error body; looked at every 2 s.
    if (early && !died && std::chrono::steady_clock::now() - last_check > std::chrono::seconds(2)) {
      last_check = std::chrono::steady_clock::now();
      if (status_of_inspect(full) == 404) return missing = true, true;
    }
    // An auto-removed container's monitor emits destroy; should that be
    // lost (the monitor killed), the container is looked up every 2 s.
    if (died && cond == "removed" && std::chrono::steady_clock::now() - last_check > std::chrono::seconds(2)) {
      last_check = std::chrono::steady_clock::now();
      if (status_of_inspect(full) == 404) return done = true, true;
    }
    return false;
  };
  if (!done) {
    events::read(
        events::default_path(), since, 0, true,
        [&](const events::Event& e) {
          if (e.type != "container" || e.id != full) return true;
          if (e.action == "die") {
            auto it = e.attributes.find("exitCode");
            if (it != e.attributes.end()) code = std::atoi(it->second.c_str());
            if (cond != "removed") return done = true, false;
            died = true;
            last_check = std::chrono::steady_clock::now();
          }
          if (e.action == "destroy" && cond == "removed") return done = true, false;
          return true;
        },
        gone_or_removed);
  }
  if (missing) {
    x.chunk(json{{"StatusCode", -1}, {"Error", {{"Message", "No such container: " + id}}}}.dump() + "\n");
    return x.end_stream();
  }
  if (!done) return;  // the client left
  x.chunk(json{{"StatusCode", code}, {"Error", nullptr}}.dump() + "\n");
  x.end_stream();
}

void container_remove(Exchange& x, const std::string& id) {
  std::vector<std::string> args{"rm"};
  if (x.q_bool("force")) args.push_back("--force");
  if (x.q_bool("v")) args.push_back("--volumes");
  args.push_back(id);
  Result r = run_oci(args);
  if (r.status != 0) {
    int st = status_of(r);
    if (st == 404) fail_api(404, "No such container: " + id);
    fail_api(st, r.message());
  }
  x.reply(204);
}

}  // namespace ocikit::api
