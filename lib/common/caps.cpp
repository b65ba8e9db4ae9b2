#include "common/caps.hpp"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::caps {

namespace {
// Index = capability number (linux/capability.h).
const char* const kNames[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kKnown = sizeof kNames / sizeof kNames[0];
}  // namespace

int number(std::string_view n) {
  std::string u;
  for (char c : n) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u.rfind("CAP_", 0) != 0) u = "CAP_" + u;
  for (int i = 0; i < kKnown; ++i)
    if (u == kNames[i]) return i;
  return -1;
}

std::string name(int cap) {
  if (cap >= 0 && cap < kKnown) return kNames[cap];
  return "CAP_" + std::to_string(cap);
}

int last_cap() {
  static int last = [] {
    try {
      return std::stoi(fs::read_file("/proc/sys/kernel/cap_last_cap"));
    } catch (...) {
      return kKnown - 1;
    }
  }();
  return last;
}

Sets parse(const nlohmann::json& c) {
  Sets s;
  if (c.is_null()) return s;
  if (!c.is_object()) fail(Errc::invalid, "process.capabilities: expected an object");
  auto one = [&](const char* key, uint64_t& out) {
    auto it = c.find(key);
    if (it == c.end() || it->is_null()) return;
    if (!it->is_array()) fail(Errc::invalid, std::string("process.capabilities.") + key + ": expected an array");
    for (auto& v : *it) {
      if (!v.is_string()) fail(Errc::invalid, std::string("process.capabilities.") + key + ": expected strings");
      std::string n = v.get<std::string>();
      int nr = number(n);
      if (nr < 0 || n.rfind("CAP_", 0) != 0) fail(Errc::invalid, "unknown capability \"" + n + "\"");
      if (nr > last_cap()) {
        log::debug("capability " + n + " is not supported by the running kernel, dropped");
        continue;
      }
      out |= uint64_t{1} << nr;
    }
  };
  one("bounding", s.bounding);
  one("effective", s.effective);
  one("inheritable", s.inheritable);
  one("permitted", s.permitted);
  one("ambient", s.ambient);
  return s;
}

int apply(const Sets& s) noexcept {
  int last = last_cap();
  for (int i = 0; i <= last; ++i)
    if (!(s.bounding & (uint64_t{1} << i)) && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int w = 0; w < 2; ++w) {
    data[w].effective = static_cast<uint32_t>(s.effective >> (32 * w));
    data[w].permitted = static_cast<uint32_t>(s.permitted >> (32 * w));
    data[w].inheritable = static_cast<uint32_t>(s.inheritable >> (32 * w));
  }
  if (syscall(SYS_capset, &hdr, data) != 0) return -errno;
  // Ambient capabilities must be in both permitted and inheritable (kernel
  // rule). A raise that cannot succeed is skipped, as runc and crun do: the
  // config `runc spec` writes lists ambient capabilities it leaves out of
  // the inheritable set.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
  for (int i = 0; i <= last; ++i)
    if ((s.ambient & (uint64_t{1} << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) != 0 && errno != EPERM)
      return -errno;
  return 0;
}

std::vector<std::string> docker_default() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

}  // namespace ocikit::caps
