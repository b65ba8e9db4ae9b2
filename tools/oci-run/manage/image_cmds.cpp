// `oci-run images|image ...|rmi|tag|history`: the store's images in docker's shapes.
#include <cstdio>
#include <functional>
#include <ctime>
#include <iostream>
#include <set>

#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/reference.hpp"
#include "common/snapshot.hpp"
#include "common/store_check.hpp"
#include "manage/manage.hpp"
#include "format.hpp"
#include "images.hpp"

namespace ocikit::manage {

namespace {

// The store for reading: an absent store is an empty one (not created).
std::vector<Image> images_of(const std::string& dir) {
  if (!fs::exists(dir + "/oci-layout")) return {};
  return list_images(layout::Layout::open(dir));
}

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

void report(const std::exception& e) { std::fprintf(stderr, "oci-run: error: %s\n", e.what()); }

// What the image commands need to know of the managed containers.
std::vector<ContainerUse> container_uses(const Globals& env) {
  std::vector<ContainerUse> out;
  for (auto& r : StateDir(env.state_dir).list()) out.push_back({r.id, r.name, r.image_digest});
  return out;
}

// The manifest digests containers run from (kept by gc and prune).
std::set<std::string> used_digests(const Globals& env) {
  std::set<std::string> s;
  for (auto& c : container_uses(env))
    if (!c.image_digest.empty()) s.insert(c.image_digest);
  return s;
}

const ContainerUse* user_of(const std::vector<ContainerUse>& uses, const Image& img) {
  for (auto& c : uses)
    if (c.image_digest == img.target.digest.str() || c.image_digest == img.manifest_desc.digest.str()) return &c;
  return nullptr;
}

// gc roots: manifests still used by containers (their blobs stay, so commit
// and inspect keep working after a forced rmi).
std::vector<digest::Digest> container_roots(const layout::Layout& store, const Globals& env) {
  std::vector<digest::Digest> roots;
  for (auto& d : used_digests(env)) {
    if (!digest::is_valid(d)) continue;
    auto dg = digest::parse(d);
    if (store.has_blob(dg)) roots.push_back(dg);
  }
  return roots;
}

// Chain ids of the images containers run from (their snapshots are mounted).
std::set<std::string> container_chain_ids(const layout::Layout& store, const std::vector<digest::Digest>& roots) {
  std::set<std::string> keep;
  for (auto& d : roots) {
    try {
      auto c = read_image_by_digest(store, d.str()).second;
      if (!c.diff_ids.empty())
        for (auto& id : snapshot::chain_ids(c.diff_ids)) keep.insert(id.hex);
    } catch (const Error&) {
      // an index or a broken blob: nothing mounted from it
    }
  }
  return keep;
}

bool repository_matches(const std::string& filter, const std::string& repo, const std::string& tag) {
  if (filter.empty()) return true;
  auto colon = filter.rfind(':');
  if (colon != std::string::npos && filter.find('/', colon) == std::string::npos)
    return repo == filter.substr(0, colon) && tag == filter.substr(colon + 1);
  return repo == filter;
}

}  // namespace

int images_ls(const Globals& env, const ImagesOptions& o) {
  auto images = images_of(env.store);
  std::vector<std::vector<std::string>> rows;
  if (o.digests) rows.push_back({"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"});
  else rows.push_back({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
  std::set<std::string> printed;
  for (auto& img : images) {
    std::vector<std::pair<std::string, std::string>> names;
    for (auto& n : img.names) names.push_back(split_name(n));
    if (names.empty()) names.push_back({"<none>", "<none>"});
    std::string id = o.no_trunc ? img.manifest.config.digest.str() : img.id().substr(0, 12);
    auto created = parse_rfc3339(img.config.created);
    for (auto& [repo, tag] : names) {
      if (!repository_matches(o.repository, repo, tag)) continue;
      if (o.quiet) {
        if (printed.insert(id).second) std::cout << id << "\n";
        continue;
      }
      nlohmann::ordered_json j;
      j["Containers"] = "N/A";
      j["CreatedAt"] = img.config.created;
      j["CreatedSince"] = human_ago(created, now());
      j["Digest"] = img.target.digest.str();
      j["ID"] = id;
      j["Repository"] = repo;
      j["Size"] = human_size(img.size());
      j["Tag"] = tag;
      if (o.format == "json") {
        std::cout << j.dump() << "\n";
      } else if (!o.format.empty() && o.format != "table") {
        std::cout << render_template(o.format, nlohmann::json::parse(j.dump())) << "\n";
      } else if (o.digests) {
        rows.push_back({repo, tag, img.target.digest.str(), id, human_ago(created, now()), human_size(img.size())});
      } else {
        rows.push_back({repo, tag, id, human_ago(created, now()), human_size(img.size())});
      }
    }
  }
  if (!o.quiet && (o.format.empty() || o.format == "table")) std::cout << format_table(rows);
  return 0;
}

int image_rm(const Globals& env, const std::vector<std::string>& keys, bool force) {
  auto store = layout::Layout::open(env.store);
  auto uses = container_uses(env);
  int rc = 0;
  bool changed = false;
  for (auto& key : keys) {
    try {
      auto img = find_image(store, key);
      auto name = matching_name(img, key);
      // Removing one of several names only untags it (docker).
      if (!name.empty() && img.names.size() > 1) {
        store.untag(name);
        auto [repo, tag] = split_name(name);
        events::emit({"image", "untag", img.manifest.config.digest.str(), {{"name", repo + ":" + tag}}});
        std::cout << "Untagged: " << repo << ":" << tag << "\n";
        changed = true;
        continue;
      }
      if (name.empty() && img.names.size() > 1 && !force)
        fail(Errc::failure,
             "conflict: unable to delete " + img.id().substr(0, 12) +
                 " (must be forced) - image is referenced in multiple repositories");
      if (auto* c = user_of(uses, img); c && !force)
        fail(Errc::failure,
             "conflict: unable to remove image " + std::string(key) + " (must force) - container " +
                 c->id.substr(0, 12) + " is using it");
      for (auto& n : img.names) {
        store.untag(n);
        auto [repo, tag] = split_name(n);
        if (!is_id_name(n)) std::cout << "Untagged: " << repo << ":" << tag << "\n";
        if (!is_id_name(n))
          events::emit({"image", "untag", img.manifest.config.digest.str(), {{"name", repo + ":" + tag}}});
      }
      events::emit({"image", "delete", img.manifest.config.digest.str(), {}});
      if (img.names.empty()) store.delete_image(img.target.digest.str());
      std::cout << "Deleted: " << img.manifest.config.digest.str() << "\n";
      changed = true;
    } catch (const Error& e) {
      report(e);
      rc = 1;
    }
  }
  if (changed) store.gc(container_roots(store, env));
  return rc;
}

int image_tag(const Globals& env, const std::string& source, const std::string& target) {
  auto store = layout::Layout::open(env.store);
  auto img = find_image(store, source);
  auto ref = with_context("tag " + target, [&] { return reference::parse(target); });
  if (ref.digest) fail(Errc::invalid, "tag " + target + ": a tag cannot hold a digest");
  store.tag(ref.str(), img.target);
  auto [repo, tag] = split_name(ref.str());
  events::emit({"image", "tag", img.manifest.config.digest.str(), {{"name", repo + ":" + tag}}});
  return 0;
}

int image_inspect(const Globals& env, const std::vector<std::string>& keys, const std::string& format) {
  auto arr = nlohmann::ordered_json::array();
  int rc = 0;
  for (auto& k : keys) {
    try {
      arr.push_back(inspect_json(find_image(layout::Layout::open(env.store), k)));
    } catch (const Error& e) {
      report(e);
      rc = 1;
    }
  }
  if (format.empty() || format == "json") std::cout << arr.dump(4) << "\n";
  else
    for (auto& j : arr) std::cout << render_template(format, nlohmann::json::parse(j.dump())) << "\n";
  return rc;
}

int image_history(const Globals& env, const std::string& key, bool no_trunc, bool quiet, const std::string& format,
                  bool human) {
  auto store = layout::Layout::open(env.store);
  auto img = find_image(store, key);
  struct Row {
    std::string created, created_by, comment;
    uint64_t size;
  };
  std::vector<Row> rows;
  size_t layer = 0;
  for (auto& h : img.config.history) {
    uint64_t size = 0;
    if (!h.empty_layer && layer < img.manifest.layers.size()) size = img.manifest.layers[layer++].size;
    rows.push_back({h.created, h.created_by, h.comment, size});
  }
  // Layers the history does not describe (a config without history).
  for (; layer < img.manifest.layers.size(); layer++)
    rows.push_back({img.config.created, "", "", static_cast<uint64_t>(img.manifest.layers[layer].size)});
  std::vector<std::vector<std::string>> table{{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
  std::string top = no_trunc ? img.manifest.config.digest.str() : img.id().substr(0, 12);
  for (size_t i = rows.size(); i-- > 0;) {
    auto& r = rows[i];
    std::string id = i + 1 == rows.size() ? top : "<missing>";
    auto since = human ? human_ago(parse_rfc3339(r.created), now()) : r.created;
    std::string size = human ? human_size(r.size) : std::to_string(r.size);
    if (quiet) {
      std::cout << id << "\n";
      continue;
    }
    nlohmann::json j = {{"ID", id},
                        {"CreatedAt", r.created},
                        {"CreatedSince", since},
                        {"CreatedBy", r.created_by},
                        {"Size", size},
                        {"Comment", r.comment}};
    if (format == "json") std::cout << j.dump() << "\n";
    else if (!format.empty() && format != "table") std::cout << render_template(format, j) << "\n";
    else
      table.push_back({id, since, no_trunc ? r.created_by : truncate_text(r.created_by, 45), size, r.comment});
  }
  if (!quiet && (format.empty() || format == "table")) std::cout << format_table(table);
  return 0;
}

uint64_t prune_images(const Globals& env, bool all, std::vector<std::string>& lines,
                      const std::function<bool(const Image&)>& selected, size_t* snapshots) {
  auto store = layout::Layout::open_or_create(env.store);
  auto uses = container_uses(env);
  for (auto& img : list_images(store)) {
    if (user_of(uses, img)) continue;
    if (!all && !is_dangling(img)) continue;
    if (selected && !selected(img)) continue;
    for (auto& n : img.names) {
      store.untag(n);
      auto [repo, tag] = split_name(n);
      if (!is_id_name(n)) lines.push_back("untagged: " + repo + ":" + tag);
      if (!is_id_name(n))
        events::emit({"image", "untag", img.manifest.config.digest.str(), {{"name", repo + ":" + tag}}});
    }
    if (img.names.empty()) store.delete_image(img.target.digest.str());
    lines.push_back("deleted: " + img.manifest.config.digest.str());
    events::emit({"image", "delete", img.manifest.config.digest.str(), {}});
  }
  auto roots = container_roots(store, env);
  auto res = store.gc(roots);
  // Snapshots no remaining image or container needs.
  size_t snaps = 0;
  std::string sdir = snapshot::default_dir(store.path());
  if (fs::exists(sdir)) {
    auto keep = live_chain_ids(list_images(store));
    for (auto& c : container_chain_ids(store, roots)) keep.insert(c);
    snaps = snapshot::Store::open(sdir).gc(keep);
  }
  if (snapshots) *snapshots = snaps;
  return res.bytes;
}

int image_prune(const Globals& env, bool all, const std::vector<std::string>& filters, const std::string& format) {
  if (!format.empty() && format != "json" && format != "table")
    fail(Errc::usage, "image prune --format " + format + ": want table or json");
  auto selected = prune_filter(filters);
  std::vector<std::string> lines;
  size_t snaps = 0;
  uint64_t bytes = prune_images(
      env, all, lines, [&](const Image& i) { return selected(i.config.created, i.config.config.labels); }, &snaps);
  if (format == "json") {
    nlohmann::json deleted = nlohmann::json::array();
    for (auto& l : lines) {
      auto colon = l.find(": ");
      deleted.push_back({{l.rfind("untagged", 0) == 0 ? "Untagged" : "Deleted", l.substr(colon + 2)}});
    }
    std::cout << nlohmann::json{{"ImagesDeleted", deleted}, {"SpaceReclaimed", bytes}}.dump() << "\n";
    return 0;
  }
  if (!lines.empty()) {
    std::cout << "Deleted Images:\n";
    for (auto& l : lines) std::cout << l << "\n";
    std::cout << "\n";
  }
  if (snaps) std::cout << "Deleted snapshots: " << snaps << "\n";
  std::cout << "Total reclaimed space: " << human_size(bytes) << "\n";
  return 0;
}

int system_check(const Globals& env, bool quick, bool repair) {
  if (!fs::exists(env.store + "/oci-layout")) {
    std::cout << "no image store at " << env.store << "\n";
    return 0;
  }
  store_check::Options o;
  o.quick = quick;
  {
    auto store = layout::Layout::open(env.store);
    o.extra_roots = container_roots(store, env);
    o.extra_chain_ids = container_chain_ids(store, o.extra_roots);
  }
  std::string sdir = snapshot::default_dir(env.store);
  auto r = store_check::check(env.store, sdir, o);
  size_t errors = r.errors(), garbage = r.problems.size() - errors;
  for (const auto& p : r.problems)
    std::cout << store_check::kind_name(p.kind) << " " << p.subject << ": " << p.detail << "\n";
  std::cout << "checked " << r.blobs << " blobs (" << human_size(r.bytes) << (quick ? ", sizes only" : "") << "), "
            << r.images << " images, " << r.snapshots << " snapshots: " << errors << " errors, " << garbage
            << " garbage\n";
  if (!repair) return errors ? 1 : 0;
  if (r.problems.empty()) return 0;
  auto res = store_check::repair(env.store, sdir, r, o);
  std::cout << "repaired: removed " << res.images << " broken images, " << res.blobs << " blobs ("
            << human_size(res.bytes) << "), " << res.snapshots << " snapshots, " << res.temps << " temp files\n";
  return 0;
}

}  // namespace ocikit::manage
