#include "state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "security.hpp"

namespace ocikit::run {

std::string container_dir(const std::string& root, const std::string& id) {
  bool ok = !id.empty() && id != "." && id != ".." && id.size() <= 1024;
  for (char c : id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.')) ok = false;
  if (!ok) fail(Errc::invalid, "invalid container id \"" + id + "\"");
  return root + "/" + id;
}

State load_state(const std::string& root, const std::string& id) {
  std::string dir = container_dir(root, id);
  std::string text;
  try {
    text = fs::read_file(dir + "/state.json");
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) fail(Errc::not_found, "container " + id + " does not exist");
    throw;
  }
  return with_context("state of " + id, [&] {
    auto j = nlohmann::json::parse(text);
    State s;
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.start_time = j.value("start_time", uint64_t(0));
    s.bundle = j.value("bundle", std::string());
    s.rootfs = j.value("rootfs", std::string());
    s.created = j.value("created", std::string());
    s.owner = j.value("owner", std::string());
    if (j.contains("annotations")) s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    s.config = j.value("config", nlohmann::json());
    s.cgroup = j.value("cgroup", nlohmann::json());
    s.cgroup_applied = j.value("cgroup_applied", false);
    return s;
  });
}

void save_state(const std::string& dir, const State& s) {
  nlohmann::json j = {{"id", s.id},
                      {"pid", s.pid},
                      {"start_time", s.start_time},
                      {"bundle", s.bundle},
                      {"rootfs", s.rootfs},
                      {"created", s.created},
                      {"owner", s.owner},
                      {"annotations", s.annotations},
                      {"config", s.config},
                      {"cgroup", s.cgroup},
                      {"cgroup_applied", s.cgroup_applied}};
  // Atomic (temp file + rename) but not fsynced: runtime state is as
  // volatile as the processes it describes (it lives on /run, a tmpfs).
  std::string tmp = dir + "/.state.json.tmp", text = j.dump();
  fs::UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw_errno("write " + tmp);
  fs::write_all(fd.get(), text.data(), text.size());
  if (rename(tmp.c_str(), (dir + "/state.json").c_str()) != 0) throw_errno("rename " + tmp);
}

uint64_t process_start_time(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  // No exceptions here: this runs on every lifecycle, mostly for a process
  // that is gone. (While oci-run was linked -static, the first throw cost
  // about 3 ms: libgcc sorted every FDE of the binary then.)
  fs::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return 0;
  std::string st(buf, static_cast<size_t>(n));
  // "pid (comm) S ppid ..." - comm may hold spaces and ')'; parse after the last ')'.
  auto p = st.rfind(')');
  if (p == std::string::npos || p + 2 >= st.size()) return 0;
  char state = st[p + 2];
  if (state == 'Z' || state == 'X') return 0;
  size_t pos = p + 2;
  for (int field = 3; field < 22; field++) {
    pos = st.find(' ', pos);
    if (pos == std::string::npos) return 0;
    pos++;
  }
  return std::strtoull(st.c_str() + pos, nullptr, 10);
}

bool process_alive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  uint64_t t = process_start_time(pid);
  return t != 0 && (start_time == 0 || t == start_time);
}

std::string status_of(const std::string& dir, const State& s) {
  if (!process_alive(s.pid, s.start_time)) return "stopped";
  if (access((dir + "/start.sock").c_str(), F_OK) == 0) return "created";
  if (s.cgroup_applied) {
    try {
      if (sec::CgroupManager::from_json(s.cgroup).frozen()) return "paused";
    } catch (const Error&) {
    }
  }
  return "running";
}

nlohmann::ordered_json state_json(const State& s, const std::string& status) {
  nlohmann::ordered_json j;
  j["ociVersion"] = "1.2.0";
  j["id"] = s.id;
  j["pid"] = status == "stopped" ? 0 : s.pid;
  j["status"] = status;
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  j["owner"] = s.owner;
  return j;
}

std::string hook_state(const State& s, const std::string& status) {
  nlohmann::ordered_json j;
  j["ociVersion"] = "1.2.0";
  j["id"] = s.id;
  j["status"] = status;
  if (status != "stopped") j["pid"] = s.pid;
  j["bundle"] = s.bundle;
  j["annotations"] = s.annotations;
  return j.dump();
}

std::vector<std::string> list_ids(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = opendir(root.c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (access((root + "/" + n + "/state.json").c_str(), F_OK) == 0) out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ocikit::run
