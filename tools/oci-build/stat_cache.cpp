// oci-build's stat cache (see stat_cache.hpp).
#include "stat_cache.hpp"

#include <ctime>
#include <sstream>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::build {
namespace {

int64_t ns(const struct timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

int64_t now_ns() {
  struct timespec t;
  ::clock_gettime(CLOCK_REALTIME, &t);
  return ns(t);
}

// Kernel file times come from a coarse clock (a jiffy or so): a write that
// lands within the same tick as the one we hashed leaves mtime and ctime as
// they were. Entries hashed less than this long after the file's last change
// are not trusted.
constexpr int64_t kRacyNs = 1000000000;

}  // namespace

StatCache::StatCache(std::string file) : file_(std::move(file)) {
  if (file_.empty() || !fs::exists(file_)) return;
  std::string text;
  try {
    text = fs::read_file(file_);
  } catch (const Error&) {
    return;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Entry e;
    if (!(ls >> e.hex >> e.dev >> e.ino >> e.size >> e.mtime >> e.ctime >> e.mode >> e.hashed_at)) continue;
    if (e.hex.size() != 64 || ls.get() != ' ') continue;
    std::string path;
    std::getline(ls, path);
    if (path.empty() || path[0] != '/') continue;
    entries_[path] = e;
  }
}

std::string StatCache::digest(const std::string& path, const struct stat& st) {
  {
    std::lock_guard g(mu_);
    auto it = entries_.find(path);
    if (it != entries_.end()) {
      Entry& e = it->second;
      bool same = e.dev == st.st_dev && e.ino == st.st_ino && e.size == static_cast<uint64_t>(st.st_size) &&
          e.mtime == ns(st.st_mtim) && e.ctime == ns(st.st_ctim) && e.mode == st.st_mode;
      bool racy = std::max(e.mtime, e.ctime) + kRacyNs > e.hashed_at;
      if (same && !racy) {
        e.used = true;
        return e.hex;
      }
    }
  }
  int64_t at = now_ns();
  std::string hex = digest::of_file(path).hex;
  std::lock_guard g(mu_);
  ++hashed_;
  if (path.find('\n') == std::string::npos && !path.empty() && path[0] == '/') {
    Entry e{hex, st.st_dev,  st.st_ino, static_cast<uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim),
            at,  st.st_mode, true};
    entries_[path] = e;
    dirty_ = true;
  }
  return hex;
}

void StatCache::save() {
  std::lock_guard g(mu_);
  if (file_.empty() || !dirty_) return;
  std::string out;
  for (auto& [path, e] : entries_) {
    struct stat st;
    if (!e.used && ::lstat(path.c_str(), &st) != 0) continue;  // the file is gone
    out += e.hex + " " + std::to_string(e.dev) + " " + std::to_string(e.ino) + " " + std::to_string(e.size) + " " +
        std::to_string(e.mtime) + " " + std::to_string(e.ctime) + " " + std::to_string(e.mode) + " " +
        std::to_string(e.hashed_at) + " " + path + "\n";
  }
  fs::mkdir_p(file_.substr(0, file_.rfind('/')));
  fs::write_file_atomic(file_, out);
  dirty_ = false;
}

}  // namespace ocikit::build
