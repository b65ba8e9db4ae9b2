// oci-run manage/remote: docker-style commands on another host, as docker's
// `-H ssh://` and `docker context`. The line runs there as
// `ssh [-t] [-p PORT] [-l USER] -- HOST oci-run --context default ARGS...`
// (common/ssh.hpp: the words shell-quoted), exec'd, so that stdin, a tty
// (-t when stdin and stdout are terminals: ssh carries the window size and
// ^C through the remote pty), and the exit status are ssh's and thus the
// remote oci-run's. `--context default` keeps the other side from going on
// to a further host of its own.
//
// Without a terminal there is no pty to carry ^C, and a signal to the local
// oci-run would only end the local ssh, the line going on over there. So,
// as docker's --sig-proxy, ssh is a child instead: the line carries a
// per-invocation random token (hidden global option --remote-token; 32 hex
// characters, common/ssh.hpp), with which the remote oci-run-manage records
// "PID STARTTIME" in STATE_DIR/remote/TOKEN (directory 0700, removed at
// exit). The local side waits for ssh with SIGINT, SIGTERM, SIGHUP, SIGQUIT,
// SIGUSR1 and SIGUSR2 blocked; for each it receives, a second, short ssh
// runs the hidden `oci-run --context default remote-signal TOKEN SIGNAME`
// there, which sends the signal to the recorded pid if /proc still shows
// that process's start time (a recycled pid is never signalled). The remote
// oci-run then does what it does locally (an attached run/start/attach
// proxies it to the container, monitor_protocol.cpp). If that second ssh
// fails, or SIGINT comes again within a second, the local ssh gets SIGTERM
// (the line is cut as before). ssh runs in its own process group when stdin
// is not a terminal, so that a terminal's ^C reaches only this process.
//
// Contexts are kept as docker keeps them, but in ocikit's own directory so
// that `oci-run context use` does not change the docker CLI's:
//   $OCIKIT_CONTEXT_DIR, else ${XDG_CONFIG_HOME:-~/.config}/ocikit/contexts
//     meta/<sha256 of the name>/meta.json   docker's {"Name","Metadata","Endpoints":{"docker":{"Host"}}}
//     config.json                           {"currentContext": NAME}
// The host of a line: -H, else --context, else $OCIKIT_HOST, else
// $OCIKIT_CONTEXT, else the current context; "default" is this host.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/ssh.hpp"
#include "container.hpp"
#include "manage/format.hpp"
#include "manage/manage.hpp"
#include "manage/record.hpp"
#include "router.hpp"

namespace ocikit::manage {

namespace {

std::string context_dir() {
  if (const char* d = std::getenv("OCIKIT_CONTEXT_DIR"); d && *d) return d;
  std::string base;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) base = x;
  else if (const char* h = std::getenv("HOME"); h && *h) base = std::string(h) + "/.config";
  else fail("no context directory: set OCIKIT_CONTEXT_DIR or HOME");
  return base + "/ocikit/contexts";
}

std::string meta_dir(const std::string& name) {
  digest::Hasher h;
  h.update(name);
  return context_dir() + "/meta/" + h.finish().hex;
}

// docker's context names: ^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$
void check_name(const std::string& n) {
  bool ok = n.size() >= 2 && n.size() <= 100 && std::isalnum(static_cast<unsigned char>(n[0]));
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '+' && c != '-') ok = false;
  if (!ok) fail(Errc::usage, "context name \"" + n.substr(0, 100) + "\" is invalid (want [a-zA-Z0-9][a-zA-Z0-9_.+-]+)");
}

struct Context {
  std::string name, description, host;
};

std::optional<Context> load_context(const std::string& name) {
  if (name == "default") return Context{"default", "this host", ""};
  std::string path = meta_dir(name) + "/meta.json";
  if (!fs::exists(path)) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(fs::read_file(path));
    Context c;
    c.name = j.at("Name").get<std::string>();
    c.description = j.value("Metadata", nlohmann::json::object()).value("Description", "");
    c.host = j.at("Endpoints").at("docker").at("Host").get<std::string>();
    return c;
  } catch (const std::exception& e) {
    fail(Errc::invalid, "context " + name + ": " + path + ": " + e.what());
  }
}

Context need_context(const std::string& name) {
  auto c = load_context(name);
  if (!c) fail(Errc::not_found, "context \"" + name + "\" does not exist");
  return *c;
}

std::string current_context() {
  if (const char* e = std::getenv("OCIKIT_CONTEXT"); e && *e) return e;
  std::string path = context_dir() + "/config.json";
  if (!fs::exists(path)) return "default";
  try {
    auto j = nlohmann::json::parse(fs::read_file(path));
    std::string c = j.value("currentContext", "");
    return c.empty() ? "default" : c;
  } catch (const std::exception& e) {
    fail(Errc::invalid, path + ": " + e.what());
  }
}

void set_current(const std::string& name) {
  std::string dir = context_dir();
  fs::mkdir_p(dir);
  nlohmann::json j = {{"currentContext", name == "default" ? "" : name}};
  fs::write_file_atomic(dir + "/config.json", j.dump() + "\n");
}

std::vector<Context> all_contexts() {
  std::vector<Context> out = {*load_context("default")};
  std::string dir = context_dir() + "/meta";
  if (DIR* d = opendir(dir.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      try {
        auto j = nlohmann::json::parse(fs::read_file(dir + "/" + n + "/meta.json"));
        names.push_back(j.at("Name").get<std::string>());
      } catch (const std::exception&) {
      }
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names)
      if (auto c = load_context(n)) out.push_back(*c);
  }
  return out;
}

// The value of "host=..." in docker's --docker KEY=VALUE,... option.
std::string docker_host(const std::string& spec) {
  std::string host;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t comma = spec.find(',', i);
    std::string kv = spec.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
    if (kv.rfind("host=", 0) == 0) host = kv.substr(5);
    else if (!kv.empty()) fail(Errc::usage, "--docker: unsupported field \"" + kv.substr(0, kv.find('=')) + "\" (only host)");
    if (comma == std::string::npos) break;
    i = comma + 1;
  }
  if (host.empty()) fail(Errc::usage, "--docker: host=ssh://[user@]host[:port] is required");
  return host;
}

ssh::Address parse_host(const std::string& host) {
  if (!ssh::is_ssh_url(host))
    fail(Errc::usage, "unsupported host \"" + host.substr(0, 200) + "\": oci-run reaches other hosts only through ssh://");
  ssh::Address a = ssh::parse_url(host);
  if (!a.path.empty()) fail(Errc::usage, "host " + host + ": a path is not allowed");
  return a;
}

nlohmann::ordered_json inspect_json(const Context& c) {
  return {{"Name", c.name},
          {"Metadata", {{"Description", c.description}}},
          {"Endpoints", {{"docker", {{"Host", c.host.empty() ? "local" : c.host}, {"SkipTLSVerify", false}}}}},
          {"Storage", {{"MetadataPath", c.name == "default" ? "<IN MEMORY>" : meta_dir(c.name)}}}};
}

std::string session_path(const std::string& state_dir, const std::string& token) {
  if (!ssh::is_session_token(token)) fail(Errc::usage, "invalid remote token (want 32 hex characters)");
  return state_dir + "/remote/" + token;
}

std::string g_session_file;
pid_t g_session_pid = 0;

void remove_session() {
  if (g_session_pid == getpid() && !g_session_file.empty()) unlink(g_session_file.c_str());
}

const struct {
  int no;
  const char* name;
} kForwarded[] = {{SIGINT, "SIGINT"},   {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"},
                  {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}};

// Fork and exec `args` with the signal mask `mask`; stdin from /dev/null
// when `null_stdin`; in a process group of its own when `own_group`.
pid_t spawn(const std::vector<std::string>& args, const sigset_t& mask, bool null_stdin, bool own_group) {
  std::vector<std::string> a = args;
  std::vector<char*> cargv;
  for (auto& x : a) cargv.push_back(x.data());
  cargv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    if (own_group) setpgid(0, 0);
    if (null_stdin) {
      int fd = open("/dev/null", O_RDONLY);
      if (fd >= 0) dup2(fd, 0), close(fd);
    }
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "oci-run: error: exec %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  if (own_group) setpgid(pid, pid);
  return pid;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

void register_remote_session(const std::string& state_dir, const std::string& token) {
  std::string path = session_path(state_dir, token);
  std::string dir = state_dir + "/remote";
  fs::mkdir_p(dir);
  if (chmod(dir.c_str(), 0700) != 0) throw_errno("chmod " + dir);
  fs::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw_errno("remote session " + path);
  std::string line = std::to_string(getpid()) + " " + std::to_string(pid_start_time(getpid())) + "\n";
  if (write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) throw_errno("write " + path);
  g_session_file = path;
  g_session_pid = getpid();
  std::atexit(remove_session);
}

int remote_signal(const std::string& state_dir, const std::string& token, const std::string& signame) {
  int sig = run::parse_signal(signame);
  std::string path = session_path(state_dir, token);
  struct stat sb;
  if (lstat(path.c_str(), &sb) != 0) fail(Errc::not_found, "no remote session " + token);
  if (!S_ISREG(sb.st_mode) || sb.st_size > 64) fail(Errc::invalid, "remote session " + token + ": malformed");
  std::string text = fs::read_file(path);
  long pid = 0;
  char st[32] = {0};
  if (std::sscanf(text.c_str(), "%ld %31s", &pid, st) != 2 || pid <= 1)
    fail(Errc::invalid, "remote session " + token + ": malformed");
  uint64_t now = pid_start_time(static_cast<pid_t>(pid));  // 0: gone
  if (now == 0 || std::to_string(now) != st) {
    unlink(path.c_str());  // its process is gone: a stale record
    fail(Errc::not_found, "remote session " + token + " has ended");
  }
  if (kill(static_cast<pid_t>(pid), sig) != 0) throw_errno("kill " + std::to_string(pid));
  return 0;
}

std::string remote_host(const std::string& host_flag, const std::string& context_flag) {
  if (!host_flag.empty()) return host_flag;
  if (!context_flag.empty()) return need_context(context_flag).host;
  if (const char* h = std::getenv("OCIKIT_HOST"); h && *h) return h;
  return need_context(current_context()).host;
}

int run_remote(const std::string& host, int argc, char** argv, int command_index) {
  ssh::Address a = parse_host(host);
  std::vector<std::string> remote = {"oci-run", "--context", "default"};
  bool tty = isatty(0) && isatty(1);
  std::string token;
  if (!tty) {
    token = ssh::new_session_token();
    remote.insert(remote.end(), {"--remote-token", token});
  }
  // Of the global options only --debug and --log-level go along: the
  // others (--root, --store, --state-dir, --log) name this host's paths;
  // the other host's defaults (its OCIKIT_* environment) apply there.
  for (int i = 1; i < command_index; i++) {
    std::string o = argv[i];
    bool inline_value = o.find('=') != std::string::npos;
    if (o == "--debug") {
      remote.push_back(o);
    } else if (o == "--log-level" && i + 1 < command_index) {
      remote.insert(remote.end(), {o, argv[++i]});
    } else if (o.rfind("--log-level=", 0) == 0) {
      remote.push_back(o);
    } else if (!inline_value && run::global_option_takes_value(o)) {
      i++;
    }
  }
  for (int i = command_index; i < argc; i++) remote.push_back(argv[i]);
  ssh::Options so;
  so.tty = tty;
  auto args = ssh::command(a, remote, so);
  if (tty) {
    std::vector<char*> cargv;
    for (auto& s : args) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    std::fflush(stdout);
    execvp(cargv[0], cargv.data());
    throw_errno("exec " + args[0]);
  }
  // No terminal: ssh as a child, signals carried by a second ssh.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (const auto& f : kForwarded) sigaddset(&set, f.no);
  sigprocmask(SIG_BLOCK, &set, &old);
  // A signal ignored on entry (SIGINT of a background job) would be
  // discarded rather than queued: take the default (blocked, so it queues).
  for (const auto& f : kForwarded) signal(f.no, SIG_DFL);
  bool own_group = !isatty(0);
  pid_t ssh_pid = spawn(args, old, false, own_group);
  std::vector<pid_t> helpers;
  timespec last_int{};
  for (;;) {
    siginfo_t si;
    int s = sigwaitinfo(&set, &si);
    if (s < 0) {
      if (errno == EINTR) continue;
      throw_errno("sigwaitinfo");
    }
    if (s == SIGCHLD) {
      int status;
      pid_t w;
      while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
        if (w == ssh_pid) {
          for (pid_t h : helpers) kill(h, SIGTERM);
          for (pid_t h : helpers) waitpid(h, nullptr, 0);
          sigprocmask(SIG_SETMASK, &old, nullptr);
          return exit_code(status);
        }
        helpers.erase(std::remove(helpers.begin(), helpers.end(), w), helpers.end());
        // the signal did not get there: cut the line as ssh alone would
        if (exit_code(status) != 0) kill(ssh_pid, SIGTERM);
      }
      continue;
    }
    if (s == SIGINT) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      long ms = (now.tv_sec - last_int.tv_sec) * 1000 + (now.tv_nsec - last_int.tv_nsec) / 1000000;
      bool again = last_int.tv_sec && ms < 1000;
      last_int = now;
      if (again) {
        std::fprintf(stderr, "oci-run: a second SIGINT: ending the ssh connection\n");
        kill(ssh_pid, SIGTERM);
        continue;
      }
    }
    const char* name = "";
    for (const auto& f : kForwarded)
      if (f.no == s) name = f.name;
    ssh::Options ho;
    ho.batch = true;
    auto hargs = ssh::command(a, {"oci-run", "--context", "default", "remote-signal", token, name}, ho);
    try {
      helpers.push_back(spawn(hargs, old, true, own_group));
    } catch (const Error& e) {
      std::fprintf(stderr, "oci-run: error: %s\n", e.what());
      kill(ssh_pid, SIGTERM);
    }
  }
}

int context_main(int argc, char** argv) {
  return cli::run_main("oci-run", [&]() -> int {
    CLI::App app{"Named hosts for the docker-style commands (docker context)", "oci-run"};
    cli::LogOptions log_opts;
    cli::add_log_flags(app, log_opts, true);
    run::GlobalFlags gf;
    run::add_global_options(app, gf);
    auto* ctx = app.add_subcommand("context", "manage contexts");
    ctx->require_subcommand(1);
    std::string name, docker, description, format;
    std::vector<std::string> names;
    bool quiet = false, force = false;
    auto* create = ctx->add_subcommand("create", "create a context");
    create->add_option("NAME", name)->required();
    create->add_option("--docker", docker, "host=ssh://[user@]host[:port]")->required();
    create->add_option("--description", description, "description of the context");
    auto* ls = ctx->add_subcommand("ls", "list contexts")->alias("list");
    ls->add_option("--format", format, "json, or a Go template ({{.Name}} ...)");
    ls->add_flag("-q,--quiet", quiet, "only names");
    auto* use = ctx->add_subcommand("use", "make a context the current one");
    use->add_option("NAME", name)->required();
    auto* rm = ctx->add_subcommand("rm", "remove contexts")->alias("remove");
    rm->add_option("NAME", names)->required();
    rm->add_flag("-f,--force", force, "remove the current context too");
    auto* inspect = ctx->add_subcommand("inspect", "contexts as JSON");
    inspect->add_option("NAME", names);
    auto* show = ctx->add_subcommand("show", "print the current context's name");
    if (auto rc = cli::parse(app, argc, argv)) return *rc;
    cli::apply_log_flags(log_opts);
    std::string current = current_context();
    if (*create) {
      check_name(name);
      if (name == "default" || load_context(name)) fail("context \"" + name + "\" already exists");
      std::string host = docker_host(docker);
      parse_host(host);
      nlohmann::ordered_json j = {{"Name", name},
                                  {"Metadata", {{"Description", description}}},
                                  {"Endpoints", {{"docker", {{"Host", host}, {"SkipTLSVerify", false}}}}}};
      fs::mkdir_p(meta_dir(name));
      fs::write_file_atomic(meta_dir(name) + "/meta.json", j.dump() + "\n");
      std::cout << name << "\n";
      std::cerr << "Successfully created context \"" << name << "\"\n";
      return 0;
    }
    if (*use) {
      need_context(name);
      set_current(name);
      std::cout << name << "\n";
      std::cerr << "Current context is now \"" << name << "\"\n";
      return 0;
    }
    if (*rm) {
      for (const auto& n : names) {
        if (n == "default") fail("default: context \"default\" cannot be removed");
        need_context(n);
        if (n == current && !force)
          fail("context \"" + n + "\" is in use, set a different context or use --force");
      }
      for (const auto& n : names) {
        fs::remove_all(meta_dir(n));
        if (n == current) set_current("default");
        std::cout << n << "\n";
      }
      return 0;
    }
    if (*show) {
      std::cout << current << "\n";
      return 0;
    }
    if (*inspect) {
      if (names.empty()) names.push_back(current);
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& n : names) out.push_back(inspect_json(need_context(n)));
      std::cout << out.dump(4) << "\n";
      return 0;
    }
    // ls
    auto list = all_contexts();
    if (quiet) {
      for (const auto& c : list) std::cout << c.name << "\n";
      return 0;
    }
    if (format == "json") {
      for (const auto& c : list)
        std::cout << nlohmann::ordered_json{{"Current", c.name == current},
                                            {"Description", c.description},
                                            {"DockerEndpoint", c.host.empty() ? "local" : c.host},
                                            {"Name", c.name}}
                         .dump()
                  << "\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows = {{"NAME", "DESCRIPTION", "DOCKER ENDPOINT"}};
    for (const auto& c : list)
      rows.push_back({c.name + (c.name == current ? " *" : ""), c.description, c.host.empty() ? "local" : c.host});
    std::cout << format_table(rows);
    return 0;
  });
}

}  // namespace ocikit::manage
