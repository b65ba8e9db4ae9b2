#pragma once
// Named volumes, as docker's "local" driver keeps them: one directory per
// volume under <state>/volumes/<name>/, holding the data in _data/ and the
// metadata in volume.json ({Name, Driver, Mountpoint, CreatedAt, Labels}).
//
// A volume is in use when a container record lists it among its mounts
// (type "volume") or the container's bundle/config.json mounts its _data
// dir (or a path under it). Creation and removal hold
// <state>/volumes/.lock, so a volume is never half made or half removed:
// the directory is built under a temp name and renamed into place, and
// removal renames it away before deleting it.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::manage {

/// The label docker puts on anonymous volumes.
inline constexpr std::string_view kAnonymousVolumeLabel = "com.docker.volume.anonymous";

/// One volume's metadata.
struct Volume {
  std::string name;
  std::string driver = "local";
  std::string mountpoint;  ///< the host dir mounted into containers (<dir>/_data)
  std::string created_at;  ///< RFC 3339
  std::map<std::string, std::string> labels;

  /// True for a volume made without a name (docker's anonymous label).
  bool anonymous() const { return labels.count(std::string(kAnonymousVolumeLabel)) > 0; }
};

/// docker's `volume inspect` object: CreatedAt, Driver, Labels, Mountpoint,
/// Name, Options (null), Scope "local".
nlohmann::ordered_json to_json(const Volume& v);

/// True when `name` is a valid volume name: [A-Za-z0-9][A-Za-z0-9_.-]+.
bool is_valid_volume_name(std::string_view name);

/// The volumes of one state dir.
class VolumeStore {
 public:
  /// Volumes under `state_dir`/volumes (created on first write).
  explicit VolumeStore(std::string state_dir);

  /// Create volume `name` with `labels`; an empty name makes an anonymous
  /// volume with a random 64-hex name and kAnonymousVolumeLabel. Creating
  /// a name that exists returns the existing volume unchanged (as docker).
  /// Throws Errc::invalid for a bad name, Errc::io.
  Volume create(const std::string& name = "", const std::map<std::string, std::string>& labels = {});

  /// The volume `name`, nullopt when it does not exist. Throws Errc::invalid
  /// for a malformed volume.json.
  std::optional<Volume> get(const std::string& name) const;
  /// Like get() but throws Errc::not_found "no such volume: NAME".
  Volume inspect(const std::string& name) const;
  /// Every volume, sorted by name.
  std::vector<Volume> list() const;

  /// Ids of the containers (under <state>/containers) whose record names
  /// the volume or whose config.json mounts its data dir.
  std::vector<std::string> users(const std::string& name) const;

  /// Remove volume `name` and its data. Throws Errc::not_found when absent,
  /// and Errc::failure "volume NAME is in use by container ID" while a
  /// container uses it, unless `force`.
  void remove(const std::string& name, bool force = false);

  /// Remove the unused volumes (only anonymous ones unless `all`; only
  /// those `selected` accepts when given). Returns the names removed and
  /// adds the bytes freed to `reclaimed`.
  std::vector<std::string> prune(bool all, uint64_t& reclaimed,
                                 const std::function<bool(const Volume&)>& selected = {});

  /// <state>/volumes/<name>/_data (whether or not it exists).
  std::string data_path(const std::string& name) const;
  /// <state>/volumes.
  const std::string& dir() const { return dir_; }

 private:
  std::string state_dir_;
  std::string dir_;
};

/// Bytes used by the files under `path` (st_blocks, hard links once);
/// 0 when it does not exist.
uint64_t disk_usage(const std::string& path);

}  // namespace ocikit::manage
