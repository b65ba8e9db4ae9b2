#pragma once
// ocikit::device_filter: the OCI linux.resources.devices rules on cgroup v2,
// where there is no devices controller: an eBPF BPF_PROG_TYPE_CGROUP_DEVICE
// program (last matching rule wins, default deny) built from the rules and
// attached to the cgroup, replacing the programs attached before. Kept apart
// from cgroup (which calls it for the unified hierarchy), as crun does: the
// program is its own small compiler.

#include <linux/bpf.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ocikit::device_filter {

/// The program's instructions for the rules `devices` (exposed for tests).
/// Errc::invalid for a malformed rule.
std::vector<struct bpf_insn> build_program(const nlohmann::json& devices);

/// Load the program for `devices` and attach it to the cgroup2 directory
/// `dir`, detaching the ones attached before. Errc::failure when the kernel
/// refuses, Errc::invalid for a malformed rule.
void attach(const std::string& dir, const nlohmann::json& devices);

}  // namespace ocikit::device_filter
