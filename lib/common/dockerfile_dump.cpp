// BuildKit's AST dump format (parser.Node.Dump) for the parsed instructions,
// used to check the parser against BuildKit's own test files.
#include "common/dockerfile.hpp"

#include <algorithm>

namespace ocikit::dockerfile {
namespace {

// Go's strconv.Quote for the dump.
std::string go_quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string r = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': r += "\\\""; continue;
      case '\\': r += "\\\\"; continue;
      case '\a': r += "\\a"; continue;
      case '\b': r += "\\b"; continue;
      case '\f': r += "\\f"; continue;
      case '\n': r += "\\n"; continue;
      case '\r': r += "\\r"; continue;
      case '\t': r += "\\t"; continue;
      case '\v': r += "\\v"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
      continue;
    }
    if (c < 0x80) {
      r += static_cast<char>(c);
      continue;
    }
    // Copy a valid UTF-8 sequence as is; escape stray bytes.
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok) {
      r += s.substr(i, len);
      i += len - 1;
    } else {
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    }
  }
  return r + "\"";
}

std::string dump_one(const Instruction& in) {
  std::string s = in.keyword;
  if (!in.raw_flags.empty()) {
    s += " [";
    for (size_t i = 0; i < in.raw_flags.size(); ++i) s += (i ? " " : "") + go_quote(in.raw_flags[i]);
    s += "]";
  }
  static const std::vector<std::string_view> kKnown = {
      "add",   "arg",        "cmd",     "copy", "entrypoint", "env",        "expose", "from",   "healthcheck",
      "label", "maintainer", "onbuild", "run",  "shell",      "stopsignal", "user",   "volume", "workdir"};
  if (std::find(kKnown.begin(), kKnown.end(), in.keyword) == kKnown.end()) {
    s += " \"\"";  // BuildKit keeps an empty node for an unknown instruction
  } else if (in.keyword == "onbuild") {
    if (!in.trigger.empty()) s += " (" + dump_one(in.trigger[0]) + ")";
  } else if (in.keyword == "env" || in.keyword == "label") {
    for (size_t i = 0; i + 1 < in.args.size(); i += 2)
      s += " " + go_quote(in.args[i]) + " " + go_quote(in.args[i + 1]) + " " + go_quote(in.legacy_key_value ? "" : "=");
  } else {
    for (const auto& a : in.args) s += " " + go_quote(a);
  }
  return s;
}

}  // namespace

std::string dump(const std::vector<Instruction>& instructions) {
  std::string s;
  for (const auto& in : instructions) s += "(" + dump_one(in) + ")\n";
  return s;
}

}  // namespace ocikit::dockerfile
