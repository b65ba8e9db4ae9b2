// Progress bars on a terminal (see progress.hpp).
#include "common/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ocikit::progress {

std::string human_size(uint64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

Bars::Bars() : Bars(isatty(STDERR_FILENO) == 1) {}
Bars::Bars(bool enabled) : enabled_(enabled) {}

Bars::Bars(JsonLines) : enabled_(true), json_(true) {}

void Bars::emit_json(size_t id, bool with_current) {
  const Bar& b = bars_[id];
  nlohmann::json j{{"id", b.label}};
  if (!b.state.empty()) j["status"] = b.state;
  else if (with_current) j["current"] = b.done;
  if (b.state.empty()) j["total"] = b.total;
  std::string line = j.dump() + "\n";
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
}

Bars::~Bars() {
  if (!enabled_ || json_) return;
  std::lock_guard lk(mu_);
  draw(true);
}

size_t Bars::add(std::string label, uint64_t total) {
  std::lock_guard lk(mu_);
  bars_.push_back(Bar{std::move(label), total, 0, "", {}});
  if (json_) emit_json(bars_.size() - 1, false);
  else if (enabled_) draw(true);
  return bars_.size() - 1;
}

void Bars::update(size_t id, uint64_t done) {
  if (!enabled_) return;
  std::lock_guard lk(mu_);
  bars_.at(id).done = done;
  if (json_) {
    auto now = std::chrono::steady_clock::now();
    if (now - bars_[id].last < std::chrono::milliseconds(100)) return;
    bars_[id].last = now;
    emit_json(id, true);
    return;
  }
  draw(false);
}

void Bars::finish(size_t id, std::string word) {
  std::lock_guard lk(mu_);
  bars_.at(id).state = std::move(word);
  if (bars_[id].total) bars_[id].done = bars_[id].total;
  if (json_) emit_json(id, false);
  else if (enabled_) draw(true);
}

void Bars::draw(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  std::string out;
  if (drawn_lines_ > 0) out += "\x1b[" + std::to_string(drawn_lines_) + "A";
  for (const auto& b : bars_) {
    out += "\r\x1b[2K" + b.label + " ";
    if (!b.state.empty()) {
      out += b.state;
    } else {
      constexpr int kWidth = 30;
      int fill = b.total ? static_cast<int>(kWidth * static_cast<double>(b.done) / static_cast<double>(b.total)) : 0;
      if (fill > kWidth) fill = kWidth;
      out += "[" + std::string(fill, '=') + std::string(kWidth - fill, ' ') + "] " + human_size(b.done);
      if (b.total) out += " / " + human_size(b.total);
    }
    out += "\n";
  }
  drawn_lines_ = bars_.size();
  fwrite(out.data(), 1, out.size(), stderr);
  fflush(stderr);
}

}  // namespace ocikit::progress
