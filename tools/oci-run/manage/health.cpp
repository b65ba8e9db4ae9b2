// oci-run manage/health: docker's health checks (see health.hpp).
#include "manage/health.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/dockerfile.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "router.hpp"

extern char** environ;

namespace ocikit::manage {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string health_path(const StateDir& st, const std::string& id) { return st.container_dir(id) + "/health.json"; }

int64_t flag_duration(const std::optional<std::string>& v, const char* flag) {
  if (!v) return -1;
  int64_t ns = 0;
  try {
    ns = dockerfile::parse_duration(*v);
  } catch (const Error&) {
    fail(Errc::usage, std::string("invalid argument \"") + *v + "\" for \"" + flag + "\" flag: invalid duration");
  }
  if (ns < 0) fail(Errc::usage, std::string(flag) + " cannot be negative");
  if (ns != 0 && ns < 1000000) fail(Errc::usage, std::string(flag) + " cannot be less than 1ms");
  return ns;
}

int64_t or_default(int64_t v, int64_t d) { return v > 0 ? v : d; }

// Read the probe's output until EOF or `deadline`, keeping the first
// kHealthMaxOutput bytes (the rest is read and dropped, so a flood cannot
// block the probe). False when the deadline passed first.
bool read_output(int fd, Clock::time_point deadline, std::string& out) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return true;
    if (out.size() < kHealthMaxOutput)
      out.append(buf, std::min<size_t>(static_cast<size_t>(got), kHealthMaxOutput - out.size()));
  }
}

// Wait for `pid` until `deadline`; nullopt when it is still running.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  for (;;) {
    int status = 0;
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (w < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// One probe: `oci-run exec` of the test in the container, its output and
// exit code, killed (the client and the process in the container) at the
// timeout as docker does ("Health check exceeded timeout (30s)", -1).
json probe(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& pid_file,
           const std::string& exe, int64_t timeout_ns) {
  json result = {{"Start", log::now_rfc3339()}};
  auto deadline = Clock::now() + std::chrono::nanoseconds(timeout_ns);
  unlink(pid_file.c_str());
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = -1;
  try {
    pid = process::spawn({.argv = argv, .env = env, .in = process::kDevNull, .out = wr.get(), .err = wr.get(),
                          .reset_signals = true, .path = exe});
  } catch (const Error& e) {
    result["End"] = log::now_rfc3339();
    result["ExitCode"] = -1;
    result["Output"] = e.what();
    return result;
  }
  wr.reset();
  std::string out;
  bool done = read_output(rd.get(), deadline, out);
  std::optional<int> code = done ? wait_until(pid, deadline) : std::nullopt;
  if (!code) {
    // The process in the container first (its pid from the runtime), then the client.
    try {
      std::string text = fs::read_file(pid_file);
      long cpid = std::strtol(text.c_str(), nullptr, 10);
      if (cpid > 1) kill(static_cast<pid_t>(cpid), SIGKILL);
    } catch (const Error&) {
    }
    kill(pid, SIGKILL);
    process::wait(pid);
    result["End"] = log::now_rfc3339();
    result["ExitCode"] = -1;
    result["Output"] = "Health check exceeded timeout (" + go_duration(timeout_ns) + ")";
    return result;
  }
  result["End"] = log::now_rfc3339();
  result["ExitCode"] = *code;
  result["Output"] = out;
  return result;
}

[[noreturn]] void checker_loop(const StateDir& st, const Record& r, const image::Healthcheck& h,
                               std::vector<std::string> argv, std::vector<std::string> env, std::string exe) {
  int64_t interval = or_default(h.interval, kHealthDefaultInterval);
  int64_t timeout = or_default(h.timeout, kHealthDefaultTimeout);
  int64_t start_interval = or_default(h.start_interval, kHealthDefaultStartInterval);
  int retries = h.retries > 0 ? h.retries : kHealthDefaultRetries;
  std::string path = health_path(st, r.id), pid_file = st.container_dir(r.id) + "/health.pid";
  json state = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  auto started = Clock::now();
  auto in_start = [&] {
    return h.start_period > 0 && Clock::now() - started < std::chrono::nanoseconds(h.start_period);
  };
  for (;;) {
    bool starting = state["Status"] == "starting" && in_start();
    std::this_thread::sleep_for(std::chrono::nanoseconds(starting ? start_interval : interval));
    bool counted_as_start = in_start();
    json result = probe(argv, env, pid_file, exe, timeout);
    std::string before = state["Status"];
    apply_health_result(state, result, counted_as_start, retries);
    if (state["Status"] != before) container_event(r, "health_status: " + state["Status"].get<std::string>());
    try {
      write_file_replace(path, state.dump() + "\n", 0644);
    } catch (const Error&) {
      _exit(0);  // the container dir is gone
    }
  }
}

}  // namespace

std::string go_duration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest == 0) return s;
    std::string f = std::to_string(rest + unit).substr(1);  // zero-padded
    while (!f.empty() && f.back() == '0') f.pop_back();
    return s + "." + f;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + frac(u, 1000) + "µs";
  if (u < 1000000000) return sign + frac(u, 1000000) + "ms";
  std::string out;
  uint64_t h = u / 3600000000000ULL, m = (u / 60000000000ULL) % 60;
  uint64_t s_ns = u % 60000000000ULL;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += frac(s_ns, 1000000000ULL) + "s";
  return sign + out;
}

std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& image,
                                                    const HealthFlags& f) {
  int64_t interval = flag_duration(f.interval, "--health-interval");
  int64_t timeout = flag_duration(f.timeout, "--health-timeout");
  int64_t start_period = flag_duration(f.start_period, "--health-start-period");
  int64_t start_interval = flag_duration(f.start_interval, "--health-start-interval");
  if (f.retries && *f.retries < 0) fail(Errc::usage, "--health-retries cannot be negative");
  bool any = f.cmd || interval >= 0 || timeout >= 0 || start_period >= 0 || start_interval >= 0 || f.retries;
  if (f.none) {
    if (any) fail(Errc::usage, "--no-healthcheck conflicts with --health-* options");
    image::Healthcheck h;
    h.test = {"NONE"};
    return h;
  }
  if (!image && !any) return std::nullopt;
  image::Healthcheck h = image.value_or(image::Healthcheck{});
  if (f.cmd) h.test = {"CMD-SHELL", *f.cmd};
  if (interval >= 0) h.interval = interval;
  if (timeout >= 0) h.timeout = timeout;
  if (start_period >= 0) h.start_period = start_period;
  if (start_interval >= 0) h.start_interval = start_interval;
  if (f.retries) h.retries = *f.retries;
  return h;
}

json healthcheck_to_json(const image::Healthcheck& h) {
  json j = {{"Test", h.test}};
  if (h.interval) j["Interval"] = h.interval;
  if (h.timeout) j["Timeout"] = h.timeout;
  if (h.start_period) j["StartPeriod"] = h.start_period;
  if (h.start_interval) j["StartInterval"] = h.start_interval;
  if (h.retries) j["Retries"] = h.retries;
  return j;
}

image::Healthcheck healthcheck_from_json(const json& j) {
  image::Healthcheck h;
  if (!j.is_object()) return h;
  if (j.contains("Test") && j["Test"].is_array())
    for (const auto& t : j["Test"])
      if (t.is_string()) h.test.push_back(t.get<std::string>());
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : 0; };
  h.interval = num("Interval");
  h.timeout = num("Timeout");
  h.start_period = num("StartPeriod");
  h.start_interval = num("StartInterval");
  h.retries = static_cast<int>(num("Retries"));
  return h;
}

bool has_active_healthcheck(const Record& r) {
  if (!r.healthcheck.is_object()) return false;
  auto h = healthcheck_from_json(r.healthcheck);
  if (h.test.empty() || h.test[0] == "NONE") return false;
  if (h.test[0] == "CMD") return h.test.size() > 1;
  if (h.test[0] == "CMD-SHELL") return h.test.size() == 2;
  return false;
}

std::optional<json> load_health(const StateDir& st, const std::string& id) {
  try {
    json j = json::parse(fs::read_file(health_path(st, id)));
    if (j.is_object()) return j;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string health_status(const StateDir& st, const Record& r) {
  if (!has_active_healthcheck(r)) return "none";
  auto h = load_health(st, r.id);
  if (!h) return "starting";
  std::string s = h->value("Status", "starting");
  return s.empty() ? "starting" : s;
}

void apply_health_result(json& state, const json& result, bool in_start, int retries) {
  if (retries <= 0) retries = kHealthDefaultRetries;
  json& log = state["Log"];
  if (!log.is_array()) log = json::array();
  log.push_back(result);
  while (log.size() > kHealthMaxLog) log.erase(log.begin());
  if (result.value("ExitCode", -1) == 0) {
    state["Status"] = "healthy";
    state["FailingStreak"] = 0;
    return;
  }
  // docker: failures in the start period do not count while it is starting.
  if (state.value("Status", "starting") == "starting" && in_start) return;
  int streak = state.value("FailingStreak", 0) + 1;
  state["FailingStreak"] = streak;
  if (streak >= retries) state["Status"] = "unhealthy";
}

pid_t start_health_checker(const Globals& g, const StateDir& st, const Record& r) {
  if (!has_active_healthcheck(r)) {
    unlink(health_path(st, r.id).c_str());
    return 0;
  }
  image::Healthcheck h = healthcheck_from_json(r.healthcheck);
  json state = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  write_file_replace(health_path(st, r.id), state.dump() + "\n", 0644);
  // Everything the checker needs, made before fork.
  std::vector<std::string> argv = {"oci-run", "--root", r.runtime_root};
  for (const auto& f : g.runtime_flags) argv.push_back(f);
  argv.insert(argv.end(), {"exec", "--pid-file", st.container_dir(r.id) + "/health.pid", r.id});
  if (h.test[0] == "CMD") argv.insert(argv.end(), h.test.begin() + 1, h.test.end());
  else argv.insert(argv.end(), {"/bin/sh", "-c", h.test[1]});
  std::vector<std::string> env;
  for (char** e = environ; *e; e++)
    if (std::string_view(*e).rfind(std::string(run::kRouteEnv) + "=", 0) != 0) env.emplace_back(*e);
  env.push_back(std::string(run::kRouteEnv) + "=" + run::route_name(run::Route::runtime));
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork the health checker");
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGTERM, SIG_DFL);
    try {
      checker_loop(st, r, h, std::move(argv), std::move(env), g.self_exe);
    } catch (...) {
    }
    _exit(0);
  }
  setpgid(pid, pid);
  return pid;
}

void stop_health_checker(pid_t pid) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);  // the checker and its probe (same process group)
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace ocikit::manage
