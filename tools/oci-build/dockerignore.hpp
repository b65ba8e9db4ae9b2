#pragma once
// .dockerignore: docker's pattern rules. Each line is a pattern (Go
// filepath.Match syntax per path segment, `**` for any number of directories);
// `#` at the start of a line is a comment; a leading `!` makes an exception;
// later rules win; patterns are cleaned (leading `/` and `./` removed). A
// pattern that matches a directory matches everything beneath it.

#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::dockerfile {

class IgnoreMatcher {
 public:
  /// One cleaned rule.
  struct Rule {
    std::string pattern;  ///< cleaned, without the "!"
    bool exception = false;
    std::regex re;
  };

  /// Parse .dockerignore `text`; `file` names it in errors ("FILE:LINE: ...").
  /// Throws Errc::invalid on a malformed pattern.
  static IgnoreMatcher parse(std::string_view text, const std::string& file = ".dockerignore");
  /// Read and parse `path`; a missing file gives an empty matcher.
  static IgnoreMatcher load(const std::string& path);

  /// Append a rule ("!Dockerfile" adds an exception).
  void add(std::string_view pattern);
  /// As docker does: if the Dockerfile (`dockerfile_rel`, relative to the
  /// context) or .dockerignore is ignored, add exceptions so that they are kept.
  void keep_build_files(const std::string& dockerfile_rel);

  /// Whether `rel_path` (relative to the context, "/"-separated) is excluded:
  /// the last rule matching it or one of its parent directories decides.
  bool ignored(std::string_view rel_path, bool is_dir = false) const;
  /// Whether something beneath excluded directory `dir` may be re-included by
  /// an exception, i.e. whether a walk must descend into it.
  bool may_match_inside(std::string_view dir) const;

  const std::vector<Rule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

 private:
  std::vector<Rule> rules_;
};

}  // namespace ocikit::dockerfile
