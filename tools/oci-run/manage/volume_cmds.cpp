// `oci-run volume ...` output, in docker's shapes.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/events.hpp"
#include "manage/manage.hpp"
#include "format.hpp"
#include "volumes.hpp"

namespace ocikit::manage {

namespace {

// One `volume ls` row as docker's --format json prints it.
nlohmann::ordered_json ls_json(const Volume& v) {
  std::string labels;
  for (auto& [k, val] : v.labels) labels += (labels.empty() ? "" : ",") + k + "=" + val;
  nlohmann::ordered_json j;
  j["Driver"] = v.driver;
  j["Labels"] = labels;
  j["Mountpoint"] = v.mountpoint;
  j["Name"] = v.name;
  j["Scope"] = "local";
  return j;
}

// Report one failing name the way docker does and go on with the others.
void report(const std::exception& e) { std::fprintf(stderr, "oci-run: error: %s\n", e.what()); }

}  // namespace

int volume_create(const Globals& env, const std::string& name, const std::map<std::string, std::string>& labels) {
  std::string made = VolumeStore(env.state_dir).create(name, labels).name;
  events::emit({"volume", "create", made, {{"driver", "local"}}});
  std::cout << made << "\n";
  return 0;
}

int volume_ls(const Globals& env, bool quiet, const std::string& format) {
  auto vols = VolumeStore(env.state_dir).list();
  if (quiet) {
    for (auto& v : vols) std::cout << v.name << "\n";
  } else if (format == "json") {
    for (auto& v : vols) std::cout << ls_json(v).dump() << "\n";
  } else if (!format.empty() && format != "table") {
    for (auto& v : vols) std::cout << render_template(format, ls_json(v)) << "\n";
  } else {
    std::vector<std::vector<std::string>> rows{{"DRIVER", "VOLUME NAME"}};
    for (auto& v : vols) rows.push_back({v.driver, v.name});
    std::cout << format_table(rows);
  }
  return 0;
}

int volume_inspect(const Globals& env, const std::vector<std::string>& names, const std::string& format) {
  VolumeStore vs(env.state_dir);
  auto arr = nlohmann::ordered_json::array();
  int rc = 0;
  for (auto& n : names) {
    try {
      arr.push_back(to_json(vs.inspect(n)));
    } catch (const Error& e) {
      report(e);
      rc = 1;
    }
  }
  if (format.empty() || format == "json") {
    std::cout << arr.dump(4) << "\n";
  } else {
    for (auto& v : arr) std::cout << render_template(format, nlohmann::json::parse(v.dump())) << "\n";
  }
  return rc;
}

int volume_rm(const Globals& env, const std::vector<std::string>& names, bool force) {
  VolumeStore vs(env.state_dir);
  int rc = 0;
  for (auto& n : names) {
    try {
      vs.remove(n, force);
      events::emit({"volume", "destroy", n, {{"driver", "local"}}});
      std::cout << n << "\n";
    } catch (const Error& e) {
      report(e);
      rc = 1;
    }
  }
  return rc;
}

int volume_prune(const Globals& env, bool all, const std::vector<std::string>& filters, const std::string& format) {
  if (!format.empty() && format != "json" && format != "table")
    fail(Errc::usage, "volume prune --format " + format + ": want table or json");
  auto selected = prune_filter(filters, {"label"});
  uint64_t reclaimed = 0;
  auto removed = VolumeStore(env.state_dir).prune(all, reclaimed, [&](const Volume& v) {
    return selected(v.created_at, v.labels);
  });
  for (auto& n : removed) events::emit({"volume", "destroy", n, {{"driver", "local"}}});
  if (format == "json") {
    std::cout << nlohmann::json{{"VolumesDeleted", removed}, {"SpaceReclaimed", reclaimed}}.dump() << "\n";
    return 0;
  }
  if (!removed.empty()) {
    std::cout << "Deleted Volumes:\n";
    for (auto& n : removed) std::cout << n << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << human_size(reclaimed) << "\n";
  return 0;
}

}  // namespace ocikit::manage
