#pragma once
// Variable expansion and word splitting as BuildKit's shell lexer does it for
// Dockerfile instructions: $VAR, ${VAR}, ${VAR:-x} ${VAR-x} ${VAR:+x} ${VAR+x}
// ${VAR:?msg} ${VAR?msg}, ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat},
// ${VAR/pat/repl} ${VAR//pat/repl},
// single quotes literal, double quotes expanding, the escape character.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::dockerfile {

/// Looks a variable up; nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

/// How the lexer treats quotes, escapes and unset variables.
struct LexOptions {
  char escape = '\\';  ///< the escape character (`\` or a backtick)
  bool raw_quotes = false;  ///< keep quote characters in the result
  bool raw_escapes = false;  ///< keep escape characters in the result
  bool skip_unset = false;  ///< leave references to unset variables as written
};

/// Expand `word` into one string (quotes removed, variables substituted).
/// Throws Errc::invalid on a syntax error (e.g. "syntax error: missing '}'").
std::string expand_word(std::string_view word, const EnvLookup& env, const LexOptions& opts = {});

/// Expand `text` and split it into words the way a shell would: unquoted
/// whitespace, including whitespace produced by unquoted variables, separates.
std::vector<std::string> expand_words(std::string_view text, const EnvLookup& env, const LexOptions& opts = {});

/// An EnvLookup over "KEY=VALUE" strings (the last one for a key wins).
EnvLookup env_from_list(const std::vector<std::string>& kvs);

}  // namespace ocikit::dockerfile
