#include "common/shell_words.hpp"

#include "common/error.hpp"

#include <fnmatch.h>

namespace ocikit::dockerfile {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
      static_cast<unsigned char>(c) >= 0x80;
}

// Collects the result both as one string and as shell words.
struct Words {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;

  void add_char(char c) {
    if (is_space(c)) {
      if (in_word && !word.empty()) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else {
      add_raw_char(c);
    }
  }
  void add_raw_char(char c) {
    word += c;
    in_word = true;
  }
  void add_string(std::string_view s) {
    for (char c : s) add_char(c);
  }
  void add_raw_string(std::string_view s) {
    word += s;
    in_word = true;
  }
  std::vector<std::string> take() {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
    return std::move(words);
  }
};

class Lexer {
 public:
  Lexer(std::string_view src, const EnvLookup& env, const LexOptions& o) : src_(src), env_(env), o_(o) {}

  // Process until `stop` (0 = end of input); returns the joined result and the words.
  std::pair<std::string, std::vector<std::string>> process_until(char stop, bool raw_escapes) {
    std::string result;
    Words words;
    while (!eof()) {
      char c = peek();
      if (stop != 0 && c == stop) {
        ++pos_;
        return {result, words.take()};
      }
      if (c == '\'' || c == '"' || c == '$') {
        std::string tmp = c == '\'' ? single_quote() : c == '"' ? double_quote() : dollar();
        result += tmp;
        if (c == '$') words.add_string(tmp);
        else words.add_raw_string(tmp);
        continue;
      }
      ++pos_;
      if (c == o_.escape) {
        if (raw_escapes) {
          words.add_raw_char(c);
          result += c;
        }
        if (eof()) break;
        c = src_[pos_++];
        words.add_raw_char(c);
      } else {
        words.add_char(c);
      }
      result += c;
    }
    if (stop != 0) fail(Errc::invalid, std::string("unexpected end of statement while looking for matching ") + stop);
    return {result, words.take()};
  }

 private:
  bool eof() const { return pos_ >= src_.size(); }
  char peek() const { return src_[pos_]; }

  std::string single_quote() {
    std::string r;
    if (o_.raw_quotes) r += '\'';
    ++pos_;
    for (;;) {
      if (eof()) fail(Errc::invalid, "unexpected end of statement while looking for matching single-quote");
      char c = src_[pos_++];
      if (c == '\'') {
        if (o_.raw_quotes) r += c;
        return r;
      }
      r += c;
    }
  }

  std::string double_quote() {
    std::string r;
    if (o_.raw_quotes) r += '"';
    ++pos_;
    for (;;) {
      if (eof()) fail(Errc::invalid, "unexpected end of statement while looking for matching double-quote");
      char c = peek();
      if (c == '"') {
        ++pos_;
        if (o_.raw_quotes) r += c;
        return r;
      }
      if (c == '$') {
        r += dollar();
        continue;
      }
      ++pos_;
      if (c == o_.escape) {
        if (o_.raw_escapes) r += c;
        if (eof()) continue;
        char n = peek();
        if (n == '"' || n == '$' || n == o_.escape) c = src_[pos_++];
      }
      r += c;
    }
  }

  std::string name() {
    std::string n;
    while (!eof()) {
      char c = peek();
      if (n.empty() && is_digit(c)) {
        while (!eof() && is_digit(peek())) n += src_[pos_++];
        return n;
      }
      if (n.empty() && std::string_view("@*#?-$!0").find(c) != std::string_view::npos) {
        ++pos_;
        return std::string(1, c);
      }
      if (!is_name_char(c)) break;
      n += c;
      ++pos_;
    }
    return n;
  }

  std::optional<std::string> get(const std::string& n) const { return env_ ? env_(n) : std::nullopt; }

  static std::string trim_match(const std::string& pat, const std::string& value, bool greedy, bool prefix) {
    size_t n = value.size();
    for (size_t k = 0; k <= n; ++k) {
      size_t len = greedy ? n - k : k;
      std::string part = prefix ? value.substr(0, len) : value.substr(n - len);
      if (fnmatch(pat.c_str(), part.c_str(), 0) == 0) return prefix ? value.substr(len) : value.substr(0, n - len);
    }
    return value;
  }

  // ${VAR/pat/repl} and ${VAR//pat/repl}: leftmost, longest match of the glob.
  std::string replace(const std::string& n) {
    bool all = !eof() && peek() == '/';
    if (all) ++pos_;
    std::string pat = process_until('/', true).first;
    std::string repl = process_until('}', true).first;
    std::string value = get(n).value_or("");
    std::string out;
    size_t i = 0;
    bool done = false;
    size_t last_end = std::string::npos;  // no empty match right after a match (as Go's regexp)
    while (i <= value.size()) {
      size_t len = std::string::npos;
      if (!done) {
        for (size_t l = value.size() - i + 1; l-- > 0;) {
          if (l == 0 && i == last_end) break;
          if (fnmatch(pat.c_str(), value.substr(i, l).c_str(), 0) == 0) {
            len = l;
            break;
          }
        }
      }
      if (len == std::string::npos) {
        if (i < value.size()) out += value[i];
        ++i;
        continue;
      }
      out += repl;
      if (!all) done = true;
      if (len == 0) {
        if (i < value.size()) out += value[i];
        ++i;
      } else {
        i += len;
        last_end = i;
      }
    }
    return out;
  }

  std::string dollar() {
    ++pos_;
    if (eof() || peek() != '{') {
      std::string n = name();
      if (n.empty()) return "$";
      auto v = get(n);
      if (!v && o_.skip_unset) return "$" + n;
      return v.value_or("");
    }
    ++pos_;
    if (eof()) fail(Errc::invalid, "syntax error: missing '}'");
    if (peek() == '{' || peek() == '}' || peek() == ':') fail(Errc::invalid, "syntax error: bad substitution");
    std::string n = name();
    if (eof()) fail(Errc::invalid, "syntax error: missing '}'");
    char c = src_[pos_++];
    std::string chs(1, c);
    bool null_is_unset = false;
    if (c == '}') {
      auto v = get(n);
      if (!v && o_.skip_unset) return "${" + n + "}";
      return v.value_or("");
    }
    if (c == '/') return replace(n);
    if (c == ':') {
      null_is_unset = true;
      if (eof()) fail(Errc::invalid, "syntax error: missing '}'");
      c = src_[pos_++];
      chs += c;
    }
    if (std::string_view("+-?#%").find(c) == std::string_view::npos)
      fail(Errc::invalid, "unsupported modifier (" + chs + ") in substitution");
    bool raw = c == '#' || c == '%';
    if (null_is_unset && raw) fail(Errc::invalid, "unsupported modifier (" + chs + ") in substitution");
    std::string word;
    try {
      word = process_until('}', raw).first;
    } catch (const Error&) {
      if (eof()) fail(Errc::invalid, "syntax error: missing '}'");
      throw;
    }
    auto v = get(n);
    if (!v && o_.skip_unset) return "${" + n + chs + word + "}";
    bool set = v.has_value();
    std::string value = v.value_or("");
    switch (c) {
      case '-': return (!set || (null_is_unset && value.empty())) ? word : value;
      case '+': return (!set || (null_is_unset && value.empty())) ? "" : word;
      case '?':
        if (!set) fail(Errc::invalid, n + ": " + (word.empty() ? "is not allowed to be unset" : word));
        if (null_is_unset && value.empty())
          fail(Errc::invalid, n + ": " + (word.empty() ? "is not allowed to be empty" : word));
        return value;
      default: {  // '#' or '%'
        bool greedy = !word.empty() && word[0] == c;
        if (greedy) word.erase(0, 1);
        return trim_match(word, value, greedy, c == '#');
      }
    }
  }

  std::string_view src_;
  const EnvLookup& env_;
  const LexOptions& o_;
  size_t pos_ = 0;
};

}  // namespace

std::string expand_word(std::string_view word, const EnvLookup& env, const LexOptions& opts) {
  Lexer lx(word, env, opts);
  return lx.process_until(0, opts.raw_escapes).first;
}

std::vector<std::string> expand_words(std::string_view text, const EnvLookup& env, const LexOptions& opts) {
  Lexer lx(text, env, opts);
  return lx.process_until(0, opts.raw_escapes).second;
}

EnvLookup env_from_list(const std::vector<std::string>& kvs) {
  return [kvs](std::string_view key) -> std::optional<std::string> {
    std::optional<std::string> found;
    for (const auto& kv : kvs) {
      auto eq = kv.find('=');
      std::string_view k = std::string_view(kv).substr(0, eq);
      if (k == key) found = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
    }
    return found;
  };
}

}  // namespace ocikit::dockerfile
