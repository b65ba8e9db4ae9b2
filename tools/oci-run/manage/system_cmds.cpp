// `system df` and `system prune`: the disk the store, containers, volumes
// and the build cache use, and removing what nothing uses, as docker's.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "format.hpp"
#include "images.hpp"
#include "manage/manage.hpp"
#include "volumes.hpp"

namespace ocikit::manage {

namespace {

std::vector<Image> images_of(const std::string& dir) {
  if (!fs::exists(dir + "/oci-layout")) return {};
  return list_images(layout::Layout::open(dir));
}

bool uses_image(const std::vector<Record>& recs, const Image& img) {
  for (const auto& r : recs)
    if (r.image_digest == img.target.digest.str() || r.image_digest == img.manifest_desc.digest.str()) return true;
  return false;
}

bool active(const Record& r) {
  std::string s = live_status(r);
  return s == "running" || s == "restarting";
}

std::string with_percent(uint64_t part, uint64_t total) {
  int pct = total == 0 ? 0 : static_cast<int>(part * 100 / total);
  return human_size(part) + " (" + std::to_string(pct) + "%)";
}

// The build cache's records (oci-build's <store>.build-cache: layers/,
// stat/, mounts/), as "kind/name" paths.
std::vector<std::string> build_cache_records(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* kind : {"layers", "stat", "mounts"}) {
    DIR* d = opendir((dir + "/" + kind).c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n.rfind(".tmp", 0) == 0) continue;
      out.push_back(std::string(kind) + "/" + n);
    }
    closedir(d);
  }
  return out;
}

std::string build_cache_dir(const std::string& store) {
  std::string s = store;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s + ".build-cache";
}

// The bytes of the blobs `imgs` reach (each blob once).
uint64_t blob_bytes(const std::vector<const Image*>& imgs) {
  std::set<std::string> seen;
  uint64_t n = 0;
  for (const auto* img : imgs) {
    if (seen.insert(img->manifest.config.digest.str()).second) n += static_cast<uint64_t>(img->manifest.config.size);
    for (const auto& l : img->manifest.layers)
      if (seen.insert(l.digest.str()).second) n += static_cast<uint64_t>(l.size);
  }
  return n;
}

// docker's prune filters: until=TIME (created before), label=K[=V], label!=K[=V].
struct Filters {
  int64_t until = 0;  // ns; 0: none
  std::vector<std::pair<std::string, bool>> labels;  // "k" or "k=v", negated
  bool match(const std::string& created_rfc3339, const std::map<std::string, std::string>& l) const {
    if (until) {
      auto t = parse_rfc3339(created_rfc3339);
      if (!t || *t * 1000000000LL >= until) return false;
    }
    for (const auto& [spec, neg] : labels) {
      auto eq = spec.find('=');
      std::string k = spec.substr(0, eq);
      bool has = l.count(k) && (eq == std::string::npos || l.at(k) == spec.substr(eq + 1));
      if (has == neg) return false;
    }
    return true;
  }
};

Filters parse_filters(const std::vector<std::string>& fs,
                      const std::vector<std::string>& allowed = {"until", "label"}) {
  Filters f;
  for (const auto& s : fs) {
    std::string key = s.substr(0, s.find_first_of("!="));
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string want;
      for (const auto& a : allowed)
        want += (want.empty() ? "" : " or ") + a + (a == "until" ? "=TIME" : "=KEY[=VALUE]");
      fail(Errc::usage, "invalid filter '" + key + "' (want " + want + ")");
    }
    if (s.rfind("until=", 0) == 0) f.until = events::parse_time(s.substr(6), events::now_nano());
    else if (s.rfind("label=", 0) == 0) f.labels.push_back({s.substr(6), false});
    else if (s.rfind("label!=", 0) == 0) f.labels.push_back({s.substr(7), true});
    else fail(Errc::usage, "invalid filter '" + s.substr(0, s.find('=')) + "' (want until=TIME or label=KEY[=VALUE])");
  }
  return f;
}

}  // namespace

std::function<bool(const std::string&, const std::map<std::string, std::string>&)> prune_filter(
    const std::vector<std::string>& filters, const std::vector<std::string>& allowed) {
  Filters f = parse_filters(filters, allowed);
  return [f](const std::string& created, const std::map<std::string, std::string>& labels) {
    return f.match(created, labels);
  };
}

int system_df(const Globals& g, bool verbose, const std::string& format) {
  if (!format.empty() && format != "json" && format != "table")
    fail(Errc::usage, "system df --format " + format + ": want table or json");
  StateDir st(g.state_dir);
  auto recs = st.list();
  auto imgs = images_of(g.store);
  std::vector<const Image*> all_imgs, unused_imgs, used_imgs;
  for (const auto& i : imgs) {
    all_imgs.push_back(&i);
    (uses_image(recs, i) ? used_imgs : unused_imgs).push_back(&i);
  }
  uint64_t img_size = blob_bytes(all_imgs);
  uint64_t img_reclaim = img_size - std::min(img_size, blob_bytes(used_imgs));
  uint64_t ct_size = 0, ct_reclaim = 0;
  size_t ct_active = 0;
  std::vector<uint64_t> ct_sizes;
  for (const auto& r : recs) {
    uint64_t s = disk_usage(st.upper_dir(r.id));
    ct_sizes.push_back(s);
    ct_size += s;
    if (active(r)) ct_active++;
    else ct_reclaim += s;
  }
  VolumeStore vs(g.state_dir);
  auto vols = vs.list();
  uint64_t vol_size = 0, vol_reclaim = 0;
  size_t vol_active = 0;
  std::vector<std::pair<size_t, uint64_t>> vol_rows;
  for (const auto& v : vols) {
    uint64_t s = disk_usage(vs.data_path(v.name));
    size_t links = vs.users(v.name).size();
    vol_rows.push_back({links, s});
    vol_size += s;
    if (links) vol_active++;
    else vol_reclaim += s;
  }
  std::string bc = build_cache_dir(g.store);
  auto bc_records = build_cache_records(bc);
  uint64_t bc_size = 0;
  for (const auto& rec : bc_records) bc_size += disk_usage(bc + "/" + rec);

  if (format == "json") {
    // docker's disk usage object (the Engine API's GET /system/df), verbose.
    using json = nlohmann::ordered_json;
    auto unix_of = [](const std::string& t) { return parse_rfc3339(t).value_or(0); };
    json out{{"LayersSize", img_size}, {"Images", json::array()}, {"Containers", json::array()},
             {"Volumes", json::array()}, {"BuildCache", json::array()}};
    for (const auto& i : imgs) {
      uint64_t size = blob_bytes({&i});
      std::vector<const Image*> others, with_me;
      for (const auto& o : imgs)
        if (&o != &i) others.push_back(&o);
      with_me = others;
      with_me.push_back(&i);
      uint64_t unique = blob_bytes(with_me) - blob_bytes(others);
      size_t users = 0;
      for (const auto& r : recs)
        if (r.image_digest == i.target.digest.str() || r.image_digest == i.manifest_desc.digest.str()) users++;
      json tags = json::array(), digests = json::array();
      for (const auto& n : i.names) {
        if (is_id_name(n)) continue;
        auto [repo, tag] = split_name(n);
        if (tag != "<none>") tags.push_back(repo + ":" + tag);
      }
      json labels = json::object();
      for (const auto& [k, v] : i.config.config.labels) labels[k] = v;
      out["Images"].push_back({{"Id", "sha256:" + i.id()}, {"ParentId", ""}, {"RepoTags", tags},
                               {"RepoDigests", digests}, {"Created", unix_of(i.config.created)},
                               {"Size", size}, {"SharedSize", size - unique}, {"VirtualSize", size},
                               {"Labels", labels}, {"Containers", users}});
    }
    for (size_t k = 0; k < recs.size(); k++) {
      const auto& r = recs[k];
      std::string cmd, image_id;
      for (const auto& a : r.command) cmd += (cmd.empty() ? "" : " ") + a;
      for (const auto& i : imgs)
        if (r.image_digest == i.target.digest.str() || r.image_digest == i.manifest_desc.digest.str())
          image_id = "sha256:" + i.id();
      json mounts = json::array();
      for (const auto& m : r.mounts)
        mounts.push_back({{"Type", m.type}, {"Name", m.type == "volume" ? m.source : ""},
                          {"Source", m.type == "volume" ? "" : m.source}, {"Destination", m.destination},
                          {"RW", !m.read_only}});
      std::string live = live_status(r);
      json labels = json::object();
      for (const auto& [lk, lv] : r.labels) labels[lk] = lv;
      out["Containers"].push_back({{"Id", r.id}, {"Names", json::array({"/" + r.name})}, {"Image", r.image},
                                   {"ImageID", image_id}, {"Command", cmd}, {"Created", unix_of(r.created)},
                                   {"Ports", json::array()}, {"SizeRw", ct_sizes[k]}, {"SizeRootFs", 0},
                                   {"Labels", labels}, {"State", live}, {"Status", live},
                                   {"Mounts", mounts}});
    }
    for (size_t k = 0; k < vols.size(); k++) {
      json v = to_json(vols[k]);
      v["UsageData"] = {{"Size", vol_rows[k].second}, {"RefCount", vol_rows[k].first}};
      out["Volumes"].push_back(v);
    }
    auto rfc = [](time_t t) {
      char b[64];
      struct tm tm{};
      gmtime_r(&t, &tm);
      strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
      return std::string(b);
    };
    for (const auto& rec : bc_records) {
      struct stat s{};
      std::string p = bc + "/" + rec;
      lstat(p.c_str(), &s);
      std::string kind = rec.substr(0, rec.find('/'));
      std::string type = kind == "layers" ? "regular" : kind == "mounts" ? "exec.cachemount" : "source.local";
      out["BuildCache"].push_back({{"ID", rec.substr(rec.find('/') + 1)}, {"Parent", ""}, {"Type", type},
                                   {"Description", rec}, {"InUse", false}, {"Shared", false},
                                   {"Size", disk_usage(p)}, {"CreatedAt", rfc(s.st_mtime)},
                                   {"LastUsedAt", rfc(s.st_atime)}, {"UsageCount", 0}});
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (!verbose) {
    std::vector<std::vector<std::string>> t{{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}};
    t.push_back({"Images", std::to_string(imgs.size()), std::to_string(used_imgs.size()), human_size(img_size),
                 with_percent(img_reclaim, img_size)});
    t.push_back({"Containers", std::to_string(recs.size()), std::to_string(ct_active), human_size(ct_size),
                 with_percent(ct_reclaim, ct_size)});
    t.push_back({"Local Volumes", std::to_string(vols.size()), std::to_string(vol_active), human_size(vol_size),
                 with_percent(vol_reclaim, vol_size)});
    t.push_back({"Build Cache", std::to_string(bc_records.size()), "0", human_size(bc_size), human_size(bc_size)});
    std::cout << format_table(t);
    return 0;
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::cout << "Images space usage:\n\n";
  std::vector<std::vector<std::string>> t{
      {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"}};
  for (const auto& i : imgs) {
    uint64_t size = blob_bytes({&i});
    std::vector<const Image*> others;
    for (const auto& o : imgs)
      if (&o != &i) others.push_back(&o);
    auto with_me = others;
    with_me.push_back(&i);
    uint64_t unique = blob_bytes(with_me) - blob_bytes(others);
    size_t users = 0;
    for (const auto& r : recs)
      if (r.image_digest == i.target.digest.str() || r.image_digest == i.manifest_desc.digest.str()) users++;
    std::vector<std::string> names;
    for (const auto& n : i.names)
      if (!is_id_name(n)) names.push_back(n);
    if (names.empty()) names.push_back("");
    for (const auto& n : names) {
      auto [repo, tag] = n.empty() ? std::pair<std::string, std::string>{"<none>", "<none>"} : split_name(n);
      t.push_back({repo, tag, i.id().substr(0, 12), human_ago(parse_rfc3339(i.config.created), now), human_size(size),
                   human_size(size - unique), human_size(unique), std::to_string(users)});
    }
  }
  std::cout << format_table(t) << "\nContainers space usage:\n\n";
  t = {{"CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"}};
  for (size_t k = 0; k < recs.size(); k++) {
    const auto& r = recs[k];
    std::string cmd;
    for (const auto& a : r.command) cmd += (cmd.empty() ? "" : " ") + a;
    size_t nvol = 0;
    for (const auto& m : r.mounts) nvol += m.type == "volume";
    t.push_back({r.id.substr(0, 12), r.image, "\"" + truncate_text(cmd, 20) + "\"", std::to_string(nvol),
                 human_size(ct_sizes[k]), human_ago(parse_rfc3339(r.created), now), live_status(r), r.name});
  }
  std::cout << format_table(t) << "\nLocal Volumes space usage:\n\n";
  t = {{"VOLUME NAME", "LINKS", "SIZE"}};
  for (size_t k = 0; k < vols.size(); k++)
    t.push_back({vols[k].name, std::to_string(vol_rows[k].first), human_size(vol_rows[k].second)});
  std::cout << format_table(t) << "\nBuild cache usage: " << human_size(bc_size) << "\n\n";
  t = {{"CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"}};
  for (const auto& rec : bc_records) {
    struct stat s{};
    std::string p = bc + "/" + rec;
    lstat(p.c_str(), &s);
    std::string kind = rec.substr(0, rec.find('/'));
    std::string type = kind == "layers" ? "regular" : kind == "mounts" ? "exec.cachemount" : "source.local";
    t.push_back({rec.substr(rec.find('/') + 1, 12), type, human_size(disk_usage(p)),
                 human_ago(static_cast<int64_t>(s.st_mtime), now), human_ago(static_cast<int64_t>(s.st_atime), now),
                 "0", "false"});
  }
  std::cout << format_table(t);
  return 0;
}

namespace {

// Remove the stopped containers `f` matches; their ids, and their changes'
// size added to `total`.
std::vector<std::string> prune_containers(const Globals& g, const Filters& f, uint64_t& total) {
  StateDir st(g.state_dir);
  std::vector<std::string> containers;
  for (const auto& r : st.list()) {
    std::string live = live_status(r);
    if (live != "exited" && live != "created") continue;
    if (!f.match(r.created, r.labels)) continue;
    uint64_t s = disk_usage(st.upper_dir(r.id));
    try {
      remove_managed(g, r.id, false, false);
      containers.push_back(r.id);
      total += s;
    } catch (const Error& e) {
      log::warn(std::string("prune: ") + e.what());
    }
  }
  return containers;
}

}  // namespace

int container_prune(const Globals& g, const std::vector<std::string>& filters, const std::string& format) {
  Filters f = parse_filters(filters);
  uint64_t total = 0;
  auto ids = prune_containers(g, f, total);
  if (format == "json") {
    std::cout << nlohmann::json{{"ContainersDeleted", ids}, {"SpaceReclaimed", total}}.dump() << "\n";
    return 0;
  }
  if (!format.empty()) fail(Errc::usage, "container prune: --format json only");
  if (!ids.empty()) {
    std::cout << "Deleted Containers:\n";
    for (const auto& c : ids) std::cout << c << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << human_size(total) << "\n";
  return 0;
}

int system_prune(const Globals& g, const PruneOptions& o) {
  Filters f = parse_filters(o.filters);
  StateDir st(g.state_dir);
  uint64_t total = 0;
  // 1. Stopped containers.
  std::vector<std::string> containers = prune_containers(g, f, total);
  if (!containers.empty()) {
    std::cout << "Deleted Containers:\n";
    for (const auto& c : containers) std::cout << c << "\n";
    std::cout << "\n";
  }
  // 2. Networks no container uses (oci-net's prune: it keeps "bridge").
  if (o.filters.empty()) {
    try {
      std::string oci_net = cli::find_tool("oci-net", g.self_dir, "OCIKIT_NET", {"OCI_NET"});
      process::Spec s;
      s.argv = {oci_net, "prune"};
      auto out = process::capture(s, true, true);
      if (out.status != 0) log::warn("prune: oci-net prune: " + out.err);
      else if (!out.out.empty()) std::cout << "Deleted Networks:\n" << out.out << "\n";
    } catch (const Error& e) {
      log::debug(std::string("prune: no networks: ") + e.what());
    }
  }
  // 3. Volumes (with --volumes): the unused anonymous ones, as docker 23.
  if (o.volumes) {
    uint64_t freed = 0;
    auto removed = VolumeStore(g.state_dir).prune(false, freed);
    if (!removed.empty()) {
      std::cout << "Deleted Volumes:\n";
      for (const auto& v : removed) {
        std::cout << v << "\n";
        events::emit({"volume", "destroy", v, {{"driver", "local"}}});
      }
      std::cout << "\n";
    }
    total += freed;
  }
  // 4. Images: dangling, or with -a every one no container uses.
  std::vector<std::string> lines;
  if (fs::exists(g.store + "/oci-layout"))
    total += prune_images(g, o.all, lines, [&](const Image& i) { return f.match(i.config.created, i.config.config.labels); });
  if (!lines.empty()) {
    std::cout << "Deleted Images:\n";
    for (const auto& l : lines) std::cout << l << "\n";
    std::cout << "\n";
  }
  // 5. The build cache (oci-build's layer keys, stat caches, cache mounts).
  std::string bc = build_cache_dir(g.store);
  std::vector<std::string> cache;
  if (f.labels.empty())
    for (const auto& rec : build_cache_records(bc)) {
      std::string p = bc + "/" + rec;
      struct stat s{};
      if (f.until && (lstat(p.c_str(), &s) != 0 || static_cast<int64_t>(s.st_mtime) * 1000000000LL >= f.until))
        continue;
      uint64_t n = disk_usage(p);
      try {
        fs::remove_all(p);
        total += n;
        cache.push_back(rec.substr(rec.find('/') + 1));
      } catch (const Error& e) {
        log::warn(std::string("prune: ") + e.what());
      }
    }
  if (!cache.empty()) {
    std::cout << "Deleted build cache objects:\n";
    for (const auto& c : cache) std::cout << c << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << human_size(total) << "\n";
  return 0;
}

}  // namespace ocikit::manage
