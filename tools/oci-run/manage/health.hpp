#pragma once
// oci-run manage/health: docker's container health checks. The check (the
// image's HEALTHCHECK, changed by run's --health-* flags) is kept in the
// record in docker's Config.Healthcheck form; while the container runs, its
// monitor keeps one checker process that execs the test inside the
// container (as `exec` does) every interval, kills a probe at its timeout,
// and keeps docker's state in <container dir>/health.json:
//
//   {"Status": "starting"|"healthy"|"unhealthy", "FailingStreak": N,
//    "Log": [{"Start","End","ExitCode","Output"} ...the last five]}
//
// A success makes it healthy (streak 0); a failure raises the streak and
// `retries` failures in a row make it unhealthy; failures in the start
// period are logged but not counted until a first success. Probes never
// overlap (one at a time, the next one an interval after the last ended);
// the checker dies with the container (the monitor kills it).

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/image.hpp"
#include "manage/manage.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

/// Docker's defaults for a zero duration or retry count.
inline constexpr int64_t kHealthDefaultInterval = 30'000'000'000;  // 30s
inline constexpr int64_t kHealthDefaultTimeout = 30'000'000'000;  // 30s
inline constexpr int64_t kHealthDefaultStartInterval = 5'000'000'000;  // 5s
inline constexpr int kHealthDefaultRetries = 3;
/// What a probe's output is cut to, and how many results are kept (docker's).
inline constexpr size_t kHealthMaxOutput = 4096;
inline constexpr size_t kHealthMaxLog = 5;

/// The health flags of run/create.
struct HealthFlags {
  std::optional<std::string> cmd;  ///< --health-cmd (run with /bin/sh -c)
  std::optional<std::string> interval, timeout, start_period, start_interval;  ///< durations: 30s, 1m30s, 500ms
  std::optional<int> retries;  ///< --health-retries
  bool none = false;  ///< --no-healthcheck
};

/// The container's check: the image's, with the flags' fields over it (as
/// docker merges them). nullopt when there is none; {"NONE"} tests when
/// disabled. Errc::usage for a bad duration, a negative retry count, or
/// --no-healthcheck together with other health flags.
std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& image,
                                                    const HealthFlags& flags);

/// docker's Config.Healthcheck object ({"Test", "Interval", ...}) and back.
nlohmann::json healthcheck_to_json(const image::Healthcheck& h);
image::Healthcheck healthcheck_from_json(const nlohmann::json& j);

/// True when the record has a check that runs (not none, not NONE).
bool has_active_healthcheck(const Record& r);

/// The state in <container dir>/health.json; nullopt when there is none.
std::optional<nlohmann::json> load_health(const StateDir& st, const std::string& id);

/// "healthy", "unhealthy", "starting", or "none" (no active check) for
/// `ps --filter health=` and the STATUS column.
std::string health_status(const StateDir& st, const Record& r);

/// Reset health.json to "starting" and fork the checker for the running
/// container `r` (the monitor calls it at each start). Returns its pid (0
/// when the record has no active check). The checker runs in its own
/// process group: stop_health_checker kills it with its probes.
pid_t start_health_checker(const Globals& g, const StateDir& st, const Record& r);
void stop_health_checker(pid_t pid);

/// One result folded into the state (pure; exposed for tests): `in_start`
/// says the probe began within the start period.
void apply_health_result(nlohmann::json& state, const nlohmann::json& result, bool in_start, int retries);

/// Go's time.Duration text for nanoseconds ("30s", "1m30s", "500ms"), as
/// docker prints durations.
std::string go_duration(int64_t ns);

}  // namespace ocikit::manage
