#pragma once
// ocikit::events: the journal of what happens to containers, images,
// volumes and networks, as docker's events. There is no daemon to hold it:
// whichever process causes an event appends it, one JSON line with one
// write(2) on an O_APPEND file (lines of concurrent writers never mix),
// and readers (`oci-run events`) read the file and follow it.
//
//   <state dir>/events.log    the current journal ($OCIKIT_EVENTS names another file)
//   <state dir>/events.log.1  the previous one: past kMaxBytes the writer
//                             that notices renames the journal over it
//                             (under <journal>.lock), so the two stay bounded
//
// A line is docker's API event: {"Type","Action","Actor":{"ID","Attributes"},
// "scope":"local","time","timeNano"} (+ "status","id","from" for containers
// and images, as docker's). Emitting never fails the operation: an error is
// a warning. Reading skips malformed lines and says how many.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::events {

inline constexpr uint64_t kMaxBytes = 4 << 20;  ///< a journal past this is rotated

struct Event {
  std::string type;  ///< container, image, volume, network
  std::string action;  ///< create, start, die, health_status: healthy, pull, tag ...
  std::string id;  ///< the actor: a container id, image name, volume or network name
  std::map<std::string, std::string> attributes;  ///< name, image, exitCode, labels ...
  int64_t time_nano = 0;  ///< 0: now
};

/// The journal: $OCIKIT_EVENTS, else ($OCIKIT_STATE_DIR or /var/lib/ocikit)/events.log.
std::string default_path();
/// The journal of the state dir `state_dir`.
std::string path_in(const std::string& state_dir);

/// Append `e` to the journal `path` (default_path() when empty). Never
/// throws: a failure is logged as a warning.
void emit(Event e, const std::string& path = "");

/// docker's JSON form of an event, and back (nullopt for a malformed line).
nlohmann::json to_json(const Event& e);
std::optional<Event> from_json_line(std::string_view line);

/// docker's text form: "2026-12-07T10:00:00.000000000Z container start ID (image=busybox, name=web)".
std::string to_text(const Event& e);

/// A point in time from docker's --since/--until forms: a Unix time
/// ("1700000000", "1700000000.5"), an RFC 3339 time (with or without
/// fraction, "Z"), or a duration before `now_nano` ("10m", "1h30m").
/// Errc::usage for anything else.
int64_t parse_time(const std::string& s, int64_t now_nano);

/// Current time in nanoseconds since the epoch.
int64_t now_nano();

/// Read the journal (the previous file, then the current one): call `fn`
/// for each event with since <= time <= until (until 0: no end). With
/// `follow`, keep reading new events (across rotations) until `fn` returns
/// false, `until` has passed, or `stop()` says so (polled a few times a
/// second). Returns the number of malformed lines skipped.
size_t read(const std::string& path, int64_t since, int64_t until, bool follow,
            const std::function<bool(const Event&)>& fn, const std::function<bool()>& stop = {});

}  // namespace ocikit::events
