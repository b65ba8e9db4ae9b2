// System, image, volume and network endpoints: `oci-run` (images,
// volumes), `oci-fetch` (pull), `oci-net` (networks) and the events
// journal (lib/common/events), read here directly.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/events.hpp"
#include "common/layout.hpp"
#include "handlers.hpp"
#include "ocikit_config.h"
#include "tools.hpp"

namespace ocikit::api {

namespace {

using json = nlohmann::json;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream is(s);
  std::string l;
  while (std::getline(is, l))
    if (!l.empty()) v.push_back(l);
  return v;
}

json parse_or_500(const std::string& s, const std::string& what) {
  try {
    return json::parse(s);
  } catch (const json::exception& e) {
    fail_api(500, what + ": " + e.what());
  }
}

Result run_net(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tools().oci_net};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv);
}

// docker's filters query ({"k":{"v":true}} or {"k":["v"]}) as key -> values.
std::map<std::string, std::vector<std::string>> parse_filters(const std::string& f) {
  std::map<std::string, std::vector<std::string>> out;
  if (f.empty()) return out;
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception&) {
    fail_api(400, "invalid filters: " + f);
  }
  if (!j.is_object()) fail_api(400, "invalid filters: " + f);
  for (auto& [k, v] : j.items()) {
    if (v.is_object())
      for (auto& [val, on] : v.items()) out[k].push_back(val);
    else if (v.is_array())
      for (const auto& e : v)
        if (e.is_string()) out[k].push_back(e.get<std::string>());
  }
  return out;
}

// docker's network object from oci-net's.
json network_of(const json& n) {
  json cfg = json::array();
  for (const auto& s : n.value("subnets", json::array())) {
    json c = {{"Subnet", s.value("subnet", "")}, {"Gateway", s.value("gateway", "")}};
    if (!s.value("ip_range", "").empty()) c["IPRange"] = s.value("ip_range", "");
    cfg.push_back(c);
  }
  json containers = json::object();
  if (n.contains("containers") && n["containers"].is_object())
    for (auto& [id, c] : n["containers"].items()) {
      std::string v4, v6;
      for (const auto& a : c.value("addresses", json::array()))
        if (a.is_string()) (a.get<std::string>().find(':') != std::string::npos ? v6 : v4) = a.get<std::string>();
      containers[id] = {{"Name", c.value("name", "")}, {"IPv4Address", v4}, {"IPv6Address", v6}, {"MacAddress", c.value("mac", "")}};
    }
  std::string name = n.value("name", ""), id = n.value("id", "");
  return {{"Name", name},
          {"Id", id.empty() ? name : id},
          {"Created", n.value("created", "")},
          {"Scope", "local"},
          {"Driver", n.value("driver", "")},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", nullptr}, {"Config", cfg}}},
          {"Internal", n.value("internal", false)},
          {"Attachable", true},
          {"Ingress", false},
          {"Containers", containers},
          {"Options", n.contains("options") && n["options"].is_object() ? n["options"] : json::object()},
          {"Labels", n.contains("labels") && n["labels"].is_object() ? n["labels"] : json::object()}};
}

// An IPv4 CIDR as (network, mask); nullopt when it is not one.
std::optional<std::pair<uint32_t, uint32_t>> parse_v4(const std::string& cidr) {
  unsigned a, b, c, d, len;
  char tail;
  if (sscanf(cidr.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &len, &tail) != 5 || a > 255 || b > 255 || c > 255 ||
      d > 255 || len > 32)
    return std::nullopt;
  uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
  return std::make_pair(((a << 24) | (b << 16) | (c << 8) | d) & mask, mask);
}

// A subnet for a network created without one (as dockerd's default pools):
// the first 172.18-31.0.0/16 that overlaps no oci-net network and no route
// of this host (the default route aside).
std::string pick_subnet(const json& networks) {
  std::vector<std::pair<uint32_t, uint32_t>> used;
  for (const auto& n : networks)
    for (const auto& sn : n.value("subnets", json::array()))
      if (auto v = parse_v4(sn.value("subnet", ""))) used.push_back(*v);
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);
  while (std::getline(routes, line)) {
    std::istringstream is(line);
    std::string ifname, dst, gw, flags, refcnt, use, metric, mask;
    if (!(is >> ifname >> dst >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d = __builtin_bswap32(static_cast<uint32_t>(std::stoul(dst, nullptr, 16)));
    uint32_t m = __builtin_bswap32(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    if (m != 0) used.push_back({d & m, m});
  }
  for (uint32_t b = 18; b <= 31; ++b) {
    uint32_t net = (172u << 24) | (b << 16), mask = 0xffff0000u;
    bool clash = false;
    for (auto [un, um] : used) {
      uint32_t common = mask & um;
      if ((net & common) == (un & common)) clash = true;
    }
    if (!clash) return "172." + std::to_string(b) + ".0.0/16";
  }
  fail_api(500, "could not find an available, non-overlapping IPv4 address pool for the network");
}

// A string member, "" when missing or not a string (clients send null).
std::string sval(const json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

void system_ping(Exchange& x) {
  x.reply(200, "OK", "text/plain; charset=utf-8");
}

void system_version(Exchange& x) {
  struct utsname u {};
  uname(&u);
  std::string arch = u.machine;
  if (arch == "x86_64") arch = "amd64";
  else if (arch == "aarch64") arch = "arm64";
  x.json(200, {{"Platform", {{"Name", "ocikit"}}},
               {"Components", json::array({{{"Name", "Engine"}, {"Version", OCIKIT_VERSION}, {"Details", {{"ApiVersion", "1.41"}}}}})},
               {"Version", OCIKIT_VERSION},
               {"ApiVersion", "1.41"},
               {"MinAPIVersion", "1.24"},
               {"GitCommit", ""},
               {"GoVersion", "n/a (C++)"},
               {"Os", "linux"},
               {"Arch", arch},
               {"KernelVersion", u.release},
               {"BuildTime", ""}});
}

void system_info(Exchange& x) {
  std::string ps = check_oci({"ps", "--all", "--format", "json"});
  int total = 0, running = 0, stopped = 0;
  for (const auto& l : lines_of(ps)) {
    ++total;
    json c = json::parse(l, nullptr, false);
    if (c.is_object() && c.value("State", "") == "running") ++running;
    else ++stopped;
  }
  size_t images = lines_of(check_oci({"images", "--quiet", "--no-trunc"})).size();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  struct utsname u {};
  uname(&u);
  std::string os = "Linux";
  std::ifstream osr("/etc/os-release");
  for (std::string l; std::getline(osr, l);)
    if (l.rfind("PRETTY_NAME=", 0) == 0) os = l.substr(12), os.erase(std::remove(os.begin(), os.end(), '"'), os.end());
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t mem = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  x.json(200, {{"ID", "ocikit"},
               {"Containers", total},
               {"ContainersRunning", running},
               {"ContainersPaused", 0},
               {"ContainersStopped", stopped},
               {"Images", images},
               {"Driver", "overlay"},
               {"DockerRootDir", layout::default_store_path()},
               {"Name", host},
               {"ServerVersion", OCIKIT_VERSION},
               {"KernelVersion", u.release},
               {"OperatingSystem", os},
               {"OSType", "linux"},
               {"Architecture", u.machine},
               {"NCPU", ncpu},
               {"MemTotal", mem},
               {"CgroupDriver", "cgroupfs"},
               {"CgroupVersion", access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2" : "1"},
               {"LoggingDriver", "json-file"},
               {"DefaultRuntime", "oci-run"},
               {"Runtimes", {{"oci-run", {{"path", tools().oci_run}}}}},
               {"SecurityOptions", json::array({"name=seccomp,profile=default"})},
               {"Plugins", {{"Volume", {"local"}}, {"Network", {"bridge", "host", "macvlan", "null", "overlay"}}, {"Log", {"json-file"}}}},
               {"RegistryConfig", {{"IndexConfigs", json::object()}, {"InsecureRegistryCIDRs", {"127.0.0.0/8"}}}},
               {"Warnings", json::array()}});
}

// events: the journal from `since` (default now), following until `until`
// or the client leaves; filters as `oci-run events`.
void system_events(Exchange& x) {
  int64_t now = events::now_nano();
  int64_t since = now, until = 0;
  try {
    if (!x.q("since").empty()) since = events::parse_time(x.q("since"), now);
    if (!x.q("until").empty()) until = events::parse_time(x.q("until"), now);
  } catch (const std::exception& e) {
    fail_api(400, e.what());
  }
  auto filters = parse_filters(x.q("filters"));
  auto any_of = [&](const std::string& k, const std::vector<std::string>& candidates) {
    auto it = filters.find(k);
    if (it == filters.end()) return true;
    for (const auto& want : it->second)
      for (const auto& c : candidates)
        if (!c.empty() && (c == want || (k == "container" && c.rfind(want, 0) == 0 && want.size() >= 12))) return true;
    return false;
  };
  x.begin_stream("application/json");
  bool ok = true;
  events::read(
      events::default_path(), since, until, until == 0 || until > now,
      [&](const events::Event& e) {
        auto attr = [&](const char* k) {
          auto it = e.attributes.find(k);
          return it == e.attributes.end() ? std::string() : it->second;
        };
        if (!any_of("type", {e.type})) return true;
        std::string action = e.action.substr(0, e.action.find(':'));
        if (!any_of("event", {e.action, action})) return true;
        if (filters.count("container") && (e.type != "container" || !any_of("container", {e.id, attr("name")}))) return true;
        if (filters.count("image") && !any_of("image", {attr("image"), e.type == "image" ? e.id : ""})) return true;
        if (filters.count("volume") && (e.type != "volume" || !any_of("volume", {e.id}))) return true;
        if (filters.count("network") && (e.type != "network" || !any_of("network", {e.id, attr("name")}))) return true;
        if (filters.count("label")) {
          bool hit = false;
          for (const auto& l : filters["label"]) {
            auto eq = l.find('=');
            std::string k = l.substr(0, eq);
            auto it = e.attributes.find(k);
            if (it != e.attributes.end() && (eq == std::string::npos || it->second == l.substr(eq + 1))) hit = true;
          }
          if (!hit) return true;
        }
        ok = x.chunk(events::to_json(e).dump() + "\n");
        return ok;
      },
      [&] { return x.client_gone(); });
  if (ok && !x.client_gone()) x.end_stream();
}

// docker system df: oci-run's disk usage object is docker's already.
void system_df(Exchange& x) {
  json d = parse_or_500(check_oci({"system", "df", "--format", "json"}), "oci-run system df");
  if (!d.is_object()) fail_api(500, "oci-run system df: not a JSON object");
  x.json(200, d);
}

void image_list(Exchange& x) {
  auto ids = lines_of(check_oci({"images", "--quiet", "--no-trunc"}));
  json list = json::array();
  if (!ids.empty()) {
    std::vector<std::string> args{"image", "inspect"};
    args.insert(args.end(), ids.begin(), ids.end());
    json arr = parse_or_500(check_oci(args), "oci-run image inspect");
    auto filters = parse_filters(x.q("filters"));
    for (const auto& i : arr) {
      json tags = i.value("RepoTags", json::array());
      bool dangling = tags.empty();
      if (filters.count("dangling")) {
        bool want = filters["dangling"].front() == "true" || filters["dangling"].front() == "1";
        if (want != dangling) continue;
      }
      if (filters.count("reference")) {
        bool hit = false;
        for (const auto& r : filters["reference"])
          for (const auto& t : tags) {
            std::string s = t.get<std::string>();
            if (s == r || s.substr(0, s.rfind(':')) == r) hit = true;
          }
        if (!hit) continue;
      }
      json labels = i.contains("Config") && i["Config"].is_object() && i["Config"].contains("Labels") &&
                            i["Config"]["Labels"].is_object()
                        ? i["Config"]["Labels"]
                        : json::object();
      struct tm tm {};
      std::string created = i.value("Created", "");
      int64_t t = strptime(created.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) ? timegm(&tm) : 0;
      list.push_back({{"Id", i.value("Id", "")},
                      {"ParentId", ""},
                      {"RepoTags", tags},
                      {"RepoDigests", i.value("RepoDigests", json::array())},
                      {"Created", t},
                      {"Size", i.value("Size", 0)},
                      {"VirtualSize", i.value("Size", 0)},
                      {"SharedSize", -1},
                      {"Labels", labels},
                      {"Containers", -1}});
    }
  }
  x.json(200, list);
}

void image_inspect(Exchange& x, const std::string& name) {
  Result r = run_oci({"image", "inspect", name});
  if (r.status != 0) fail_api(status_of(r) == 404 ? 404 : status_of(r), status_of(r) == 404 ? "No such image: " + name : r.message());
  json arr = parse_or_500(r.out, "oci-run image inspect");
  if (!arr.is_array() || arr.empty()) fail_api(404, "No such image: " + name);
  x.json(200, arr[0]);
}

void image_tag(Exchange& x, const std::string& name) {
  std::string repo = x.q("repo"), tag = x.q("tag");
  if (repo.empty()) fail_api(400, "repository name must have at least one component");
  Result r = run_oci({"tag", name, repo + (tag.empty() ? "" : ":" + tag)});
  if (r.status != 0) fail_api(status_of(r), status_of(r) == 404 ? "No such image: " + name : r.message());
  x.reply(201);
}

void image_remove(Exchange& x, const std::string& name) {
  std::vector<std::string> args{"rmi"};
  if (x.q_bool("force")) args.push_back("--force");
  args.push_back(name);
  Result r = run_oci(args);
  if (r.status != 0) fail_api(status_of(r), status_of(r) == 404 ? "No such image: " + name : r.message());
  json out = json::array();
  for (const auto& l : lines_of(r.out)) {
    auto colon = l.find(": ");
    if (colon == std::string::npos) continue;
    out.push_back({{l.substr(0, colon), l.substr(colon + 2)}});
  }
  x.json(200, out);
}

void volume_list(Exchange& x) {
  auto names = lines_of(check_oci({"volume", "ls", "--quiet"}));
  json vols = json::array();
  if (!names.empty()) {
    std::vector<std::string> args{"volume", "inspect"};
    args.insert(args.end(), names.begin(), names.end());
    vols = parse_or_500(check_oci(args), "oci-run volume inspect");
  }
  x.json(200, {{"Volumes", vols}, {"Warnings", json::array()}});
}

void volume_create(Exchange& x) {
  json b = x.body_json();
  if (!b.is_object()) fail_api(400, "invalid volume config: want a JSON object");
  std::string driver = sval(b, "Driver");
  if (!driver.empty() && driver != "local") fail_api(400, "volume driver \"" + driver + "\" is not supported (only local)");
  std::vector<std::string> args{"volume", "create"};
  if (b.contains("Labels") && b["Labels"].is_object())
    for (auto& [k, v] : b["Labels"].items())
      if (v.is_string()) args.insert(args.end(), {"--label", k + "=" + v.get<std::string>()});
  if (b.contains("Name") && b["Name"].is_string() && !b["Name"].get<std::string>().empty())
    args.push_back(b["Name"].get<std::string>());
  std::string name = lines_of(check_oci(args)).at(0);
  json arr = parse_or_500(check_oci({"volume", "inspect", name}), "oci-run volume inspect");
  x.json(201, arr.at(0));
}

void volume_inspect(Exchange& x, const std::string& name) {
  Result r = run_oci({"volume", "inspect", name});
  if (r.status != 0) fail_api(404, "get " + name + ": no such volume");
  json arr = parse_or_500(r.out, "oci-run volume inspect");
  if (!arr.is_array() || arr.empty()) fail_api(404, "get " + name + ": no such volume");
  x.json(200, arr[0]);
}

void volume_remove(Exchange& x, const std::string& name) {
  std::vector<std::string> args{"volume", "rm"};
  if (x.q_bool("force")) args.push_back("--force");
  args.push_back(name);
  Result r = run_oci(args);
  if (r.status != 0) fail_api(status_of(r), r.message());
  x.reply(204);
}

void network_list(Exchange& x) {
  Result r = run_net({"ls", "--format", "json"});
  if (r.status != 0) fail_api(500, r.message());
  json arr = parse_or_500(r.out, "oci-net ls");
  json list = json::array();
  auto filters = parse_filters(x.q("filters"));
  static const std::set<std::string> kKeys = {"name", "id", "label", "driver", "type", "scope", "dangling"};
  for (const auto& [k, v] : filters)
    if (!kKeys.count(k)) fail_api(400, "invalid filter '" + k + "'");
  if (filters.count("dangling") && !arr.empty()) {
    // whether a network is in use: its leases, from oci-net inspect
    std::vector<std::string> args{"inspect"};
    for (const auto& n : arr) args.push_back(n.value("name", ""));
    Result i = run_net(args);
    if (i.status != 0) fail_api(500, i.message());
    arr = parse_or_500(i.out, "oci-net inspect");
  }
  // docker's: values of one key OR, keys AND; every label given must match.
  auto any = [&](const std::string& k, auto&& match) {
    auto it = filters.find(k);
    if (it == filters.end()) return true;
    return std::any_of(it->second.begin(), it->second.end(), match);
  };
  for (const auto& n : arr) {
    json d = network_of(n);
    std::string name = d["Name"], id = d["Id"], driver = d["Driver"];
    bool builtin = name == "bridge" || name == "host" || name == "none";
    if (!any("name", [&](const std::string& f) { return name.find(f) != std::string::npos; })) continue;
    if (!any("id", [&](const std::string& f) { return id.rfind(f, 0) == 0; })) continue;
    if (!any("driver", [&](const std::string& f) { return driver == f; })) continue;
    if (!any("scope", [&](const std::string& f) { return f == "local"; })) continue;
    if (!any("type", [&](const std::string& f) { return f == (builtin ? "builtin" : "custom"); })) continue;
    if (filters.count("label")) {
      const json& labels = d["Labels"];
      bool all = std::all_of(filters["label"].begin(), filters["label"].end(), [&](const std::string& l) {
        auto eq = l.find('=');
        std::string k = l.substr(0, eq);
        return labels.contains(k) && (eq == std::string::npos || labels[k] == l.substr(eq + 1));
      });
      if (!all) continue;
    }
    if (filters.count("dangling")) {
      bool want = filters["dangling"].front() == "true" || filters["dangling"].front() == "1";
      bool dangling = !builtin && (!n.contains("containers") || n["containers"].empty());
      if (want != dangling) continue;
    }
    list.push_back(d);
  }
  x.json(200, list);
}

namespace {

// oci-net's object for the network `ref` (a name or an id), null when
// oci-net does not know it.
json net_object(const std::string& ref) {
  Result r = run_net({"inspect", ref});
  json arr = r.status == 0 ? json::parse(r.out, nullptr, false) : json();
  return arr.is_array() && !arr.empty() && arr[0].is_object() ? arr[0] : json();
}

}  // namespace

void network_inspect(Exchange& x, const std::string& name) {
  Result r = run_net({"inspect", name});
  if (r.status != 0) fail_api(status_of(r) == 500 ? 404 : status_of(r), "network " + name + " not found");
  json arr = parse_or_500(r.out, "oci-net inspect");
  if (!arr.is_array() || arr.empty()) fail_api(404, "network " + name + " not found");
  x.json(200, network_of(arr[0]));
}

void network_create(Exchange& x) {
  json b = x.body_json();
  if (!b.is_object()) fail_api(400, "invalid network config: want a JSON object");
  std::string name = sval(b, "Name");
  if (name.empty()) fail_api(400, "network name is required");
  std::vector<std::string> args{"create"};
  std::string driver = sval(b, "Driver");
  args.insert(args.end(), {"--driver", driver.empty() ? "bridge" : driver});
  if ((b.contains("Internal") && b["Internal"].is_boolean() && b["Internal"].get<bool>())) args.push_back("--internal");
  if ((b.contains("EnableIPv6") && b["EnableIPv6"].is_boolean() && b["EnableIPv6"].get<bool>())) args.push_back("--ipv6");
  if (b.contains("IPAM") && b["IPAM"].is_object() && b["IPAM"].contains("Config") && b["IPAM"]["Config"].is_array())
    for (const auto& c : b["IPAM"]["Config"]) {
      if (!c.is_object()) continue;
      if (!sval(c, "Subnet").empty()) args.insert(args.end(), {"--subnet", sval(c, "Subnet")});
      if (!sval(c, "Gateway").empty()) args.insert(args.end(), {"--gateway", sval(c, "Gateway")});
      if (!sval(c, "IPRange").empty()) args.insert(args.end(), {"--ip-range", sval(c, "IPRange")});
    }
  bool has_subnet = std::find(args.begin(), args.end(), "--subnet") != args.end();
  if (!has_subnet && (driver.empty() || driver == "bridge")) {
    Result ls = run_net({"ls", "--format", "json"});
    if (ls.status != 0) fail_api(500, ls.message());
    args.insert(args.end(), {"--subnet", pick_subnet(parse_or_500(ls.out, "oci-net ls"))});
  }
  if (b.contains("Options") && b["Options"].is_object())
    for (auto& [k, v] : b["Options"].items())
      if (v.is_string()) args.insert(args.end(), {"--opt", k + "=" + v.get<std::string>()});
  if (b.contains("Labels") && b["Labels"].is_object())
    for (auto& [k, v] : b["Labels"].items())
      if (v.is_string()) args.insert(args.end(), {"--label", k + "=" + v.get<std::string>()});
  args.push_back(name);
  Result r = run_net(args);
  if (r.status != 0) fail_api(status_of(r), r.message());
  json n = net_object(name);
  x.json(201, {{"Id", n.is_object() ? n.value("id", name) : name}, {"Warning", ""}});
}

void network_remove(Exchange& x, const std::string& name) {
  Result r = run_net({"rm", name});
  if (r.status != 0) fail_api(status_of(r), r.message());
  x.reply(204);
}

void network_connect(Exchange& x, const std::string& name, bool connect) {
  json b = x.body_json();
  std::string cid = b.is_object() ? sval(b, "Container") : "";
  if (cid.empty()) fail_api(400, "Container is required");
  json c = inspect_container(cid);
  std::string full = c.value("Id", cid);
  // A container not running joins its network (HostConfig.NetworkMode) when
  // it starts: docker-compose's disconnect + connect (for aliases) of a
  // created container to that network changes nothing here.
  bool running = c["State"].value("Running", false);
  std::string mode = c.contains("HostConfig") ? c["HostConfig"].value("NetworkMode", "") : "";
  if (!running) {
    // `name` may be the network's id
    if (mode == name) return x.reply(200, "", "");
    if (json n = net_object(name); n.is_object() && n.value("name", "") == mode) return x.reply(200, "", "");
    fail_api(409, "container " + cid + " is not running: oci-api connects running containers to other networks only");
  }
  Result r;
  if (connect) {
    int pid = c["State"].value("Pid", 0);
    if (!c["State"].value("Running", false) || pid <= 0) fail_api(409, "container " + cid + " is not running");
    std::vector<std::string> args{"connect", "--id", full, "--name", c.value("Name", "/").substr(1)};
    if (b.contains("EndpointConfig") && b["EndpointConfig"].is_object() && b["EndpointConfig"].contains("Aliases") &&
        b["EndpointConfig"]["Aliases"].is_array())
      for (const auto& al : b["EndpointConfig"]["Aliases"])
        if (al.is_string()) args.insert(args.end(), {"--alias", al.get<std::string>()});
    args.insert(args.end(), {name, std::to_string(pid)});
    r = run_net(args);
  } else {
    r = run_net({"disconnect", "--id", full, name});
  }
  if (r.status != 0) fail_api(status_of(r), r.message());
  x.reply(200, "", "");
}

}  // namespace ocikit::api
