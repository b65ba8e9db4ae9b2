// oci-build's layer cache (see build_cache.hpp).
#include "build_cache.hpp"

#include <dirent.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::build {

std::string cache_dir(const std::string& store_dir) {
  std::string s = store_dir;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s + ".build-cache";
}

LayerCache::LayerCache(std::string dir) : dir_(dir + "/layers"), steps_(dir + "/steps") {
  fs::mkdir_p(dir_);
  fs::mkdir_p(steps_);
}

std::string LayerCache::path(const std::string& key) const {
  auto p = key.find(':');
  std::string hex = p == std::string::npos ? key : key.substr(p + 1);
  if (hex.empty() || hex.find('/') != std::string::npos || hex[0] == '.')
    fail(Errc::invalid, "invalid cache key \"" + key + "\"");
  return dir_ + "/" + hex;
}

std::optional<CacheRecord> LayerCache::find(const std::string& key, const layout::Layout& store) const {
  std::string p = path(key);
  std::string text;
  try {
    text = fs::read_file(p);
  } catch (const Error&) {
    return std::nullopt;
  }
  try {
    auto j = nlohmann::json::parse(text);
    CacheRecord r{image::descriptor_from_json(j.at("layer")), digest::parse(j.at("diff_id").get<std::string>()),
                  j.value("created", "")};
    if (store.has_blob(r.layer.digest)) return r;
  } catch (const std::exception&) {
  }
  ::unlink(p.c_str());
  return std::nullopt;
}

void LayerCache::put(const std::string& key, const CacheRecord& r) const {
  nlohmann::json j = {{"layer", image::to_json(r.layer)}, {"diff_id", r.diff_id.str()}};
  if (!r.created.empty()) j["created"] = r.created;
  fs::write_file_atomic(path(key), j.dump());
}

std::string LayerCache::step_time(const std::string& key, const std::string& now, bool reuse) const {
  std::string p = steps_ + path(key).substr(dir_.size());
  if (reuse) {
    try {
      std::string t = fs::read_file(p);
      // "YYYY-MM-DDTHH:MM:SSZ" and nothing else: a damaged record is rewritten.
      if (t.size() == 20 && t[4] == '-' && t[10] == 'T' && t.back() == 'Z') return t;
    } catch (const Error&) {
    }
  }
  fs::write_file_atomic(p, now);
  return now;
}

size_t LayerCache::prune(const layout::Layout& store) const {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    ::closedir(d);
  }
  size_t removed = 0;
  for (auto& n : names) {
    if (fs::exists(dir_ + "/" + n) && !find("sha256:" + n, store)) ++removed;
  }
  return removed;
}

}  // namespace ocikit::build
