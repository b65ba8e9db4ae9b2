// The runc verbs on an existing container: kill, delete, state, list, ps,
// pause/resume, events, update (container.cpp creates and starts them).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "container.hpp"
#include "plan.hpp"
#include "security.hpp"
#include "state.hpp"

namespace ocikit::run {
namespace {

// The container's processes: its cgroup's, or (without a cgroup) every
// process in init's pid namespace when the container has its own.
std::vector<pid_t> container_pids(const State& s) {
  if (s.cgroup_applied) return sec::CgroupManager::from_json(s.cgroup).pids();
  std::vector<pid_t> out;
  char buf[256];
  auto ns_of = [&](pid_t p) {
    std::string l = "/proc/" + std::to_string(p) + "/ns/pid";
    ssize_t n = readlink(l.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string mine = ns_of(s.pid), host = ns_of(getpid());
  if (mine.empty()) return out;
  if (mine == host) return {s.pid};
  DIR* d = opendir("/proc");
  if (!d) throw_errno("open /proc");
  while (auto* e = readdir(d)) {
    pid_t p = atoi(e->d_name);
    if (p > 0 && ns_of(p) == mine) out.push_back(p);
  }
  closedir(d);
  return out;
}

void wait_gone(pid_t pid, uint64_t start_time) {
  int pfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pfd >= 0) {
    if (process_alive(pid, start_time)) {
      pollfd p{pfd, POLLIN, 0};
      poll(&p, 1, 10000);
    }
    close(pfd);
  }
  for (int i = 0; i < 1000 && process_alive(pid, start_time); i++) usleep(10000);
}

}  // namespace

int parse_signal(const std::string& in) {
  std::string s = in;
  if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) {
    int n = std::stoi(s);
    if (n < 0 || n >= NSIG) fail(Errc::usage, "invalid signal \"" + in + "\"");
    return n;
  }
  for (auto& ch : s) ch = static_cast<char>(toupper(ch));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  for (int i = 1; i < SIGRTMIN; i++) {
    const char* a = sigabbrev_np(i);
    if (a && s == a) return i;
  }
  if (s.rfind("RTMIN+", 0) == 0) return SIGRTMIN + std::stoi(s.substr(6));
  if (s.rfind("RTMAX-", 0) == 0) return SIGRTMAX - std::stoi(s.substr(6));
  fail(Errc::usage, "invalid signal \"" + in + "\"");
}

void kill_container(const std::string& root, const std::string& id, const std::string& signal, bool all) {
  int sig = parse_signal(signal);
  std::string dir = container_dir(root, id);
  State s = load_state(root, id);
  std::string status = status_of(dir, s);
  // runc's words and behaviour, which engines match on: containerd's shim
  // treats "container not running" as "already finished" (so that stopping a
  // pod whose containers have exited succeeds), and --all still signals
  // whatever is left in a stopped container's cgroup.
  if (status == "stopped" && !all) fail("cannot signal container " + id + ": container not running");
  std::vector<pid_t> pids;
  if (!all) {
    pids.push_back(s.pid);
  } else if (status != "stopped") {
    pids = container_pids(s);
  } else {
    try {
      if (s.cgroup_applied) pids = container_pids(s);
    } catch (const Error&) {
      // the cgroup is gone: nothing left to signal
    }
  }
  for (pid_t p : pids)
    if (::kill(p, sig) != 0 && errno != ESRCH) throw_errno("kill " + std::to_string(p));
}

void delete_container(const std::string& root, const std::string& id, bool force) {
  remove_container(container_dir(root, id), load_state(root, id), nullptr, force);
}

void remove_container(const std::string& dir, const State& s, const Spec* parsed, bool force) {
  const std::string& id = s.id;
  std::string status = status_of(dir, s);
  if ((status == "running" || status == "paused") && !force)
    fail("cannot delete container " + id + " that is not stopped: " + status);
  if (status != "stopped") {
    if (status == "paused" && s.cgroup_applied) sec::CgroupManager::from_json(s.cgroup).thaw();
    std::vector<pid_t> pids;
    try {
      pids = container_pids(s);
    } catch (const Error&) {
      pids = {s.pid};
    }
    for (pid_t p : pids) ::kill(p, SIGKILL);
    ::kill(s.pid, SIGKILL);
    wait_gone(s.pid, s.start_time);
  }
  std::optional<Spec> own;
  if (!parsed) parsed = &own.emplace(parse_spec(s.config, s.bundle));
  run_parent_hooks(parsed->hooks.poststop, hook_state(s, "stopped"), "poststop", false);
  if (s.cgroup_applied) sec::CgroupManager::from_json(s.cgroup).destroy();
  fs::remove_all(dir);
}

void print_state(const std::string& root, const std::string& id) {
  State s = load_state(root, id);
  std::cout << state_json(s, status_of(container_dir(root, id), s)).dump(2) << "\n";
}

void list_containers(const std::string& root, const std::string& format, bool quiet) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  if (format != "json" && format != "table")
    fail(Errc::usage, "invalid format \"" + format + "\" (want table or json)");
  if (!quiet && format == "table")
    std::printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (auto& id : list_ids(root)) {
    State s;
    try {
      s = load_state(root, id);
    } catch (const Error& e) {
      log::warn(e.what());
      continue;
    }
    std::string st = status_of(container_dir(root, id), s);
    auto j = state_json(s, st);
    if (quiet) std::printf("%s\n", id.c_str());
    else if (format == "table")
      std::printf("%-12s %-8d %-10s %-40s %-30s %s\n", id.c_str(), st == "stopped" ? 0 : s.pid, st.c_str(),
                  s.bundle.c_str(), s.created.c_str(), s.owner.empty() ? "root" : s.owner.c_str());
    arr.push_back(j);
  }
  if (format == "json" && !quiet) std::cout << arr.dump() << "\n";
}

void ps_container(const std::string& root, const std::string& id, const std::string& format) {
  State s = load_state(root, id);
  if (status_of(container_dir(root, id), s) == "stopped") fail("container " + id + " is not running");
  auto pids = container_pids(s);
  if (format == "json") {
    std::cout << nlohmann::json(pids).dump() << "\n";
    return;
  }
  std::printf("%-8s %s\n", "PID", "CMD");
  for (pid_t p : pids) {
    std::string comm;
    try {
      comm = fs::read_file("/proc/" + std::to_string(p) + "/comm");
    } catch (const Error&) {
      continue;
    }
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    std::printf("%-8d %s\n", p, comm.c_str());
  }
}

void pause_container(const std::string& root, const std::string& id, bool pause) {
  State s = load_state(root, id);
  std::string st = status_of(container_dir(root, id), s);
  if (pause && st != "running") fail("cannot pause container " + id + ": it is " + st);
  if (!pause && st != "paused") fail("cannot resume container " + id + ": it is " + st);
  if (!s.cgroup_applied) fail("container " + id + " has no cgroup to freeze");
  auto cg = sec::CgroupManager::from_json(s.cgroup);
  pause ? cg.freeze() : cg.thaw();
}

void print_stats(const std::string& root, const std::string& id) {
  State s = load_state(root, id);
  if (status_of(container_dir(root, id), s) == "stopped") fail("container " + id + " is not running");
  if (!s.cgroup_applied) fail("container " + id + " has no cgroup to read statistics from");
  nlohmann::ordered_json ev;
  ev["type"] = "stats";
  ev["id"] = id;
  ev["data"] = sec::CgroupManager::from_json(s.cgroup).stats();
  std::cout << ev.dump() << "\n";
}

int64_t parse_interval(const std::string& in) {
  auto bad = [&] { fail(Errc::usage, "invalid --interval \"" + in + "\" (want a duration such as 5s or 500ms)"); };
  if (in.empty()) bad();
  if (std::all_of(in.begin(), in.end(), ::isdigit)) {
    if (in.size() > 9 || std::stoll(in) == 0) bad();
    return std::stoll(in) * 1000;
  }
  // Go's time.ParseDuration units, whole and fractional numbers.
  double ms = 0;
  for (size_t i = 0; i < in.size();) {
    size_t used = 0;
    double v;
    try {
      v = std::stod(in.substr(i), &used);
    } catch (const std::exception&) {
      bad();
    }
    if (used == 0 || v < 0 || !isdigit(static_cast<unsigned char>(in[i]))) bad();
    i += used;
    size_t u = i;
    while (u < in.size() && isalpha(static_cast<unsigned char>(in[u]))) u++;
    std::string unit = in.substr(i, u - i);
    double scale = unit == "h" ? 3600e3
        : unit == "m"          ? 60e3
        : unit == "s"          ? 1e3
        : unit == "ms"         ? 1
        : unit == "us"         ? 1e-3
        : unit == "ns"         ? 1e-6
                               : -1;
    if (scale < 0) bad();
    ms += v * scale;
    i = u;
  }
  if (ms < 1) bad();
  return static_cast<int64_t>(ms);
}

void stream_events(const std::string& root, const std::string& id, const std::string& interval) {
  int64_t every = parse_interval(interval);
  State s = load_state(root, id);
  std::string dir = container_dir(root, id);
  if (status_of(dir, s) == "stopped") fail("container " + id + " is not running");
  if (!s.cgroup_applied) fail("container " + id + " has no cgroup to read events from");
  auto cg = sec::CgroupManager::from_json(s.cgroup);
  // The init's pidfd becomes readable when the container stops.
  fs::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, s.pid, 0)));
  if (!pidfd || !process_alive(s.pid, s.start_time)) fail("container " + id + " is not running");
  std::optional<cgroup::OomWatch> oom;
  try {
    oom.emplace(cg);
  } catch (const Error& e) {
    log::warn("events: no OOM notifications: " + std::string(e.what()));
  }
  auto emit = [&](const char* type, const nlohmann::json* data) {
    nlohmann::ordered_json ev;
    ev["type"] = type;
    ev["id"] = id;
    if (data) ev["data"] = *data;
    std::cout << ev.dump() << std::endl;
  };
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(every);
  for (;;) {
    pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {oom ? oom->fd() : -1, POLLIN, 0}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
    int r = poll(p, 2, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (r < 0 && errno != EINTR) throw_errno("poll");
    if (r > 0 && (p[1].revents & POLLIN))
      for (uint64_t n = oom->consume(); n > 0; n--) emit("oom", nullptr);
    if (r > 0 && (p[0].revents & POLLIN)) return;
    if (std::chrono::steady_clock::now() >= next) {
      nlohmann::json data = cg.stats();
      emit("stats", &data);
      next += std::chrono::milliseconds(every);
    }
  }
}

void update_container(const std::string& root, const std::string& id, const std::string& resources_json) {
  State s = load_state(root, id);
  if (status_of(container_dir(root, id), s) == "stopped") fail("container " + id + " is not running");
  auto res = with_context("resources", [&] { return nlohmann::json::parse(resources_json); });
  if (!s.cgroup_applied) fail("container " + id + " has no cgroup to update");
  auto cg = sec::CgroupManager::from_json(s.cgroup);
  cg.set(res);
  // set() may have enabled a cgroup2 controller that delete must undo.
  if (cg.to_json() != s.cgroup) {
    s.cgroup = cg.to_json();
    save_state(container_dir(root, id), s);
  }
}

namespace {

// "50m" -> 52428800 (binary units, as runc's RAMInBytes); "-1" stays -1.
int64_t parse_size(const std::string& flag, const std::string& v) {
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (const std::exception&) {
    fail(Errc::usage, "invalid --" + flag + " \"" + v + "\"");
  }
  std::string unit = v.substr(pos);
  for (auto& c : unit) c = static_cast<char>(tolower(c));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : -1;
  if (shift < 0 || (n < 0 && (n != -1 || shift))) fail(Errc::usage, "invalid --" + flag + " \"" + v + "\"");
  return n << shift;
}

int64_t parse_int(const std::string& flag, const std::string& v) {
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size()) fail(Errc::usage, "invalid --" + flag + " \"" + v + "\"");
  return n;
}

}  // namespace

nlohmann::json update_flags_resources(const std::map<std::string, std::string>& flags) {
  nlohmann::json r = nlohmann::json::object();
  auto get = [&](const char* k) -> const std::string* {
    auto it = flags.find(k);
    return it == flags.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (auto v = get("memory")) r["memory"]["limit"] = parse_size("memory", *v);
  if (auto v = get("memory-swap")) r["memory"]["swap"] = parse_size("memory-swap", *v);
  if (auto v = get("memory-reservation")) r["memory"]["reservation"] = parse_size("memory-reservation", *v);
  if (auto v = get("pids-limit")) r["pids"]["limit"] = parse_int("pids-limit", *v);
  if (auto v = get("cpu-shares")) r["cpu"]["shares"] = parse_int("cpu-shares", *v);
  if (auto v = get("cpu-quota")) r["cpu"]["quota"] = parse_int("cpu-quota", *v);
  if (auto v = get("cpu-period")) r["cpu"]["period"] = parse_int("cpu-period", *v);
  if (auto v = get("cpuset-cpus")) r["cpu"]["cpus"] = *v;
  if (auto v = get("cpuset-mems")) r["cpu"]["mems"] = *v;
  if (auto v = get("blkio-weight")) r["blockIO"]["weight"] = parse_int("blkio-weight", *v);
  if (r.empty()) fail(Errc::usage, "update: give --resources FILE or at least one limit flag");
  return r;
}

}  // namespace ocikit::run
