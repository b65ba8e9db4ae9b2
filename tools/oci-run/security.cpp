// The fallbacks behind security.hpp; each disappears when its lib/common
// module is merged.
#include "security.hpp"

#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.hpp"

namespace ocikit::run::sec {

bool cgroups_needed(const nlohmann::json& resources) {
#if OCIKIT_RUN_HAVE_CGROUP
  (void)resources;
  return true;
#else
  if (!resources.is_object()) return false;
  for (auto& [k, v] : resources.items()) {
    if (v.is_null()) continue;
    if (k == "devices") continue;  // /dev is built from the devices list; no mknod beyond it without CAP_MKNOD
    return true;
  }
  return false;
#endif
}

#if !OCIKIT_RUN_HAVE_CGROUP
namespace {
[[noreturn]] void not_wired() { fail("cgroups not wired yet (TODO(#5): lib/common/cgroup)"); }
}  // namespace
CgroupManager CgroupManager::create(const std::string&, const std::string&) { return {}; }
CgroupManager CgroupManager::from_json(const nlohmann::json&) { return {}; }
nlohmann::json CgroupManager::to_json() const { return nullptr; }
void CgroupManager::apply(pid_t) { not_wired(); }
void CgroupManager::set(const nlohmann::json&) { not_wired(); }
void CgroupManager::freeze() { not_wired(); }
void CgroupManager::thaw() { not_wired(); }
bool CgroupManager::frozen() const { return false; }
std::vector<pid_t> CgroupManager::pids() const { not_wired(); }
nlohmann::json CgroupManager::stats() const { not_wired(); }
void CgroupManager::destroy() {}
#endif

SeccompProgram compile_seccomp(const nlohmann::json& j) {
  if (j.is_null()) return {};
#if OCIKIT_RUN_HAVE_SECCOMP
  return seccomp::compile(j);
#else
  fail(Errc::invalid, "linux.seccomp: seccomp not wired yet (TODO(#5): lib/common/seccomp)");
#endif
}

int install_seccomp(const SeccompProgram& p) noexcept {
  if (p.filter.empty()) return 0;
#if OCIKIT_RUN_HAVE_SECCOMP
  return seccomp::install(p);
#else
  return -ENOSYS;
#endif
}

#if OCIKIT_RUN_HAVE_CAPS
CapSets parse_caps(const nlohmann::json& j) { return caps::parse(j); }
int apply_caps(const CapSets& s) noexcept { return caps::apply(s); }
std::vector<std::string> default_caps() { return caps::docker_default(); }
#else
CapSets parse_caps(const nlohmann::json& j) {
  CapSets s;
  if (j.is_null()) return s;
  auto one = [&](const char* key, uint64_t& set) {
    if (!j.contains(key) || j[key].is_null()) return;
    for (auto& n : j[key]) {
      std::string name = n.get<std::string>();
      cap_value_t v;
      if (cap_from_name(name.c_str(), &v) != 0 || name.rfind("CAP_", 0) != 0)
        fail(Errc::invalid, "process.capabilities." + std::string(key) + ": unknown capability \"" + name + "\"");
      set |= uint64_t(1) << v;
    }
  };
  one("bounding", s.bounding);
  one("effective", s.effective);
  one("inheritable", s.inheritable);
  one("permitted", s.permitted);
  one("ambient", s.ambient);
  return s;
}

int apply_caps(const CapSets& s) noexcept {
  // Bounding first (needs CAP_SETPCAP), then the three capset sets, then
  // ambient (each ambient cap must be permitted and inheritable by then).
  for (int c = 0; c < 64; c++)
    if (!(s.bounding & (uint64_t(1) << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) return -errno;
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  for (int i = 0; i < 2; i++) {
    d[i].effective = uint32_t(s.effective >> (32 * i));
    d[i].permitted = uint32_t(s.permitted >> (32 * i));
    d[i].inheritable = uint32_t(s.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &h, d) != 0) return -errno;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  for (int c = 0; c < 64; c++)
    if (s.ambient & (uint64_t(1) << c))
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) return -errno;
  return 0;
}

std::vector<std::string> default_caps() {
  return {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
          "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
          "CAP_AUDIT_WRITE"};
}
#endif

}  // namespace ocikit::run::sec
