// Forwarders from oci-run's security seam to lib/common.
#include "security.hpp"

namespace ocikit::run::sec {

SeccompProgram compile_seccomp(const nlohmann::json& j) {
  if (j.is_null()) return {};
  return seccomp::compile(j);
}

int install_seccomp(const SeccompProgram& p) noexcept {
  if (p.filter.empty()) return 0;
  return seccomp::install(p);
}

CapSets parse_caps(const nlohmann::json& j) { return caps::parse(j); }
int apply_caps(const CapSets& s) noexcept { return caps::apply(s); }
std::vector<std::string> default_caps() { return caps::docker_default(); }

}  // namespace ocikit::run::sec
