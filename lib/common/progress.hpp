#pragma once
// ocikit::progress: per-transfer progress bars on stderr, drawn only when
// stderr is a terminal (quiet otherwise, so logs and pipes stay clean), or
// as JSON lines for a program reading them (oci-api's docker progress).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ocikit::progress {

/// A set of bars, one line each, redrawn in place at most every 100 ms.
/// Thread-safe: transfers on several threads update their own bar.
class Bars {
 public:
  /// `enabled` false makes every call a no-op; default: isatty(stderr).
  Bars();
  explicit Bars(bool enabled);
  /// Tag for the JSON lines constructor.
  struct JsonLines {};
  /// JSON lines on stderr instead of bars, one object per event:
  /// {"id":LABEL,"total":N} when a bar is added, {"id","current","total"}
  /// as it advances (at most every 100 ms per bar), {"id","status":WORD}
  /// when it finishes.
  explicit Bars(JsonLines);
  ~Bars();
  /// Add a bar labelled `label` for `total` bytes (0: unknown); returns its id.
  size_t add(std::string label, uint64_t total);
  /// Set the bytes done of bar `id`.
  void update(size_t id, uint64_t done);
  /// Mark bar `id` finished with a word ("done", "exists", "mounted").
  void finish(size_t id, std::string word);
  /// True when bars are drawn.
  bool enabled() const { return enabled_; }

 private:
  void draw(bool force);
  void emit_json(size_t id, bool with_current);
  struct Bar {
    std::string label;
    uint64_t total = 0, done = 0;
    std::string state;
    std::chrono::steady_clock::time_point last;  // JSON: last progress line
  };
  bool enabled_;
  bool json_ = false;
  std::mutex mu_;
  std::vector<Bar> bars_;
  size_t drawn_lines_ = 0;
  std::chrono::steady_clock::time_point last_;
};

/// "12.3 MB" style size.
std::string human_size(uint64_t bytes);

}  // namespace ocikit::progress
