// oci-run manage/show: ps, logs and inspect, read from the records and logs.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <deque>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/process.hpp"
#include "images.hpp"
#include "manage/format.hpp"
#include "manage/health.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {

namespace {

StateDir state_of(const Globals& g) { return StateDir(g.state_dir.empty() ? default_state_dir() : g.state_dir); }

// Seconds since an RFC 3339 UTC time ("2026-11-23T12:00:00.123Z"); -1 when unparsable.
long long seconds_since(const std::string& t) {
  std::tm tm{};
  std::istringstream in(t.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return -1;
  return static_cast<long long>(std::time(nullptr) - timegm(&tm));
}

// docker's "About a minute", "5 seconds", "2 hours".
std::string human_duration(long long s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  if (s < 120) return "About a minute";
  if (s < 3600) return std::to_string(s / 60) + " minutes";
  if (s < 7200) return "About an hour";
  if (s < 48 * 3600) return std::to_string(s / 3600) + " hours";
  return std::to_string(s / 86400) + " days";
}

std::string status_text(const StateDir& st, const Record& r, const std::string& live) {
  if (live == "running") {
    std::string up = "Up " + human_duration(seconds_since(r.started));
    std::string h = health_status(st, r);
    if (h == "starting") return up + " (health: starting)";
    if (h != "none") return up + " (" + h + ")";
    return up;
  }
  if (live == "restarting")
    return "Restarting (" + std::to_string(r.exit_code) + ") " + human_duration(seconds_since(r.finished)) + " ago";
  if (live == "exited") {
    if (r.finished.empty()) return "Exited (" + std::to_string(r.exit_code) + ")";
    return "Exited (" + std::to_string(r.exit_code) + ") " + human_duration(seconds_since(r.finished)) + " ago";
  }
  if (live == "created") return "Created";
  return live;
}

std::string command_text(const Record& r, bool no_trunc) {
  std::string c;
  for (const auto& a : r.command) c += (c.empty() ? "" : " ") + a;
  if (!no_trunc && c.size() > 20) c = c.substr(0, 19) + "…";
  return "\"" + c + "\"";
}


void print_entry(const nlohmann::json& e, bool timestamps) {
  std::string text = e.value("log", "");
  std::ostream& os = e.value("stream", "stdout") == "stderr" ? std::cerr : std::cout;
  if (timestamps) os << e.value("time", "") << " ";
  os << text;
  os.flush();
}

// The ports published for `r`: those its lease got (`lease_ports`, from
// oci-net inspect: the host ports picked for "-p 80") or else its -p specs.
std::vector<net::PortMapping> published_ports(const Record& r, const nlohmann::json& lease_ports) {
  std::vector<net::PortMapping> maps;
  if (lease_ports.is_array() && !lease_ports.empty()) {
    for (const auto& p : lease_ports) try {
        maps.push_back(net::port_from_json(p));
      } catch (const Error&) {
      }
    return maps;
  }
  for (const auto& spec : r.ports) try {
      auto v = net::parse_port_spec(spec);
      maps.insert(maps.end(), v.begin(), v.end());
    } catch (const Error&) {
    }
  return maps;
}

// docker's port maps: HostConfig.PortBindings from the -p specs as given
// ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, HostPort "" for any
// port) or, with `live`, NetworkSettings.Ports with the address bound
// ("0.0.0.0" for every one) and the host port the lease got.
nlohmann::ordered_json port_map(const Record& r, bool live, const nlohmann::json& lease_ports = nullptr) {
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (const auto& p : published_ports(r, live ? lease_ports : nlohmann::json())) {
    std::string key = std::to_string(p.container_port) + "/" + (p.proto.empty() ? "tcp" : p.proto);
    std::string ip = p.host_ip.empty() && live ? "0.0.0.0" : p.host_ip;
    m[key].push_back({{"HostIp", ip}, {"HostPort", p.host_port ? std::to_string(p.host_port) : ""}});
  }
  return m;
}

// A network's definition and its leases (`oci-net inspect NAME`), looked up
// once per network for all the containers inspected; null when oci-net
// cannot tell (not found, or the network is gone).
const nlohmann::json& network_info(const Globals& g, const std::string& name,
                                   std::map<std::string, nlohmann::json>& cache) {
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  nlohmann::json info;
  try {
    process::Spec s;
    s.argv = {cli::find_tool("oci-net", g.self_dir, "OCIKIT_NET", {"OCI_NET"}), "inspect", name};
    auto out = process::capture(s, true, true);
    if (out.status == 0) {
      auto arr = nlohmann::json::parse(out.out);
      if (arr.is_array() && !arr.empty()) info = arr[0];
    } else {
      log::debug("inspect: oci-net inspect " + name + ": " + out.err);
    }
  } catch (const std::exception& e) {
    log::debug(std::string("inspect: network ") + name + ": " + e.what());
  }
  return cache[name] = info;
}

// The ports container `id` got on a network (oci-net inspect's lease), null
// when it has no lease there.
nlohmann::json lease_ports_of(const nlohmann::json& info, const std::string& id) {
  if (!info.is_object() || !info.contains("containers") || !info["containers"].contains(id)) return nullptr;
  return info["containers"][id].value("ports", nlohmann::json());
}

// The ports a running container publishes: when a -p left the host port to
// oci-net, those its lease got (one `oci-net inspect` per network, cached),
// else its -p specs.
std::vector<net::PortMapping> running_ports(const Globals& g, const Record& r,
                                            std::map<std::string, nlohmann::json>& net_cache) {
  bool picked = false;
  for (const auto& spec : r.ports) try {
      for (const auto& m : net::parse_port_spec(spec)) picked = picked || m.host_port == 0;
    } catch (const Error&) {
    }
  nlohmann::json lease_ports;
  if (picked && !r.network.empty() && r.network != "none" && r.network != "host")
    lease_ports = lease_ports_of(network_info(g, r.network, net_cache), r.id);
  return published_ports(r, lease_ports);
}

// docker ps's PORTS of a running container ("0.0.0.0:8080->80/tcp, ...";
// nothing while it does not run).
std::string ports_text(const Globals& g, const Record& r, const std::string& live,
                       std::map<std::string, nlohmann::json>& net_cache) {
  if ((live != "running" && live != "restarting") || r.ports.empty()) return "";
  std::string out;
  for (const auto& m : running_ports(g, r, net_cache)) {
    std::string ip = m.host_ip.empty() ? "0.0.0.0" : m.host_ip;
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    out += (out.empty() ? "" : ", ") + ip + ":" + (m.host_port ? std::to_string(m.host_port) : "") + "->" +
           std::to_string(m.container_port) + "/" + (m.proto.empty() ? "tcp" : m.proto);
  }
  return out;
}

// docker's NetworkSettings.Networks entry of the container on `network`:
// its address, prefix and gateway from its lease while it runs (empty
// while it does not, as docker's).
nlohmann::ordered_json endpoint_of(const Record& r, const std::string& network, const nlohmann::json& info) {
  nlohmann::ordered_json e = {{"IPAMConfig", nullptr},   {"Links", nullptr},         {"Aliases", nullptr},
                              {"NetworkID", network},    {"EndpointID", ""},         {"Gateway", ""},
                              {"IPAddress", ""},         {"IPPrefixLen", 0},         {"IPv6Gateway", ""},
                              {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"MacAddress", ""},
                              {"DriverOpts", nullptr}};
  if (info.is_object() && info.contains("id") && info["id"].is_string() && !info["id"].get<std::string>().empty())
    e["NetworkID"] = info["id"];
  if (!info.is_object() || !info.contains("containers") || !info["containers"].contains(r.id)) return e;
  const auto& lease = info["containers"][r.id];
  e["EndpointID"] = r.id.substr(0, 12) + "-" + network;
  if (lease.contains("mac") && lease["mac"].is_string()) e["MacAddress"] = lease["mac"];
  // docker lists the short id among a user network's aliases (its
  // resolver answers it, as oci-net's does).
  nlohmann::json aliases =
      lease.contains("aliases") && lease["aliases"].is_array() ? lease["aliases"] : nlohmann::json::array();
  if (network != "bridge" && std::find(aliases.begin(), aliases.end(), r.id.substr(0, 12)) == aliases.end())
    aliases.push_back(r.id.substr(0, 12));
  if (!aliases.empty()) e["Aliases"] = aliases;
  for (const auto& a : lease.value("addresses", std::vector<std::string>{})) {
    auto slash = a.find('/');
    std::string ip = a.substr(0, slash);
    int len = slash == std::string::npos ? 0 : std::atoi(a.c_str() + slash + 1);
    bool v6 = ip.find(':') != std::string::npos;
    std::string gw;
    for (const auto& sn : info.value("subnets", nlohmann::json::array())) {
      std::string sub = sn.value("subnet", "");
      if ((sub.find(':') != std::string::npos) == v6) gw = sn.value("gateway", "");
    }
    if (!v6 && e["IPAddress"] == "") e["IPAddress"] = ip, e["IPPrefixLen"] = len, e["Gateway"] = gw;
    if (v6 && e["GlobalIPv6Address"] == "")
      e["GlobalIPv6Address"] = ip, e["GlobalIPv6PrefixLen"] = len, e["IPv6Gateway"] = gw;
  }
  return e;
}

}  // namespace

void print_ps(const Globals& g, bool all, bool quiet, const std::string& format, bool no_trunc,
              const std::vector<std::string>& filters) {
  StateDir st = state_of(g);
  // table, json, a Go template ("{{.Names}}") or "table TEMPLATE".
  bool tmpl = format != "table" && format != "json";
  if (tmpl && format.find("{{") == std::string::npos)
    fail(Errc::usage, "unknown --format \"" + format + "\" (want table, json or a {{.Field}} template)");
  bool tmpl_table = tmpl && format.rfind("table", 0) == 0;
  std::vector<nlohmann::json> tmpl_rows;
  // docker's --filter KEY=VALUE: the same key ORs, different keys AND;
  // labels AND too (every label given must be there, as docker's).
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) fail(Errc::usage, "bad format of filter (expected name=value): " + f);
    std::string k = f.substr(0, eq), v = f.substr(eq + 1);
    static const std::set<std::string> kKeys = {"id", "name", "label", "status", "health", "exited"};
    if (!kKeys.count(k)) fail(Errc::usage, "invalid filter '" + k + "'");
    if (k == "health" && v != "starting" && v != "healthy" && v != "unhealthy" && v != "none")
      fail(Errc::usage, "unrecognised filter value for health: " + v);
    by_key[k].push_back(v);
  }
  // A status or exited filter lists stopped containers too, as docker's.
  bool show_all = all || by_key.count("status") || by_key.count("exited");
  auto matches = [&](const Record& r, const std::string& live) {
    for (const auto& [k, vals] : by_key) {
      bool any = false, all_labels = true;
      for (const auto& v : vals) {
        if (k == "id") any = any || r.id.rfind(v, 0) == 0;
        else if (k == "name") any = any || r.name.find(v) != std::string::npos;
        else if (k == "status") any = any || live == v;
        else if (k == "health") any = any || (live == "running" ? health_status(st, r) : "none") == v;
        else if (k == "exited") any = any || (live == "exited" && std::to_string(r.exit_code) == v);
        else if (k == "label") {
          auto eq = v.find('=');
          auto it = r.labels.find(v.substr(0, eq));
          all_labels =
              all_labels && it != r.labels.end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
          any = all_labels;
        }
      }
      if (!any) return false;
    }
    return true;
  };
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, nlohmann::json> net_cache;  // oci-net inspect per network
  for (const auto& r : st.list()) {
    std::string live = live_status(r);
    if (!show_all && live != "running" && live != "restarting") continue;
    if (!matches(r, live)) continue;
    std::string id = no_trunc ? r.id : r.id.substr(0, 12);
    bool paused = live == "running" && container_paused(g, r);
    std::string status = status_text(st, r, live) + (paused ? " (Paused)" : "");
    if (quiet) {
      std::cout << id << "\n";
      continue;
    }
    if (format == "json" || tmpl) {
      nlohmann::ordered_json j = {{"ID", id},
                                  {"Image", r.image},
                                  {"Command", command_text(r, true)},
                                  {"CreatedAt", r.created},
                                  {"RunningFor", human_duration(seconds_since(r.created)) + " ago"},
                                  {"Status", status},
                                  {"State", paused ? "paused" : live},
                                  {"Ports", ports_text(g, r, live, net_cache)},
                                  {"Names", r.name},
                                  {"Labels", r.labels},
                                  {"ExitCode", r.exit_code}};
      if (tmpl_table) tmpl_rows.push_back(nlohmann::json::parse(j.dump()));
      else if (tmpl) std::cout << render_template(format, nlohmann::json::parse(j.dump())) << "\n";
      else std::cout << j.dump() << "\n";
      continue;
    }
    rows.push_back({id, r.image, command_text(r, no_trunc), human_duration(seconds_since(r.created)) + " ago",
                    status, ports_text(g, r, live, net_cache), r.name});
  }
  if (tmpl_table && !quiet) {
    static const std::map<std::string, std::string> kHeaders = {
        {"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"}, {"CreatedAt", "CREATED AT"}};
    std::cout << render_template_table(format, tmpl_rows, kHeaders);
  }
  if (quiet || format == "json" || tmpl) return;
  std::vector<std::string> head = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"};
  std::vector<size_t> w(head.size());
  auto width = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // UTF-8 characters, for the ellipsis
    return n;
  };
  for (size_t i = 0; i < head.size(); i++) w[i] = head[i].size();
  for (auto& row : rows)
    for (size_t i = 0; i < row.size(); i++) w[i] = std::max(w[i], width(row[i]));
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < row.size(); i++) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(w[i] - width(row[i]) + 3, ' ');
    }
    std::cout << out << "\n";
  };
  line(head);
  for (auto& row : rows) line(row);
}

void print_logs(const Globals& g, const std::string& name_or_id, bool follow, long tail, bool timestamps,
                const std::string& since, const std::string& until) {
  StateDir st = state_of(g);
  std::string id = st.find(name_or_id);
  std::string path = st.log_path(id);
  // docker's --since/--until: entries written in [since, until].
  int64_t now = events::now_nano();
  std::optional<int64_t> from, to;
  if (!since.empty()) from = events::parse_time(since, now);
  if (!until.empty()) to = events::parse_time(until, now);
  auto in_range = [&](const std::string& l) {
    if (!from && !to) return true;
    try {
      auto e = nlohmann::json::parse(l);
      int64_t t = events::parse_time(e.value("time", ""), now);
      return (!from || t >= *from) && (!to || t <= *to);
    } catch (const std::exception&) {
      return false;
    }
  };
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  // Read what is there; keep the last `tail` complete lines.
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line still being written: read it again later
    if (!in_range(line)) continue;
    lines.push_back(line);
    if (tail >= 0 && static_cast<long>(lines.size()) > tail) lines.pop_front();
  }
  std::streamoff pos = 0;
  for (const auto& l : lines) {
    try {
      print_entry(nlohmann::json::parse(l), timestamps);
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (!follow) return;
  in.clear();
  // Position after the last complete line.
  {
    std::ifstream again(path, std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(again)), {});
    auto nl = all.rfind('\n');
    pos = nl == std::string::npos ? 0 : static_cast<std::streamoff>(nl + 1);
  }
  std::string partial;
  for (;;) {
    bool alive = false;
    if (auto found = st.try_find(id)) {
      std::string s = live_status(st.load(id));
      alive = s == "running" || s == "restarting" || s == "created";
    }
    std::ifstream f(path, std::ios::binary);
    if (f) {
      f.seekg(pos);
      std::string chunk((std::istreambuf_iterator<char>(f)), {});
      pos += static_cast<std::streamoff>(chunk.size());
      partial += chunk;
      size_t start = 0;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!in_range(partial.substr(start, nl - start))) continue;
        try {
          print_entry(nlohmann::json::parse(partial.substr(start, nl - start)), timestamps);
        } catch (const nlohmann::json::exception&) {
        }
      }
      partial.erase(0, start);
    }
    if (!alive) return;  // read once more after the exit, then stop
    if (to && events::now_nano() > *to) return;  // --until: docker stops following there
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void print_inspect(const Globals& g, const std::vector<std::string>& names, const std::string& format) {
  StateDir st = state_of(g);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::map<std::string, nlohmann::json> net_cache;
  for (const auto& n : names) {
    Record r = st.load(st.find(n));
    std::string live = live_status(r);
    bool paused = live == "running" && container_paused(g, r);
    nlohmann::json spec = nlohmann::json::object();
    try {
      spec = nlohmann::json::parse(fs::read_file(st.bundle_dir(r.id) + "/config.json"));
    } catch (const std::exception&) {
    }
    nlohmann::json proc = spec.value("process", nlohmann::json::object());
    std::vector<std::string> args = proc.value("args", std::vector<std::string>{});
    nlohmann::ordered_json mounts = nlohmann::ordered_json::array();
    for (const auto& m : r.mounts) {
      nlohmann::ordered_json j = {{"Type", m.type}};
      if (m.type == "volume") {
        j["Name"] = m.source;
        j["Source"] = st.volumes_dir() + "/" + m.source + "/_data";
      } else {
        j["Source"] = m.source;
      }
      j["Destination"] = m.destination;
      j["RW"] = !m.read_only;
      mounts.push_back(j);
    }
    nlohmann::ordered_json hc = {{"RestartPolicy", {{"Name", r.restart_policy}, {"MaximumRetryCount", r.restart_max}}},
                                 {"AutoRemove", r.auto_remove},
                                 {"PortBindings", nlohmann::ordered_json::object()}};
    for (auto& [k, v] : r.host_config.items()) hc[k] = v;
    // The image: docker's "Image" is its id (the config digest) and
    // Config.ExposedPorts its EXPOSE with the published ports.
    std::string image_id = r.image_digest, user = r.user;
    nlohmann::ordered_json exposed = nlohmann::ordered_json::object();
    try {
      auto [manifest, config] = read_image_by_digest(layout::Layout::open(r.store), r.image_digest);
      image_id = manifest.config.digest.str();
      if (user.empty()) user = config.config.user;
      for (const auto& p : config.config.exposed_ports) exposed[p] = nlohmann::json::object();
    } catch (const Error& e) {
      log::debug("inspect " + r.id + ": image " + r.image_digest + ": " + e.what());
    }
    bool up = live == "running" || live == "restarting";
    // its network's view (leases: addresses, MAC, the host ports it got)
    nlohmann::json info;
    if (!r.network.empty() && r.network != "none" && r.network != "host") {
      info = network_info(g, r.network, net_cache);
      // A stopped container gets the network's id, not a (stale) lease.
      if (!up && info.is_object()) info.erase("containers");
    }
    nlohmann::ordered_json ports = up ? port_map(r, true, lease_ports_of(info, r.id)) : nlohmann::ordered_json::object();
    for (const auto& p : r.exposed) exposed[p] = nlohmann::json::object();
    nlohmann::ordered_json bindings = port_map(r, false);
    hc["PortBindings"] = bindings;
    for (auto& [k, v] : bindings.items()) exposed[k] = nlohmann::json::object();
    if (up)
      for (auto& [k, v] : exposed.items())
        if (!ports.contains(k)) ports[k] = nullptr;
    // Its network: docker's top-level address fields are those on the
    // default network "bridge" only.
    nlohmann::ordered_json network_settings = {{"Bridge", ""}, {"SandboxID", ""}, {"SandboxKey", ""}, {"Ports", ports}};
    nlohmann::ordered_json networks = nlohmann::ordered_json::object();
    if (!r.network.empty() && r.network != "none" && r.network != "host") {
      networks[r.network] = endpoint_of(r, r.network, info);
    } else if (!r.network.empty()) {
      networks[r.network] = endpoint_of(r, r.network, nlohmann::json());
    }
    nlohmann::ordered_json top = networks.contains("bridge") ? networks["bridge"] : endpoint_of(r, "", nullptr);
    for (const char* k : {"EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress",
                          "IPPrefixLen", "IPv6Gateway", "MacAddress"})
      network_settings[k] = top[k];
    network_settings["Networks"] = networks;
    nlohmann::ordered_json j = {
        {"Id", r.id},
        {"Created", r.created},
        {"Path", args.empty() ? "" : args[0]},
        {"Args", args.size() > 1 ? std::vector<std::string>(args.begin() + 1, args.end()) : std::vector<std::string>{}},
        {"State",
         {{"Status", paused ? "paused" : live},
          {"Running", live == "running"},
          {"Paused", paused},
          {"Restarting", live == "restarting"},
          {"OOMKilled", false},
          {"Dead", false},
          {"Pid", live == "running" ? r.pid : 0},
          {"ExitCode", r.exit_code},
          {"Error", r.error},
          {"StartedAt", r.started.empty() ? "0001-01-01T00:00:00Z" : r.started},
          {"FinishedAt", r.finished.empty() ? "0001-01-01T00:00:00Z" : r.finished}}},
        {"Image", image_id},
        {"ResolvConfPath", ""},
        {"LogPath", st.log_path(r.id)},
        {"Name", "/" + r.name},
        {"RestartCount", r.restart_count},
        {"Driver", "overlay"},
        {"HostConfig", hc},
        {"GraphDriver",
         {{"Name", "overlay"},
          {"Data",
           {{"UpperDir", st.upper_dir(r.id)}, {"WorkDir", st.work_dir(r.id)}, {"MergedDir", st.rootfs_dir(r.id)}}}}},
        {"Mounts", mounts},
        {"Config",
         {{"Hostname", spec.value("hostname", "")},
          {"User", user},  // as docker's: -u as given, else the image's USER
          {"Tty", r.tty},
          {"OpenStdin", r.interactive},
          {"Env", proc.value("env", std::vector<std::string>{})},
          {"Cmd", args},
          {"Image", r.image},
          {"ExposedPorts", exposed},
          {"WorkingDir", proc.value("cwd", "/")},
          {"Labels", r.labels},
          {"StopSignal", r.stop_signal},
          {"StopTimeout", r.stop_timeout}}},
        {"NetworkSettings", network_settings},
        {"Bundle", st.bundle_dir(r.id)}};
    if (has_active_healthcheck(r)) {
      auto h = load_health(st, r.id);
      j["State"]["Health"] = h ? *h : nlohmann::json{{"Status", "starting"}, {"FailingStreak", 0}, {"Log", nlohmann::json::array()}};
    }
    if (r.healthcheck.is_object()) j["Config"]["Healthcheck"] = r.healthcheck;
    // -f TEMPLATE: one line per container, as docker inspect -f.
    if (!format.empty() && format != "json") std::cout << render_template(format, nlohmann::json::parse(j.dump())) << "\n";
    out.push_back(j);
  }
  if (format.empty() || format == "json") std::cout << out.dump(4) << "\n";
}

std::vector<net::PortMapping> live_ports(const Globals& g, const Record& r) {
  std::map<std::string, nlohmann::json> cache;
  return running_ports(g, r, cache);
}

}  // namespace ocikit::manage
