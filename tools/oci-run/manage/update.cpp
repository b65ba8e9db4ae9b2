// `oci-run update` (docker's): change a managed container's resource limits
// and restart policy. A running container gets them in its cgroup at once
// (the runtime's update); the bundle's config.json and the record keep them,
// so a restart and inspect see them too.
#include <cmath>
#include <iostream>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "container.hpp"
#include "manage/manage.hpp"
#include "manage/parse.hpp"

namespace ocikit::manage {

namespace {

// docker's sizes (64m, 1g) or -1 (unlimited, for --memory-swap).
int64_t size_or_unlimited(const std::string& v, const std::string& flag) {
  if (v == "-1") return -1;
  return parse_bytes(v, flag);
}

// linux.resources of the runtime spec, and the HostConfig fields of the
// record, from the options.
std::pair<nlohmann::json, nlohmann::json> resources_of(const UpdateOptions& o) {
  nlohmann::json r = nlohmann::json::object(), hc = nlohmann::json::object();
  if (!o.memory.empty()) {
    int64_t b = parse_bytes(o.memory, "--memory");
    if (b < 6 * 1024 * 1024) fail(Errc::usage, "minimum memory limit allowed is 6MB");
    r["memory"]["limit"] = b;
    hc["Memory"] = b;
  }
  if (!o.memory_swap.empty()) {
    int64_t b = size_or_unlimited(o.memory_swap, "--memory-swap");
    r["memory"]["swap"] = b;
    hc["MemorySwap"] = b;
  }
  if (!o.memory_reservation.empty()) {
    int64_t b = parse_bytes(o.memory_reservation, "--memory-reservation");
    r["memory"]["reservation"] = b;
    hc["MemoryReservation"] = b;
  }
  if (!o.cpus.empty() && (o.cpu_quota || o.cpu_period))
    fail(Errc::usage, "conflicting options: --cpus and --cpu-quota/--cpu-period");
  if (!o.cpus.empty()) {
    auto cpu = parse_resources("", o.cpus, 0)["cpu"];
    r["cpu"]["quota"] = cpu["quota"];
    r["cpu"]["period"] = cpu["period"];
    hc["NanoCpus"] = static_cast<int64_t>(std::llround(std::stod(o.cpus) * 1e9));
    hc["CpuQuota"] = 0;
    hc["CpuPeriod"] = 0;
  }
  if (o.cpu_shares) r["cpu"]["shares"] = *o.cpu_shares, hc["CpuShares"] = *o.cpu_shares;
  if (o.cpu_quota) r["cpu"]["quota"] = *o.cpu_quota, hc["CpuQuota"] = *o.cpu_quota;
  if (o.cpu_period) r["cpu"]["period"] = *o.cpu_period, hc["CpuPeriod"] = *o.cpu_period;
  if (!o.cpuset_cpus.empty()) r["cpu"]["cpus"] = o.cpuset_cpus, hc["CpusetCpus"] = o.cpuset_cpus;
  if (!o.cpuset_mems.empty()) r["cpu"]["mems"] = o.cpuset_mems, hc["CpusetMems"] = o.cpuset_mems;
  if (o.blkio_weight) {
    if (*o.blkio_weight != 0 && (*o.blkio_weight < 10 || *o.blkio_weight > 1000))
      fail(Errc::usage, "range of blkio weight is from 10 to 1000");
    r["blockIO"]["weight"] = *o.blkio_weight;
    hc["BlkioWeight"] = *o.blkio_weight;
  }
  if (o.pids_limit) {
    // docker: 0 and -1 mean unlimited.
    r["pids"]["limit"] = *o.pids_limit > 0 ? *o.pids_limit : -1;
    hc["PidsLimit"] = *o.pids_limit > 0 ? *o.pids_limit : 0;
  }
  for (const char* k : {"shares", "quota", "period"})
    if (r.contains("cpu") && r["cpu"].contains(k) && r["cpu"][k].get<int64_t>() < 0)
      fail(Errc::usage, std::string("invalid --cpu-") + k + ": must not be negative");
  return {r, hc};
}

}  // namespace

int container_update(const Globals& g, const UpdateOptions& o, const std::vector<std::string>& names) {
  auto [res, hc] = resources_of(o);
  std::optional<std::pair<std::string, int>> restart;
  if (!o.restart.empty()) restart = parse_restart(o.restart);
  if (res.empty() && !restart) fail(Errc::usage, "you must provide one or more flags when using this command");
  StateDir st(g.state_dir.empty() ? default_state_dir() : g.state_dir);
  int rc = 0;
  for (const auto& name : names) {
    try {
      std::string id = st.find(name);
      Record r = st.load(id);
      if (restart && restart->first != "no" && r.auto_remove)
        fail(Errc::failure, "restart policy cannot be updated because AutoRemove is enabled for the container");
      // The cgroup first: a limit the kernel refuses changes nothing else.
      std::string live = live_status(r);
      std::string root = r.runtime_root.empty() ? g.runtime_root : r.runtime_root;
      if (!res.empty() && (live == "running" || live == "restarting") && fs::exists(root + "/" + id + "/state.json"))
        with_context("update " + name, [&] { run::update_container(root, id, res.dump()); });
      if (!res.empty()) {
        std::string cfg = st.bundle_dir(id) + "/config.json";
        auto spec = nlohmann::json::parse(fs::read_file(cfg));
        spec["linux"]["resources"].merge_patch(res);
        write_file_replace(cfg, spec.dump(2) + "\n", 0600);
      }
      st.update(id, [&](Record& x) {
        for (auto& [k, v] : hc.items()) x.host_config[k] = v;
        if (restart) x.restart_policy = restart->first, x.restart_max = restart->second;
      });
      container_event(st.load(id), "update");
      std::cout << name << "\n";
    } catch (const Error& e) {
      if (names.size() == 1) throw;
      std::cerr << "oci-run: error: " << e.what() << "\n";
      rc = 1;
    }
  }
  return rc;
}

}  // namespace ocikit::manage
