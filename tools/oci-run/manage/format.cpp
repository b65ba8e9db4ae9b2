#include "format.hpp"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/error.hpp"
#include "common/dockerfile.hpp"
#include "common/shell_words.hpp"

namespace ocikit::manage {

namespace {

// go-units' CustomSize: divide by `base` while the value is >= base, then
// print with %.<precision>g.
std::string custom_size(double v, double base, const char* const* units, int n_units, int precision) {
  int i = 0;
  while (v >= base && i < n_units - 1) {
    v /= base;
    i++;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g%s", precision, v, units[i]);
  return buf;
}

}  // namespace

std::string human_size(uint64_t bytes, int precision) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  return custom_size(static_cast<double>(bytes), 1000.0, kUnits, 7, precision);
}

std::string human_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  return custom_size(static_cast<double>(bytes), 1024.0, kUnits, 7, 4);
}

std::string human_duration(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return std::to_string(s) + " seconds";
  int64_t minutes = s / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  auto hours = static_cast<int64_t>(std::llround(static_cast<double>(s) / 3600.0));
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(s / 3600 / 24 / 365) + " years";
}

std::string human_ago(std::optional<int64_t> then, int64_t now) {
  if (!then) return "N/A";
  return human_duration(now - *then) + " ago";
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  int Y, M, D, h, m, sec, n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
    return std::nullopt;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return std::nullopt;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om, k = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size() || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string format_rfc3339(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string now_rfc3339_nanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::string s = format_rfc3339(ts.tv_sec);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
  s.insert(s.size() - 1, frac);
  return s;
}

std::optional<size_t> match_id_prefix(const std::vector<std::string>& ids, std::string_view key) {
  if (key.rfind("sha256:", 0) == 0) key.remove_prefix(7);
  if (key.empty()) fail(Errc::invalid, "empty id");
  std::optional<size_t> found;
  int count = 0;
  for (size_t i = 0; i < ids.size(); i++) {
    if (ids[i] == key) return i;
    if (ids[i].rfind(key, 0) == 0) {
      // The same id listed twice (an image under two names) is not ambiguous.
      if (!found || ids[*found] != ids[i]) count++;
      if (!found) found = i;
    }
  }
  if (count > 1) fail(Errc::invalid, "ambiguous id prefix \"" + std::string(key) + "\"");
  return found;
}

namespace {

// Go's fmt of a value decoded from JSON, as docker's templates print them:
// strings bare, lists "[a b]", maps "map[k:v]" (keys sorted), null "<nil>".
std::string go_print(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "<nil>";
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); i++) out += (i ? " " : "") + go_print(v[i]);
    return out + "]";
  }
  if (v.is_object()) {
    std::vector<std::string> keys;
    for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
    std::sort(keys.begin(), keys.end());
    std::string out = "map[";
    for (size_t i = 0; i < keys.size(); i++) out += (i ? " " : "") + keys[i] + ":" + go_print(v.at(keys[i]));
    return out + "]";
  }
  return v.dump();
}

// The words of an action: bare words and "quoted strings" (quotes kept, so
// a literal is told from a field).
std::vector<std::string> action_words(std::string_view a) {
  std::vector<std::string> words;
  for (size_t i = 0; i < a.size();) {
    if (a[i] == ' ') {
      i++;
      continue;
    }
    size_t j = i;
    if (a[i] == '"') {
      j = a.find('"', i + 1);
      if (j == std::string_view::npos) fail(Errc::usage, "template: unterminated quoted string");
      j++;
    } else {
      while (j < a.size() && a[j] != ' ') j++;
    }
    words.emplace_back(a.substr(i, j - i));
    i = j;
  }
  return words;
}

}  // namespace

namespace {

// A small evaluator of Go's text/template, as docker's --format uses it:
// text and actions; fields (.A.B, relative to dot); functions json, index,
// join, upper, lower, len; parenthesized commands with fields after them
// ((index .Ports "80/tcp" 0).HostPort); pipelines (.Name | upper); range,
// if and with, each with else and end. A missing map key is "<no value>"; a
// field the top-level object lacks is an error (a struct field in Go).
class Template {
 public:
  Template(std::string_view t, const nlohmann::json& root) : t_(t), root_(root) {}

  std::string render() {
    size_t pos = 0;
    std::string out;
    auto stop = run(pos, root_, out, true);
    if (!stop.empty()) fail(Errc::usage, "template: unexpected {{" + stop + "}}");
    return out;
  }

 private:
  std::string_view t_;
  const nlohmann::json& root_;
  static inline const nlohmann::json kMissing = nlohmann::json(nlohmann::json::value_t::discarded);

  static std::string trim(std::string_view a) {
    while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
    while (!a.empty() && a.back() == ' ') a.remove_suffix(1);
    return std::string(a);
  }

  // Execute (emit when `emit`) from `pos` up to an {{end}} or {{else}},
  // which is returned ("" at the end of the text).
  std::string run(size_t& pos, const nlohmann::json& dot, std::string& out, bool emit) {
    while (pos < t_.size()) {
      if (t_.compare(pos, 2, "{{") == 0) {
        auto end = t_.find("}}", pos + 2);
        if (end == std::string_view::npos) fail(Errc::usage, "template: unclosed action");
        std::string a = trim(t_.substr(pos + 2, end - pos - 2));
        pos = end + 2;
        if (a.empty()) fail(Errc::usage, "template: empty action");
        if (a == "end" || a == "else") return a;
        std::string kw = a.substr(0, a.find(' '));
        if (kw == "range" || kw == "if" || kw == "with") {
          std::string expr = trim(a.substr(kw.size()));
          if (expr.empty()) fail(Errc::usage, "template: missing value for " + kw);
          nlohmann::json v = emit ? eval_pipeline(expr, dot) : nlohmann::json();
          block(kw, v, pos, dot, out, emit);
          continue;
        }
        if (emit) out += go_print_v(eval_pipeline(a, dot));
      } else if (t_[pos] == '\\' && pos + 1 < t_.size() && (t_[pos + 1] == 't' || t_[pos + 1] == 'n')) {
        if (emit) out += t_[pos + 1] == 't' ? '\t' : '\n';
        pos += 2;
      } else {
        if (emit) out += t_[pos];
        pos++;
      }
    }
    return "";
  }

  // A range/if/with body (and its else) from `pos`, run per the value.
  void block(const std::string& kw, const nlohmann::json& v, size_t& pos, const nlohmann::json& dot, std::string& out,
             bool emit) {
    size_t body = pos;
    std::string stop;
    std::vector<const nlohmann::json*> items;
    if (emit && kw == "range") {
      if (v.is_array())
        for (const auto& e : v) items.push_back(&e);
      else if (v.is_object()) {
        std::vector<std::string> keys;
        for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
        std::sort(keys.begin(), keys.end());
        for (const auto& k : keys) items.push_back(&v.at(k));
      } else if (!v.is_null() && !v.is_discarded()) {
        fail(Errc::usage, "template: range can't iterate over " + go_print_v(v));
      }
    }
    bool then = emit && (kw == "range" ? !items.empty() : truth(v));
    if (kw == "range" && then) {
      for (const auto* e : items) {
        pos = body;
        stop = run(pos, *e, out, true);
      }
    } else {
      stop = run(pos, kw == "with" && then ? v : dot, out, then);
    }
    if (stop == "else") {
      stop = run(pos, dot, out, emit && !then);
    }
    if (stop != "end") fail(Errc::usage, "template: unexpected EOF in " + kw);
  }

  static bool truth(const nlohmann::json& v) {
    if (v.is_null() || v.is_discarded()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
    if (v.is_string()) return !v.get<std::string>().empty();
    return !v.empty();
  }

  static std::string go_print_v(const nlohmann::json& v) { return v.is_discarded() ? "<no value>" : go_print(v); }

  // Tokens: ( ) | "strings" and words; a word right after ')' that starts
  // with '.' is a field of the parenthesized value (marked by a leading ')').
  static std::vector<std::string> tokens(const std::string& a) {
    std::vector<std::string> out;
    for (size_t i = 0; i < a.size();) {
      char c = a[i];
      if (c == ' ') {
        i++;
      } else if (c == '(' || c == '|') {
        out.emplace_back(1, c);
        i++;
      } else if (c == ')') {
        out.emplace_back(")");
        i++;
        if (i < a.size() && a[i] == '.') {
          size_t j = i;
          while (j < a.size() && a[j] != ' ' && a[j] != ')' && a[j] != '(' && a[j] != '|') j++;
          out.push_back(")" + a.substr(i, j - i));
          i = j;
        }
      } else if (c == '"') {
        size_t j = a.find('"', i + 1);
        if (j == std::string::npos) fail(Errc::usage, "template: unterminated quoted string");
        out.push_back(a.substr(i, j - i + 1));
        i = j + 1;
      } else {
        size_t j = i;
        while (j < a.size() && a[j] != ' ' && a[j] != ')' && a[j] != '(' && a[j] != '|') j++;
        out.push_back(a.substr(i, j - i));
        i = j;
      }
    }
    return out;
  }

  nlohmann::json eval_pipeline(const std::string& a, const nlohmann::json& dot) {
    auto tk = tokens(a);
    size_t i = 0;
    nlohmann::json v = command(tk, i, dot, nullptr);
    while (i < tk.size() && tk[i] == "|") {
      i++;
      v = command(tk, i, dot, &v);
    }
    if (i != tk.size()) fail(Errc::usage, "template: unexpected \"" + tk[i] + "\" in \"" + a + "\"");
    return v;
  }

  // One command up to ')' or '|' or the end: a function call or an operand.
  nlohmann::json command(const std::vector<std::string>& tk, size_t& i, const nlohmann::json& dot,
                         const nlohmann::json* piped) {
    if (i >= tk.size() || tk[i] == ")" || tk[i] == "|") fail(Errc::usage, "template: missing command");
    static const std::set<std::string> kFuncs = {"json", "index", "join", "upper", "lower", "len"};
    if (kFuncs.count(tk[i])) {
      std::string f = tk[i++];
      std::vector<nlohmann::json> args;
      while (i < tk.size() && tk[i] != ")" && tk[i] != "|" && tk[i][0] != ')') args.push_back(operand(tk, i, dot));
      if (piped) args.push_back(*piped);
      return call(f, args);
    }
    if (piped) fail(Errc::usage, "template: can't give a pipeline's value to " + tk[i]);
    nlohmann::json v = operand(tk, i, dot);
    if (i < tk.size() && tk[i] != ")" && tk[i] != "|" && tk[i][0] != ')')
      fail(Errc::usage, "template: " + tk[i - 1] + " is not a function");
    return v;
  }

  nlohmann::json operand(const std::vector<std::string>& tk, size_t& i, const nlohmann::json& dot) {
    const std::string& w = tk[i];
    if (w == "(") {
      i++;
      nlohmann::json v = command(tk, i, dot, nullptr);
      while (i < tk.size() && tk[i] == "|") {
        i++;
        v = command(tk, i, dot, &v);
      }
      if (i >= tk.size() || tk[i] != ")") fail(Errc::usage, "template: unclosed (");
      i++;
      if (i < tk.size() && tk[i].size() > 1 && tk[i][0] == ')') return field(tk[i++].substr(1), v, false);
      return v;
    }
    i++;
    if (w.size() >= 2 && w.front() == '"') return w.substr(1, w.size() - 2);
    if (w == "true" || w == "false") return w == "true";
    if (!w.empty() && (std::isdigit(static_cast<unsigned char>(w[0])) || w[0] == '-') &&
        w.find_first_not_of("-0123456789") == std::string::npos)
      return std::stoll(w);
    if (w == ".") return dot;
    if (w[0] == '.') return field(w, dot, &dot == &root_);
    if (w[0] == '$' && (w == "$" || w[1] == '.')) return w == "$" ? root_ : field(w.substr(1), root_, true);
    fail(Errc::usage, "template: function \"" + w + "\" not defined");
  }

  // ".A.B" on `v`; `strict`: a top-level name `v` lacks is an error.
  static nlohmann::json field(const std::string& expr, const nlohmann::json& v, bool strict) {
    if (expr.size() < 2 || expr[0] != '.') fail(Errc::usage, "template: unsupported expression \"" + expr + "\"");
    const nlohmann::json* cur = &v;
    size_t pos = 1;
    bool top = strict;
    while (pos <= expr.size()) {
      size_t dot = expr.find('.', pos);
      std::string name = expr.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (name.empty()) fail(Errc::usage, "template: unsupported expression \"" + expr + "\"");
      if (!cur->is_object() || !cur->contains(name)) {
        if (top) fail(Errc::usage, "template: can't evaluate field " + name);
        if (cur->is_null() || cur->is_discarded() || cur->is_object()) return kMissing;
        fail(Errc::usage, "template: can't evaluate field " + name + " in " + go_print_v(*cur));
      }
      cur = &cur->at(name);
      top = false;
      if (dot == std::string::npos) break;
      pos = dot + 1;
    }
    return *cur;
  }

  static nlohmann::json call(const std::string& f, const std::vector<nlohmann::json>& a) {
    auto want = [&](size_t n) {
      if (a.size() != n) fail(Errc::usage, "template: wrong number of args for " + f);
    };
    if (f == "json") {
      want(1);
      return a[0].is_discarded() ? "null" : a[0].dump();
    }
    if (f == "upper" || f == "lower") {
      want(1);
      std::string v = go_print_v(a[0]);
      for (auto& c : v) c = static_cast<char>(f == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                                           : std::tolower(static_cast<unsigned char>(c)));
      return v;
    }
    if (f == "len") {
      want(1);
      if (a[0].is_string()) return a[0].get<std::string>().size();
      if (a[0].is_array() || a[0].is_object()) return a[0].size();
      fail(Errc::usage, "template: len of " + go_print_v(a[0]));
    }
    if (f == "join") {
      want(2);
      if (!a[0].is_array()) fail(Errc::usage, "template: join wants a list");
      std::string out, sep = go_print_v(a[1]);
      for (size_t k = 0; k < a[0].size(); k++) out += (k ? sep : "") + go_print(a[0][k]);
      return out;
    }
    // index X K...
    if (a.size() < 2) fail(Errc::usage, "template: wrong number of args for index");
    nlohmann::json cur = a[0];
    for (size_t k = 1; k < a.size(); k++) {
      const auto& key = a[k];
      if (cur.is_object() && key.is_string()) {
        cur = cur.contains(key.get<std::string>()) ? cur.at(key.get<std::string>()) : kMissing;
      } else if (cur.is_array() && key.is_number_integer() && key.get<int64_t>() >= 0 &&
                 static_cast<size_t>(key.get<int64_t>()) < cur.size()) {
        cur = cur[static_cast<size_t>(key.get<int64_t>())];
      } else {
        fail(Errc::usage, "template: index of untyped nil or out of range: " + go_print_v(key));
      }
    }
    return cur;
  }
};

}  // namespace

std::string render_template(std::string_view t, const nlohmann::json& obj) { return Template(t, obj).render(); }

std::string render_template_table(std::string_view t, const std::vector<nlohmann::json>& objs,
                                   const std::map<std::string, std::string>& headers) {
  auto tmpl = t.substr(5);  // after "table"
  while (!tmpl.empty() && tmpl.front() == ' ') tmpl.remove_prefix(1);
  // The header: each {{.Field}} becomes its column name.
  std::string head;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 2, "{{") == 0) {
      auto end = tmpl.find("}}", i + 2);
      if (end == std::string_view::npos) fail(Errc::usage, "template: unclosed action");
      auto w = action_words(tmpl.substr(i + 2, end - i - 2));
      std::string f = w.empty() ? "" : w.back();
      if (!f.empty() && f[0] == '.') f = f.substr(1);
      auto it = headers.find(f);
      std::string name = it != headers.end() ? it->second : f;
      if (it == headers.end())
        for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      head += name;
      i = end + 2;
    } else if (tmpl[i] == '\\' && i + 1 < tmpl.size() && (tmpl[i + 1] == 't' || tmpl[i + 1] == 'n')) {
      head += tmpl[i + 1] == 't' ? '\t' : '\n';
      i += 2;
    } else {
      head += tmpl[i++];
    }
  }
  auto cells = [](const std::string& line) {
    std::vector<std::string> c;
    size_t s = 0;
    for (size_t p; (p = line.find('\t', s)) != std::string::npos; s = p + 1) c.push_back(line.substr(s, p - s));
    c.push_back(line.substr(s));
    return c;
  };
  std::vector<std::vector<std::string>> rows{cells(head)};
  for (const auto& o : objs) rows.push_back(cells(render_template(tmpl, o)));
  return format_table(rows);
}

namespace {

void apply_change_inst(image::ContainerConfig& cfg, const dockerfile::Instruction& raw) {
  namespace df = dockerfile;
  auto inst = df::expand_instruction(raw, df::env_from_list(cfg.env), '\\', "--change");
  std::vector<std::string> shell = cfg.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : cfg.shell;
  if (!df::apply_metadata(cfg, inst, shell)) fail(Errc::invalid, "unsupported instruction " + inst.keyword);
}

}  // namespace

void apply_change(image::ContainerConfig& cfg, std::string_view change) {
  with_context("--change \"" + std::string(change) + "\"", [&] {
    auto insts = dockerfile::parse_instructions(change, "--change");
    if (insts.size() != 1) fail(Errc::invalid, "expected one instruction");
    apply_change_inst(cfg, insts[0]);
  });
}

std::string truncate_text(const std::string& s, size_t n) {
  if (n == 0 || s.size() <= n) return s;
  // Cut on a UTF-8 character boundary.
  size_t cut = n - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) cut--;
  return s.substr(0, cut) + "…";
}

std::vector<std::pair<std::string, std::string>> parse_labels(const std::vector<std::string>& kvs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& kv : kvs) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    if (k.empty()) fail(Errc::usage, "invalid label \"" + kv + "\": empty key");
    out.emplace_back(k, eq == std::string::npos ? "" : kv.substr(eq + 1));
  }
  return out;
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  // Width in characters, not bytes ("…" is one column).
  auto width = [](const std::string& s) {
    size_t w = 0;
    for (unsigned char c : s) w += (c & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> w;
  for (auto& r : rows)
    for (size_t i = 0; i + 1 < r.size(); i++) {
      if (w.size() <= i) w.resize(i + 1, 0);
      w[i] = std::max(w[i], std::max<size_t>(width(r[i]) + 3, 10));
    }
  std::string out;
  for (auto& r : rows) {
    for (size_t i = 0; i < r.size(); i++) {
      out += r[i];
      if (i + 1 < r.size()) out.append(w[i] - width(r[i]), ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace ocikit::manage
