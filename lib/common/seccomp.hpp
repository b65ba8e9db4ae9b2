#pragma once
// ocikit::seccomp: OCI linux.seccomp compiled to a classic BPF program with
// libseccomp (in the parent, where allocating is fine), and installed in the
// child right before exec without allocating.

#include <linux/filter.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace ocikit::seccomp {

/// A compiled filter plus the seccomp(2) SECCOMP_FILTER_FLAG_* flags.
struct Program {
  std::vector<struct sock_filter> filter;
  unsigned flags = 0;
};

/// Compile OCI linux.seccomp (defaultAction, defaultErrnoRet, architectures,
/// flags, syscalls[{names, action, errnoRet, args}]). Unknown syscall names
/// are skipped (as runc does); an unknown action, op, arch or flag is
/// Errc::invalid ("seccomp: unknown action \"X\""); listenerPath or
/// SCMP_ACT_NOTIFY is Errc::failure (user notification is not supported).
Program compile(const nlohmann::json& linux_seccomp);

/// Install `p` in the calling process: seccomp(SECCOMP_SET_MODE_FILTER).
/// Async-signal-safe, no allocation; returns 0 or -errno. The caller sets
/// no_new_privs first unless it keeps CAP_SYS_ADMIN.
int install(const Program& p) noexcept;

/// Docker's default profile as OCI linux.seccomp JSON: an allow-list with
/// defaultAction SCMP_ACT_ERRNO (EPERM), its capability-conditional groups
/// resolved for docker's default capability set (no CAP_SYS_ADMIN: no
/// namespace flags to clone, clone3 -> ENOSYS so libc falls back to clone).
nlohmann::json default_profile();
/// The same for a container with capabilities `caps` ("CAP_SYS_PTRACE"):
/// docker's groups for the capabilities given are opened (pidfd_getfd and
/// kcmp with CAP_SYS_PTRACE, open_by_handle_at with CAP_DAC_READ_SEARCH ...).
nlohmann::json default_profile(const std::vector<std::string>& caps);

}  // namespace ocikit::seccomp
