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

LayerCache::LayerCache(std::string dir) : dir_(std::move(dir) + "/layers") { fs::mkdir_p(dir_); }

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
    CacheRecord r{image::descriptor_from_json(j.at("layer")), digest::parse(j.at("diff_id").get<std::string>())};
    if (store.has_blob(r.layer.digest)) return r;
  } catch (const std::exception&) {
  }
  ::unlink(p.c_str());
  return std::nullopt;
}

void LayerCache::put(const std::string& key, const CacheRecord& r) const {
  nlohmann::json j = {{"layer", image::to_json(r.layer)}, {"diff_id", r.diff_id.str()}};
  fs::write_file_atomic(path(key), j.dump());
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
