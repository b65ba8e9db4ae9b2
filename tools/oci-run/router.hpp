#pragma once
// oci-run router: what a command line means, decided once. oci-run is two
// binaries (locate.hpp): the lean runc-style runtime `oci-run`, which every
// command line reaches first, and `oci-run-manage`, which runs the
// docker-style commands. The runtime routes; when the line is docker-style
// it executes oci-run-manage with the same argv and the decision in
// $OCIKIT_RUN_ROUTE, so oci-run-manage does not decide again. The runtime
// commands oci-run-manage runs itself carry OCIKIT_RUN_ROUTE=runtime, so a
// managed container's id never sends them back.
//
//   run, create   runtime with -b/--bundle, or when ./config.json exists and
//                 the first positional does not name a store image
//                 (if-image: oci-run-manage looks in the store); otherwise
//                 docker-style with IMAGE
//   ps            docker ps without a positional, runc ps with an id
//   start, kill, exec   docker-style when the first positional names a
//                 managed container (name or id prefix), else the runtime
//   spec          the runtime (spec --image of an image with layers still
//                 to extract goes on to oci-run-manage: spec-image)
//   the other runc verbs: the runtime
//   docker-only commands (kDockerCommands): docker-style
//   any command with -H/--host or --context (but --context default):
//                 docker-style (oci-run-manage runs it on that host)
//   anything else: the runtime, whose CLI reports it
// (runc compatibility first: podman and containerd always pass --bundle to
// create/run, and name containers by ids no managed container has.)

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace ocikit::run {

/// oci-run's global options, the one table both binaries' CLIs and the
/// router read (early_seal.cpp, which runs before libc, has its own copy of
/// the value-taking ones).
struct GlobalOption {
  const char* name;
  bool takes_value;
};
inline constexpr GlobalOption kGlobalOptions[] = {
    {"--root", true},      {"--log", true},   {"--log-format", true}, {"--log-level", true},      {"--rootless", true},
    {"--state-dir", true}, {"--store", true}, {"--debug", false},     {"--systemd-cgroup", false},
    {"-H", true},          {"--host", true},  {"--context", true}, {"--remote-token", true}};

/// True for a global option of kGlobalOptions that takes a value.
bool global_option_takes_value(const std::string& name);

/// The values of the global options.
struct GlobalFlags {
  std::string root = "/run/ocikit";  ///< --root: runtime state
  std::string store;  ///< --store ("" until defaulted)
  std::string state_dir;  ///< --state-dir ("" until defaulted)
  std::string rootless = "auto";  ///< --rootless (accepted for runc compatibility)
  bool systemd_cgroup = false;  ///< --systemd-cgroup (accepted; cgroupfs is used)
  std::string host;  ///< -H/--host ssh://[user@]host[:port]: docker-style commands run there (manage/remote.cpp)
  std::string context;  ///< --context NAME: the host of a named context ("default": this one)
  std::string remote_token;  ///< hidden --remote-token TOKEN: this line came through ssh (manage/remote.cpp)
};

/// Declare the global options on `app` but the logging ones (cli::add_log_flags).
void add_global_options(CLI::App& app, GlobalFlags& g);

/// The docker-style commands and what they do, for routing and for
/// `oci-run --help` (which lists them after the runc verbs).
struct DockerCommand {
  const char* name;
  const char* help;
};
extern const std::vector<DockerCommand> kDockerCommands;
/// The help text listing them.
std::string docker_commands_help();

/// A command line split at its command.
struct CommandLine {
  int index = 0;  ///< argv index of the command (argc when none)
  std::string cmd;  ///< "" when there is none
  std::vector<std::string> args;  ///< what follows the command
  std::string state_dir, store;  ///< global --state-dir / --store when given
  std::string host, context;  ///< global -H/--host / --context when given
  std::string remote_token;  ///< global --remote-token when given
};
CommandLine scan(int argc, char** argv);

enum class Route { runtime, docker, if_image, spec_image };

/// The route of `cl` (never reads the store: if_image leaves that to oci-run-manage).
Route route(const CommandLine& cl);

/// The image the if_image route asks about (the first positional of run/create).
std::string route_image(const CommandLine& cl);

/// The environment variable that hands the decision over, and its values.
inline constexpr const char* kRouteEnv = "OCIKIT_RUN_ROUTE";
const char* route_name(Route r);
/// Route of a value of kRouteEnv; false when it is none of them.
bool parse_route(std::string_view s, Route& r);

/// The default state dir of managed containers: $OCIKIT_STATE_DIR, else /var/lib/ocikit.
std::string default_state_dir();

/// The id of the managed container `name_or_id` names (exact id, name,
/// unique id prefix) in `state_dir`, "" when none. Throws Errc::invalid on
/// an ambiguous prefix.
std::string find_managed(const std::string& state_dir, const std::string& name_or_id);

/// The arguments of `args` that are not options or option values (options
/// taking a value are known per command, docker's and runc's; those in
/// `flags_only` take none); everything after "--" is positional.
std::vector<std::string> positionals(const std::vector<std::string>& args,
                                     const std::set<std::string>& flags_only = {});

/// True when `args` (up to "--") hold -b/--bundle in any spelling.
bool has_bundle_flag(const std::vector<std::string>& args);

}  // namespace ocikit::run
