// oci-archive and docker-archive import/export (see archive.hpp).
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "common/archive.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/platform.hpp"
#include "common/reference.hpp"

namespace ocikit::archive {

using layout::Layout;
using nlohmann::json;

namespace {

constexpr size_t kMaxJson = 16 << 20;
// docker-archive members up to this size are kept in memory until
// manifest.json (which may come last) says what they are.
constexpr int64_t kSmallFile = 1 << 20;

// Blobs an import added to the layout; removed again unless the import
// completes, so a failed import leaves the layout as it was. The lease keeps
// a concurrent gc() from removing them before they are tagged.
class Importer {
 public:
  Importer(Layout& dst, std::string name) : dst_(dst), name_(std::move(name)), lease_(dst) {}
  ~Importer() {
    if (done_) return;
    for (const auto& d : created_) ::unlink(dst_.blob_path(d).c_str());
  }
  // Copy the current entry of `r` into the layout, verified against `want`
  // (when given) and `size`.
  Descriptor store(TarReader& r, const std::string& path, std::optional<digest::Digest> want, int64_t size) {
    if (want && dst_.has_blob(*want)) return Descriptor{{}, *want, size, {}, {}, {}, {}, {}, json::object()};
    auto w = dst_.begin_blob();
    char buf[1 << 16];
    while (size_t n = r.read(buf, sizeof buf)) w.write(buf, n);
    auto d = with_context(name_ + ": " + path, [&] { return w.commit(want, size); });
    if (w.created()) created_.push_back(d.digest);
    return d;
  }
  Descriptor put(std::string_view data, std::string media_type) {
    auto w = dst_.begin_blob(std::move(media_type));
    w.write(data);
    auto d = w.commit();
    if (w.created()) created_.push_back(d.digest);
    return d;
  }
  // Remove a blob this import created but did not use.
  void drop(const digest::Digest& d) {
    for (auto it = created_.begin(); it != created_.end(); ++it)
      if (*it == d) {
        ::unlink(dst_.blob_path(d).c_str());
        created_.erase(it);
        return;
      }
  }
  void success() { done_ = true; }
  const std::string& name() const { return name_; }

 private:
  Layout& dst_;
  std::string name_;
  Layout::Lease lease_;
  std::vector<digest::Digest> created_;
  bool done_ = false;
};

// Every blob reachable from `roots` is present (and manifests parse).
void check_complete(const Layout& l, const std::vector<Descriptor>& roots, const std::string& name) {
  std::vector<Descriptor> todo = roots;
  std::set<std::string> seen;
  while (!todo.empty()) {
    Descriptor d = std::move(todo.back());
    todo.pop_back();
    if (!seen.insert(d.digest.str()).second) continue;
    if (!l.has_blob(d.digest)) fail(Errc::invalid, name + ": missing blob " + d.digest.str());
    auto kind = image::detect_kind(d.media_type);
    if (kind == image::Kind::index) {
      for (auto& c : l.read_index(d).manifests) todo.push_back(std::move(c));
    } else if (kind == image::Kind::manifest) {
      auto m = l.read_manifest(d);
      todo.push_back(m.config);
      for (auto& x : m.layers) todo.push_back(std::move(x));
    }
  }
}

// Collect every blob reachable from `roots` in `src` (sorted by digest).
std::map<std::string, digest::Digest> reachable(const Layout& src, const std::vector<Descriptor>& roots) {
  std::map<std::string, digest::Digest> out;
  std::vector<Descriptor> todo = roots;
  while (!todo.empty()) {
    Descriptor d = std::move(todo.back());
    todo.pop_back();
    if (out.count(d.digest.str())) continue;
    if (!src.has_blob(d.digest)) fail(Errc::not_found, "export: blob " + d.digest.str() + ": not found");
    out.emplace(d.digest.str(), d.digest);
    auto kind = image::detect_kind(d.media_type);
    if (kind == image::Kind::index) {
      for (auto& c : src.read_index(d).manifests) todo.push_back(std::move(c));
    } else if (kind == image::Kind::manifest) {
      auto m = src.read_manifest(d);
      todo.push_back(m.config);
      for (auto& x : m.layers) todo.push_back(std::move(x));
    }
  }
  return out;
}

// Write an archive to `file` ("-" = stdout) through `fn(TarWriter&)`:
// a file is written atomically, so a failed export leaves nothing.
template <class F>
void write_archive(const std::string& file, Compression c, F&& fn) {
  if (file == "-") {
    TarWriter w(1, c);
    fn(w);
    w.finish();
    return;
  }
  fs::AtomicFile out(file);
  {
    TarWriter w(out.fd(), c);
    fn(w);
    w.finish();
  }
  out.commit();
}

// Copy blob `d` from `src` into the tar as `path`, checking its digest.
void copy_blob(const Layout& src, const digest::Digest& d, const std::string& path, TarWriter& w) {
  auto fd = src.open_blob(d);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat blob " + d.str());
  w.begin_file(path, st.st_size);
  digest::Hasher h(d.algorithm);
  char buf[1 << 16];
  int64_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::read(fd.get(), buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read blob " + d.str());
    if (n == 0) fail(Errc::io, "read blob " + d.str() + ": file shrank while reading");
    h.update(buf, static_cast<size_t>(n));
    w.write_data(buf, static_cast<size_t>(n));
    left -= n;
  }
  auto got = h.finish();
  if (got != d) fail(Errc::invalid, "blob " + d.str() + ": digest mismatch: want " + d.str() + ", got " + got.str());
}

}  // namespace

// ---------------------------------------------------------------- oci-archive

std::vector<ArchiveImage> import_oci_archive(const std::string& file, Layout& dst, bool tag) {
  auto r = TarReader::open(file);
  Importer imp(dst, r.name());
  std::string index_text;
  bool have_layout = false;
  Entry e;
  while (r.next(e)) {
    std::string p = with_context(r.name(), [&] { return safe_entry_path(e.path); });
    if (e.type == Entry::Type::dir) continue;
    if (e.type != Entry::Type::file)
      fail(Errc::invalid, r.name() + ": unexpected non-regular entry \"" + e.path + "\" in oci-archive");
    if (p == "oci-layout") {
      auto j = image::parse_json(r.read_all(kMaxJson), "oci-layout file in " + r.name());
      if (!j.is_object() || !j.contains("imageLayoutVersion") || !j["imageLayoutVersion"].is_string())
        fail(Errc::invalid, r.name() + ": invalid oci-layout file: missing \"imageLayoutVersion\"");
      have_layout = true;
    } else if (p == "index.json") {
      index_text = r.read_all(kMaxJson);
    } else if (p.rfind("blobs/", 0) == 0) {
      auto slash = p.find('/', 6);
      if (slash == std::string::npos || p.find('/', slash + 1) != std::string::npos)
        fail(Errc::invalid, r.name() + ": unexpected blob path \"" + p + "\"");
      std::string ds = p.substr(6, slash - 6) + ":" + p.substr(slash + 1);
      auto d = with_context(r.name() + ": blob path \"" + p + "\"", [&] { return digest::parse(ds); });
      imp.store(r, p, d, e.size);
    }
    // Anything else (README files, "ingest/" leftovers) is not part of the image.
  }
  if (!have_layout) fail(Errc::invalid, r.name() + ": not an oci-archive (no oci-layout file)");
  if (index_text.empty()) fail(Errc::invalid, r.name() + ": not an oci-archive (no index.json)");
  auto ix = with_context(r.name() + ": index.json", [&] { return image::parse_index(index_text); });
  check_complete(dst, ix.manifests, r.name());
  std::vector<ArchiveImage> out;
  for (const auto& m : ix.manifests) {
    ArchiveImage ai;
    ai.desc = m;
    if (std::string n = m.ref_name(); !n.empty()) ai.names.push_back(n);
    out.push_back(std::move(ai));
  }
  if (tag)
    for (const auto& ai : out)
      for (const auto& n : ai.names) dst.tag(n, ai.desc);
  imp.success();
  return out;
}

void export_oci_archive(const Layout& src, const std::vector<ArchiveImage>& images, const std::string& file,
                        Compression c) {
  image::Index ix;
  ix.media_type = image::media::kOciIndex;
  std::vector<Descriptor> roots;
  for (const auto& img : images) {
    roots.push_back(img.desc);
    Descriptor d = img.desc;
    d.annotations.erase(std::string(image::kRefNameAnnotation));
    if (img.names.empty()) ix.manifests.push_back(d);
    for (const auto& n : img.names) {
      if (!layout::is_valid_ref_name(n))
        fail(Errc::invalid, "invalid image name \"" + n + "\" for an OCI layout ref.name");
      d.annotations[std::string(image::kRefNameAnnotation)] = n;
      ix.manifests.push_back(d);
    }
  }
  auto blobs = reachable(src, roots);
  write_archive(file, c, [&](TarWriter& w) {
    w.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    w.add_file("index.json", image::dump(image::to_json(ix)));
    w.add_dir("blobs");
    std::set<std::string> algs;
    for (const auto& [k, d] : blobs) {
      std::string alg(d.algorithm_name());
      if (algs.insert(alg).second) w.add_dir("blobs/" + alg);
      copy_blob(src, d, "blobs/" + alg + "/" + d.hex, w);
    }
  });
}

// ---------------------------------------------------------------- docker-archive

namespace {

// A docker-archive member: small ones are kept in memory, large ones are
// already stored as blobs.
struct Member {
  std::string data;
  std::optional<Descriptor> blob;
};

std::string link_target(const std::string& member, const std::string& target, bool symlink) {
  // Symlinks are relative to the member's directory; hardlinks name an
  // archive path. Either must stay inside the archive.
  std::string t = target;
  if (symlink) {
    auto slash = member.rfind('/');
    t = (slash == std::string::npos ? "" : member.substr(0, slash + 1)) + target;
    t = fs::clean_path(t);
  }
  return safe_entry_path(t);
}

}  // namespace

std::vector<ArchiveImage> import_docker_archive(const std::string& file, Layout& dst, bool tag) {
  auto r = TarReader::open(file);
  Importer imp(dst, r.name());
  std::map<std::string, Member> files;
  std::map<std::string, std::string> links;
  Entry e;
  while (r.next(e)) {
    std::string p = with_context(r.name(), [&] { return safe_entry_path(e.path); });
    switch (e.type) {
      case Entry::Type::dir: break;
      case Entry::Type::symlink:
      case Entry::Type::hardlink: links[p] = link_target(p, e.linkname, e.type == Entry::Type::symlink); break;
      case Entry::Type::file:
        if (e.size <= kSmallFile) {
          files[p].data = r.read_all(kSmallFile);
        } else {
          files[p].blob = imp.store(r, p, std::nullopt, e.size);
        }
        break;
      default: fail(Errc::invalid, r.name() + ": unexpected entry \"" + e.path + "\" in docker-archive");
    }
  }
  auto member = [&](std::string p) -> Member& {
    for (int hops = 0; hops < 16; ++hops) {
      if (auto it = files.find(p); it != files.end()) return it->second;
      auto l = links.find(p);
      if (l == links.end()) break;
      p = l->second;
    }
    fail(Errc::invalid, r.name() + ": file \"" + p + "\" named in manifest.json is missing");
  };
  if (!files.count("manifest.json")) fail(Errc::invalid, r.name() + ": not a docker-archive (no manifest.json)");
  json mj = image::parse_json(files["manifest.json"].data, "manifest.json in " + r.name());
  auto bad = [&](const std::string& why) { fail(Errc::invalid, r.name() + ": manifest.json: " + why); };
  if (!mj.is_array() || mj.empty()) bad("must be a non-empty array");

  std::set<std::string> used;
  std::vector<ArchiveImage> out;
  for (size_t i = 0; i < mj.size(); ++i) {
    const json& ent = mj[i];
    std::string at = "[" + std::to_string(i) + "]";
    if (!ent.is_object()) bad(at + ": must be an object");
    if (!ent.contains("Config") || !ent["Config"].is_string()) bad(at + ".Config: must be a string");
    if (!ent.contains("Layers") || !ent["Layers"].is_array()) bad(at + ".Layers: must be an array of strings");
    std::vector<std::string> tags;
    if (ent.contains("RepoTags") && !ent["RepoTags"].is_null()) {
      if (!ent["RepoTags"].is_array()) bad(at + ".RepoTags: must be an array of strings");
      for (const auto& t : ent["RepoTags"]) {
        if (!t.is_string()) bad(at + ".RepoTags: must be an array of strings");
        tags.push_back(with_context(r.name() + ": manifest.json" + at + ".RepoTags",
                                    [&] { return reference::parse(t.get<std::string>()).str(); }));
      }
    }
    // The config, stored unchanged (its digest is the image id).
    std::string cfg_path = safe_entry_path(ent["Config"].get<std::string>());
    Member& cm = member(cfg_path);
    std::string cfg_text = cm.blob ? dst.read_blob(cm.blob->digest) : cm.data;
    auto cfg = with_context(r.name() + ": " + cfg_path, [&] { return image::parse_config(cfg_text); });
    const json& layers = ent["Layers"];
    if (layers.size() != cfg.diff_ids.size())
      bad(at + ": " + std::to_string(layers.size()) + " layers but the config lists " +
          std::to_string(cfg.diff_ids.size()) + " diff_ids");
    image::Manifest m;
    m.media_type = image::media::kOciManifest;
    m.config = imp.put(cfg_text, std::string(image::media::kOciConfig));
    for (size_t k = 0; k < layers.size(); ++k) {
      if (!layers[k].is_string()) bad(at + ".Layers: must be an array of strings");
      std::string lp = safe_entry_path(layers[k].get<std::string>());
      Member& lm = member(lp);
      Descriptor ld = lm.blob ? *lm.blob : imp.put(lm.data, "");
      used.insert(ld.digest.str());
      // Media type from the content: docker save writes plain tars, but
      // docker load also accepts compressed ones.
      char head[4] = {};
      auto fd = dst.open_blob(ld.digest);
      ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
      auto comp = detect_compression(std::string_view(head, n > 0 ? static_cast<size_t>(n) : 0));
      ld.media_type = std::string(image::layer_media_type(comp));
      auto did = comp == Compression::none ? ld.digest : diff_id(dst, ld.digest);
      if (did != cfg.diff_ids[k])
        fail(Errc::invalid,
             r.name() + ": layer " + lp + ": diff_id mismatch: config says " + cfg.diff_ids[k].str() + ", content is " +
                 did.str());
      ld.extra = json::object();
      m.layers.push_back(ld);
    }
    ArchiveImage ai;
    ai.desc = imp.put(image::dump(image::to_json(m)), std::string(image::media::kOciManifest));
    ai.names = tags;
    out.push_back(std::move(ai));
  }
  // Large members no image used (old-format layer "json" files are small,
  // but be exact) are not kept.
  for (const auto& [p, mem] : files)
    if (mem.blob && !used.count(mem.blob->digest.str())) imp.drop(mem.blob->digest);
  if (tag)
    for (const auto& ai : out)
      for (const auto& n : ai.names) dst.tag(n, ai.desc);
  imp.success();
  return out;
}

void export_docker_archive(const Layout& src, const std::vector<ArchiveImage>& images, const std::string& file) {
  struct Item {
    std::string config_path, top_layer;
    std::vector<std::string> repo_tags, layer_paths;
  };
  std::vector<Item> items;
  std::map<std::string, digest::Digest> configs;  // path -> blob
  std::map<std::string, std::pair<digest::Digest, digest::Digest>> tars;  // path -> (blob, diff_id)
  std::map<std::string, std::string> layer_meta;  // layer dir -> its v1 json
  for (const auto& img : images) {
    Descriptor md = img.desc;
    if (image::detect_kind(md.media_type) == image::Kind::index) {
      auto want = platform::host();
      std::optional<Descriptor> pick;
      for (const auto& c : src.read_index(md).manifests)
        if (c.platform && platform::matches(want, *c.platform) && src.has_blob(c.digest)) {
          pick = c;
          break;
        }
      if (!pick) fail(Errc::not_found, "export: index " + md.digest.str() + " has no manifest for " + want.str());
      md = *pick;
    }
    auto m = src.read_manifest(md);
    auto cfg = src.read_config(m.config);
    if (cfg.diff_ids.size() != m.layers.size())
      fail(Errc::invalid,
           "export: manifest " + md.digest.str() + ": " + std::to_string(m.layers.size()) +
               " layers but the config lists " + std::to_string(cfg.diff_ids.size()) + " diff_ids");
    Item it;
    it.config_path = m.config.digest.hex + ".json";
    configs.emplace(it.config_path, m.config.digest);
    // docker 20.10's layout: one directory per layer, named by an id of
    // the layer and those below it (the OCI ChainID here), holding
    // layer.tar, VERSION and a v1 json that names its parent.
    std::string parent;
    for (size_t k = 0; k < m.layers.size(); ++k) {
      std::string id = k == 0 ? cfg.diff_ids[0].hex : digest::of("sha256:" + parent + " " + cfg.diff_ids[k].str()).hex;
      std::string p = id + "/layer.tar";
      it.layer_paths.push_back(p);
      tars.emplace(p, std::make_pair(m.layers[k].digest, cfg.diff_ids[k]));
      json v1 = {{"id", id}, {"created", "1970-01-01T00:00:00Z"}, {"container_config", json::object()}};
      if (!parent.empty()) v1["parent"] = parent;
      layer_meta.emplace(id, image::dump(v1));
      parent = id;
    }
    it.top_layer = parent;
    for (const auto& n : img.names) {
      auto ref = with_context("export", [&] { return reference::parse(n); });
      if (!ref.tag.empty()) it.repo_tags.push_back(ref.familiar_name() + ":" + ref.tag);
    }
    items.push_back(std::move(it));
  }
  json mj = json::array();
  // "repositories": {REPO: {TAG: top layer id}}, as docker 20.10 writes it.
  json repos = json::object();
  for (const auto& it : items) {
    mj.push_back({{"Config", it.config_path}, {"RepoTags", it.repo_tags}, {"Layers", it.layer_paths}});
    for (const auto& rt : it.repo_tags) {
      auto colon = rt.rfind(':');
      if (!it.top_layer.empty()) repos[rt.substr(0, colon)][rt.substr(colon + 1)] = it.top_layer;
    }
  }

  write_archive(file, Compression::none, [&](TarWriter& w) {
    for (const auto& [id, v1] : layer_meta) {
      w.add_dir(id);
      w.add_file(id + "/VERSION", "1.0");
      w.add_file(id + "/json", v1);
    }
    for (const auto& [p, bd] : tars) {
      const auto& [blob, want] = bd;
      int64_t size = 0;
      // Layers go in uncompressed, as docker save writes them: one pass to
      // learn the size (and check the diff_id), one to copy.
      auto did = diff_id(src, blob, &size);
      if (did != want)
        fail(Errc::invalid,
             "export: layer " + blob.str() + ": diff_id mismatch: config says " + want.str() + ", content is " +
                 did.str());
      w.begin_file(p, size);
      read_layer(src, blob, [&](const void* d, size_t n) { w.write_data(d, n); });
    }
    for (const auto& [p, d] : configs) copy_blob(src, d, p, w);
    w.add_file("manifest.json", image::dump(mj));
    if (!repos.empty()) w.add_file("repositories", image::dump(repos));
  });
}

LocalImage::LocalImage(const reference::ImageRef& src, const std::string& spelled, const std::string& store) {
  using reference::Transport;
  if (src.transport == Transport::oci) {
    layout_ = layout::Layout::open(src.path);
    name_ = src.tag.empty() ? "latest" : src.tag;
  } else if (src.transport == Transport::store) {
    layout_ = layout::Layout::open(store.empty() ? layout::default_store_path() : store);
    name_ = src.ref.str();
  } else if (src.transport == Transport::oci_archive || src.transport == Transport::docker_archive) {
    temp_.emplace("ocikit-archive");
    layout_ = layout::Layout::open_or_create(temp_->path());
    auto images = src.transport == Transport::oci_archive ? import_oci_archive(src.path, *layout_)
                                                          : import_docker_archive(src.path, *layout_);
    if (images.empty()) fail(Errc::invalid, spelled + ": the archive holds no image");
    if (src.tag.empty()) {
      if (images.size() > 1) fail(Errc::usage, spelled + ": the archive holds several images; name one with :TAG");
      name_ = images[0].names.empty() ? images[0].desc.digest.str() : images[0].names[0];
    } else {
      name_ = src.transport == Transport::docker_archive ? reference::parse(src.tag).str() : src.tag;
    }
  } else {
    fail(Errc::usage, spelled + ": not a local image (oci:, oci-archive:, docker-archive: or a store name)");
  }
  top_ = layout_->resolve_or_throw(name_);
}

}  // namespace ocikit::archive
