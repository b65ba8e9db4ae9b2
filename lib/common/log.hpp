#pragma once
// ocikit::log: levelled diagnostics on stderr, optionally to a file as text or
// JSON lines (what runc's --log / --log-format json do). stdout is for data.

#include <string>
#include <string_view>

namespace ocikit::log {

/// Severity, lowest first.
enum class Level { debug, info, warn, error };

/// Output format of the log file.
enum class Format { text, json };

/// Set the tool name printed as a prefix ("oci-fetch: ...").
void set_tool(std::string_view tool);
/// The tool name set by set_tool ("ocikit" before).
const std::string& tool();
/// Only messages at `level` or above are written.
void set_level(Level level);
/// The current threshold.
Level level();
/// Parse "debug", "info", "warn"/"warning", "error"; throws Errc::usage otherwise.
Level parse_level(std::string_view s);
/// Parse "text" or "json"; throws Errc::usage otherwise.
Format parse_format(std::string_view s);

/// Send log lines to `path` (appended, created 0644) in `fmt` instead of
/// stderr. An empty path restores stderr. Throws Errc::io if it cannot open.
void set_file(const std::string& path, Format fmt);
/// Use the already-open descriptor `fd` (not closed by the logger).
void set_fd(int fd, Format fmt);

/// Write one message at `lvl` (a single line; newlines are escaped in JSON).
void write(Level lvl, std::string_view msg);

inline void debug(std::string_view m) { write(Level::debug, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }

/// One JSON log line as runc writes it: {"level":..,"msg":..,"time":..}.
std::string format_json_line(Level lvl, std::string_view msg, std::string_view time_rfc3339);
/// The current time as RFC 3339 with nanoseconds, UTC ("2026-11-23T09:00:00.123456789Z").
std::string now_rfc3339();

}  // namespace ocikit::log
