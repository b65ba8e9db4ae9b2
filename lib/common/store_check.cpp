#include "common/store_check.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"
#include "common/snapshot.hpp"

namespace ocikit::store_check {

namespace {

// Largest manifest, index or config read (the layout's own bound).
constexpr int64_t kMaxJson = 4 << 20;

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

struct BlobInfo {
  int64_t size = -1;
  bool ok = false;  ///< present, a regular file, content matches the name
};

class Checker {
 public:
  Checker(const std::string& store, const Options& o, Report& r) : store_(store), o_(o), r_(r) {}

  void run(const std::string& snapshot_dir) {
    std::optional<layout::Layout> l;
    try {
      l.emplace(layout::Layout::open(store_));
    } catch (const Error& e) {
      add(Kind::bad_index, store_, e.what());
      return;
    }
    scan_blobs();
    image::Index ix;
    try {
      ix = l->index();
    } catch (const Error& e) {
      add(Kind::bad_index, store_ + "/index.json", e.what());
      return;
    }
    r_.images = ix.manifests.size();
    std::set<std::string> broken;
    for (const auto& d : ix.manifests) {
      std::string name = d.ref_name().empty() ? d.digest.str() : d.ref_name();
      std::set<std::string> chains;
      std::string why = walk(*l, d, chains, 0);
      if (!why.empty()) {
        add(Kind::broken_image, name, why);
        if (broken.insert(d.digest.str()).second) r_.broken_entries.push_back(d.digest.str());
      } else {
        r_.live_chain_ids.insert(chains.begin(), chains.end());
      }
    }
    for (const auto& d : o_.extra_roots) {
      image::Descriptor root;
      root.digest = d;
      root.size = -1;
      std::set<std::string> chains;
      if (walk(*l, root, chains, 0).empty()) r_.live_chain_ids.insert(chains.begin(), chains.end());
    }
    r_.live_chain_ids.insert(o_.extra_chain_ids.begin(), o_.extra_chain_ids.end());
    for (const auto& [key, info] : blobs_)
      if (!reachable_.count(key) && info.ok)
        add(Kind::unreferenced_blob, key, std::to_string(info.size) + " bytes no image uses");
    for (const auto& n : list_dir(store_ + "/ingest"))
      add(Kind::stale_temp, store_ + "/ingest/" + n, "partial download or write");
    for (const auto& n : list_dir(store_))
      if (n.rfind(".tmp-", 0) == 0) add(Kind::stale_temp, store_ + "/" + n, "partial index.json write");
    if (!snapshot_dir.empty()) scan_snapshots(snapshot_dir);
  }

 private:
  void add(Kind k, std::string subject, std::string detail) {
    r_.problems.push_back({k, std::move(subject), std::move(detail)});
  }

  void scan_blobs() {
    for (const auto& alg : list_dir(store_ + "/blobs")) {
      std::string dir = store_ + "/blobs/" + alg;
      for (const auto& hex : list_dir(dir)) {
        std::string key = alg + ":" + hex;
        if (!digest::is_valid(key)) continue;  // not a blob name: not ours to judge (as gc)
        std::string p = dir + "/" + hex;
        BlobInfo info;
        struct stat st {};
        if (::lstat(p.c_str(), &st) != 0) continue;
        r_.blobs++;
        if (!S_ISREG(st.st_mode)) {
          add(Kind::corrupt_blob, key, "not a regular file");
          r_.corrupt_blobs.push_back(digest::parse(key));
          blobs_[key] = info;
          continue;
        }
        info.size = st.st_size;
        r_.bytes += static_cast<uint64_t>(st.st_size);
        info.ok = true;
        if (!o_.quick) {
          auto want = digest::parse(key);
          fs::UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
          if (!fd) throw_errno("open " + p);
          uint64_t n = 0;
          auto got = digest::of_fd(fd.get(), want.algorithm, &n);
          if (got != want) {
            add(Kind::corrupt_blob, key, "content hashes to " + got.str());
            r_.corrupt_blobs.push_back(want);
            info.ok = false;
          }
        }
        blobs_[key] = info;
      }
    }
  }

  // Why the graph below `d` is broken, "" when it is whole; the chain ids
  // of the manifests in it go to `chains`.
  std::string walk(const layout::Layout& l, const image::Descriptor& d, std::set<std::string>& chains, int depth) {
    if (depth > 8) return "index nesting deeper than 8 levels";
    std::string key = d.digest.str();
    reachable_.insert(key);
    auto it = blobs_.find(key);
    bool layer = image::is_layer_media_type(d.media_type);
    if (it == blobs_.end()) {
      if (layer && (image::is_nondistributable_media_type(d.media_type) || !d.urls.empty())) return "";
      if (depth == 0 || !layer) add(Kind::missing_blob, key, "needed, not in the store");
      else add(Kind::missing_blob, key, "layer needed, not in the store");
      return "missing " + std::string(layer ? "layer " : "") + key;
    }
    if (!it->second.ok) return "corrupt blob " + key;
    if (d.size >= 0 && it->second.size != d.size)
      return key + " is " + std::to_string(it->second.size) + " bytes, its descriptor says " + std::to_string(d.size);
    if (layer) return "";
    image::Kind kind = image::detect_kind(d.media_type);
    if (kind != image::Kind::index && kind != image::Kind::manifest && kind != image::Kind::config) {
      if (it->second.size > kMaxJson) return "";
      std::string text;
      try {
        text = l.read_blob(d.digest);
      } catch (const Error& e) {
        return e.what();
      }
      kind = image::detect_kind("", text);
      if (kind != image::Kind::index && kind != image::Kind::manifest) return "";
    }
    if (it->second.size > kMaxJson) return key + ": larger than " + std::to_string(kMaxJson) + " bytes";
    try {
      std::string text = l.read_blob(d.digest);
      // Every child is walked (all of an image's blobs are reachable,
      // broken or not); the first reason is kept.
      std::string first;
      auto child = [&](const image::Descriptor& c) {
        if (auto why = walk(l, c, chains, depth + 1); first.empty()) first = why;
      };
      if (kind == image::Kind::index) {
        for (const auto& c : image::parse_index(text).manifests) child(c);
        return first;
      } else if (kind == image::Kind::manifest) {
        auto m = image::parse_manifest(text);
        child(m.config);
        for (const auto& x : m.layers) child(x);
        if (!first.empty()) return first;
        auto cfg = image::parse_config(l.read_blob(m.config));
        if (cfg.diff_ids.size() != m.layers.size())
          return "manifest " + key + " has " + std::to_string(m.layers.size()) + " layers, its config " +
              std::to_string(cfg.diff_ids.size()) + " diff_ids";
        for (const auto& c : snapshot::chain_ids(cfg.diff_ids)) chains.insert(c.hex);
      } else if (kind == image::Kind::config) {
        (void)image::parse_config(text);
      }
    } catch (const Error& e) {
      return key + ": " + e.what();
    } catch (const std::exception& e) {
      return key + ": " + e.what();
    }
    return "";
  }

  void scan_snapshots(const std::string& dir) {
    if (!fs::exists(dir)) return;
    auto busy = snapshot::Store::open(dir).mounted();
    for (const auto& n : list_dir(dir)) {
      std::string p = dir + "/" + n;
      if (n.rfind(snapshot::detail::kTmpPrefix, 0) == 0) {
        add(Kind::stale_temp, p, "partial layer extraction");
        continue;
      }
      if (!is_hex64(n)) continue;  // the lock and anything not ours
      r_.snapshots++;
      struct stat st {};
      bool is_dir = ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      if (!is_dir) {
        add(Kind::bad_snapshot, n, "not a directory");
      } else if (!r_.live_chain_ids.count(n) && !busy.count(n)) {
        add(Kind::unreferenced_snapshot, n, "no image or container uses it");
      }
    }
  }

  const std::string& store_;
  const Options& o_;
  Report& r_;
  std::map<std::string, BlobInfo> blobs_;
  std::set<std::string> reachable_;
};

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::corrupt_blob: return "corrupt blob";
    case Kind::missing_blob: return "missing blob";
    case Kind::broken_image: return "broken image";
    case Kind::bad_index: return "bad index";
    case Kind::bad_snapshot: return "bad snapshot";
    case Kind::unreferenced_blob: return "unreferenced blob";
    case Kind::unreferenced_snapshot: return "unreferenced snapshot";
    case Kind::stale_temp: return "stale temp";
  }
  return "?";
}

bool is_error(Kind k) {
  return k == Kind::corrupt_blob || k == Kind::missing_blob || k == Kind::broken_image || k == Kind::bad_index ||
      k == Kind::bad_snapshot;
}

size_t Report::errors() const {
  size_t n = 0;
  for (const auto& p : problems) n += is_error(p.kind);
  return n;
}

Report check(const std::string& store_dir, const std::string& snapshot_dir, const Options& o) {
  Report r;
  Checker(store_dir, o, r).run(snapshot_dir);
  return r;
}

RepairResult repair(const std::string& store_dir, const std::string& snapshot_dir, const Report& r, const Options& o) {
  for (const auto& p : r.problems)
    if (p.kind == Kind::bad_index)
      fail(Errc::invalid,
           "cannot repair " + p.subject + ": " + p.detail + " (restore it, or remove the store and pull again)");
  RepairResult res;
  auto l = layout::Layout::open(store_dir);
  for (const auto& d : r.corrupt_blobs)
    if (l.remove_blob(d)) res.blobs++;
  for (const auto& e : r.broken_entries) {
    try {
      l.delete_image(e);
      res.images++;
    } catch (const Error& err) {
      if (err.code() != Errc::not_found) throw;  // removed meanwhile
    }
  }
  auto g = l.gc(o.extra_roots);
  res.blobs += g.blobs;
  res.bytes += g.bytes;
  res.temps += g.temps;
  if (!snapshot_dir.empty() && fs::exists(snapshot_dir)) {
    auto s = snapshot::Store::open(snapshot_dir);
    {
      fs::FileLock lock(snapshot_dir + "/.lock");
      for (const auto& p : r.problems)
        if (p.kind == Kind::bad_snapshot) {
          fs::remove_all(snapshot_dir + "/" + p.subject);
          res.snapshots++;
        }
    }
    for (const auto& p : r.problems)
      res.temps += p.kind == Kind::stale_temp && p.subject.rfind(snapshot_dir + "/", 0) == 0;
    res.snapshots += s.gc(r.live_chain_ids);
  }
  return res;
}

}  // namespace ocikit::store_check
