#pragma once
// ocikit::caps: OCI process.capabilities parsed into bit sets (in the parent)
// and applied in the child after the uid switch, without allocating.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::caps {

/// The five capability sets as bit masks (bit n = capability n).
struct Sets {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

/// Parse OCI process.capabilities {"bounding":[...],"effective":[...],...}.
/// An unknown name is Errc::invalid "unknown capability \"CAP_FOO\""; a
/// known capability the running kernel lacks is dropped with a debug log
/// (as runc does). A missing set is empty.
Sets parse(const nlohmann::json& process_capabilities);

/// Apply `s` to the calling process: drop every capability not in bounding
/// from the bounding set, capset(permitted, effective, inheritable), then
/// reset the ambient set to `ambient`. Needs CAP_SETPCAP for the bounding
/// drop. No allocation; returns 0 or -errno.
int apply(const Sets& s) noexcept;

/// Docker's default capability set (14 names, CAP_ prefixed).
std::vector<std::string> docker_default();

/// The number of "CAP_CHOWN" (the CAP_ prefix is optional, case-insensitive),
/// -1 when unknown.
int number(std::string_view name);
/// "CAP_CHOWN" for 0; "CAP_<n>" for a number without a name.
std::string name(int cap);
/// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap).
int last_cap();

}  // namespace ocikit::caps
