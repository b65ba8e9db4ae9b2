#pragma once
// Pure helpers of oci-run's image, volume and container extra commands:
// docker's human sizes and durations, RFC 3339 times, id-prefix lookup,
// `--format` templates and `commit --change` instructions. No I/O here, so
// they are unit-tested directly (tests/unit/manage_test.cpp).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/image.hpp"

namespace ocikit::manage {

/// Docker's decimal size as `docker images` prints it (3 significant
/// digits, units B kB MB GB TB PB): 0 -> "0B", 1234 -> "1.23kB",
/// 7800000 -> "7.8MB".
std::string human_size(uint64_t bytes, int precision = 3);

/// Docker's binary size as `docker stats` prints it (4 significant
/// digits, units B KiB MiB GiB TiB): 1536 -> "1.5KiB".
std::string human_bytes(uint64_t bytes);

/// Docker's HumanDuration of `seconds`: "Less than a second", "1 second",
/// "N seconds", "About a minute", "N minutes", "About an hour", "N hours"
/// (< 48), "N days" (< 2 weeks), "N weeks" (< 2 months), "N months"
/// (< 2 years), "N years".
std::string human_duration(int64_t seconds);

/// "<human_duration(now - then)> ago", or "N/A" when `then` is unknown.
std::string human_ago(std::optional<int64_t> then, int64_t now);

/// Parse an RFC 3339 time ("2024-05-01T10:00:00Z", fractions and
/// "+02:00" offsets allowed) into seconds since the epoch; nullopt when
/// `s` is not one.
std::optional<int64_t> parse_rfc3339(std::string_view s);

/// `t` (seconds since the epoch) as "2024-05-01T10:00:00Z".
std::string format_rfc3339(int64_t t);

/// The current time as RFC 3339 UTC with nanoseconds (docker's Created).
std::string now_rfc3339_nanos();

/// Find the one id in `ids` equal to `key` or starting with it (ids are
/// 64-hex strings; a "sha256:" prefix on key is ignored). Returns its index;
/// nullopt when none matches. Throws Errc::invalid `ambiguous id prefix
/// "KEY"` when several match and none equals key, and Errc::invalid for
/// an empty key.
std::optional<size_t> match_id_prefix(const std::vector<std::string>& ids, std::string_view key);

/// Render a docker-style `--format` template (Go's text/template subset)
/// over the object `obj`: "{{.Field}}" and "{{.A.B}}" give a field (strings
/// bare, numbers and booleans as JSON, lists "[a b]", maps "map[k:v]", as
/// Go prints them; a missing key below the top "<no value>"), "{{json .}}"
/// and "{{json .A}}" as JSON, "{{index .Map \"key\"}}", "{{join .List \",\"}}",
/// "{{upper .A}}", "{{lower .A}}"; "\t" and "\n" escapes become tab and
/// newline. Throws Errc::usage for an unknown top-level field, an
/// unterminated "{{" or an unsupported action.
std::string render_template(std::string_view tmpl, const nlohmann::json& obj);

/// docker's "table TEMPLATE": a header row (each {{.Field}} named by
/// `headers`, else upper-cased) and a row per object, split on tabs and laid
/// out as format_table does. `tmpl` starts with "table".
std::string render_template_table(std::string_view tmpl, const std::vector<nlohmann::json>& objs,
                                  const std::map<std::string, std::string>& headers);

/// Apply one `commit --change` Dockerfile instruction (CMD, ENTRYPOINT,
/// ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL) to
/// `cfg`. Shell-form CMD/ENTRYPOINT become ["/bin/sh","-c",TEXT];
/// variables expand from cfg's Env. Throws Errc::invalid
/// `--change "X": ...` for a malformed or unsupported instruction.
void apply_change(image::ContainerConfig& cfg, std::string_view change);

/// Truncate `s` to `n` characters, ending in "…" when cut (docker's
/// history and ps truncation); n == 0 keeps it whole.
std::string truncate_text(const std::string& s, size_t n);

/// Parse "KEY=VALUE" labels (a bare "KEY" gives an empty value). Throws
/// Errc::usage for an empty key.
std::vector<std::pair<std::string, std::string>> parse_labels(const std::vector<std::string>& kvs);

/// Lay `rows` (the first one the header) out as docker's tables do
/// (Go's tabwriter with min width 10 and padding 3): every column but the
/// last padded with spaces; each row ends with "\n".
std::string format_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace ocikit::manage
