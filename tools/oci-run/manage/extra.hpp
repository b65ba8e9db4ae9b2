#pragma once
// oci-run's docker-like extra commands: images, image, rmi, tag, history,
// volume, top, stats, cp and commit. main() hands argv here first; these
// commands parse it with their own CLI11 app (taking main's global flags
// plus --store and --state-dir), so main.cpp needs no other change.

namespace ocikit::manage {

/// When the first non-option argument of argv is one of the extra
/// commands, parse and run it, set `rc` to its exit code (0 ok, 1 failure,
/// 2 usage) and return true; otherwise leave rc alone and return false.
/// Errors are printed as "oci-run: error: ..." on stderr.
bool run_extra_command(int argc, char** argv, int& rc);

}  // namespace ocikit::manage
