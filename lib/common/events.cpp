// ocikit::events: the events journal (see the header).
#include "common/events.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "common/dockerfile.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::events {

namespace {

using json = nlohmann::json;

std::string rfc3339_nano(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  long frac = static_cast<long>(ns % 1000000000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", frac);
  return buf;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Lines of `fd` from its current offset: whole lines to `fn`, a partial
// last line kept in `carry` for the next call. False when `fn` said stop.
bool drain(int fd, std::string& carry, const std::function<bool(std::string_view)>& fn) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    carry.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = carry.find('\n', start)) != std::string::npos; start = nl + 1)
      if (!fn(std::string_view(carry).substr(start, nl - start))) return false;
    carry.erase(0, start);
    if (carry.size() > kMaxBytes) carry.clear();  // no newline in 4 MiB: garbage
  }
}

}  // namespace

int64_t now_nano() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string path_in(const std::string& state_dir) { return state_dir + "/events.log"; }

std::string default_path() {
  if (const char* e = std::getenv("OCIKIT_EVENTS"); e && *e) return e;
  const char* s = std::getenv("OCIKIT_STATE_DIR");
  return path_in(s && *s ? s : "/var/lib/ocikit");
}

json to_json(const Event& e) {
  json attrs = json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  json j;
  if (e.type == "container" || e.type == "image") {
    // docker's older fields, which docker-py and compose still read.
    j["status"] = e.action;
    j["id"] = e.id;
    if (e.type == "container" && e.attributes.count("image")) j["from"] = e.attributes.at("image");
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  j["Actor"] = {{"ID", e.id}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time_nano / 1000000000;
  j["timeNano"] = e.time_nano;
  return j;
}

std::optional<Event> from_json_line(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const json* actor = j.contains("Actor") && j["Actor"].is_object() ? &j["Actor"] : nullptr;
  if (!j.contains("Type") || !j["Type"].is_string() || !j.contains("Action") || !j["Action"].is_string() || !actor ||
      !j.contains("timeNano") || !j["timeNano"].is_number_integer())
    return std::nullopt;
  Event e;
  e.type = j["Type"].get<std::string>();
  e.action = j["Action"].get<std::string>();
  e.id = actor->contains("ID") && (*actor)["ID"].is_string() ? (*actor)["ID"].get<std::string>() : "";
  if (actor->contains("Attributes") && (*actor)["Attributes"].is_object())
    for (const auto& [k, v] : (*actor)["Attributes"].items())
      if (v.is_string()) e.attributes[k] = v.get<std::string>();
  e.time_nano = j["timeNano"].get<int64_t>();
  return e;
}

std::string to_text(const Event& e) {
  std::string out = rfc3339_nano(e.time_nano) + " " + e.type + " " + e.action + " " + e.id;
  if (!e.attributes.empty()) {
    out += " (";
    bool first = true;
    for (const auto& [k, v] : e.attributes) {
      out += (first ? "" : ", ") + k + "=" + v;
      first = false;
    }
    out += ")";
  }
  return out;
}

void emit(Event e, const std::string& path_arg) {
  std::string path = path_arg.empty() ? default_path() : path_arg;
  if (e.time_nano == 0) e.time_nano = now_nano();
  std::string line = to_json(e).dump() + "\n";
  try {
    auto open_journal = [&] {
      size_t slash = path.rfind('/');
      if (slash != std::string::npos && slash > 0) fs::mkdir_p(path.substr(0, slash));
      fs::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
      if (!fd) throw_errno("open " + path);
      return fd;
    };
    fs::UniqueFd fd = open_journal();
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) + line.size() > kMaxBytes) {
      fs::FileLock lock(path + ".lock");
      struct stat now {};
      // Another writer may have rotated it meanwhile: only a full file is renamed.
      if (::stat(path.c_str(), &now) == 0 && static_cast<uint64_t>(now.st_size) + line.size() > kMaxBytes)
        if (::rename(path.c_str(), (path + ".1").c_str()) != 0) throw_errno("rotate " + path);
      fd = open_journal();
    }
    fs::write_all(fd.get(), line.data(), line.size());
  } catch (const std::exception& ex) {
    log::warn(std::string("events: ") + ex.what());
  }
}

int64_t parse_time(const std::string& s, int64_t now) {
  auto bad = [&]() -> int64_t { fail(Errc::usage, "invalid time \"" + s + "\" (want a Unix time, RFC 3339 or a duration)"); };
  if (s.empty()) bad();
  // Unix seconds, with an optional fraction.
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot), frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (all_digits(whole) && (dot == std::string::npos || all_digits(frac)) && whole.size() <= 12) {
    frac = (frac + "000000000").substr(0, 9);
    return std::stoll(whole) * 1000000000 + std::stoll(frac);
  }
  // RFC 3339: 2026-12-07T10:00:00[.frac](Z|+hh:mm|-hh:mm), or a date alone.
  tm t{};
  const char* p = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (!p) {
    t = {};
    p = strptime(s.c_str(), "%Y-%m-%d", &t);
    if (!p || *p) p = nullptr;
  }
  if (p) {
    int64_t ns = 0;
    if (*p == '.') {
      std::string f;
      for (p++; *p >= '0' && *p <= '9'; p++) f += *p;
      if (f.empty()) bad();
      ns = std::stoll((f + "000000000").substr(0, 9));
    }
    int64_t offset = 0;
    if (*p == 'Z') p++;
    else if (*p == '+' || *p == '-') {
      int hh = 0, mm = 0;
      if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) bad();
      offset = (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
      p += 6;
    }
    if (*p) bad();
    return (static_cast<int64_t>(timegm(&t)) - offset) * 1000000000 + ns;
  }
  // A duration before now.
  try {
    int64_t d = dockerfile::parse_duration(s);
    if (d < 0) bad();
    return now - d;
  } catch (const Error&) {
    bad();
  }
}

size_t read(const std::string& path, int64_t since, int64_t until, bool follow,
            const std::function<bool(const Event&)>& fn, const std::function<bool()>& stop) {
  size_t malformed = 0;
  bool go_on = true;
  auto line_fn = [&](std::string_view line) {
    if (line.empty()) return true;
    auto e = from_json_line(line);
    if (!e) {
      malformed++;
      return true;
    }
    if (e->time_nano < since) return true;
    if (until > 0 && e->time_nano > until) return !follow;  // past the end: stop reading this file
    go_on = fn(*e);
    return go_on;
  };
  std::string carry;
  {
    fs::UniqueFd prev(::open((path + ".1").c_str(), O_RDONLY | O_CLOEXEC));
    if (prev) drain(prev.get(), carry, line_fn);
    carry.clear();
  }
  if (!go_on) return malformed;
  fs::UniqueFd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (cur && !drain(cur.get(), carry, line_fn)) return malformed;
  if (!follow || !go_on) return malformed;
  for (;;) {
    if (stop && stop()) return malformed;
    if (until > 0 && now_nano() > until) return malformed;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (cur && !drain(cur.get(), carry, line_fn)) return malformed;
    if (!go_on) return malformed;
    // Rotated (or made since): finish the old file, then read the new one from its start.
    struct stat by_name {}, open_one {};
    if (::stat(path.c_str(), &by_name) != 0) continue;
    if (cur && ::fstat(cur.get(), &open_one) == 0 && open_one.st_ino == by_name.st_ino &&
        open_one.st_dev == by_name.st_dev)
      continue;
    if (cur && !drain(cur.get(), carry, line_fn)) return malformed;
    carry.clear();
    cur.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }
}

}  // namespace ocikit::events
