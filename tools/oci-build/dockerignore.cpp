#include "dockerignore.hpp"

#include "common/error.hpp"
#include "common/fs.hpp"

#include <fnmatch.h>

#include <cctype>
#include <sys/stat.h>

namespace ocikit::dockerfile {
namespace {

std::string_view trim(std::string_view s) {
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}

// An escaped pattern character (Go's backslash-x) as a regex literal: a
// letter or digit as itself (backslash-7 would be a backreference,
// backslash-d a class), anything else behind a backslash.
void literal(std::string& re, char c) {
  if (!std::isalnum(static_cast<unsigned char>(c))) re += '\\';
  re += c;
}

// Translate a cleaned pattern into a regex as docker's patternmatcher does.
std::string to_regex(const std::string& p) {
  std::string re = "^";
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        ++i;
        if (i + 1 < p.size() && p[i + 1] == '/') ++i;
        if (i + 1 >= p.size()) re += ".*";
        else re += "(.*/)?";
      } else {
        re += "[^/]*";
      }
    } else if (c == '?') {
      re += "[^/]";
    } else if (std::string_view(".+()|{}$^").find(c) != std::string_view::npos) {
      re += '\\';
      re += c;
    } else if (c == '\\') {
      if (i + 1 < p.size()) literal(re, p[++i]);
      else re += "\\\\";
    } else if (c == '[') {
      // A class: copy it, turning Go's "[^" into the same regex negation;
      // an escaped character in it is that character.
      size_t end = p.find(']', i + 1 + (i + 1 < p.size() && p[i + 1] == '^' ? 1 : 0));
      if (end == std::string::npos) fail(Errc::invalid, "syntax error in pattern");
      std::string cls = p.substr(i, end - i + 1);
      if (cls == "[]" || cls == "[^]") fail(Errc::invalid, "syntax error in pattern");
      for (size_t k = 0; k < cls.size(); ++k) {
        if (cls[k] == '\\' && k + 1 < cls.size() - 1) literal(re, cls[++k]);
        else if (cls[k] == '\\') re += "\\\\";
        else re += cls[k];
      }
      i = end;
    } else if (c == ']') {
      fail(Errc::invalid, "syntax error in pattern");
    } else {
      re += c;
    }
  }
  return re + "$";
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t n = s.find('/', pos);
    if (n == std::string_view::npos) n = s.size();
    out.push_back(s.substr(pos, n - pos));
    pos = n + 1;
  }
  return out;
}

}  // namespace

void IgnoreMatcher::add(std::string_view line) {
  std::string_view p = trim(line);
  bool exception = false;
  if (!p.empty() && p[0] == '!') {
    exception = true;
    p = trim(p.substr(1));
  }
  std::string cleaned;
  if (!p.empty()) {
    cleaned = fs::clean_path(p);
    if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
  }
  Rule r;
  r.pattern = cleaned;
  r.exception = exception;
  try {
    r.re = std::regex(to_regex(cleaned), std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error&) {
    fail(Errc::invalid, "syntax error in pattern: " + std::string(line));
  }
  rules_.push_back(std::move(r));
}

IgnoreMatcher IgnoreMatcher::parse(std::string_view text, const std::string& file) {
  IgnoreMatcher m;
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (lineno == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    if (!line.empty() && line[0] == '#') continue;
    std::string_view t = trim(line);
    if (t.empty() || (t[0] == '!' && trim(t.substr(1)).empty())) {
      if (!t.empty()) fail(Errc::invalid, file + ":" + std::to_string(lineno) + ": illegal exclusion pattern: \"!\"");
      continue;
    }
    try {
      m.add(t);
    } catch (const Error& e) {
      fail(Errc::invalid, file + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return m;
}

IgnoreMatcher IgnoreMatcher::load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return {};
  return parse(fs::read_file(path), path);
}

void IgnoreMatcher::keep_build_files(const std::string& dockerfile_rel) {
  std::string df = fs::clean_path(dockerfile_rel);
  if (ignored(".dockerignore")) add("!.dockerignore");
  if (ignored(df)) add("!" + df);
}

bool IgnoreMatcher::ignored(std::string_view rel_path, bool /*is_dir*/) const {
  std::string file = fs::clean_path(rel_path);
  if (!file.empty() && file[0] == '/') file.erase(0, 1);
  std::vector<std::string> parents;
  for (size_t pos = file.find('/'); pos != std::string::npos; pos = file.find('/', pos + 1))
    parents.push_back(file.substr(0, pos));
  bool matched = false;
  for (const auto& r : rules_) {
    if (r.exception != matched) continue;
    bool m = std::regex_match(file, r.re);
    for (size_t i = 0; !m && i < parents.size(); ++i) m = std::regex_match(parents[i], r.re);
    if (m) matched = !r.exception;
  }
  return matched;
}

bool IgnoreMatcher::may_match_inside(std::string_view dir) const {
  std::string d = fs::clean_path(dir);
  auto dparts = split(d);
  for (const auto& r : rules_) {
    if (!r.exception) continue;
    auto pparts = split(r.pattern);
    bool possible = true;
    for (size_t i = 0; i < dparts.size(); ++i) {
      if (i >= pparts.size()) break;  // the exception names an ancestor of dir
      if (pparts[i].find("**") != std::string_view::npos) break;
      std::string pat(pparts[i]), comp(dparts[i]);
      if (fnmatch(pat.c_str(), comp.c_str(), 0) != 0) {
        possible = false;
        break;
      }
    }
    if (possible) return true;
  }
  return false;
}

}  // namespace ocikit::dockerfile
