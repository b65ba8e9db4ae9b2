#include "common/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace ocikit::log {
namespace {

struct State {
  std::string tool = "ocikit";
  Level level = Level::warn;
  int fd = 2;
  bool own_fd = false;
  Format format = Format::text;
  std::mutex mu;
};

State& state() {
  static State s;
  return s;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warning";
    case Level::error: return "error";
  }
  return "info";
}

}  // namespace

void set_tool(std::string_view t) { state().tool = std::string(t); }
const std::string& tool() { return state().tool; }
void set_level(Level l) { state().level = l; }
Level level() { return state().level; }

Level parse_level(std::string_view s) {
  if (s == "debug") return Level::debug;
  if (s == "info") return Level::info;
  if (s == "warn" || s == "warning") return Level::warn;
  if (s == "error") return Level::error;
  fail(Errc::usage, "invalid log level \"" + std::string(s) + "\" (want debug, info, warn or error)");
}

Format parse_format(std::string_view s) {
  if (s == "text") return Format::text;
  if (s == "json") return Format::json;
  fail(Errc::usage, "invalid log format \"" + std::string(s) + "\" (want text or json)");
}

void set_file(const std::string& path, Format fmt) {
  State& st = state();
  std::lock_guard lk(st.mu);
  if (st.own_fd) close(st.fd);
  st.fd = 2;
  st.own_fd = false;
  st.format = fmt;
  if (path.empty()) return;
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("open log file " + path);
  st.fd = fd;
  st.own_fd = true;
}

void set_fd(int fd, Format fmt) {
  State& st = state();
  std::lock_guard lk(st.mu);
  if (st.own_fd) close(st.fd);
  st.fd = fd;
  st.own_fd = false;
  st.format = fmt;
}

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}

std::string format_json_line(Level lvl, std::string_view msg, std::string_view time) {
  nlohmann::ordered_json j;
  j["level"] = level_name(lvl);
  j["msg"] = std::string(msg);
  j["time"] = std::string(time);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write(Level lvl, std::string_view msg) {
  State& st = state();
  if (lvl < st.level) return;
  std::string line;
  if (st.format == Format::json) {
    line = format_json_line(lvl, msg, now_rfc3339());
  } else {
    line = st.tool + ": ";
    if (lvl != Level::info) {
      line += level_name(lvl);
      line += ": ";
    }
    line += msg;
  }
  line += '\n';
  std::lock_guard lk(st.mu);
  // One write() per line so concurrent writers do not interleave mid-line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(st.fd, p, left);
    if (w <= 0) break;
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace ocikit::log
