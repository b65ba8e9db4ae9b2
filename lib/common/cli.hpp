#pragma once
// ocikit::cli: what every tool's main shares: CLI11 parsing with the project's
// exit codes, the common logging flags, and the one place errors are printed.

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ocikit::cli {

/// The logging flags every tool takes.
struct LogOptions {
  std::string level = "warn";  ///< --log-level
  bool debug = false;  ///< --debug (same as --log-level debug)
  std::string file;  ///< --log FILE (runc's flag; empty: stderr)
  std::string format = "text";  ///< --log-format text|json
};

/// The version text printed by --version ("<tool> version X\nspec: Y").
std::string version_text(std::string_view tool);

/// Add --version, --log-level and --debug to `app`; with `runc_style` also
/// --log and --log-format (the flags runc and its callers pass).
void add_log_flags(CLI::App& app, LogOptions& o, bool runc_style = false);

/// Apply parsed log flags (levels, log file). Throws Errc::usage on bad values.
void apply_log_flags(const LogOptions& o);

/// Parse argv into app. Returns nullopt to go on, or the exit code to return
/// at once: 0 after --help/--version, 2 after a usage error (printed as
/// "<tool>: error: ..." on stderr).
std::optional<int> parse(CLI::App& app, int argc, char** argv);

/// Run body() and turn any exception into one line on stderr,
/// "<tool>: error: <message>", and an exit code (ocikit::exit_code_for).
/// `failure_code` replaces exit code 1 (oci-run run uses 125).
int run_main(std::string_view tool, const std::function<int()>& body, int failure_code = 1);

}  // namespace ocikit::cli

namespace ocikit::cli {

/// The directory of the running executable (/proc/self/exe), "" if unknown.
std::string self_dir();

/// $`name`, else the first of `old_names` that is set (with a warning that
/// it is deprecated in favour of `name`), else nullptr. Every variable ocikit
/// reads is OCIKIT_*; the old names are read for one more release.
const char* getenv_compat(const char* name, std::initializer_list<const char*> old_names);

/// Where sibling tool `name` (oci-net, oci-fetch, ...) is: $`env_var` (or
/// one of its `old_names`, getenv_compat), else next to `dir` (an installed
/// bin dir: DIR/NAME, the build tree: DIR/../NAME/NAME), else $PATH. Throws
/// Errc::not_found naming the variable to set.
std::string find_tool(std::string_view name, const std::string& dir, const char* env_var,
                      std::initializer_list<const char*> old_names = {});

}  // namespace ocikit::cli
