#pragma once
// oci-build remote.cpp: the build context as a tar on stdin (CONTEXT "-"),
// and a build on another host (-H ssh://...): the context dir sent as a tar
// through ssh to the other host's `oci-build ... -`.
#include <memory>
#include <string>
#include <vector>

#include "common/fs.hpp"

namespace ocikit::build {

/// Extract a context tar (plain, gzip or zstd) read from stdin into a new
/// temp dir (entries resolved inside it, no devices, owned by the caller).
std::unique_ptr<fs::TempDir> context_from_stdin();

/// Run `oci-build ARGS... -` on `host` (ssh://...) with `context` (a
/// directory) sent as a tar on its stdin; returns ssh's exit status.
int build_remote(const std::string& host, const std::string& context, const std::vector<std::string>& args);

}  // namespace ocikit::build
