// The runc/docker mode decision (mode.hpp).
#include "mode.hpp"

#include <unistd.h>

#include "common/error.hpp"
#include "manage/record.hpp"

namespace ocikit::run {

namespace {

// Options that take a value, per command (docker's and runc's), so that the
// first positional can be found without a full parse.
const std::set<std::string> kValueOpts = {
    // docker run/create
    "--name", "-e", "--env", "--env-file", "-w", "--workdir", "-u", "--user", "--entrypoint", "-h", "--hostname",
    "-v", "--volume", "--mount", "--tmpfs", "-m", "--memory", "--cpus", "--pids-limit", "--cap-add", "--cap-drop",
    "--security-opt", "--restart", "-l", "--label", "--stop-signal", "--stop-timeout", "-p", "--publish",
    "--network", "--net", "--pull", "--platform", "--ulimit", "--detach-keys",
    // runc create/run/exec/kill/ps
    "-b", "--bundle", "--pid-file", "--console-socket", "--preserve-fds", "--process", "--cwd", "-g",
    "--additional-gids", "-c", "--cap", "-f", "--format", "-s", "--signal", "-t", "--time"};

// -t is docker stop's timeout but docker exec's tty; -f is runc's --format
// but docker rm's --force: per command, those are flags.
bool is_managed(const std::string& state_dir, const std::string& name) {
  try {
    return manage::StateDir(state_dir.empty() ? manage::default_state_dir() : state_dir).try_find(name).has_value();
  } catch (const Error&) {
    return true;  // ambiguous prefix: docker mode reports it
  }
}

}  // namespace

std::vector<std::string> positionals(const std::vector<std::string>& args, const std::set<std::string>& flags_only) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--") {
      out.insert(out.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      if (a.find('=') == std::string::npos && kValueOpts.count(a) && !flags_only.count(a)) i++;
      continue;
    }
    out.push_back(a);
  }
  return out;
}

bool has_bundle_flag(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "-b" || a == "--bundle" || a.rfind("--bundle=", 0) == 0 || (a.rfind("-b", 0) == 0 && a.size() > 2 && a[1] == 'b'))
      return true;
  }
  return false;
}

Decision decide_mode(const std::string& cmd, const std::vector<std::string>& args, const std::string& state_dir) {
  static const std::set<std::string> always = {"inspect", "wait", "logs", "stop", "restart", "rm", "attach"};
  if (always.count(cmd)) return {Mode::managed, ""};
  if (cmd == "run" || cmd == "create") {
    if (has_bundle_flag(args)) return {Mode::runtime, ""};
    auto pos = positionals(args, {"-t"});
    if (access("config.json", F_OK) != 0) return {Mode::managed, ""};
    if (pos.empty()) return {Mode::runtime, ""};
    return {Mode::if_store_image, pos[0]};
  }
  if (cmd == "ps") return {positionals(args, {"-q"}).empty() ? Mode::managed : Mode::runtime, ""};
  if (cmd == "start" || cmd == "kill" || cmd == "exec") {
    auto pos = positionals(args, {"-t"});
    return {!pos.empty() && is_managed(state_dir, pos[0]) ? Mode::managed : Mode::runtime, ""};
  }
  return {Mode::runtime, ""};
}

}  // namespace ocikit::run
