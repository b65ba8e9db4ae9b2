#include "common/blob_locations.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::blobloc {

std::string default_path() {
  if (const char* p = std::getenv("OCIKIT_BLOB_LOCATIONS")) return p;
  if (::geteuid() == 0) return "/var/cache/ocikit/blob-locations";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/ocikit/blob-locations";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/") + "/.cache/ocikit/blob-locations";
}

std::vector<BlobLocations::Entry> BlobLocations::parse(const std::string& text) {
  std::vector<Entry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a torn last line
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.find('/', sp) == std::string_view::npos) continue;
    std::string d(line.substr(0, sp));
    try {
      (void)digest::parse(d);
    } catch (const Error&) {
      continue;
    }
    out.push_back({std::move(d), std::string(line.substr(sp + 1))});
  }
  return out;
}

BlobLocations::BlobLocations(std::string path) : path_(std::move(path)) {}

const std::vector<BlobLocations::Entry>& BlobLocations::entries() const {
  if (entries_) return *entries_;
  entries_.emplace();
  if (path_.empty()) return *entries_;
  try {
    *entries_ = parse(fs::read_file(path_));
  } catch (const Error& e) {
    if (e.code() != Errc::not_found) log::debug("blob locations: " + std::string(e.what()));
  }
  return *entries_;
}

std::vector<std::string> BlobLocations::repositories(const std::string& host, const std::string& digest,
                                                     size_t max) const {
  std::vector<std::string> out;
  std::string prefix = host + "/";
  const auto& all = entries();
  for (auto it = all.rbegin(); it != all.rend() && out.size() < max; ++it) {
    if (it->digest != digest || !it->location.starts_with(prefix)) continue;
    std::string repo = it->location.substr(prefix.size());
    if (std::find(out.begin(), out.end(), repo) == out.end()) out.push_back(std::move(repo));
  }
  return out;
}

void BlobLocations::record(const std::string& host, const std::string& repo, const std::vector<std::string>& digests) {
  if (path_.empty() || digests.empty()) return;
  std::string location = host + "/" + repo;
  try {
    size_t slash = path_.rfind('/');
    if (slash != std::string::npos && slash > 0) fs::mkdir_p(path_.substr(0, slash));
    fs::FileLock lock(path_ + ".lock");
    std::vector<Entry> now;
    try {
      now = parse(fs::read_file(path_));
    } catch (const Error& e) {
      if (e.code() != Errc::not_found) throw;
    }
    // Re-recorded pairs move to the end (newest).
    std::set<std::string> fresh(digests.begin(), digests.end());
    std::erase_if(now, [&](const Entry& e) { return e.location == location && fresh.count(e.digest); });
    for (const auto& d : fresh) now.push_back({d, location});
    if (now.size() > kMaxEntries) now.erase(now.begin(), now.end() - static_cast<ptrdiff_t>(kMaxEntries));
    std::string text;
    for (const auto& e : now) text += e.digest + " " + e.location + "\n";
    fs::AtomicFile out(path_);
    out.write(text);
    out.commit(true, /*durable=*/false);  // a cache: a crash may lose it
    entries_ = std::move(now);
  } catch (const Error& e) {
    log::debug("blob locations: " + std::string(e.what()));
  }
}

}  // namespace ocikit::blobloc
