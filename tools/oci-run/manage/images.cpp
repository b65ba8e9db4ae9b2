#include "images.hpp"

#include <algorithm>
#include <map>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/reference.hpp"
#include "common/snapshot.hpp"
#include "format.hpp"

namespace ocikit::manage {

uint64_t Image::size() const {
  uint64_t n = static_cast<uint64_t>(manifest.config.size);
  for (auto& l : manifest.layers) n += static_cast<uint64_t>(l.size);
  return n;
}

std::vector<std::string> Image::chain_ids() const {
  std::vector<std::string> out;
  if (config.diff_ids.empty()) return out;
  for (auto& c : snapshot::chain_ids(config.diff_ids)) out.push_back(c.hex);
  return out;
}

bool is_id_name(const std::string& n) {
  return n.size() == 71 && n.compare(0, 7, "sha256:") == 0 &&
      n.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
}

bool is_dangling(const Image& img) {
  return std::all_of(img.names.begin(), img.names.end(), [](auto& n) { return is_id_name(n); });
}

std::pair<std::string, std::string> split_name(const std::string& n) {
  if (is_id_name(n)) return {"<none>", "<none>"};
  try {
    auto r = reference::parse_no_default_tag(n);
    return {r.familiar_name(), r.tag.empty() ? "<none>" : r.tag};
  } catch (const Error&) {
    return {n, "<none>"};
  }
}

image::Descriptor platform_manifest(const layout::Layout& store, const image::Descriptor& d) {
  if (!image::is_index_media_type(d.media_type)) return d;
  auto idx = store.read_index(d);
  auto host = platform::host();
  for (auto& m : idx.manifests)
    if (m.platform && platform::matches(host, *m.platform) && image::is_manifest_media_type(m.media_type)) return m;
  fail(Errc::not_found, "image " + d.digest.str() + " has no manifest for " + host.str());
}

std::vector<Image> list_images(const layout::Layout& store) {
  std::map<std::string, Image> by_target;  // entry digest -> image
  for (auto& e : store.list()) {
    auto key = e.digest.str();
    auto it = by_target.find(key);
    if (it == by_target.end()) {
      try {
        Image img;
        img.target = e;
        img.target.annotations.erase(std::string(image::kRefNameAnnotation));
        img.manifest_desc = platform_manifest(store, e);
        img.manifest = store.read_manifest(img.manifest_desc);
        img.config = store.read_config(img.manifest.config);
        it = by_target.emplace(key, std::move(img)).first;
      } catch (const Error& err) {
        log::warn("skipping store entry " + key + ": " + err.what());
        continue;
      }
    }
    if (auto n = e.ref_name(); !n.empty()) it->second.names.push_back(n);
  }
  std::vector<Image> out;
  for (auto& [k, img] : by_target) {
    std::sort(img.names.begin(), img.names.end());
    img.names.erase(std::unique(img.names.begin(), img.names.end()), img.names.end());
    out.push_back(std::move(img));
  }
  std::stable_sort(out.begin(), out.end(), [](const Image& a, const Image& b) {
    auto ta = parse_rfc3339(a.config.created).value_or(0), tb = parse_rfc3339(b.config.created).value_or(0);
    return ta > tb;
  });
  return out;
}

std::string matching_name(const Image& img, std::string_view key) {
  for (auto& n : img.names)
    if (n == key) return n;
  try {
    auto want = reference::parse(key).str();
    for (auto& n : img.names)
      if (reference::is_valid(n) && reference::parse(n).str() == want) return n;
  } catch (const Error&) {
  }
  return "";
}

std::optional<Image> try_find_image(const layout::Layout& store, std::string_view key) {
  auto images = list_images(store);
  for (auto& img : images)
    if (!matching_name(img, key).empty()) return img;
  // By id (config digest) first, as docker, then by manifest digest.
  std::string_view hex = key.starts_with("sha256:") ? key.substr(7) : key;
  bool hexish = !hex.empty() &&
      std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!hexish) return std::nullopt;
  std::vector<std::string> ids, digests;
  for (auto& img : images) {
    ids.push_back(img.id());
    digests.push_back(img.target.digest.hex);
  }
  if (auto i = match_id_prefix(ids, key)) return images[*i];
  if (auto i = match_id_prefix(digests, key)) return images[*i];
  return std::nullopt;
}

Image find_image(const layout::Layout& store, std::string_view key) {
  auto img = try_find_image(store, key);
  if (!img) fail(Errc::not_found, "no such image: " + std::string(key));
  return *img;
}

nlohmann::ordered_json inspect_json(const Image& img) {
  nlohmann::ordered_json j;
  j["Id"] = img.manifest.config.digest.str();
  auto tags = nlohmann::ordered_json::array(), digests = nlohmann::ordered_json::array();
  for (auto& n : img.names) {
    auto [repo, tag] = split_name(n);
    if (is_id_name(n)) continue;
    if (tag != "<none>") tags.push_back(repo + ":" + tag);
    std::string d = repo + "@" + img.target.digest.str();
    if (std::find(digests.begin(), digests.end(), d) == digests.end()) digests.push_back(d);
  }
  j["RepoTags"] = tags;
  j["RepoDigests"] = digests;
  j["Parent"] = "";
  j["Comment"] = img.config.history.empty() ? "" : img.config.history.back().comment;
  j["Created"] = img.config.created;
  j["Author"] = img.config.author;
  auto full = image::to_json(img.config);
  j["Config"] = full.contains("config") ? full["config"] : nlohmann::json::object();
  j["Architecture"] = img.config.architecture;
  if (!img.config.variant.empty()) j["Variant"] = img.config.variant;
  j["Os"] = img.config.os;
  j["Size"] = img.size();
  auto layers = nlohmann::ordered_json::array();
  for (auto& d : img.config.diff_ids) layers.push_back(d.str());
  j["RootFS"] = {{"Type", img.config.rootfs_type}, {"Layers", layers}};
  j["Metadata"] = {{"LastTagTime", "0001-01-01T00:00:00Z"}};
  j["Descriptor"] = image::to_json(img.target);
  return j;
}

std::pair<image::Manifest, image::ImageConfig> read_image_by_digest(const layout::Layout& store,
                                                                    const std::string& digest) {
  return with_context("image " + digest, [&] {
    auto d = digest::parse(digest);
    auto text = store.read_blob(d);
    if (image::detect_kind("", text) == image::Kind::index) {
      image::Descriptor idx;
      idx.media_type = std::string(image::media::kOciIndex);
      idx.digest = d;
      idx.size = static_cast<int64_t>(text.size());
      auto m = store.read_manifest(platform_manifest(store, idx));
      return std::pair{m, store.read_config(m.config)};
    }
    auto m = image::parse_manifest(text);
    return std::pair{m, store.read_config(m.config)};
  });
}

std::set<std::string> live_chain_ids(const std::vector<Image>& images) {
  std::set<std::string> keep;
  for (auto& img : images)
    for (auto& c : img.chain_ids()) keep.insert(c);
  return keep;
}

}  // namespace ocikit::manage
