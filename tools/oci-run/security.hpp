#pragma once
// oci-run security: the seam between the runtime and lib/common's cgroup,
// seccomp and caps modules. The child (child.cpp) only sees these names, so
// it stays free of the libraries' headers beyond the plain data it needs.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/caps.hpp"
#include "common/cgroup.hpp"
#include "common/seccomp.hpp"

// The features document (cmd_spec.cpp, owned by the bundle work) still
// reads these; they are always 1 now that the modules are part of lib/common.
#define OCIKIT_RUN_HAVE_CGROUP 1
#define OCIKIT_RUN_HAVE_SECCOMP 1
#define OCIKIT_RUN_HAVE_CAPS 1

namespace ocikit::run::sec {

using CgroupManager = ocikit::cgroup::Manager;
using SeccompProgram = ocikit::seccomp::Program;
using CapSets = ocikit::caps::Sets;

/// Compile linux.seccomp (null -> an empty program). Throws Errc::invalid.
SeccompProgram compile_seccomp(const nlohmann::json& linux_seccomp);
/// Load `p` into the calling thread (nothing for an empty program); 0 or
/// -errno. Async-signal-safe.
int install_seccomp(const SeccompProgram& p) noexcept;

/// Parse process.capabilities. Throws Errc::invalid on an unknown name.
CapSets parse_caps(const nlohmann::json& process_capabilities);
/// Apply the five sets to the calling process; 0 or -errno. No allocation.
int apply_caps(const CapSets& s) noexcept;
/// The default capability names (`oci-run spec`, exec --cap baseline).
std::vector<std::string> default_caps();

}  // namespace ocikit::run::sec
