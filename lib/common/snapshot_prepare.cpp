// snapshot::Store::prepare: layer extraction into the snapshot dir. Its own
// file, apart from snapshot.cpp, because it is the only part that needs
// layer::apply (libarchive): the lean oci-run binary links snapshot.o for
// warm bundles (Store::ready, mount_rootfs) without it.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/snapshot.hpp"

namespace ocikit::snapshot {

namespace {

// Extract one layer blob into a fresh temp dir, verify it, rename it to `final`.
void extract_one(const layout::Layout& layout, const image::Descriptor& desc, const digest::Digest& want_diff_id,
                 const std::string& dir, const std::string& final_path) {
  std::string tmpl = dir + "/" + detail::kTmpPrefix + desc.digest.hex.substr(0, 12) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw_errno("create " + tmpl);
  std::string tmp = tmpl;
  try {
    ::chmod(tmp.c_str(), 0755);
    auto fd = layout.open_blob(desc.digest);
    layer::ApplyOptions opts;
    opts.overlay_whiteouts = true;
    opts.same_owner = ::geteuid() == 0;
    opts.allow_devices = ::geteuid() == 0;
    auto r = layer::apply(fd.get(), tmp, opts);
    if (!(r.compressed_digest == desc.digest))
      fail(Errc::invalid, "digest mismatch: want " + desc.digest.str() + ", got " + r.compressed_digest.str());
    if (desc.size >= 0 && r.compressed_size != static_cast<uint64_t>(desc.size))
      fail(Errc::invalid,
           "size mismatch: want " + std::to_string(desc.size) + ", got " + std::to_string(r.compressed_size));
    if (!(r.diff_id == want_diff_id))
      fail(Errc::invalid, "diff_id mismatch: want " + want_diff_id.str() + ", got " + r.diff_id.str());
    ::fsync(fd.get());
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      int err = errno;
      // Another extractor won the race: its copy is as good as ours.
      if ((err == ENOTEMPTY || err == EEXIST) && fs::exists(final_path)) {
        fs::remove_all(tmp);
        return;
      }
      throw_errno("rename " + tmp + " to " + final_path, err);
    }
  } catch (...) {
    try {
      fs::remove_all(tmp);
    } catch (...) {
    }
    throw;
  }
}

}  // namespace

std::vector<std::string> Store::prepare(layout::Layout& layout, const image::Manifest& manifest,
                                        const image::ImageConfig& config, int jobs) {
  if (manifest.layers.size() != config.diff_ids.size())
    fail(Errc::invalid,
         "image has " + std::to_string(manifest.layers.size()) + " layers but " +
             std::to_string(config.diff_ids.size()) + " diff_ids");
  if (auto warm = ready(manifest, config)) return *warm;
  auto chains = chain_ids(config.diff_ids);
  std::vector<std::string> dirs;
  std::vector<size_t> todo;
  for (size_t i = 0; i < chains.size(); ++i) {
    dirs.push_back(path(chains[i].hex));
    if (!fs::exists(dirs.back())) todo.push_back(i);
  }

  fs::FileLock lock(dir_ + "/.lock", false);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (;;) {
      size_t k = next.fetch_add(1);
      if (k >= todo.size()) return;
      {
        std::lock_guard g(mu);
        if (first_error) return;
      }
      size_t i = todo[k];
      const auto& desc = manifest.layers[i];
      try {
        if (fs::exists(dirs[i])) continue;
        with_context("layer " + desc.digest.str(),
                     [&] { extract_one(layout, desc, config.diff_ids[i], dir_, dirs[i]); });
      } catch (...) {
        std::lock_guard g(mu);
        if (!first_error) first_error = current_exception_as_error();
      }
    }
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(jobs, 1)), 1, todo.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) {
    // Leave no new snapshot of this call behind: drop what it extracted.
    for (size_t i : todo) {
      try {
        fs::remove_all(dirs[i]);
      } catch (...) {
      }
    }
    throw *first_error;
  }
  return dirs;
}

}  // namespace ocikit::snapshot
