// oci-run manage/parse: docker run flags -> checked values and config.json pieces.
#include "manage/parse.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::manage {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

bool valid_port_range(const std::string& s) {
  auto dash = s.find('-');
  std::string a = s.substr(0, dash), b = dash == std::string::npos ? a : s.substr(dash + 1);
  if (!all_digits(a) || !all_digits(b) || a.size() > 5 || b.size() > 5) return false;
  int x = std::stoi(a), y = std::stoi(b);
  return x >= 1 && y <= 65535 && x <= y;
}

}  // namespace

MountRecord parse_volume(const std::string& spec) {
  auto bad = [&](const std::string& why) -> MountRecord {
    fail(Errc::usage, "invalid volume specification \"" + spec + "\": " + why);
  };
  auto parts = split(spec, ':');
  MountRecord m;
  if (parts.empty() || parts.size() > 3) return bad("want SRC:DST[:ro|rw]");
  if (parts.size() == 1) {
    m.type = "volume";
    m.destination = parts[0];
  } else {
    m.source = parts[0];
    m.destination = parts[1];
    if (m.source.empty()) return bad("empty source");
    m.type = m.source[0] == '/' ? "bind" : "volume";
    if (m.type == "volume" && !valid_name(m.source)) return bad("invalid volume name \"" + m.source + "\"");
  }
  if (m.destination.empty() || m.destination[0] != '/') return bad("the destination must be an absolute path");
  if (m.destination == "/") return bad("the destination cannot be /");
  if (parts.size() == 3) {
    for (const auto& o : split(parts[2], ',')) {
      if (o == "ro") m.read_only = true;
      else if (o == "rw" || o == "z" || o == "Z") continue;
      else return bad("unknown option \"" + o + "\"");
    }
  }
  return m;
}

MountRecord parse_mount(const std::string& spec) {
  auto bad = [&](const std::string& why) -> MountRecord {
    fail(Errc::usage, "invalid --mount \"" + spec + "\": " + why);
  };
  MountRecord m;
  m.type = "volume";
  std::vector<std::string> tmpfs_opts;
  for (const auto& kv : split(spec, ',')) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "type") m.type = v;
    else if (k == "source" || k == "src") m.source = v;
    else if (k == "target" || k == "destination" || k == "dst") m.destination = v;
    else if (k == "readonly" || k == "ro") m.read_only = v.empty() || v == "true" || v == "1";
    else if (k == "tmpfs-size") tmpfs_opts.push_back("size=" + v);
    else if (k == "tmpfs-mode") tmpfs_opts.push_back("mode=" + v);
    else if (k == "bind-propagation" || k == "consistency") continue;
    else return bad("unknown key \"" + k + "\"");
  }
  if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs") return bad("type must be bind, volume or tmpfs");
  if (m.destination.empty() || m.destination[0] != '/') return bad("target must be an absolute path");
  if (m.type == "bind") {
    if (m.source.empty() || m.source[0] != '/') return bad("a bind source must be an absolute path");
    if (!fs::exists(m.source)) return bad("bind source path does not exist: " + m.source);
  }
  if (m.type == "volume" && !m.source.empty() && !valid_name(m.source))
    return bad("invalid volume name \"" + m.source + "\"");
  if (m.type == "tmpfs") {
    if (!m.source.empty()) return bad("tmpfs takes no source");
    for (size_t i = 0; i < tmpfs_opts.size(); i++) m.options += (i ? "," : "") + tmpfs_opts[i];
  } else if (!tmpfs_opts.empty()) {
    return bad("tmpfs options on a " + m.type + " mount");
  }
  return m;
}

MountRecord parse_tmpfs(const std::string& spec) {
  MountRecord m;
  m.type = "tmpfs";
  auto colon = spec.find(':');
  m.destination = spec.substr(0, colon);
  if (colon != std::string::npos) m.options = spec.substr(colon + 1);
  if (m.destination.empty() || m.destination[0] != '/')
    fail(Errc::usage, "invalid --tmpfs \"" + spec + "\": the destination must be an absolute path");
  return m;
}

std::pair<std::string, int> parse_restart(const std::string& spec) {
  auto colon = spec.find(':');
  std::string p = spec.substr(0, colon);
  int n = 0;
  if (colon != std::string::npos) {
    std::string num = spec.substr(colon + 1);
    if (p != "on-failure" || !all_digits(num) || num.size() > 6)
      fail(Errc::usage, "invalid restart policy \"" + spec + "\"");
    n = std::stoi(num);
  }
  if (p != "no" && p != "on-failure" && p != "always" && p != "unless-stopped")
    fail(Errc::usage, "invalid restart policy \"" + spec + "\" (want no, on-failure[:N], always or unless-stopped)");
  return {p, n};
}

std::vector<std::string> parse_expose(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const auto& spec : specs) {
    auto bad = [&] { fail(Errc::usage, "invalid --expose \"" + spec + "\" (want PORT[-PORT][/tcp|udp|sctp])"); };
    std::string s = spec, proto = "tcp";
    if (auto slash = s.find('/'); slash != std::string::npos) {
      proto = s.substr(slash + 1);
      s.resize(slash);
      if (proto != "tcp" && proto != "udp" && proto != "sctp") bad();
    }
    auto dash = s.find('-');
    std::string a = s.substr(0, dash), b = dash == std::string::npos ? a : s.substr(dash + 1);
    auto port = [&](const std::string& n) {
      if (n.empty() || n.size() > 5 || !all_digits(n) || std::stoi(n) < 1 || std::stoi(n) > 65535) bad();
      return std::stoi(n);
    };
    int lo = port(a), hi = port(b);
    if (hi < lo) bad();
    for (int p = lo; p <= hi; ++p) {
      std::string k = std::to_string(p) + "/" + proto;
      if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
  }
  return out;
}

std::string check_publish(const std::string& spec) {
  auto bad = [&]() -> std::string { fail(Errc::usage, "invalid publish spec \"" + spec + "\""); };
  std::string s = spec;
  auto slash = s.rfind('/');
  if (slash != std::string::npos) {
    std::string proto = s.substr(slash + 1);
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return bad();
    s = s.substr(0, slash);
  }
  // [ip:][hostport:]containerport; an IPv6 address is in brackets.
  std::string ip;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find("]:");
    if (close == std::string::npos) return bad();
    ip = s.substr(1, close - 1);
    s = s.substr(close + 2);
  }
  auto parts = split(s, ':');
  if (parts.empty() || parts.size() > 3) return bad();
  if (parts.size() == 3) {
    if (!ip.empty()) return bad();
    ip = parts[0];
    parts.erase(parts.begin());
  }
  if (!valid_port_range(parts.back())) return bad();
  if (parts.size() == 2 && !parts[0].empty() && !valid_port_range(parts[0])) return bad();
  if (!ip.empty() && ip.find_first_not_of("0123456789.abcdefABCDEF:") != std::string::npos) return bad();
  return spec;
}

std::vector<std::string> read_env_file(const std::string& path) {
  std::string text = fs::read_file(path);
  std::vector<std::string> out;
  std::stringstream ss(text);
  int lineno = 0;
  for (std::string line; std::getline(ss, line);) {
    lineno++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    if (line[0] == '=') fail(Errc::usage, path + ":" + std::to_string(lineno) + ": variable name is empty");
    out.push_back(line);
  }
  return out;
}

void apply_security_opt(const std::string& opt, runtime_spec::Options& so) {
  auto sep = opt.find_first_of("=:");
  std::string k = opt.substr(0, sep), v = sep == std::string::npos ? "" : opt.substr(sep + 1);
  if (k == "seccomp") {
    if (v.empty()) fail(Errc::usage, "invalid --security-opt \"" + opt + "\": seccomp needs unconfined or a file");
    so.seccomp = v;
  } else if (k == "no-new-privileges") {
    if (v.empty() || v == "true") so.no_new_privileges = true;
    else if (v == "false") so.no_new_privileges = false;
    else fail(Errc::usage, "invalid --security-opt \"" + opt + "\"");
  } else if (k == "label" || k == "apparmor") {
    log::warn("--security-opt " + opt + " is ignored (no LSM support)");
  } else {
    fail(Errc::usage, "invalid --security-opt \"" + opt + "\" (want seccomp=FILE|unconfined or no-new-privileges)");
  }
}

int64_t parse_bytes(const std::string& s, const std::string& flag) {
  auto bad = [&]() -> int64_t { fail(Errc::usage, "invalid " + flag + " \"" + s + "\""); };
  if (s.empty()) return bad();
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) i++;
  if (i == 0) return bad();
  double v;
  try {
    v = std::stod(s.substr(0, i));
  } catch (...) {
    return bad();
  }
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  double mul = unit.empty() || unit == "b" ? 1
      : unit == "k"                        ? 1024.0
      : unit == "m"                        ? 1048576.0
      : unit == "g"                        ? 1073741824.0
                                           : 0;
  if (mul == 0) return bad();
  return static_cast<int64_t>(v * mul);
}

nlohmann::json parse_resources(const std::string& memory, const std::string& cpus, int64_t pids_limit) {
  nlohmann::json r = nlohmann::json::object();
  if (!memory.empty()) {
    int64_t b = parse_bytes(memory, "--memory");
    if (b < 6 * 1024 * 1024) fail(Errc::usage, "minimum memory limit allowed is 6MB");
    r["memory"] = {{"limit", b}};
  }
  if (!cpus.empty()) {
    double c;
    try {
      size_t used = 0;
      c = std::stod(cpus, &used);
      if (used != cpus.size()) throw 0;
    } catch (...) {
      fail(Errc::usage, "invalid --cpus \"" + cpus + "\"");
    }
    if (c <= 0 || c > 1024) fail(Errc::usage, "invalid --cpus \"" + cpus + "\": out of range");
    r["cpu"] = {{"quota", static_cast<int64_t>(std::llround(c * 100000))}, {"period", 100000}};
  }
  if (pids_limit < 0) fail(Errc::usage, "invalid --pids-limit " + std::to_string(pids_limit));
  if (pids_limit > 0) r["pids"] = {{"limit", pids_limit}};
  return r;
}

nlohmann::json parse_ulimit(const std::string& spec) {
  static const char* kNames[] = {"core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue", "nice",
                                 "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  auto bad = [&](const std::string& why) -> nlohmann::json {
    fail(Errc::usage, "invalid --ulimit \"" + spec + "\": " + why);
  };
  auto eq = spec.find('=');
  if (eq == std::string::npos) return bad("want name=soft[:hard]");
  std::string name = spec.substr(0, eq), vals = spec.substr(eq + 1);
  if (std::find(std::begin(kNames), std::end(kNames), name) == std::end(kNames))
    return bad("unknown limit \"" + name + "\"");
  auto colon = vals.find(':');
  auto number = [&](const std::string& v) -> int64_t {
    if (v == "-1") return -1;
    if (!all_digits(v) || v.size() > 19) bad("\"" + v + "\" is not a number");
    return std::stoll(v);
  };
  int64_t soft = number(vals.substr(0, colon));
  int64_t hard = colon == std::string::npos ? soft : number(vals.substr(colon + 1));
  // -1 (unlimited) is the largest value.
  auto as_unsigned = [](int64_t v) { return v < 0 ? UINT64_MAX : static_cast<uint64_t>(v); };
  if (as_unsigned(soft) > as_unsigned(hard)) return bad("the soft limit must be less than or equal to the hard limit");
  std::string type = "RLIMIT_";
  for (char c : name) type += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {{"type", type}, {"hard", as_unsigned(hard)}, {"soft", as_unsigned(soft)}};
}

std::string docker_exec_error(const std::string& msg) {
  struct Form {
    const char* prefix;
    const char* docker;
  };
  static const Form kForms[] = {{"exec: executable file not found in $PATH: ", "executable file not found in $PATH"},
                                {"exec: permission denied: ", "permission denied"},
                                {"exec: no such file: ", "no such file or directory"}};
  for (const auto& f : kForms) {
    std::string p = f.prefix;
    if (msg.compare(0, p.size(), p) == 0) {
      std::string what = msg.substr(p.size());
      while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
      // The runtime may append the errno text: docker's words say it already.
      for (int e : {EACCES, ENOENT, ENOEXEC, EISDIR, ENOTDIR, ELOOP}) {
        std::string suffix = std::string(": ") + std::strerror(e);
        if (what.size() > suffix.size() && what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
          what.resize(what.size() - suffix.size());
      }
      std::string tail = f.docker;
      if (tail == "no such file or directory") tail = "stat " + what + ": " + tail;
      return "exec: \"" + what + "\": " + tail;
    }
  }
  return msg;
}

bool ensure_volume(const StateDir& st, const std::string& name, bool anonymous) {
  std::string dir = st.volumes_dir() + "/" + name;
  if (fs::exists(dir + "/_data")) return false;
  fs::mkdir_p(dir + "/_data", 0755);
  nlohmann::ordered_json v = {
      {"Name", name},
      {"Driver", "local"},
      {"Mountpoint", dir + "/_data"},
      {"CreatedAt", log::now_rfc3339()},
      {"Labels", anonymous ? nlohmann::json{{"com.docker.volume.anonymous", ""}} : nlohmann::json::object()},
      {"Options", nlohmann::json::object()},
      {"Scope", "local"}};
  fs::write_file_atomic(dir + "/volume.json", v.dump(2) + "\n", 0644);
  return true;
}

std::vector<nlohmann::json> oci_mounts(const StateDir& st, const std::vector<MountRecord>& mounts) {
  std::vector<nlohmann::json> out;
  for (const auto& m : mounts) {
    nlohmann::json j;
    j["destination"] = m.destination;
    if (m.type == "tmpfs") {
      j["type"] = "tmpfs";
      j["source"] = "tmpfs";
      std::vector<std::string> o = {"nosuid", "nodev", "noexec"};
      if (m.read_only) o.push_back("ro");
      for (const auto& x : split(m.options, ','))
        if (!x.empty()) o.push_back(x);
      j["options"] = o;
    } else {
      std::string src = m.type == "bind" ? m.source : st.volumes_dir() + "/" + m.source + "/_data";
      if (m.type == "bind" && !fs::exists(src)) fs::mkdir_p(src, 0755);  // docker's -v creates it
      j["type"] = "bind";
      j["source"] = src;
      std::vector<std::string> o = {"rbind", "rprivate"};
      if (m.read_only) o.push_back("ro");
      j["options"] = o;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string find_init(const std::string& self_dir) {
  std::string dir = self_dir + "/";
  for (std::string c : {dir + "oci-run-init", dir + "manage/oci-run-init"})
    if (access(c.c_str(), X_OK) == 0) return c;
  fail(Errc::not_found, "--init: oci-run-init not found in " + self_dir);
}

}  // namespace ocikit::manage
