// The one decision of what an oci-run command line means (router.hpp).
#include "router.hpp"

#include <dirent.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::run {

namespace {

// Options that take a value, per command (docker's and runc's), so that the
// first positional can be found without a full parse.
const std::set<std::string> kValueOpts = {
    // docker run/create
    "--name", "-e", "--env", "--env-file", "-w", "--workdir", "-u", "--user", "--entrypoint", "-h", "--hostname", "-v",
    "--volume", "--mount", "--volumes-from", "--tmpfs", "-m", "--memory", "--cpus", "--pids-limit", "--cap-add", "--cap-drop",
    "--security-opt", "--restart", "-l", "--label", "--stop-signal", "--stop-timeout", "-p", "--publish", "--network",
    "--network-alias",
    "--net", "--pull", "--platform", "--signature-policy", "--ulimit", "--detach-keys", "--health-cmd", "--health-interval",
    "--health-timeout", "--health-retries", "--health-start-period", "--health-start-interval",
    // docker ps, events; runc events
    "--filter", "--since", "--until", "--interval",
    // docker update; runc update
    "--memory-swap", "--memory-reservation", "--cpu-shares", "--cpu-share", "--cpu-quota", "--cpu-period",
    "--cpuset-cpus", "--cpuset-mems", "--blkio-weight", "--cpu-rt-period", "--cpu-rt-runtime", "--kernel-memory",
    "--kernel-memory-tcp", "-r", "--resources",
    // runc create/run/exec/kill/ps
    "-b", "--bundle", "--pid-file", "--console-socket", "--preserve-fds", "--process", "--cwd", "-g",
    "--additional-gids", "-c", "--cap", "-f", "--format", "-s", "--signal", "-t", "--time"};

const std::set<std::string> kRuntimeCommands = {"create", "run",    "start", "state", "kill",
                                                "delete", "list",   "ps",    "pause", "resume",
                                                "events", "update", "spec",  "exec",  "features"};

bool global_takes_value(const std::string& a) {
  for (const auto& o : kGlobalOptions)
    if (o.takes_value && a == o.name) return true;
  return false;
}

bool is_hex_id(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

const std::vector<DockerCommand> kDockerCommands = {
    {"run", "run a command in a new container from IMAGE (run -b BUNDLE ID: the runtime)"},
    {"create", "create a container from IMAGE"},
    {"start", "start managed containers"},
    {"stop", "stop containers (stop signal, then SIGKILL)"},
    {"restart", "restart containers"},
    {"kill", "send a signal to managed containers"},
    {"rm", "remove containers"},
    {"wait", "wait for containers to stop, print their exit codes"},
    {"ps", "list managed containers (ps ID: the runtime's)"},
    {"events", "what happens to containers, images, volumes, networks (events ID: the runtime's)"},
    {"logs", "print a container's log"},
    {"attach", "attach to a running container"},
    {"resize", "set a tty container's terminal size (rows, columns), attached or not"},
    {"inspect", "container details as JSON"},
    {"exec", "run a command in a managed container"},
    {"top", "a container's processes"},
    {"stats", "resource use of running containers"},
    {"cp", "copy files between a container and the host"},
    {"commit", "make an image of a container's changes"},
    {"rename", "rename a container"},
    {"port", "list a container's port mappings"},
    {"pause", "pause containers' processes (pause ID: the runtime's)"},
    {"unpause", "unpause containers' processes"},
    {"diff", "changes to files on a container's filesystem (A, C, D)"},
    {"export", "a container's filesystem as a tar archive"},
    {"update", "update managed containers' resource limits and restart policy (update ID: the runtime's)"},
    {"container", "prune: remove stopped containers"},
    {"import", "a tarball's contents as a one-layer image"},
    {"save", "save images to a tar archive (docker-archive)"},
    {"load", "load images from a tar archive (docker-archive)"},
    {"images", "list the store's images"},
    {"image", "ls, rm, tag, inspect, history, prune, save, load, import"},
    {"rmi", "remove images"},
    {"tag", "give an image another name"},
    {"history", "show an image's history"},
    {"volume", "create, ls, inspect, rm, prune"},
    {"system", "check [--repair]: verify the image store; df: disk usage; prune: remove unused data; boot: start containers after a reboot"},
    {"context", "create, ls, use, rm, inspect, show: named remote hosts (ssh://) for -H"},
    {"login", "log in to a registry (store its credentials as docker does)"},
    {"logout", "remove a registry's stored credentials"},
};

bool global_option_takes_value(const std::string& name) { return global_takes_value(name); }

std::string docker_commands_help() {
  std::string s = "Docker-style commands (managed containers, the image store; `oci-run COMMAND --help`):\n";
  for (const auto& c : kDockerCommands) {
    std::string name = c.name;
    s += "  " + name + std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') + c.help + "\n";
  }
  return s;
}

void add_global_options(CLI::App& app, GlobalFlags& g) {
  app.add_option("--root", g.root, "root directory for container state")->capture_default_str();
  app.add_option("--store", g.store, "image store (default $OCIKIT_STORE or /var/lib/ocikit/store)");
  app.add_option("--state-dir", g.state_dir,
                 "managed containers and volumes (default $OCIKIT_STATE_DIR or /var/lib/ocikit)");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "accepted for runc compatibility; cgroupfs is used");
  app.add_option("--rootless", g.rootless, "accepted for runc compatibility (true, false, auto)");
  app.add_option("-H,--host", g.host,
                 "docker-style commands: run them on ssh://[user@]host[:port] (default $OCIKIT_HOST, the context's)");
  app.add_option("--context", g.context, "docker-style commands: run them on the host of this context (oci-run context)");
  // Set by another host's oci-run on the line it sends through ssh.
  app.add_option("--remote-token", g.remote_token)->group("");
}

CommandLine scan(int argc, char** argv) {
  CommandLine cl;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a.empty() || a[0] != '-') break;
    for (const char* name : {"--state-dir", "--store", "-H", "--host", "--context", "--remote-token"}) {
      std::string n = name;
      std::string* dst = n == "--store"          ? &cl.store
                         : n == "--state-dir"    ? &cl.state_dir
                         : n == "--context"      ? &cl.context
                         : n == "--remote-token" ? &cl.remote_token
                                                 : &cl.host;
      if (a == n && i + 1 < argc) *dst = argv[i + 1];
      else if (a.rfind(n + "=", 0) == 0) *dst = a.substr(n.size() + 1);
    }
    if (a.find('=') == std::string::npos && global_takes_value(a)) i++;
  }
  cl.index = i < argc ? i : argc;
  if (i < argc) {
    cl.cmd = argv[i];
    cl.args.assign(argv + i + 1, argv + argc);
  }
  return cl;
}

Route route(const CommandLine& cl) {
  const std::string& cmd = cl.cmd;
  if (cmd.empty()) return Route::runtime;
  // Another host's: oci-run-manage sends the line there (runc's verbs have no -H).
  if (!cl.host.empty() || (!cl.context.empty() && cl.context != "default")) return Route::docker;
  if (cmd == "remote-signal") return Route::docker;  // hidden: remote.cpp's second ssh
  if (!kRuntimeCommands.count(cmd)) {
    for (const auto& c : kDockerCommands)
      if (cmd == c.name) return Route::docker;
    return Route::runtime;
  }
  if (cmd == "run" || cmd == "create") {
    if (has_bundle_flag(cl.args)) return Route::runtime;
    if (access("config.json", F_OK) != 0) return Route::docker;
    return positionals(cl.args, {"-t"}).empty() ? Route::runtime : Route::if_image;
  }
  if (cmd == "ps") return positionals(cl.args, {"-q"}).empty() ? Route::docker : Route::runtime;
  // docker's events has no operand; runc's names a container.
  if (cmd == "events") return positionals(cl.args, {}).empty() ? Route::docker : Route::runtime;
  // runc's pause names one container id; docker's names managed containers.
  // runc's update with --resources (engines pass it) is always the runtime's.
  if (cmd == "update")
    for (const auto& a : cl.args)
      if (a == "-r" || a == "--resources" || a.rfind("--resources=", 0) == 0) return Route::runtime;
  if (cmd == "start" || cmd == "kill" || cmd == "exec" || cmd == "pause" || cmd == "update") {
    auto pos = positionals(cl.args, {"-t"});
    if (pos.empty()) return Route::runtime;
    try {
      return find_managed(cl.state_dir.empty() ? default_state_dir() : cl.state_dir, pos[0]).empty() ? Route::runtime
                                                                                                     : Route::docker;
    } catch (const Error&) {
      return Route::docker;  // an ambiguous prefix: the docker-style command says so
    }
  }
  return Route::runtime;
}

std::string route_image(const CommandLine& cl) {
  auto pos = positionals(cl.args, {"-t"});
  return pos.empty() ? "" : pos[0];
}

const char* route_name(Route r) {
  switch (r) {
    case Route::runtime: return "runtime";
    case Route::docker: return "docker";
    case Route::if_image: return "if-image";
    case Route::spec_image: return "spec-image";
  }
  return "runtime";
}

bool parse_route(std::string_view s, Route& r) {
  for (Route x : {Route::runtime, Route::docker, Route::if_image, Route::spec_image})
    if (s == route_name(x)) {
      r = x;
      return true;
    }
  return false;
}

std::string default_state_dir() {
  const char* e = std::getenv("OCIKIT_STATE_DIR");
  return e && *e ? e : "/var/lib/ocikit";
}

std::string find_managed(const std::string& state_dir, const std::string& name_or_id) {
  if (name_or_id.empty()) return "";
  std::string dir = state_dir + "/containers";
  std::vector<std::string> ids;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (is_hex_id(n) && fs::exists(dir + "/" + n + "/record.json")) ids.push_back(n);
    }
    closedir(d);
  }
  for (const auto& id : ids)
    if (id == name_or_id) return id;
  // A name wins over an id prefix (as docker).
  for (const auto& id : ids) {
    try {
      auto j = nlohmann::json::parse(fs::read_file(dir + "/" + id + "/record.json"));
      if (j.is_object() && j.value("name", "") == name_or_id) return id;
    } catch (const std::exception&) {
      // removed meanwhile, or being written for the first time
    }
  }
  std::string hit;
  for (const auto& id : ids)
    if (id.compare(0, name_or_id.size(), name_or_id) == 0) {
      if (!hit.empty()) fail(Errc::invalid, "multiple containers match " + name_or_id);
      hit = id;
    }
  return hit;
}

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
    if (a == "-b" || a == "--bundle" || a.rfind("--bundle=", 0) == 0 ||
        (a.rfind("-b", 0) == 0 && a.size() > 2 && a[1] == 'b'))
      return true;
  }
  return false;
}

}  // namespace ocikit::run
