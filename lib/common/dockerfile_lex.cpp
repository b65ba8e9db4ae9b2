// The first stage of the Dockerfile parser: logical lines, directives,
// comments, continuations, flags, the per-instruction argument forms and
// heredocs, producing the same tree BuildKit's parser does (see dump()).
#include "common/dockerfile.hpp"

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ocikit::dockerfile {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
// Go's reWhitespace `[\t\v\f\r ]+`.
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
std::string_view trim_left(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
bool is_comment(std::string_view raw) {
  auto t = trim_left(trim_newline(raw));
  return !t.empty() && t.front() == '#';
}

[[noreturn]] void fail_at(const std::string& file, int line, const std::string& msg) {
  if (line <= 0) fail(Errc::invalid, file + ": " + msg);
  fail(Errc::invalid, file + ":" + std::to_string(line) + ": " + msg);
}

// Parser directives: only in the leading comment lines of the file.
class DirectiveParser {
 public:
  explicit DirectiveParser(Directives& d) : d_(d) {}

  // Look at one (left-trimmed) line; throws on a bad or repeated directive.
  void see(std::string_view line) {
    if (done_) return;
    std::string name, value;
    if (!match(line, name, value)) {
      done_ = true;
      return;
    }
    name = lower(name);
    if (name != "syntax" && name != "escape" && name != "check") {
      done_ = true;
      return;
    }
    if (std::find(seen_.begin(), seen_.end(), name) != seen_.end())
      fail(Errc::invalid, "only one " + name + " parser directive can be used");
    seen_.push_back(name);
    if (name == "escape") {
      if (value != "`" && value != "\\")
        fail(Errc::invalid, "invalid escape token '" + value + "' does not match ` or \\");
      d_.escape = value[0];
    } else if (name == "syntax") {
      d_.syntax = value;
    } else {
      set_check(value);
    }
  }

 private:
  // `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
  static bool match(std::string_view s, std::string& name, std::string& value) {
    auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
    size_t i = 0;
    if (s.empty() || s[0] != '#') return false;
    ++i;
    while (i < s.size() && sp(s[i])) ++i;
    if (i >= s.size() || !std::isalpha(static_cast<unsigned char>(s[i]))) return false;
    size_t start = i;
    while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i]))) ++i;
    name = s.substr(start, i - start);
    while (i < s.size() && sp(s[i])) ++i;
    if (i >= s.size() || s[i] != '=') return false;
    ++i;
    while (i < s.size() && sp(s[i])) ++i;
    size_t end = s.size();
    while (end > i && sp(s[end - 1])) --end;
    if (end <= i) return false;
    value = s.substr(i, end - i);
    return true;
  }

  void set_check(const std::string& v) {
    d_.check = v;
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t semi = v.find(';', pos);
      std::string part(
          trim(std::string_view(v).substr(pos, semi == std::string::npos ? std::string::npos : semi - pos)));
      auto eq = part.find('=');
      std::string k = lower(trim(std::string_view(part).substr(0, eq)));
      std::string val = eq == std::string::npos ? "" : std::string(trim(std::string_view(part).substr(eq + 1)));
      if (k == "skip") {
        size_t p = 0;
        while (p <= val.size()) {
          size_t c = val.find(',', p);
          std::string item(trim(std::string_view(val).substr(p, c == std::string::npos ? std::string::npos : c - p)));
          if (!item.empty()) d_.check_skip.push_back(item);
          if (c == std::string::npos) break;
          p = c + 1;
        }
      } else if (k == "error") {
        d_.check_error = lower(val) == "true";
      } else if (!k.empty()) {
        fail(Errc::invalid, "invalid check directive: unknown key " + k);
      }
      if (semi == std::string::npos) break;
      pos = semi + 1;
    }
  }

  Directives& d_;
  bool done_ = false;
  std::vector<std::string> seen_;
};

// Removes a line continuation: BuildKit's `([^E])E[ \t]*$|^E[ \t]*$` for escape E.
std::pair<std::string, bool> trim_continuation(std::string_view line, char esc) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != esc) return {std::string(line), true};
  if (end >= 2 && line[end - 2] == esc) return {std::string(line), true};
  return {std::string(line.substr(0, end - 1)), false};
}

// BuildKit's extractBuilderFlags: leading `--words`, quotes and `\` removed.
std::string extract_flags(std::string_view line, std::vector<std::string>& words) {
  enum { in_spaces, in_word, in_quote } phase = in_spaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    char ch = pos < line.size() ? line[pos] : 0;
    if (phase == in_spaces) {
      if (pos == line.size()) break;
      if (is_space(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return std::string(line.substr(pos));
      phase = in_word;
    }
    if (pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) words.push_back(word);
      break;
    }
    if (phase == in_word) {
      if (is_space(ch)) {
        phase = in_spaces;
        if (word == "--") return std::string(line.substr(pos));
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = in_quote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    // in_quote
    if (ch == quote) {
      phase = in_word;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = in_word;
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return "";
}

// BuildKit's parseWords: whitespace-separated words, quotes and escapes kept.
std::vector<std::string> parse_words(std::string_view rest, char esc) {
  enum { in_spaces, in_word, in_quote } phase = in_spaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    char ch = pos < rest.size() ? rest[pos] : 0;
    if (phase == in_spaces) {
      if (pos == rest.size()) break;
      if (is_space(ch)) continue;
      phase = in_word;
    }
    if (pos == rest.size()) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == in_word) {
      if (is_space(ch)) {
        phase = in_spaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = in_quote;
      }
      if (ch == esc) {
        if (pos + 1 == rest.size()) continue;
        word += ch;
        ch = rest[++pos];
      }
      word += ch;
      continue;
    }
    if (ch == quote) phase = in_word;
    if (ch == esc && quote != '\'') {
      if (pos + 1 == rest.size()) {
        phase = in_word;
        continue;
      }
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  return words;
}

// Go's regexp Split on `[\t\v\f\r ]+` (BuildKit's parseStringsWhitespaceDelimited).
std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0, i = 0;
  while (i < s.size()) {
    if (!is_ws(s[i])) {
      ++i;
      continue;
    }
    out.emplace_back(s.substr(start, i - start));
    while (i < s.size() && is_ws(s[i])) ++i;
    start = i;
  }
  out.emplace_back(s.substr(start));
  return out;
}

const char* kNotStrings = "when using JSON array syntax, arrays must be comprised of strings only";

// parseJSON: true and fills args when `rest` is a JSON array of strings.
bool parse_json(std::string_view rest, std::vector<std::string>& args) {
  rest = trim_left(rest);
  if (rest.empty() || rest.front() != '[') return false;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(rest);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  if (!j.is_array()) return false;
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) fail(Errc::invalid, kNotStrings);
    out.push_back(e.get<std::string>());
  }
  args = std::move(out);
  return true;
}

void parse_maybe_json(Instruction& in, std::string_view rest) {
  if (rest.empty()) return;
  if (parse_json(rest, in.args)) {
    in.json_form = true;
    return;
  }
  in.args = {std::string(rest)};
}

void parse_maybe_json_list(Instruction& in, std::string_view rest) {
  if (parse_json(rest, in.args)) {
    in.json_form = true;
    return;
  }
  in.args = split_ws(rest);
}

void parse_name_val(Instruction& in, std::string_view rest, const std::string& key, char esc) {
  auto words = parse_words(rest, esc);
  if (words.empty()) return;
  if (words[0].find('=') == std::string::npos) {
    size_t i = 0;
    while (i < rest.size() && !is_ws(rest[i])) ++i;
    size_t j = i;
    while (j < rest.size() && is_ws(rest[j])) ++j;
    if (i == rest.size()) fail(Errc::invalid, key + " must have two arguments");
    in.args = {std::string(rest.substr(0, i)), std::string(rest.substr(j))};
    in.legacy_key_value = true;
    return;
  }
  for (const auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos)
      fail(Errc::invalid, "syntax error - can't find = in \"" + w + "\". Must be of the form: name=value");
    in.args.push_back(w.substr(0, eq));
    in.args.push_back(w.substr(eq + 1));
  }
}

void parse_health(Instruction& in, std::string_view rest) {
  size_t sep = 0;
  while (sep < rest.size() && !is_space(rest[sep])) ++sep;
  size_t next = sep;
  while (next < rest.size() && is_space(rest[next])) ++next;
  if (sep == 0) return;
  Instruction cmd;
  parse_maybe_json(cmd, rest.substr(next));
  in.args = {std::string(rest.substr(0, sep))};
  in.args.insert(in.args.end(), cmd.args.begin(), cmd.args.end());
  in.json_form = cmd.json_form;
}

Flag split_flag(const std::string& raw) {
  Flag f;
  std::string s = raw.substr(raw.rfind("--", 0) == 0 ? 2 : 0);
  auto eq = s.find('=');
  f.name = s.substr(0, eq);
  if (eq != std::string::npos) {
    f.value = s.substr(eq + 1);
    f.has_value = true;
  }
  return f;
}

Instruction node_from_line(std::string_view line, char esc) {
  Instruction in;
  in.original = std::string(line);
  auto t = trim(line);
  size_t i = 0;
  while (i < t.size() && !is_ws(t[i])) ++i;
  std::string cmd(t.substr(0, i));
  std::string rest;
  if (i < t.size()) {
    size_t j = i;
    while (j < t.size() && is_ws(t[j])) ++j;
    rest = extract_flags(t.substr(j), in.raw_flags);
  }
  rest = std::string(trim(rest));
  in.keyword = lower(cmd);
  for (const auto& f : in.raw_flags) in.flags.push_back(split_flag(f));
  const std::string& k = in.keyword;
  if (k == "add" || k == "copy" || k == "volume") {
    parse_maybe_json_list(in, rest);
  } else if (k == "cmd" || k == "entrypoint" || k == "run" || k == "shell") {
    parse_maybe_json(in, rest);
  } else if (k == "arg") {
    in.args = parse_words(rest, esc);
  } else if (k == "env" || k == "label") {
    parse_name_val(in, rest, k == "env" ? "ENV" : "LABEL", esc);
  } else if (k == "expose" || k == "from") {
    in.args = split_ws(rest);
  } else if (k == "healthcheck") {
    parse_health(in, rest);
  } else if (k == "maintainer" || k == "stopsignal" || k == "user" || k == "workdir") {
    if (!rest.empty()) in.args = {rest};
  } else if (k == "onbuild") {
    if (!rest.empty()) in.trigger.push_back(node_from_line(rest, esc));
  }
  return in;
}

bool can_contain_heredoc(const Instruction& in) {
  const Instruction* n = &in;
  if (in.keyword == "onbuild" && !in.trigger.empty()) n = &in.trigger[0];
  return (n->keyword == "run" || n->keyword == "copy" || n->keyword == "add") && !n->json_form;
}

// `^(\d*)<<(-?)([^<]*)$` and the quoting check of BuildKit's parseHeredoc.
std::optional<Heredoc> parse_heredoc_word(const std::string& w) {
  size_t i = 0;
  while (i < w.size() && std::isdigit(static_cast<unsigned char>(w[i]))) ++i;
  if (w.compare(i, 2, "<<") != 0) return std::nullopt;
  Heredoc h;
  if (i > 0) {
    auto [p, ec] = std::from_chars(w.data(), w.data() + i, h.fd);
    if (ec != std::errc() || p != w.data() + i) fail(Errc::invalid, "invalid file descriptor in heredoc: " + w);
  }
  i += 2;
  if (i < w.size() && w[i] == '-') {
    h.chomp = true;
    ++i;
  }
  std::string rest = w.substr(i);
  if (rest.empty() || rest.find('<') != std::string::npos) return std::nullopt;
  LexOptions o;
  o.skip_unset = true;
  EnvLookup none = [](std::string_view) { return std::optional<std::string>(); };
  auto words = expand_words(rest, none, o);
  if (words.size() != 1) return std::nullopt;
  o.raw_quotes = true;
  auto raw = expand_words(rest, none, o);
  if (raw.size() != 1) fail(Errc::invalid, "internal lexing of heredoc produced inconsistent results: " + rest);
  auto quotes = [](const std::string& s) {
    return std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"');
  };
  h.name = words[0];
  h.expand = quotes(words[0]) == quotes(raw[0]);
  return h;
}

std::vector<Heredoc> heredocs_from_line(std::string_view line) {
  LexOptions o;
  o.raw_quotes = true;
  o.raw_escapes = true;
  std::vector<std::string> words;
  try {
    words = expand_words(line, nullptr, o);
  } catch (const Error&) {
    return {};
  }
  std::vector<Heredoc> out;
  for (const auto& w : words)
    if (auto h = parse_heredoc_word(w)) out.push_back(*h);
  return out;
}

std::string chomp_tabs(const std::string& s) {
  std::string out;
  bool bol = true;
  for (char c : s) {
    if (bol && c == '\t') continue;
    bol = c == '\n';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<Instruction> parse_instructions(std::string_view text, const std::string& file, Directives* directives) {
  Directives d;
  DirectiveParser dp(d);
  std::vector<Instruction> out;
  size_t pos = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    line = text.substr(pos, end - pos);
    pos = end;
    return true;
  };
  int current = 0;
  std::string_view raw;
  while (next_line(raw)) {
    if (current == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
    auto line = trim_left(trim_newline(raw));
    try {
      dp.see(line);
    } catch (const Error& e) {
      fail_at(file, current + 1, e.what());
    }
    if (!line.empty() && line.front() == '#') line = {};
    ++current;
    int start = current;
    auto [buf, eol] = trim_continuation(line, d.escape);
    if (eol && buf.empty()) continue;
    while (!eol && next_line(raw)) {
      auto cont = trim_newline(raw);
      try {
        dp.see(cont);
      } catch (const Error& e) {
        fail_at(file, current + 1, e.what());
      }
      ++current;
      if (is_comment(raw)) continue;
      if (trim_left(cont).empty()) continue;
      auto [c, e] = trim_continuation(cont, d.escape);
      buf += c;
      eol = e;
    }
    if (trim(buf).empty()) continue;  // only continuation characters
    Instruction in;
    try {
      in = node_from_line(buf, d.escape);
    } catch (const Error& e) {
      fail_at(file, start, e.what());
    }
    if (can_contain_heredoc(in) && buf.find("<<") != std::string::npos) {
      std::vector<Heredoc> docs;
      try {
        docs = heredocs_from_line(buf);
      } catch (const Error& e) {
        fail_at(file, start, e.what());
      }
      for (auto& h : docs) {
        bool terminated = false;
        while (next_line(raw)) {
          ++current;
          auto term = trim_newline(raw);
          if (h.chomp) term.remove_prefix(std::min(term.size(), term.find_first_not_of('\t')));
          if (term == h.name) {
            terminated = true;
            break;
          }
          h.content += raw;
        }
        if (!terminated) fail_at(file, start, "unterminated heredoc");
        if (h.chomp) h.content = chomp_tabs(h.content);
        Instruction& target = in.keyword == "onbuild" ? in.trigger[0] : in;
        target.heredocs.push_back(std::move(h));
      }
    }
    in.line = start;
    in.end_line = current;
    if (!in.trigger.empty()) {
      in.trigger[0].line = start;
      in.trigger[0].end_line = current;
    }
    out.push_back(std::move(in));
  }
  if (out.empty()) fail_at(file, current, "file with no instructions");
  if (directives) *directives = d;
  return out;
}

}  // namespace ocikit::dockerfile
