#include "volumes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <utility>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"
#include "format.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

namespace {

constexpr const char* kMeta = "volume.json";

// The names in `dir` (sorted); none when it does not exist.
std::vector<std::string> dir_entries(const std::string& dir) {
  fs::UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) {
    if (errno == ENOENT) return {};
    throw_errno("open " + dir);
  }
  return fs::dir_names(d.get(), dir);
}

Volume volume_from_json(const nlohmann::json& j) {
  Volume v;
  v.name = j.at("Name").get<std::string>();
  v.driver = j.value("Driver", "local");
  v.mountpoint = j.at("Mountpoint").get<std::string>();
  v.created_at = j.value("CreatedAt", "");
  if (auto it = j.find("Labels"); it != j.end() && it->is_object())
    v.labels = it->get<std::map<std::string, std::string>>();
  return v;
}

// Is `p` the dir `base` or beneath it?
bool path_within(const std::string& p, const std::string& base) {
  auto c = fs::clean_path(p);
  return c == base || (c.size() > base.size() && c.compare(0, base.size(), base) == 0 && c[base.size()] == '/');
}

}  // namespace

nlohmann::ordered_json to_json(const Volume& v) {
  nlohmann::ordered_json j;
  j["CreatedAt"] = v.created_at;
  j["Driver"] = v.driver;
  j["Labels"] = v.labels;
  j["Mountpoint"] = v.mountpoint;
  j["Name"] = v.name;
  j["Options"] = nullptr;
  j["Scope"] = "local";
  return j;
}

bool is_valid_volume_name(std::string_view n) {
  if (n.size() < 2) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

VolumeStore::VolumeStore(std::string state_dir)
    : state_dir_(fs::clean_path(state_dir)), dir_(state_dir_ + "/volumes") {}

std::string VolumeStore::data_path(const std::string& name) const { return dir_ + "/" + name + "/_data"; }

Volume VolumeStore::create(const std::string& name_in, const std::map<std::string, std::string>& labels) {
  std::string name = name_in;
  bool anon = name.empty();
  if (anon) name = new_id();  // 64 hex digits, as docker's anonymous volumes
  if (!is_valid_volume_name(name))
    fail(Errc::invalid, "invalid volume name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  fs::mkdir_p(dir_, 0700);
  fs::FileLock lock(dir_ + "/.lock");
  if (auto v = get(name)) return *v;
  Volume v;
  v.name = name;
  v.mountpoint = data_path(name);
  v.created_at = format_rfc3339(std::time(nullptr));
  v.labels = labels;
  if (anon) v.labels[std::string(kAnonymousVolumeLabel)] = "";
  // Build it under a temp name, then rename: a volume dir is always whole.
  std::string tmp = dir_ + "/.tmp-" + name;
  fs::remove_all(tmp);
  try {
    fs::mkdir_p(tmp + "/_data", 0755);
    fs::write_file_atomic(tmp + "/" + kMeta, to_json(v).dump(2) + "\n", 0600);
    if (::rename(tmp.c_str(), (dir_ + "/" + name).c_str()) != 0) throw_errno("rename " + tmp);
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::fsync_dir(dir_);
  return v;
}

std::optional<Volume> VolumeStore::get(const std::string& name) const {
  if (!is_valid_volume_name(name)) return std::nullopt;
  std::string meta = dir_ + "/" + name + "/" + kMeta;
  if (!fs::exists(meta)) return std::nullopt;
  return with_context("volume " + name, [&] {
    auto v = volume_from_json(image::parse_json(fs::read_file(meta), kMeta));
    v.mountpoint = data_path(name);  // follow the state dir if it was moved
    return v;
  });
}

Volume VolumeStore::inspect(const std::string& name) const {
  auto v = get(name);
  if (!v) fail(Errc::not_found, "no such volume: " + name);
  return *v;
}

std::vector<Volume> VolumeStore::list() const {
  std::vector<Volume> out;
  for (auto& n : dir_entries(dir_))
    if (n[0] != '.')
      if (auto v = get(n)) out.push_back(*v);
  return out;
}

std::vector<std::string> VolumeStore::users(const std::string& name) const {
  std::vector<std::string> ids;
  std::string data = data_path(name);
  std::string containers = state_dir_ + "/containers";
  for (auto& id : dir_entries(containers)) {
    // The record's -v/--mount list names the volume before the bundle exists.
    try {
      if (fs::exists(containers + "/" + id + "/record.json")) {
        auto rec = StateDir(state_dir_).load(id);
        if (std::any_of(rec.mounts.begin(), rec.mounts.end(),
                        [&](auto& m) { return m.type == "volume" && m.source == name; })) {
          ids.push_back(id);
          continue;
        }
      }
    } catch (const Error&) {
      // a record being written: its bundle tells
    }
    std::string cfg = containers + "/" + id + "/bundle/config.json";
    if (!fs::exists(cfg)) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(fs::read_file(cfg));
    } catch (const std::exception&) {
      continue;  // a record being written; its mounts are not known yet
    }
    if (!j.contains("mounts") || !j["mounts"].is_array()) continue;
    for (auto& m : j["mounts"])
      if (m.is_object() && m.value("source", "").size() && path_within(m.value("source", ""), data)) {
        ids.push_back(id);
        break;
      }
  }
  return ids;
}

void VolumeStore::remove(const std::string& name, bool force) {
  fs::mkdir_p(dir_, 0700);
  fs::FileLock lock(dir_ + "/.lock");
  if (!get(name)) fail(Errc::not_found, "no such volume: " + name);
  if (!force)
    if (auto u = users(name); !u.empty())
      fail(Errc::failure, "remove " + name + ": volume is in use by container " + u[0].substr(0, 12));
  // Rename away first so a crash mid-delete never leaves a half volume under its name.
  std::string gone = dir_ + "/.rm-" + name;
  fs::remove_all(gone);
  if (::rename((dir_ + "/" + name).c_str(), gone.c_str()) != 0) throw_errno("remove volume " + name);
  fs::remove_all(gone);
}

std::vector<std::string> VolumeStore::prune(bool all, uint64_t& reclaimed,
                                            const std::function<bool(const Volume&)>& selected) {
  std::vector<std::string> removed;
  for (auto& v : list()) {
    if (!all && !v.anonymous()) continue;
    if (selected && !selected(v)) continue;
    if (!users(v.name).empty()) continue;
    uint64_t size = disk_usage(v.mountpoint);
    try {
      remove(v.name, false);
    } catch (const Error& e) {
      if (e.code() == Errc::not_found || e.code() == Errc::failure) continue;  // raced with another command
      throw;
    }
    reclaimed += size;
    removed.push_back(v.name);
  }
  return removed;
}

uint64_t disk_usage(const std::string& path) {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  // Iterative walk: volumes can be deep.
  std::vector<std::string> todo{path};
  while (!todo.empty()) {
    std::string p = std::move(todo.back());
    todo.pop_back();
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) continue;
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode))
      for (auto& n : dir_entries(p)) todo.push_back(p + "/" + n);
  }
  return total;
}

}  // namespace ocikit::manage
