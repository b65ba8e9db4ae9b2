#pragma once
// oci-run locate: the two oci-run binaries find each other. `oci-run` is
// the lean runc-style runtime (bindir); docker-style management runs in
// `oci-run-manage` (libexecdir/ocikit), which oci-run executes with the
// same argv and which runs the runtime through oci-run again.
//
//   build tree   build/tools/oci-run/oci-run, build/tools/oci-run/oci-run-manage
//   installed    <bindir>/oci-run, <libexecdir>/ocikit/oci-run-manage

#include <string>

namespace ocikit::run {

/// Environment variables: the manage binary to run ($OCIKIT_RUN_MANAGE, an
/// override) and the runtime binary oci-run-manage runs the runtime with
/// (set by oci-run for the oci-run-manage it executes).
inline constexpr const char* kManageEnv = "OCIKIT_RUN_MANAGE";
inline constexpr const char* kRuntimeEnv = "OCIKIT_RUN_RUNTIME";

/// This process's binary (readlink /proc/self/exe); "" when unknown.
std::string self_binary();

/// oci-run-manage: $OCIKIT_RUN_MANAGE, else beside `runtime` (the build
/// tree), else <libexecdir>/ocikit relative to the bindir `runtime` is in,
/// else the configured absolute libexecdir. Errc::not_found when none is
/// executable.
std::string manage_binary(const std::string& runtime);

/// The lean oci-run (from oci-run-manage): $OCIKIT_RUN_RUNTIME when set,
/// else beside this
/// binary, else the bindir relative to libexecdir/ocikit, else the
/// configured bindir. Errc::not_found when none is executable.
std::string runtime_binary();

}  // namespace ocikit::run
