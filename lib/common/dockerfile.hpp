#pragma once
// Dockerfile front end: parses a Dockerfile the way BuildKit's parser does
// (directives, comments, continuations, JSON and shell forms, heredocs) into
// plain structs, validates the instructions, and gives typed views of them for
// the executor. Variable expansion is done by expand_instruction() with the
// environment of the moment (see shell_words.hpp); parse() does not expand.

#include "common/image.hpp"
#include "common/shell_words.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocikit::dockerfile {

/// Parser directives from the top of the file.
struct Directives {
  std::string syntax;  ///< `# syntax=` value, empty when absent
  char escape = '\\';  ///< `# escape=` (`\` or a backtick)
  std::string check;  ///< raw `# check=` value
  std::vector<std::string> check_skip;  ///< rule names from check=skip=a,b (or "all")
  bool check_error = false;  ///< check=error=true
};

/// A `--name=value` flag of an instruction (quotes already removed).
struct Flag {
  std::string name;  ///< without the leading "--"
  std::string value;  ///< empty when there is no "="
  bool has_value = false;
};

/// A heredoc body attached to RUN, COPY or ADD.
struct Heredoc {
  std::string name;  ///< the delimiter word, quotes removed ("EOF")
  std::string content;  ///< the body, each line with its "\n"; tabs stripped for <<-
  bool expand = true;  ///< false when the delimiter was quoted (<<"EOF", <<'EOF')
  bool chomp = false;  ///< <<- form: leading tabs removed
  int fd = 0;  ///< 3<<EOF gives 3; 0 when not given
};

/// One instruction, as written (not yet expanded).
struct Instruction {
  std::string keyword;  ///< lowercase: "run", "copy", ...
  /// The arguments. ENV and LABEL hold key, value, key, value ... with quotes
  /// and escapes as written; ARG holds the words ("name" or "name=value");
  /// HEALTHCHECK holds the type ("CMD", "NONE") then the command.
  std::vector<std::string> args;
  bool json_form = false;  ///< exec form: args came from a JSON array
  bool legacy_key_value = false;  ///< ENV/LABEL written as `ENV key value`
  std::vector<std::string> raw_flags;  ///< flags as BuildKit's dump shows them: "--mount=..."
  std::vector<Flag> flags;  ///< the same, split into name and value
  std::vector<Heredoc> heredocs;
  std::vector<Instruction> trigger;  ///< ONBUILD: the one nested instruction
  int line = 0, end_line = 0;  ///< 1-based first and last line in the file
  std::string original;  ///< the logical line, continuations joined

  /// The value of flag `name`, nullopt when absent (last one wins).
  std::optional<std::string> flag(std::string_view name) const;
  /// All values of a repeatable flag (--mount, --exclude), in order.
  std::vector<std::string> flag_values(std::string_view name) const;
  /// True when flag `name` is present (a bare `--link` or `--link=true`).
  bool has_flag(std::string_view name) const;
};

/// A build stage: FROM and the instructions that follow it.
struct Stage {
  std::string base;  ///< image reference as written (may hold $VARs)
  std::string name;  ///< `AS name`, lowercased; empty when unnamed
  std::string platform;  ///< --platform value as written
  int line = 0;
  Instruction from;
  std::vector<Instruction> instructions;
};

/// A parsed and validated Dockerfile.
struct Dockerfile {
  std::vector<Instruction> global_args;  ///< ARGs before the first FROM
  std::vector<Stage> stages;
  Directives directives;
};

/// Parse `text` into raw instructions, as BuildKit's parser AST (no validation of
/// instruction names or flags). `file` names the file in errors:
/// "Dockerfile:3: ENV must have two arguments". Throws Errc::invalid.
std::vector<Instruction> parse_instructions(std::string_view text, const std::string& file,
                                            Directives* directives = nullptr);

/// Parse and validate: unknown instructions, bad flags, FROM forms, argument
/// counts, ONBUILD triggers, SHELL form. Throws Errc::invalid with "file:line: msg".
Dockerfile parse(std::string_view text, const std::string& file);

/// Read and parse the file at `path` (errors name `path`).
Dockerfile parse_file(const std::string& path);

/// BuildKit's AST dump of the instructions: one `(keyword ["--flag"] "arg" ...)`
/// line each, as in BuildKit's parser test `result` files.
std::string dump(const std::vector<Instruction>& instructions);

/// Whether BuildKit expands variables in `keyword`'s arguments (ADD, ARG, COPY,
/// ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR).
bool expands_variables(std::string_view keyword);

/// `inst` with variables expanded and quotes removed from the words BuildKit
/// expands (arguments of the instructions above; values of --from, --chown,
/// --chmod, --platform, --mount, --checksum, --exclude, --network, --security).
/// The commands of RUN (whose flags are expanded), CMD, ENTRYPOINT, SHELL,
/// HEALTHCHECK and ONBUILD are returned as they are
/// (ENV/LABEL keys and values and ARG values are unquoted; EXPOSE words are
/// split again, so `EXPOSE $PORTS` may give several ports).
/// Errors carry the instruction's line.
Instruction expand_instruction(const Instruction& inst, const EnvLookup& env, char escape,
                               const std::string& file = "Dockerfile");

// ---- typed views (on an expanded instruction) ----

/// ENV or LABEL pairs of an expanded instruction.
std::vector<std::pair<std::string, std::string>> key_values(const Instruction& inst);

/// One ARG declaration.
struct ArgDecl {
  std::string name;
  std::optional<std::string> default_value;
};
/// The declarations of an (expanded) ARG instruction.
std::vector<ArgDecl> arg_decls(const Instruction& inst);

/// A RUN --mount.
struct Mount {
  enum class Type { bind, cache, tmpfs, secret, ssh } type = Type::bind;
  /// Mount point ("dst"/"destination" accepted); relative to the working
  /// directory; empty for a bind mount means the working directory itself.
  std::string target;
  std::string source;  ///< path in `from` (bind, cache) or secret file name
  std::string from;  ///< stage or image for bind/cache
  std::string id;  ///< cache id, secret id, ssh id
  bool readonly = false;  ///< bind defaults to read-only; rw/readwrite=true clears it
  std::string sharing = "shared";  ///< cache: shared|private|locked
  std::optional<uint32_t> mode, uid, gid;
  std::optional<uint64_t> size;  ///< tmpfs size in bytes
  bool required = false;  ///< secret/ssh
  std::string env;  ///< secret: expose as this env variable
};
/// Parse a --mount value ("type=cache,target=/root/.cache"). Throws Errc::invalid.
Mount parse_mount(std::string_view spec);

/// RUN's options.
struct RunOptions {
  std::vector<Mount> mounts;
  std::string network = "default";  ///< default|none|host
  std::string security = "sandbox";  ///< sandbox|insecure
};
RunOptions run_options(const Instruction& inst);

/// What RUN executes, as BuildKit builds it.
struct RunCommand {
  std::vector<std::string> argv;  ///< the process to run (empty when `script` is set)
  /// Set for `RUN <<EOF` whose body starts with "#!": write the body to a file
  /// with mode 0755 and execute that file instead.
  std::optional<Heredoc> script;
};
/// The command of a RUN instruction: JSON form as is; shell form as
/// `shell + [command]`; `RUN <<EOF` runs the body in the shell; several heredocs
/// or a command around them are put back together ("cmd <<EOF\nbody\nEOF").
RunCommand run_command(const Instruction& inst, const std::vector<std::string>& shell);

/// COPY/ADD's options and operands.
struct CopyOptions {
  std::vector<std::string> sources;  ///< heredoc operands appear as "<<EOF" words
  std::string dest;
  std::string from, chown, chmod, checksum;
  bool link = false, parents = false, keep_git_dir = false;
  std::vector<std::string> excludes;
  std::optional<bool> unpack;  ///< ADD --unpack; unset: unpack local archives only
};
CopyOptions copy_options(const Instruction& inst);

/// HEALTHCHECK's settings as the image config holds them: test {"NONE"},
/// {"CMD", args...} or {"CMD-SHELL", cmd}; durations in nanoseconds (0 = not set).
image::Healthcheck healthcheck(const Instruction& inst);

/// Parse a Go duration ("1m30s", "500ms"). Throws Errc::invalid.
int64_t parse_duration(std::string_view s);

/// Apply an image-metadata instruction (ENV, LABEL, EXPOSE, VOLUME, USER,
/// WORKDIR, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD), its
/// variables already expanded, to `cfg` as `docker build` does; `docker
/// commit --change` uses the same. Shell-form CMD and ENTRYPOINT run through
/// `shell`; a relative WORKDIR is resolved against the current one. Returns
/// the history text ("ENV A=1", "CMD [\"sh\"]"), or nullopt when `inst` is
/// not a metadata instruction. Throws Errc::invalid ("VOLUME specified can
/// not be an empty string", a missing argument).
std::optional<std::string> apply_metadata(image::ContainerConfig& cfg, const Instruction& inst,
                                          const std::vector<std::string>& shell);

}  // namespace ocikit::dockerfile
