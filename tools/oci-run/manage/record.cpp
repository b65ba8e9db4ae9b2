// oci-run manage/record: container records under <state>/containers.
#include "manage/record.hpp"
#include "router.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/random.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/error.hpp"

namespace ocikit::manage {

std::string default_state_dir() { return run::default_state_dir(); }

nlohmann::json to_json(const Record& r) {
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& m : r.mounts)
    mounts.push_back({{"type", m.type},
                      {"source", m.source},
                      {"destination", m.destination},
                      {"read_only", m.read_only},
                      {"options", m.options}});
  return {{"id", r.id},
          {"name", r.name},
          {"image", r.image},
          {"image_digest", r.image_digest},
          {"created", r.created},
          {"started", r.started},
          {"finished", r.finished},
          {"status", r.status},
          {"exit_code", r.exit_code},
          {"error", r.error},
          {"monitor_pid", r.monitor_pid},
          {"monitor_start", r.monitor_start},
          {"pid", r.pid},
          {"runtime_root", r.runtime_root},
          {"store", r.store},
          {"layers", r.layers},
          {"command", r.command},
          {"restart_policy", r.restart_policy},
          {"restart_max", r.restart_max},
          {"restart_count", r.restart_count},
          {"auto_remove", r.auto_remove},
          {"tty", r.tty},
          {"interactive", r.interactive},
          {"stop_signal", r.stop_signal},
          {"stop_timeout", r.stop_timeout},
          {"manually_stopped", r.manually_stopped},
          {"labels", r.labels},
          {"mounts", mounts},
          {"ports", r.ports},
          {"exposed", r.exposed},
          {"user", r.user},
          {"network", r.network},
          {"volumes_created", r.volumes_created},
          {"host_config", r.host_config},
          {"healthcheck", r.healthcheck}};
}

Record record_from_json(const nlohmann::json& j) {
  return with_context("container record", [&] {
    Record r;
    r.id = j.at("id").get<std::string>();
    r.name = j.value("name", "");
    r.image = j.value("image", "");
    r.image_digest = j.value("image_digest", "");
    r.created = j.value("created", "");
    r.started = j.value("started", "");
    r.finished = j.value("finished", "");
    r.status = j.value("status", "created");
    r.exit_code = j.value("exit_code", 0);
    r.error = j.value("error", "");
    r.monitor_pid = j.value("monitor_pid", 0);
    r.monitor_start = j.value("monitor_start", uint64_t{0});
    r.pid = j.value("pid", 0);
    r.runtime_root = j.value("runtime_root", "");
    r.store = j.value("store", "");
    r.layers = j.value("layers", std::vector<std::string>{});
    r.command = j.value("command", std::vector<std::string>{});
    r.restart_policy = j.value("restart_policy", "no");
    r.restart_max = j.value("restart_max", 0);
    r.restart_count = j.value("restart_count", 0);
    r.auto_remove = j.value("auto_remove", false);
    r.tty = j.value("tty", false);
    r.interactive = j.value("interactive", false);
    r.stop_signal = j.value("stop_signal", "SIGTERM");
    r.stop_timeout = j.value("stop_timeout", 10);
    r.manually_stopped = j.value("manually_stopped", false);
    r.labels = j.value("labels", std::map<std::string, std::string>{});
    for (const auto& m : j.value("mounts", nlohmann::json::array()))
      r.mounts.push_back({m.value("type", ""), m.value("source", ""), m.value("destination", ""),
                          m.value("read_only", false), m.value("options", "")});
    r.ports = j.value("ports", std::vector<std::string>{});
    r.exposed = j.value("exposed", std::vector<std::string>{});
    r.user = j.value("user", "");
    r.network = j.value("network", "");
    r.volumes_created = j.value("volumes_created", std::vector<std::string>{});
    r.host_config = j.value("host_config", nlohmann::json::object());
    if (j.contains("healthcheck") && j["healthcheck"].is_object()) r.healthcheck = j["healthcheck"];
    return r;
  });
}

fs::FileLock StateDir::lock() const {
  fs::mkdir_p(containers_dir(), 0700);
  return fs::FileLock(containers_dir() + "/.lock");
}

void write_file_replace(const std::string& path, std::string_view data, mode_t mode) {
  // Readers never see a partial file (write a temp, rename over), but there
  // is no fsync: a record changes several times in every run, two fsyncs a
  // change were most of `run --rm`'s fixed cost, and after a crash
  // live_status() corrects what a lost update would say anyway.
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  fs::UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw_errno("create " + tmp);
  try {
    fs::write_all(fd.get(), data.data(), data.size());
  } catch (...) {
    unlink(tmp.c_str());
    throw;
  }
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    throw_errno("rename " + tmp, e);
  }
}

void StateDir::save(const Record& r) const {
  fs::mkdir_p(container_dir(r.id), 0700);
  write_file_replace(container_dir(r.id) + "/record.json", to_json(r).dump(2) + "\n", 0600);
}

Record StateDir::load(const std::string& id) const {
  std::string text;
  try {
    text = fs::read_file(container_dir(id) + "/record.json");
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) fail(Errc::not_found, "no such container: " + id);
    throw;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    fail(Errc::invalid, container_dir(id) + "/record.json: " + e.what());
  }
  return record_from_json(j);
}

static bool is_hex_id(const std::string& s) {
  return s.size() == 64 &&
      std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

static std::vector<std::string> record_ids(const std::string& dir) {
  std::vector<std::string> ids;
  DIR* d = opendir(dir.c_str());
  if (!d) return ids;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (is_hex_id(n) && fs::exists(dir + "/" + n + "/record.json")) ids.push_back(n);
  }
  closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<Record> StateDir::list() const {
  std::vector<Record> out;
  // What a killed rm left (.rm-<id>) and a killed create left (a dir
  // without record.json: create makes the dir and its first record under
  // the lock, so with the lock held such a dir is an orphan). Only when the
  // lock is free at once: a caller of ours may hold it.
  if (fs::exists(containers_dir() + "/.lock")) {
    fs::UniqueFd lk(open((containers_dir() + "/.lock").c_str(), O_RDWR | O_CLOEXEC));
    if (lk && flock(lk.get(), LOCK_EX | LOCK_NB) == 0) {
      std::vector<std::string> orphans;
      if (DIR* d = opendir(containers_dir().c_str())) {
        while (dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (n.rfind(".rm-", 0) == 0 || (is_hex_id(n) && !fs::exists(container_dir(n) + "/record.json")))
            orphans.push_back(containers_dir() + "/" + n);
        }
        closedir(d);
      }
      for (const auto& t : orphans) {
        try {
          fs::remove_all(t);
        } catch (const Error&) {
        }
      }
    }
  }
  for (const auto& id : record_ids(containers_dir())) {
    try {
      out.push_back(load(id));
    } catch (const Error&) {
      // removed meanwhile, or being written for the first time
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.created > b.created; });
  return out;
}

std::optional<std::string> StateDir::try_find(const std::string& name_or_id) const {
  // The router's lookup (the lean runtime routes start/kill/exec with it).
  std::string id = run::find_managed(path_, name_or_id);
  if (id.empty()) return std::nullopt;
  return id;
}

std::string StateDir::find(const std::string& name_or_id) const {
  if (auto id = try_find(name_or_id)) return *id;
  fail(Errc::not_found, "no such container: " + name_or_id);
}

bool StateDir::name_taken(const std::string& name) const {
  for (const auto& id : record_ids(containers_dir())) {
    try {
      if (load(id).name == name) return true;
    } catch (const Error&) {
    }
  }
  return false;
}

void StateDir::remove(const std::string& id) const {
  if (!is_hex_id(id)) fail(Errc::invalid, "bad container id: " + id);
  // Out of sight in one step, then removed: a kill part way leaves only a
  // .rm-<id> dir, which the next list() removes.
  std::string trash = containers_dir() + "/.rm-" + id;
  if (rename(container_dir(id).c_str(), trash.c_str()) != 0) {
    if (errno == ENOENT) return;
    throw_errno("remove " + container_dir(id));
  }
  fs::remove_all(trash);
}

std::string new_id() {
  unsigned char buf[32];
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = getrandom(buf + got, sizeof buf - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : buf) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string new_name(const StateDir& state) {
  static const char* adjectives[] = {"brave",   "calm",     "eager",   "fervent", "gifted", "happy",  "jolly",
                                     "keen",    "lucid",    "merry",   "nifty",   "quirky", "serene", "tender",
                                     "vibrant", "wizardly", "zealous", "bold",    "clever", "dreamy"};
  static const char* names[] = {"turing",   "hopper", "lovelace", "knuth",   "ritchie",  "thompson", "torvalds",
                                "dijkstra", "liskov", "hamilton", "shannon", "noether",  "curie",    "tesla",
                                "babbage",  "backus", "kay",      "lamport", "mccarthy", "wirth"};
  for (int attempt = 0;; attempt++) {
    unsigned char r[2];
    if (getrandom(r, sizeof r, 0) != 2) throw_errno("getrandom");
    std::string n = std::string(adjectives[r[0] % 20]) + "_" + names[r[1] % 20];
    if (attempt > 10) n += std::to_string(attempt);
    if (!state.name_taken(n)) return n;
  }
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

uint64_t pid_start_time(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), {});
  auto p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  // fields after comm start at 3 (state); starttime is field 22.
  for (int i = 3; i <= 22 && in >> field; i++)
    if (i == 3 && field == "Z") return 0;
  try {
    return std::stoull(field);
  } catch (...) {
    return 0;
  }
}

bool pid_alive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  uint64_t st = pid_start_time(pid);
  if (st == 0) return false;
  return start_time == 0 || st == start_time;
}

std::string live_status(const Record& r) {
  if (r.status != "running" && r.status != "restarting") return r.status;
  if (r.monitor_pid > 0) return pid_alive(r.monitor_pid, r.monitor_start) ? r.status : "exited";
  return pid_alive(r.pid) ? r.status : "exited";
}

}  // namespace ocikit::manage
