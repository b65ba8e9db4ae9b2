#pragma once
// oci-run mode: whether a command line is runc-style (the runtime, the lean
// `oci-run` binary) or docker-style (management, `oci-run-manage`). Shared
// by both binaries so that they decide alike:
//
//   run, create   runc mode with -b/--bundle, or when ./config.json exists
//                 and the first positional does not name a store image;
//                 otherwise docker mode with IMAGE
//   ps            docker ps without a positional, runc ps with an id
//   start, kill, exec   docker mode when the first positional names a
//                 managed container (name or id prefix), else runc
//   inspect, wait, logs, stop, restart, rm   always docker mode
//   anything else runc mode (manage/extra.cpp claims its own commands)
//
// (runc compatibility first: podman and containerd always pass --bundle to
// create/run.)

#include <set>
#include <string>
#include <vector>

namespace ocikit::run {

enum class Mode {
  runtime,       ///< runc-style
  managed,       ///< docker-style
  if_store_image ///< docker-style when the store holds Decision::image (needs the store)
};

struct Decision {
  Mode mode = Mode::runtime;
  std::string image;  ///< with Mode::if_store_image: the first positional
};

/// The mode of command `cmd` with the arguments after it. Checks
/// ./config.json and, for start/kill/exec, the managed containers in
/// `state_dir` ("" = manage::default_state_dir()); never reads the store.
Decision decide_mode(const std::string& cmd, const std::vector<std::string>& args, const std::string& state_dir);

/// The arguments of `args` that are not options or option values (options
/// taking a value are known per command, docker's and runc's; those in
/// `flags_only` take none); everything after "--" is positional.
std::vector<std::string> positionals(const std::vector<std::string>& args, const std::set<std::string>& flags_only = {});

/// True when `args` (up to "--") hold -b/--bundle in any spelling.
bool has_bundle_flag(const std::vector<std::string>& args);

}  // namespace ocikit::run
