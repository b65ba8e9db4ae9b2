#pragma once
// oci-run manage/parse: docker's run flags (-v, --mount, --tmpfs,
// --restart, -p, --env-file, --security-opt, --memory, --cpus) checked and
// turned into config.json pieces. Every parser throws Errc::usage with the
// flag and value named, before anything is created.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/runtime_spec.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

/// `-v SRC:DST[:ro|rw]`: SRC absolute is a bind mount, otherwise a named
/// volume; `-v DST` alone is an anonymous volume (source ""). DST must be
/// absolute. Errc::usage "invalid volume specification \"X\"".
MountRecord parse_volume(const std::string& spec);
/// `--mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,tmpfs-size=..][,tmpfs-mode=..]`
/// (src/dst/destination spellings too). Errc::usage on unknown keys or types.
MountRecord parse_mount(const std::string& spec);
/// `--tmpfs DST[:OPTS]`.
MountRecord parse_tmpfs(const std::string& spec);
/// `--restart no|on-failure[:N]|always|unless-stopped` -> {policy, N}.
std::pair<std::string, int> parse_restart(const std::string& spec);
/// Check a `-p [ip:][hostport:]containerport[/proto]` spec (ranges A-B);
/// returns it unchanged. Errc::usage "invalid publish spec \"X\"".
std::string check_publish(const std::string& spec);
/// `--expose PORT[-PORT][/tcp|udp|sctp]`... as docker's Config.ExposedPorts
/// keys ("80/tcp"; a range gives one per port, at most 65535 in all).
/// Errc::usage "invalid --expose \"X\"".
std::vector<std::string> parse_expose(const std::vector<std::string>& specs);
/// KEY=VALUE lines of an --env-file ('#' comments and blank lines skipped;
/// a bare KEY is passed on). Errc::not_found for a missing file.
std::vector<std::string> read_env_file(const std::string& path);
/// `--security-opt seccomp=FILE|unconfined`, `no-new-privileges[:true|=true]`.
void apply_security_opt(const std::string& opt, runtime_spec::Options& so);
/// "64m" -> bytes (b, k, m, g suffixes, 1024-based). Errc::usage.
int64_t parse_bytes(const std::string& s, const std::string& flag);
/// linux.resources from --memory, --cpus and --pids-limit (empty object when none).
nlohmann::json parse_resources(const std::string& memory, const std::string& cpus, int64_t pids_limit);

/// One `--ulimit name=soft[:hard]` as a config.json process.rlimits entry
/// ({"type":"RLIMIT_NOFILE","soft":S,"hard":H}; -1 is unlimited; a missing
/// hard is the soft). Names as docker's: core, cpu, data, fsize, locks,
/// memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending,
/// stack. Errc::usage "invalid --ulimit \"X\": ..." for an unknown name, a
/// bad number or soft above hard.
nlohmann::json parse_ulimit(const std::string& spec);
/// The runtime's start-failure message in docker's words: "exec:
/// executable file not found in $PATH: X" becomes "exec: \"X\": executable
/// file not found in $PATH" (permission denied and missing paths alike);
/// any other text is returned unchanged.
std::string docker_exec_error(const std::string& runtime_message);

/// Make the named volume <state>/volumes/NAME/_data (+ volume.json) when it
/// does not exist; returns true when it was created now. An `anonymous`
/// one carries docker's com.docker.volume.anonymous label (volume prune).
bool ensure_volume(const StateDir& st, const std::string& name, bool anonymous = false);
/// The mounts (binds, volumes, tmpfs) as config.json mount objects
/// (runtime_spec::Options::mounts); a missing bind source is made, as docker's -v does.
std::vector<nlohmann::json> oci_mounts(const StateDir& st, const std::vector<MountRecord>& mounts);
/// --init: oci-run-init's path (found in `self_dir`). Errc::not_found when it is missing.
std::string find_init(const std::string& self_dir);

}  // namespace ocikit::manage
