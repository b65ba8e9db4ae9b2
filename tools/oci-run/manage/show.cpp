// oci-run manage/show: ps, logs and inspect, read from the records and logs.
#include <fcntl.h>
#include <unistd.h>

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

#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
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

std::string ports_text(const Record& r) {
  std::string p;
  for (const auto& s : r.ports) p += (p.empty() ? "" : ", ") + s;
  return p;
}

void print_entry(const nlohmann::json& e, bool timestamps) {
  std::string text = e.value("log", "");
  std::ostream& os = e.value("stream", "stdout") == "stderr" ? std::cerr : std::cout;
  if (timestamps) os << e.value("time", "") << " ";
  os << text;
  os.flush();
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
  // docker's --filter KEY=VALUE: the same key ORs, different keys AND.
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
      bool any = false;
      for (const auto& v : vals) {
        if (k == "id") any = any || r.id.rfind(v, 0) == 0;
        else if (k == "name") any = any || r.name.find(v) != std::string::npos;
        else if (k == "status") any = any || live == v;
        else if (k == "health") any = any || (live == "running" ? health_status(st, r) : "none") == v;
        else if (k == "exited") any = any || (live == "exited" && std::to_string(r.exit_code) == v);
        else if (k == "label") {
          auto eq = v.find('=');
          auto it = r.labels.find(v.substr(0, eq));
          any = any || (it != r.labels.end() && (eq == std::string::npos || it->second == v.substr(eq + 1)));
        }
      }
      if (!any) return false;
    }
    return true;
  };
  std::vector<std::vector<std::string>> rows;
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
                                  {"Ports", ports_text(r)},
                                  {"Names", r.name},
                                  {"Labels", r.labels},
                                  {"ExitCode", r.exit_code}};
      if (tmpl_table) tmpl_rows.push_back(nlohmann::json::parse(j.dump()));
      else if (tmpl) std::cout << render_template(format, nlohmann::json::parse(j.dump())) << "\n";
      else std::cout << j.dump() << "\n";
      continue;
    }
    rows.push_back({id, r.image, command_text(r, no_trunc), human_duration(seconds_since(r.created)) + " ago",
                    status, ports_text(r), r.name});
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
                                 {"PortBindings", r.ports}};
    for (auto& [k, v] : r.host_config.items()) hc[k] = v;
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
        {"Image", r.image_digest},
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
          {"User",
           std::to_string(proc.value("/user/uid"_json_pointer, 0)) + ":" +
               std::to_string(proc.value("/user/gid"_json_pointer, 0))},
          {"Tty", r.tty},
          {"OpenStdin", r.interactive},
          {"Env", proc.value("env", std::vector<std::string>{})},
          {"Cmd", args},
          {"Image", r.image},
          {"WorkingDir", proc.value("cwd", "/")},
          {"Labels", r.labels},
          {"StopSignal", r.stop_signal},
          {"StopTimeout", r.stop_timeout}}},
        {"NetworkSettings",
         {{"Ports", r.ports},
          {"Networks",
           r.network.empty() ? nlohmann::json::object() : nlohmann::json{{r.network, nlohmann::json::object()}}}}},
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

}  // namespace ocikit::manage
