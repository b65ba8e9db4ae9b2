#pragma once
// oci-run security: the seam to lib/common's cgroup, seccomp and caps
// modules. When those headers are present (merged), this file only forwards
// to them; until then a fallback keeps oci-run usable without ever silently
// weakening isolation: cgroup resources and seccomp filters are refused with
// a clear error, and capabilities are applied by a small libcap fallback.

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#if __has_include("common/cgroup.hpp")
#include "common/cgroup.hpp"
#define OCIKIT_RUN_HAVE_CGROUP 1
#else
#define OCIKIT_RUN_HAVE_CGROUP 0
#endif
#if __has_include("common/seccomp.hpp")
#include "common/seccomp.hpp"
#define OCIKIT_RUN_HAVE_SECCOMP 1
#else
#define OCIKIT_RUN_HAVE_SECCOMP 0
#endif
#if __has_include("common/caps.hpp")
#include "common/caps.hpp"
#define OCIKIT_RUN_HAVE_CAPS 1
#else
#define OCIKIT_RUN_HAVE_CAPS 0
#endif

namespace ocikit::run::sec {

#if OCIKIT_RUN_HAVE_CGROUP
using CgroupManager = ocikit::cgroup::Manager;
#else
/// TODO(#5): replaced by ocikit::cgroup::Manager when lib/common/cgroup lands;
/// every operation that would need a cgroup throws "cgroups not wired yet".
class CgroupManager {
 public:
  static CgroupManager create(const std::string& path, const std::string& id);
  static CgroupManager from_json(const nlohmann::json&);
  nlohmann::json to_json() const;
  void apply(pid_t pid);
  void set(const nlohmann::json& resources);
  void freeze();
  void thaw();
  bool frozen() const;
  std::vector<pid_t> pids() const;
  nlohmann::json stats() const;
  void destroy();
};
#endif

/// True when the spec's resources ask for more than the fallback can leave
/// undone (anything but the default device rules); always true with the real module.
bool cgroups_needed(const nlohmann::json& resources);

#if OCIKIT_RUN_HAVE_SECCOMP
using SeccompProgram = ocikit::seccomp::Program;
#else
/// TODO(#5): replaced by ocikit::seccomp::Program.
struct SeccompProgram {
  std::vector<struct sock_filter> filter;
  unsigned flags = 0;
};
#endif
/// Compile linux.seccomp (null -> an empty program). Throws Errc::invalid.
SeccompProgram compile_seccomp(const nlohmann::json& linux_seccomp);
/// Load `p` into the calling thread; 0 or -errno. Async-signal-safe.
int install_seccomp(const SeccompProgram& p) noexcept;

#if OCIKIT_RUN_HAVE_CAPS
using CapSets = ocikit::caps::Sets;
#else
/// TODO(#5): replaced by ocikit::caps::Sets.
struct CapSets {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};
#endif
/// Parse process.capabilities. Throws Errc::invalid on an unknown name.
CapSets parse_caps(const nlohmann::json& process_capabilities);
/// Apply the five sets to the calling process; 0 or -errno. No allocation.
int apply_caps(const CapSets& s) noexcept;
/// The default capability names (`oci-run spec`, exec --cap baseline).
std::vector<std::string> default_caps();

}  // namespace ocikit::run::sec
