// Whole-image pulls and pushes (see transfer.hpp).
#include "common/transfer.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"

namespace ocikit::transfer {

void parallel_for(size_t n, int jobs, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first;
  std::mutex mu;
  auto worker = [&] {
    for (;;) {
      if (failed) return;
      size_t i = next++;
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lk(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, jobs)));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

namespace {

image::Descriptor descriptor_of(const registry::Manifest& m) {
  image::Descriptor d;
  d.media_type = m.media_type;
  d.digest = digest::parse(m.digest);
  d.size = static_cast<int64_t>(m.body.size());
  return d;
}

void store_bytes(const PullTarget& t, const image::Descriptor& d, const std::string& body) {
  if (t.has_blob(d)) return;
  t.write_blob(d, [&](const http::Sink& sink) { sink(body.data(), body.size()); });
}

void check_child(const image::Descriptor& want, const registry::Manifest& got) {
  if (static_cast<int64_t>(got.body.size()) != want.size)
    fail(Errc::invalid,
         "manifest " + want.digest.str() + ": size mismatch (got " + std::to_string(got.body.size()) +
             " bytes, index says " + std::to_string(want.size) + ")");
}

}  // namespace

image::Descriptor pull_image(registry::Client& c, const std::string& repo, const std::string& ref,
                             const PullTarget& target, const PullOptions& o) {
  registry::Manifest top = c.get_manifest(repo, ref);
  if (o.check_top) o.check_top(top);
  std::string where = c.host() + "/" + repo;
  image::Kind kind = image::detect_kind(top.media_type, top.body);
  image::Descriptor result = descriptor_of(top);

  // Manifests to pull (bytes kept verbatim: their digests are the names).
  std::vector<std::pair<image::Descriptor, registry::Manifest>> manifests;
  bool keep_index = false;
  if (kind == image::Kind::index) {
    image::Index idx = with_context("manifest " + top.digest, [&] { return image::parse_index(top.body); });
    std::vector<image::Descriptor> chosen;
    if (o.all_platforms) {
      chosen = idx.manifests;
      keep_index = true;
    } else {
      for (const auto& d : idx.manifests) {
        if (d.platform && platform::matches(o.platform, *d.platform) && image::is_manifest_media_type(d.media_type)) {
          chosen.push_back(d);
          break;
        }
      }
      if (chosen.empty()) {
        std::string have;
        for (const auto& d : idx.manifests)
          if (d.platform) have += (have.empty() ? "" : ", ") + d.platform->str();
        fail(Errc::not_found,
             where + "@" + top.digest + ": no image for platform " + o.platform.str() +
                 " (the index has: " + (have.empty() ? "none" : have) + ")");
      }
      result = chosen[0];
    }
    for (const auto& d : chosen) {
      if (!image::is_manifest_media_type(d.media_type)) {
        log::warn("skipping " + d.digest.str() + " of type " + d.media_type + " in index " + top.digest);
        continue;
      }
      registry::Manifest m = c.get_manifest(repo, d.digest.str());
      check_child(d, m);
      manifests.emplace_back(d, std::move(m));
    }
  } else if (kind == image::Kind::manifest) {
    manifests.emplace_back(result, top);
  } else {
    fail(Errc::invalid, "manifest " + where + ":" + ref + ": unsupported media type \"" + top.media_type + "\"");
  }

  // Every blob, once.
  std::vector<image::Descriptor> blobs;
  std::set<std::string> seen;
  std::vector<std::string> in_repo;  // blobs this repository holds
  for (auto& [d, m] : manifests) {
    image::Manifest man =
        with_context("manifest " + d.digest.str(), [&m = m] { return image::parse_manifest(m.body); });
    if (d.media_type.empty()) d.media_type = m.media_type;
    auto add = [&](const image::Descriptor& b) {
      if (!seen.insert(b.digest.str()).second) return;
      if (b.urls.empty()) in_repo.push_back(b.digest.str());
      if (!target.has_blob(b)) blobs.push_back(b);
    };
    add(man.config);
    for (const auto& l : man.layers) add(l);
  }

  std::vector<size_t> bar_ids;
  if (o.bars)
    for (const auto& b : blobs) bar_ids.push_back(o.bars->add(b.digest.short_hex(), static_cast<uint64_t>(b.size)));
  parallel_for(blobs.size(), o.jobs, [&](size_t i) {
    const image::Descriptor& b = blobs[i];
    with_context("pull blob " + b.digest.str(), [&] {
      target.write_blob(b, [&](const http::Sink& sink) {
        uint64_t got = 0;
        registry::Progress prog = [&, id = o.bars ? bar_ids[i] : 0](uint64_t done) {
          got = done;
          if (o.bars) o.bars->update(id, done);
        };
        try {
          c.fetch_blob(repo, b.digest.str(), b.size, sink, prog, !target.verifies);
          return;
        } catch (const Error& e) {
          if (e.code() != Errc::not_found || b.urls.empty()) throw;
          // Foreign / non-distributable layers live at their URLs; the
          // registry usually lacks them (as it may).
          log::debug(std::string(e.what()) + "; trying its urls");
        }
        for (size_t u = 0; u < b.urls.size(); ++u) {
          try {
            c.fetch_url(b.urls[u], b.digest.str(), b.size, sink, prog, !target.verifies);
            return;
          } catch (const Error& e) {
            // Another URL may only start over when this one wrote nothing.
            if (got > 0 || u + 1 == b.urls.size()) throw;
            log::info(std::string(e.what()) + "; trying the next url");
          }
        }
      });
    });
    if (o.bars) o.bars->finish(bar_ids[i], "done");
  });

  // Manifests after their blobs, the index last.
  for (const auto& [d, m] : manifests) store_bytes(target, d, m.body);
  if (keep_index) store_bytes(target, descriptor_of(top), top.body);
  if (o.locations) o.locations->record(c.host(), repo, in_repo);
  return result;
}

std::string push_image(registry::Client& c, const std::string& repo, const std::string& tag,
                       const image::Descriptor& top, const PushSource& src, const PushOptions& o) {
  std::string top_body = src.read_blob(top);
  image::Kind kind = image::detect_kind(top.media_type, top_body);
  std::vector<std::pair<image::Descriptor, std::string>> manifests;
  if (kind == image::Kind::index) {
    image::Index idx = with_context("index " + top.digest.str(), [&] { return image::parse_index(top_body); });
    for (const auto& d : idx.manifests) {
      if (!image::is_manifest_media_type(d.media_type))
        fail(Errc::invalid, "index " + top.digest.str() + ": unsupported entry type \"" + d.media_type + "\"");
      manifests.emplace_back(d, src.read_blob(d));
    }
  } else if (kind == image::Kind::manifest) {
    manifests.emplace_back(top, top_body);
  } else {
    fail(Errc::invalid, "image " + top.digest.str() + ": unsupported media type \"" + top.media_type + "\"");
  }

  std::vector<image::Descriptor> blobs;
  std::set<std::string> seen;
  for (const auto& [d, body] : manifests) {
    image::Manifest man =
        with_context("manifest " + d.digest.str(), [&body = body] { return image::parse_manifest(body); });
    if (seen.insert(man.config.digest.str()).second) blobs.push_back(man.config);
    for (const auto& l : man.layers) {
      if (image::is_nondistributable_media_type(l.media_type) && !l.urls.empty()) continue;
      if (seen.insert(l.digest.str()).second) blobs.push_back(l);
    }
  }
  std::vector<size_t> bar_ids;
  if (o.bars)
    for (const auto& b : blobs) bar_ids.push_back(o.bars->add(b.digest.short_hex(), static_cast<uint64_t>(b.size)));
  parallel_for(blobs.size(), o.jobs, [&](size_t i) {
    const image::Descriptor& b = blobs[i];
    std::string state = with_context("push blob " + b.digest.str(), [&]() -> std::string {
      if (auto h = c.head_blob(repo, b.digest.str()); h && (h->size == 0 || h->size == static_cast<uint64_t>(b.size)))
        return "exists";
      fs::UniqueFd fd = src.open_blob(b);
      registry::Progress prog;
      if (o.bars) prog = [&, id = bar_ids[i]](uint64_t done) { o.bars->update(id, done); };
      std::vector<std::string> from = o.mount_from;
      if (o.locations)
        for (auto& r : o.locations->repositories(c.host(), b.digest.str()))
          if (r != repo && std::find(from.begin(), from.end(), r) == from.end()) from.push_back(std::move(r));
      return c.push_blob(repo, b.digest.str(), static_cast<uint64_t>(b.size), fd.get(), from, prog) ? "mounted"
                                                                                                    : "pushed";
    });
    log::debug("blob " + b.digest.str() + ": " + state);
    if (o.bars) o.bars->finish(bar_ids[i], state);
  });

  // Manifests after their blobs; an index after its manifests.
  if (kind == image::Kind::index) {
    for (const auto& [d, body] : manifests)
      with_context("push manifest " + d.digest.str(),
                   [&, &d = d, &body = body] { c.put_manifest(repo, d.digest.str(), d.media_type, body); });
  }
  std::string ref = tag.empty() ? top.digest.str() : tag;
  std::string mt = top.media_type;
  if (mt.empty()) mt = kind == image::Kind::index ? image::media::kOciIndex : image::media::kOciManifest;
  std::string pushed =
      with_context("push manifest " + top.digest.str(), [&] { return c.put_manifest(repo, ref, mt, top_body); });
  if (o.locations) {
    std::vector<std::string> ds;
    for (const auto& b : blobs) ds.push_back(b.digest.str());
    o.locations->record(c.host(), repo, ds);
  }
  return pushed;
}

}  // namespace ocikit::transfer
