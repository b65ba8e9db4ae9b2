// `oci-run stats`: a managed container's resource use, read from its
// cgroups (the runtime state names them) and from /proc of its init (network
// counters of its netns).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/cgroup.hpp"
#include "common/error.hpp"
#include "common/process.hpp"
#include "common/fs.hpp"
#include "manage/manage.hpp"
#include "format.hpp"
#include "manage/record.hpp"
#include "state.hpp"

namespace ocikit::manage {

namespace {

uint64_t u64(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = &j;
  for (auto k : path) {
    if (!p->is_object() || !p->contains(k)) return 0;
    p = &(*p)[k];
  }
  return p->is_number_unsigned() || p->is_number_integer() ? p->get<uint64_t>() : 0;
}

uint64_t host_memory() {
  std::ifstream in("/proc/meminfo");
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v) {
    if (k == "MemTotal:") return v * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

// The counters of every interface but lo in pid's network namespace
// (/proc/PID/net/dev: 8 receive then 8 transmit fields).
std::vector<std::pair<std::string, std::array<uint64_t, 16>>> net_dev(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/dev");
  std::string line;
  std::vector<std::pair<std::string, std::array<uint64_t, 16>>> out;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string ifname = line.substr(0, colon);
    ifname.erase(0, ifname.find_first_not_of(' '));
    if (ifname == "lo") continue;
    std::istringstream ls(line.substr(colon + 1));
    std::array<uint64_t, 16> f{};
    for (auto& x : f) ls >> x;
    out.emplace_back(ifname, f);
  }
  return out;
}

// rx and tx bytes of every interface but lo in pid's network namespace.
std::pair<uint64_t, uint64_t> net_io(pid_t pid) {
  uint64_t rx = 0, tx = 0;
  for (const auto& [name, f] : net_dev(pid)) {
    rx += f[0];
    tx += f[8];
  }
  return {rx, tx};
}

// The host's CPU time in ns (/proc/stat's first line, USER_HZ ticks), as
// dockerd's system_cpu_usage.
uint64_t system_cpu_ns() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  if (cpu != "cpu") return 0;
  uint64_t total = 0, v = 0;
  for (int i = 0; i < 8 && in >> v; i++) total += v;  // user .. steal (guest is in user)
  return total * (1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

struct Sample {
  uint64_t cpu_ns = 0;
  uint64_t system_ns = 0;
  std::string read;  ///< RFC 3339 with nanoseconds
  std::chrono::steady_clock::time_point at;
  nlohmann::json stats;
};

Sample sample(const cgroup::Manager& cg) {
  Sample s;
  s.stats = cg.stats();
  s.at = std::chrono::steady_clock::now();
  s.system_ns = system_cpu_ns();
  s.read = now_rfc3339_nanos();
  s.cpu_ns = u64(s.stats, {"cpu", "usage", "total"});
  return s;
}

// Per-interface counters (but lo) of pid's network namespace, as docker's
// "networks" of the stats API.
nlohmann::json api_networks(pid_t pid) {
  nlohmann::json nets = nlohmann::json::object();
  for (const auto& [ifname, f] : net_dev(pid))
    nets[ifname] = {{"rx_bytes", f[0]}, {"rx_packets", f[1]}, {"rx_errors", f[2]},  {"rx_dropped", f[3]},
                    {"tx_bytes", f[8]}, {"tx_packets", f[9]}, {"tx_errors", f[10]}, {"tx_dropped", f[11]}};
  return nets;
}

// docker's cpu_stats from a sample (zeros for none).
nlohmann::json api_cpu(const Sample* s, uint64_t online) {
  nlohmann::json usage = {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}};
  nlohmann::json thr = {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}};
  nlohmann::json j = {{"cpu_usage", usage}, {"throttling_data", thr}};
  if (!s) return j;
  const auto& c = s->stats.contains("cpu") ? s->stats["cpu"] : nlohmann::json::object();
  j["cpu_usage"]["total_usage"] = s->cpu_ns;
  j["cpu_usage"]["usage_in_kernelmode"] = u64(c, {"usage", "kernel"});
  j["cpu_usage"]["usage_in_usermode"] = u64(c, {"usage", "user"});
  if (c.contains("usage") && c["usage"].contains("percpu") && !c["usage"]["percpu"].empty())
    j["cpu_usage"]["percpu_usage"] = c["usage"]["percpu"];
  j["system_cpu_usage"] = s->system_ns;
  j["online_cpus"] = online;
  j["throttling_data"] = {{"periods", u64(c, {"throttling", "periods"})},
                          {"throttled_periods", u64(c, {"throttling", "throttledPeriods"})},
                          {"throttled_time", u64(c, {"throttling", "throttledTime"})}};
  return j;
}

// One object of the Docker Engine API's GET /containers/ID/stats, from a
// sample and the one before it (precpu; none for the first).
nlohmann::json api_stats(const Running& c, const Sample& s, const Sample* before, uint64_t host_mem) {
  uint64_t online = static_cast<uint64_t>(sysconf(_SC_NPROCESSORS_ONLN));
  const auto& m = s.stats.contains("memory") ? s.stats["memory"] : nlohmann::json::object();
  uint64_t limit = u64(m, {"usage", "limit"});
  if (limit == 0 || (host_mem && limit > host_mem)) limit = host_mem;  // unlimited: the host's (dockerd)
  nlohmann::json mem = {{"usage", u64(m, {"usage", "usage"})},
                        {"limit", limit},
                        {"stats", m.contains("raw") ? m["raw"] : nlohmann::json::object()}};
  if (u64(m, {"usage", "max"})) mem["max_usage"] = u64(m, {"usage", "max"});
  if (u64(m, {"usage", "failcnt"})) mem["failcnt"] = u64(m, {"usage", "failcnt"});
  nlohmann::json blkio = {{"io_service_bytes_recursive", nullptr}, {"io_serviced_recursive", nullptr},
                          {"io_queue_recursive", nullptr},         {"io_service_time_recursive", nullptr},
                          {"io_wait_time_recursive", nullptr},     {"io_merged_recursive", nullptr},
                          {"io_time_recursive", nullptr},          {"sectors_recursive", nullptr}};
  if (s.stats.contains("blkio"))
    for (auto [from, to] : {std::pair{"ioServiceBytesRecursive", "io_service_bytes_recursive"},
                            std::pair{"ioServicedRecursive", "io_serviced_recursive"}})
      if (s.stats["blkio"].contains(from) && !s.stats["blkio"][from].empty()) blkio[to] = s.stats["blkio"][from];
  nlohmann::json pids = {{"current", u64(s.stats, {"pids", "current"})}};
  if (u64(s.stats, {"pids", "limit"})) pids["limit"] = u64(s.stats, {"pids", "limit"});
  nlohmann::json j = {{"read", s.read},
                      {"preread", before ? before->read : "0001-01-01T00:00:00Z"},
                      {"pids_stats", pids},
                      {"blkio_stats", blkio},
                      {"num_procs", 0},
                      {"storage_stats", nlohmann::json::object()},
                      {"cpu_stats", api_cpu(&s, online)},
                      {"precpu_stats", api_cpu(before, online)},
                      {"memory_stats", mem},
                      {"name", "/" + c.rec.name},
                      {"id", c.rec.id}};
  if (auto nets = api_networks(c.init); !nets.empty()) j["networks"] = nets;
  return j;
}

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", v);
  return buf;
}

}  // namespace

int container_stats(const Globals& env, const std::vector<std::string>& keys, const std::string& format, bool stream) {
  StateDir sd(env.state_dir);
  // Streaming, a container that stops drops out of the list (named ones
  // too); without names, new ones join at the next redraw.
  auto collect = [&] {
    std::vector<Running> cs;
    if (keys.empty()) {
      for (auto& r : sd.list()) {
        if (live_status(r) != "running") continue;
        try {
          cs.push_back(running_container(env, r.id));
        } catch (const Error&) {
          // it stopped meanwhile
        }
      }
    } else {
      for (auto& k : keys) {
        try {
          cs.push_back(running_container(env, k));
        } catch (const Error&) {
          if (!stream) throw;
        }
      }
    }
    return cs;
  };
  std::vector<Running> cs = collect();
  // Two samples of the cpu counters give the CPU % (a share of one CPU, as
  // docker's: 200% is two CPUs busy): half a second apart for the first
  // figures, then a second apart while streaming.
  std::map<std::string, Sample> prev;
  for (auto& c : cs) prev[c.rec.id] = sample(c.cg);
  if (!cs.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  uint64_t host_mem = host_memory();
  bool redraw = stream && (format.empty() || format == "table") && isatty(1);
  for (bool first_round = true;; first_round = false) {
    if (!first_round) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      cs = collect();
      if (!keys.empty() && cs.empty()) return 0;  // every named container has stopped
    }
    std::vector<std::vector<std::string>> rows{
        {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}};
    for (size_t i = 0; i < cs.size(); i++) {
      auto s = sample(cs[i].cg);
      auto it = prev.find(cs[i].rec.id);
      bool had = it != prev.end();
      Sample before = had ? it->second : s;
      prev[cs[i].rec.id] = s;
      if (format == "api") {
        std::cout << api_stats(cs[i], s, had ? &before : nullptr, host_mem).dump() << "\n";
        continue;
      }
      double wall = std::chrono::duration<double, std::nano>(s.at - before.at).count();
      double cpu = wall > 0 && s.cpu_ns >= before.cpu_ns ? (s.cpu_ns - before.cpu_ns) / wall * 100.0 : 0.0;
      const auto& m = s.stats["memory"];
      uint64_t usage = u64(m, {"usage", "usage"});
      // docker leaves out the page cache the kernel can drop at once.
      uint64_t inactive = u64(m, {"raw", "total_inactive_file"});
      if (!inactive) inactive = u64(m, {"raw", "inactive_file"});
      if (inactive < usage) usage -= inactive;
      uint64_t limit = u64(m, {"usage", "limit"});
      if (limit == 0 || (host_mem && limit > host_mem)) limit = host_mem;
      double mem_pct = limit ? 100.0 * static_cast<double>(usage) / static_cast<double>(limit) : 0.0;
      auto [rx, tx] = net_io(cs[i].init);
      uint64_t rd = 0, wr = 0;
      if (s.stats.contains("blkio") && s.stats["blkio"].contains("ioServiceBytesRecursive"))
        for (auto& e : s.stats["blkio"]["ioServiceBytesRecursive"]) {
          std::string op = e.value("op", "");
          for (auto& ch : op) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (op == "read") rd += e.value("value", uint64_t{0});
          if (op == "write") wr += e.value("value", uint64_t{0});
        }
      uint64_t pids = u64(s.stats, {"pids", "current"});
      const auto& r = cs[i].rec;
      nlohmann::ordered_json j;
      j["BlockIO"] = human_size(rd) + " / " + human_size(wr);
      j["CPUPerc"] = percent(cpu);
      j["Container"] = r.id.substr(0, 12);
      j["ID"] = r.id.substr(0, 12);
      j["MemLimit"] = limit;
      j["MemPerc"] = percent(mem_pct);
      j["MemUsage"] = human_bytes(usage) + " / " + human_bytes(limit);
      j["Name"] = r.name;
      j["NetIO"] = human_size(rx) + " / " + human_size(tx);
      j["PIDs"] = std::to_string(pids);
      if (format == "json") std::cout << j.dump() << "\n";
      else if (!format.empty() && format != "table")
        std::cout << render_template(format, nlohmann::json::parse(j.dump())) << "\n";
      else
        rows.push_back({r.id.substr(0, 12), r.name, j["CPUPerc"], j["MemUsage"], j["MemPerc"], j["NetIO"], j["BlockIO"],
                        j["PIDs"]});
    }
    // docker's redraw: clear the terminal, then the table again.
    if (redraw) std::cout << "\033[2J\033[H";
    if (format.empty() || format == "table") std::cout << format_table(rows);
    std::cout << std::flush;
    if (!stream) return 0;
  }
}

}  // namespace ocikit::manage
