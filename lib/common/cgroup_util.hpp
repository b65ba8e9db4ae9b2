#pragma once
// Internal helpers shared by cgroup.cpp, cgroup_v1.cpp and cgroup_v2.cpp.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.hpp"

namespace ocikit::cgroup::util {

/// Write `value` to dir/file. `field` names the OCI field for the error:
/// a missing file (controller not mounted/enabled) is Errc::failure
/// "cannot set <field>: <path> does not exist", other errors Errc::io.
void write_ctl(const std::string& dir, const std::string& file, const std::string& value, const std::string& field);
/// dir/file opened once for several writes (one value each, as write_ctl,
/// with the same errors): devices.allow takes one rule per write.
class CtlFile {
 public:
  CtlFile(const std::string& dir, const std::string& file, std::string field);
  void write(const std::string& value);

 private:
  std::string path_, field_;
  fs::UniqueFd fd_;
};
/// Read dir/file without the trailing newline; nullopt when it does not exist.
std::optional<std::string> read_ctl(const std::string& dir, const std::string& file);
/// Read dir/file as an unsigned number ("max" -> UINT64_MAX); 0 when missing.
uint64_t read_u64(const std::string& dir, const std::string& file);
/// "key value" lines of dir/file into a map (missing file -> empty).
std::map<std::string, uint64_t> read_flat_keyed(const std::string& dir, const std::string& file);

/// Optional integer member `key` of `obj`; Errc::invalid naming `field` when it
/// is not an integer.
std::optional<int64_t> get_int(const nlohmann::json& obj, const char* key, const std::string& field);
/// Optional unsigned member.
std::optional<uint64_t> get_uint(const nlohmann::json& obj, const char* key, const std::string& field);
/// Optional string member.
std::optional<std::string> get_str(const nlohmann::json& obj, const char* key, const std::string& field);
/// Optional bool member.
std::optional<bool> get_bool(const nlohmann::json& obj, const char* key, const std::string& field);

/// Fail with Errc::failure "cannot set <field>: <why>".
[[noreturn]] void unsupported(const std::string& field, const std::string& why);

/// The hugepage sizes the kernel has, as OCI spells them ("2MB", "1GB").
std::vector<std::string> hugepage_sizes();

/// "major:minor" of a blockIO device entry.
std::string dev_key(const nlohmann::json& e, const std::string& field);

/// The four blockIO throttle lists, in this order (v1 and v2 name their files differently).
enum class Throttle { read_bps, write_bps, read_iops, write_iops };
/// Call fn(kind, field, "major:minor", rate) for each throttle entry of
/// linux.resources.blockIO `b`. Errc::invalid for a malformed list or entry.
void for_each_throttle(const nlohmann::json& b,
                       const std::function<void(Throttle, const std::string&, const std::string&, uint64_t)>& fn);
/// Call fn(pageSize, limit) for each hugepageLimits entry. Errc::invalid when malformed.
void for_each_hugepage_limit(const nlohmann::json& h, const std::function<void(const std::string&, uint64_t)>& fn);

}  // namespace ocikit::cgroup::util

namespace ocikit::cgroup::v1 {
// linux.resources sections written to a v1 controller directory.
void set_memory(const std::string& dir, const nlohmann::json& m);
void set_cpu(const std::string& dir, const nlohmann::json& c);
void set_blkio(const std::string& dir, const nlohmann::json& b);
void set_hugetlb(const std::string& dir, const nlohmann::json& h);
void set_devices(const std::string& dir, const nlohmann::json& d);
void set_net_cls(const std::string& dir, const nlohmann::json& n);
void set_net_prio(const std::string& dir, const nlohmann::json& n);
// stats sections read from v1 directories (a "" dir means not mounted).
nlohmann::json cpu_stats(const std::string& cpu_dir, const std::string& cpuacct_dir);
nlohmann::json memory_stats(const std::string& dir);
nlohmann::json blkio_stats(const std::string& dir);
nlohmann::json hugetlb_stats(const std::string& dir);
}  // namespace ocikit::cgroup::v1

namespace ocikit::cgroup::v2 {
// linux.resources sections written to the cgroup2 directory.
void set_memory(const std::string& dir, const nlohmann::json& m);
void set_cpu(const std::string& dir, const nlohmann::json& c);
void set_io(const std::string& dir, const nlohmann::json& b);
void set_hugetlb(const std::string& dir, const nlohmann::json& h);
void set_unified(const std::string& dir, const nlohmann::json& u);
nlohmann::json cpu_stats(const std::string& dir);
nlohmann::json memory_stats(const std::string& dir);
nlohmann::json io_stats(const std::string& dir);
nlohmann::json hugetlb_stats(const std::string& dir);
}  // namespace ocikit::cgroup::v2
