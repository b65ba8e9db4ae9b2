// The second stage of the Dockerfile parser: validation into stages,
// variable expansion of an instruction, and typed views for the executor.
#include "common/dockerfile.hpp"

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cctype>
#include <charconv>
#include <set>

namespace ocikit::dockerfile {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

const std::set<std::string, std::less<>> kKeywords = {
    "add",   "arg",        "cmd",     "copy", "entrypoint", "env",        "expose", "from",   "healthcheck",
    "label", "maintainer", "onbuild", "run",  "shell",      "stopsignal", "user",   "volume", "workdir"};

struct FlagSpec {
  const char* name;
  enum Kind { string, boolean, repeated } kind;
};

std::vector<FlagSpec> flag_specs(std::string_view kw) {
  using K = FlagSpec::Kind;
  if (kw == "from") return {{"platform", K::string}};
  if (kw == "run") return {{"mount", K::repeated}, {"network", K::string}, {"security", K::string}};
  if (kw == "copy")
    return {{"from", K::string},  {"chown", K::string},    {"chmod", K::string},
            {"link", K::boolean}, {"parents", K::boolean}, {"exclude", K::repeated}};
  if (kw == "add")
    return {{"chown", K::string},         {"chmod", K::string},     {"link", K::boolean},  {"checksum", K::string},
            {"keep-git-dir", K::boolean}, {"exclude", K::repeated}, {"unpack", K::boolean}};
  if (kw == "healthcheck")
    return {{"interval", K::string},
            {"timeout", K::string},
            {"start-period", K::string},
            {"start-interval", K::string},
            {"retries", K::string}};
  return {};
}

bool has_var(std::string_view s) { return s.find('$') != std::string_view::npos; }

void check_flags(const Instruction& in) {
  auto specs = flag_specs(in.keyword);
  std::set<std::string> seen;
  for (const auto& f : in.flags) {
    auto it = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return f.name == s.name; });
    if (it == specs.end()) fail(Errc::invalid, "unknown flag: " + f.name);
    if (it->kind != FlagSpec::repeated && !seen.insert(f.name).second)
      fail(Errc::invalid, "duplicate flag specified: " + f.name);
    if (it->kind == FlagSpec::boolean) {
      if (f.has_value && f.value != "true" && f.value != "false")
        fail(Errc::invalid, "expecting boolean value for flag " + f.name + ", not: " + f.value);
    } else if (!f.has_value) {
      fail(Errc::invalid, "missing a value on flag: " + f.name);
    }
  }
}

std::string first_word(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\v\f\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_first_of(" \t\r\v\f\n", b);
  return s.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

void validate(const Instruction& in, bool trigger) {
  const std::string& k = in.keyword;
  const std::string K = upper(k);
  if (!kKeywords.count(k)) fail(Errc::invalid, "unknown instruction: " + first_word(in.original));
  check_flags(in);
  const auto n = in.args.size();
  if (k == "from") {
    if (trigger) fail(Errc::invalid, "FROM isn't allowed as an ONBUILD trigger");
    if (n != 1 && n != 3) fail(Errc::invalid, "FROM requires either one or three arguments");
    if (n == 3 && lower(in.args[1]) != "as")
      fail(Errc::invalid, "FROM expects AS before the stage name, got \"" + in.args[1] + "\"");
  } else if (k == "maintainer") {
    if (trigger) fail(Errc::invalid, "MAINTAINER isn't allowed as an ONBUILD trigger");
    if (n != 1) fail(Errc::invalid, "MAINTAINER requires exactly one argument");
  } else if (k == "onbuild") {
    if (in.trigger.empty()) fail(Errc::invalid, "ONBUILD requires at least one argument");
    if (in.trigger[0].keyword == "onbuild") fail(Errc::invalid, "chaining ONBUILD via ONBUILD ONBUILD isn't allowed");
    validate(in.trigger[0], true);
  } else if (k == "env" || k == "label") {
    if (n == 0) fail(Errc::invalid, K + " requires at least one argument");
    for (size_t i = 0; i < n; i += 2)
      if (in.args[i].empty()) fail(Errc::invalid, K + " names can not be blank");
  } else if (k == "arg") {
    if (n == 0) fail(Errc::invalid, "ARG requires at least one argument");
    for (const auto& w : in.args)
      if (w.empty() || w[0] == '=') fail(Errc::invalid, "ARG names can not be blank");
  } else if (k == "run") {
    if (n == 0 && in.heredocs.empty()) fail(Errc::invalid, "RUN requires at least one argument");
    auto o = run_options(in);
    (void)o;
  } else if (k == "copy" || k == "add") {
    if (n < 2)
      fail(Errc::invalid,
           K + " requires at least two arguments, but only one was provided. Destination could not be determined");
  } else if (k == "expose" || k == "volume" || k == "shell") {
    if (n == 0) fail(Errc::invalid, K + " requires at least one argument");
    if (k == "volume")
      for (const auto& v : in.args)
        if (v.empty()) fail(Errc::invalid, "VOLUME specified can not be an empty string");
    if (k == "shell" && !in.json_form) fail(Errc::invalid, "SHELL requires the arguments to be in JSON form");
  } else if (k == "user" || k == "workdir" || k == "stopsignal") {
    if (n != 1) fail(Errc::invalid, K + " requires exactly one argument");
  } else if (k == "healthcheck") {
    if (n == 0) fail(Errc::invalid, "HEALTHCHECK requires at least one argument");
    healthcheck(in);
  }
}

[[noreturn]] void fail_line(const std::string& file, int line, const std::string& msg) {
  fail(Errc::invalid, file + ":" + std::to_string(line) + ": " + msg);
}

bool valid_stage_name(const std::string& s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool parse_bool_value(const std::string& key, const std::string& v) {
  if (v.empty() || v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  fail(Errc::invalid, "invalid value for " + key + ": " + v);
}

template <class T>
T parse_number(const std::string& key, const std::string& v, int base = 10) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    fail(Errc::invalid, "invalid value for " + key + ": " + v);
  return out;
}

uint64_t parse_size(const std::string& v) {
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  double num = 0;
  try {
    num = std::stod(v.substr(0, i));
  } catch (...) {
    fail(Errc::invalid, "invalid size: " + v);
  }
  std::string unit = lower(v.substr(i));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  double mul = unit.empty() ? 1
      : unit == "k"         ? 1024.0
      : unit == "m"         ? 1024.0 * 1024
      : unit == "g"         ? 1024.0 * 1024 * 1024
      : unit == "t"         ? 1024.0 * 1024 * 1024 * 1024
                            : -1;
  if (mul < 0) fail(Errc::invalid, "invalid size: " + v);
  return static_cast<uint64_t>(num * mul);
}

}  // namespace

std::optional<std::string> Instruction::flag(std::string_view name) const {
  std::optional<std::string> r;
  for (const auto& f : flags)
    if (f.name == name) r = f.value;
  return r;
}

std::vector<std::string> Instruction::flag_values(std::string_view name) const {
  std::vector<std::string> r;
  for (const auto& f : flags)
    if (f.name == name) r.push_back(f.value);
  return r;
}

bool Instruction::has_flag(std::string_view name) const {
  for (const auto& f : flags)
    if (f.name == name) return !f.has_value || f.value == "true";
  return false;
}

Dockerfile parse(std::string_view text, const std::string& file) {
  Dockerfile df;
  auto list = parse_instructions(text, file, &df.directives);
  std::set<std::string> names;
  for (auto& in : list) {
    try {
      validate(in, false);
    } catch (const Error& e) {
      fail_line(file, in.line, e.what());
    }
    if (in.keyword == "from") {
      Stage st;
      st.base = in.args[0];
      st.line = in.line;
      if (auto p = in.flag("platform")) st.platform = *p;
      if (in.args.size() == 3) {
        st.name = lower(in.args[2]);
        if (!has_var(st.name) && !valid_stage_name(st.name))
          fail_line(file, in.line,
                    "invalid name for build stage: \"" + in.args[2] +
                        "\", name can't start with a number or contain symbols");
        if (!names.insert(st.name).second) fail_line(file, in.line, "duplicate stage name \"" + st.name + "\"");
      }
      st.from = std::move(in);
      df.stages.push_back(std::move(st));
    } else if (df.stages.empty()) {
      if (in.keyword != "arg") fail_line(file, in.line, "no build stage in current context");
      df.global_args.push_back(std::move(in));
    } else {
      df.stages.back().instructions.push_back(std::move(in));
    }
  }
  if (df.stages.empty()) fail_line(file, list.back().end_line, "no build stage in current context");
  return df;
}

Dockerfile parse_file(const std::string& path) {
  std::string text = fs::read_file(path);
  return parse(text, path);
}

bool expands_variables(std::string_view k) {
  static const std::set<std::string, std::less<>> kExpanding = {
      "add", "arg", "copy", "env", "expose", "from", "label", "stopsignal", "user", "volume", "workdir"};
  return kExpanding.count(k) > 0;
}

Instruction expand_instruction(const Instruction& inst, const EnvLookup& env, char escape, const std::string& file) {
  Instruction out = inst;
  LexOptions o;
  o.escape = escape;
  auto ex = [&](const std::string& w) { return expand_word(w, env, o); };
  try {
    const std::string& k = inst.keyword;
    if (k == "arg") {
      for (auto& w : out.args) {
        auto eq = w.find('=');
        if (eq != std::string::npos) w = w.substr(0, eq + 1) + ex(w.substr(eq + 1));
      }
    } else if (k == "expose") {
      // EXPOSE $PORTS may name several ports: its words are split again.
      out.args.clear();
      for (const auto& w : inst.args)
        for (auto& p : expand_words(w, env, o)) out.args.push_back(std::move(p));
    } else if (expands_variables(k)) {
      for (auto& w : out.args) w = ex(w);
    }
    if (expands_variables(k) || k == "run") {
      static const std::set<std::string, std::less<>> kFlagExpand = {
          "from", "chown", "chmod", "platform", "mount", "checksum", "exclude", "network", "security"};
      out.raw_flags.clear();
      for (auto& f : out.flags) {
        if (f.has_value && kFlagExpand.count(f.name)) f.value = ex(f.value);
        out.raw_flags.push_back("--" + f.name + (f.has_value ? "=" + f.value : ""));
      }
    }
  } catch (const Error& e) {
    fail_line(file, inst.line, e.what());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> key_values(const Instruction& inst) {
  std::vector<std::pair<std::string, std::string>> r;
  for (size_t i = 0; i + 1 < inst.args.size(); i += 2) r.emplace_back(inst.args[i], inst.args[i + 1]);
  return r;
}

std::vector<ArgDecl> arg_decls(const Instruction& inst) {
  std::vector<ArgDecl> r;
  for (const auto& w : inst.args) {
    auto eq = w.find('=');
    if (eq == std::string::npos) r.push_back({w, std::nullopt});
    else r.push_back({w.substr(0, eq), w.substr(eq + 1)});
  }
  return r;
}

Mount parse_mount(std::string_view spec) {
  Mount m;
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& field : text::split(spec, ',')) {
    if (field.empty()) continue;
    auto eq = field.find('=');
    kv.emplace_back(lower(field.substr(0, eq)), eq == std::string::npos ? "" : field.substr(eq + 1));
  }
  for (const auto& [k, v] : kv)
    if (k == "type") {
      if (v == "bind") m.type = Mount::Type::bind;
      else if (v == "cache") m.type = Mount::Type::cache;
      else if (v == "tmpfs") m.type = Mount::Type::tmpfs;
      else if (v == "secret") m.type = Mount::Type::secret;
      else if (v == "ssh") m.type = Mount::Type::ssh;
      else fail(Errc::invalid, "unsupported mount type \"" + v + "\"");
    }
  m.readonly = m.type == Mount::Type::bind;
  if (m.type == Mount::Type::secret) m.mode = 0400;
  if (m.type == Mount::Type::ssh) m.mode = 0600;
  for (const auto& [k, v] : kv) {
    if (k == "type") continue;
    if (k == "target" || k == "dst" || k == "destination") m.target = v;
    else if (k == "source" || k == "src") m.source = v;
    else if (k == "from") m.from = v;
    else if (k == "id") m.id = v;
    else if (k == "readonly" || k == "ro") m.readonly = parse_bool_value(k, v);
    else if (k == "rw" || k == "readwrite") m.readonly = !parse_bool_value(k, v);
    else if (k == "sharing" && m.type == Mount::Type::cache) {
      if (v != "shared" && v != "private" && v != "locked")
        fail(Errc::invalid, "unsupported sharing value \"" + v + "\"");
      m.sharing = v;
    } else if (k == "mode") m.mode = parse_number<uint32_t>(k, v, 8);
    else if (k == "uid") m.uid = parse_number<uint32_t>(k, v);
    else if (k == "gid") m.gid = parse_number<uint32_t>(k, v);
    else if (k == "size" && m.type == Mount::Type::tmpfs) m.size = parse_size(v);
    else if (k == "required") m.required = parse_bool_value(k, v);
    else if (k == "env" && m.type == Mount::Type::secret) m.env = v;
    else fail(Errc::invalid, "unexpected key '" + k + "' in '" + std::string(spec) + "'");
  }
  switch (m.type) {
    case Mount::Type::secret:
      if (m.id.empty() && m.target.empty() && m.env.empty())
        fail(Errc::invalid, "invalid secret mount: one of id, target or env is required");
      if (m.id.empty()) m.id = m.target.empty() ? m.env : m.target.substr(m.target.rfind('/') + 1);
      if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
      break;
    case Mount::Type::ssh:
      if (m.id.empty()) m.id = "default";
      if (m.target.empty()) m.target = "/run/buildkit/ssh_agent.0";
      break;
    default:
      if (m.target.empty() && m.type != Mount::Type::bind)
        fail(Errc::invalid, "mount target is required in '" + std::string(spec) + "'");
      if (m.type == Mount::Type::cache && m.id.empty()) m.id = m.target;
  }
  return m;
}

RunOptions run_options(const Instruction& inst) {
  RunOptions r;
  size_t ssh = 0;
  for (const auto& v : inst.flag_values("mount")) {
    if (has_var(v)) continue;
    r.mounts.push_back(parse_mount(v));
    // ssh mounts without a target are numbered: /run/buildkit/ssh_agent.0, .1, ...
    auto& m = r.mounts.back();
    if (m.type == Mount::Type::ssh && ssh++ > 0 && v.find("target=") == std::string::npos &&
        v.find("dst=") == std::string::npos && v.find("destination=") == std::string::npos)
      m.target = "/run/buildkit/ssh_agent." + std::to_string(ssh - 1);
  }
  if (auto n = inst.flag("network")) {
    if (!has_var(*n) && *n != "default" && *n != "none" && *n != "host")
      fail(Errc::invalid, "unsupported network mode \"" + *n + "\"");
    r.network = *n;
  }
  if (auto s = inst.flag("security")) {
    if (!has_var(*s) && *s != "sandbox" && *s != "insecure")
      fail(Errc::invalid, "unsupported security mode \"" + *s + "\"");
    r.security = *s;
  }
  return r;
}

RunCommand run_command(const Instruction& inst, const std::vector<std::string>& shell) {
  RunCommand r;
  if (inst.json_form) {
    r.argv = inst.args;
    return r;
  }
  std::string cmd = inst.args.empty() ? "" : inst.args[0];
  if (!inst.heredocs.empty()) {
    std::string_view word = cmd;
    bool single = inst.heredocs.size() == 1 && word.find_first_of(" \t") == std::string_view::npos &&
        word.find("<<") != std::string_view::npos;
    if (single && inst.heredocs[0].content.rfind("#!", 0) == 0) {
      r.script = inst.heredocs[0];
      return r;
    }
    if (single) {
      cmd = inst.heredocs[0].content;
    } else {
      for (const auto& h : inst.heredocs) cmd += "\n" + h.content + h.name;
    }
  }
  r.argv = shell;
  r.argv.push_back(cmd);
  return r;
}

CopyOptions copy_options(const Instruction& inst) {
  CopyOptions c;
  if (inst.args.size() >= 2) {
    c.sources.assign(inst.args.begin(), inst.args.end() - 1);
    c.dest = inst.args.back();
  }
  c.from = inst.flag("from").value_or("");
  c.chown = inst.flag("chown").value_or("");
  c.chmod = inst.flag("chmod").value_or("");
  c.checksum = inst.flag("checksum").value_or("");
  c.link = inst.has_flag("link");
  c.parents = inst.has_flag("parents");
  c.keep_git_dir = inst.has_flag("keep-git-dir");
  c.excludes = inst.flag_values("exclude");
  if (inst.flag("unpack")) c.unpack = inst.has_flag("unpack");
  return c;
}

int64_t parse_duration(std::string_view s) {
  std::string orig(s);
  if (s == "0") return 0;
  if (s.empty()) fail(Errc::invalid, "invalid duration \"" + orig + "\"");
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) fail(Errc::invalid, "invalid duration \"" + orig + "\"");
    double num = 0;
    try {
      num = std::stod(std::string(s.substr(0, i)));
    } catch (const std::exception&) {
      fail(Errc::invalid, "invalid duration \"" + orig + "\"");
    }
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.') ++j;
    std::string unit(s.substr(0, j));
    s.remove_prefix(j);
    double mul = unit == "ns"            ? 1
        : (unit == "us" || unit == "µs") ? 1e3
        : unit == "ms"                   ? 1e6
        : unit == "s"                    ? 1e9
        : unit == "m"                    ? 60e9
        : unit == "h"                    ? 3600e9
                                         : -1;
    if (mul < 0) fail(Errc::invalid, "invalid duration \"" + orig + "\"");
    total += num * mul;
  }
  return static_cast<int64_t>(neg ? -total : total);
}

image::Healthcheck healthcheck(const Instruction& inst) {
  image::Healthcheck h;
  if (inst.args.empty()) fail(Errc::invalid, "HEALTHCHECK requires at least one argument");
  std::string type = upper(inst.args[0]);
  if (type == "NONE") {
    if (inst.args.size() > 1 || !inst.flags.empty()) fail(Errc::invalid, "HEALTHCHECK NONE takes no arguments");
    h.test = {"NONE"};
    return h;
  }
  if (type != "CMD") fail(Errc::invalid, "unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
  if (inst.args.size() < 2) fail(Errc::invalid, "missing command after HEALTHCHECK CMD");
  if (inst.json_form) {
    h.test = {"CMD"};
    h.test.insert(h.test.end(), inst.args.begin() + 1, inst.args.end());
  } else {
    h.test = {"CMD-SHELL", inst.args[1]};
  }
  auto dur = [&](const char* name, int64_t& out) {
    if (auto v = inst.flag(name)) {
      out = parse_duration(*v);
      if (out != 0 && out < 1000000) fail(Errc::invalid, std::string("--") + name + " cannot be less than 1ms");
      if (out < 0) fail(Errc::invalid, std::string("--") + name + " cannot be negative");
    }
  };
  dur("interval", h.interval);
  dur("timeout", h.timeout);
  dur("start-period", h.start_period);
  dur("start-interval", h.start_interval);
  if (auto r = inst.flag("retries")) {
    h.retries = parse_number<int>("--retries", *r);
    if (h.retries < 0) fail(Errc::invalid, "--retries cannot be negative");
  }
  return h;
}

namespace {
std::string join_words(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& w : v) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string json_words(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

// The trigger of an ONBUILD line as written ("ONBUILD  RUN x" -> "RUN x").
std::string trigger_text(const std::string& original) {
  size_t i = 0;
  while (i < original.size() && (original[i] == ' ' || original[i] == '\t')) ++i;
  i += 7;  // "onbuild", any case
  while (i < original.size() && (original[i] == ' ' || original[i] == '\t')) ++i;
  return i < original.size() ? original.substr(i) : "";
}
}  // namespace

std::optional<std::string> apply_metadata(image::ContainerConfig& c, const Instruction& e,
                                          const std::vector<std::string>& shell) {
  const std::string& kw = e.keyword;
  auto one = [&](const char* what) -> const std::string& {
    if (e.args.size() != 1) fail(Errc::invalid, std::string(what) + " requires exactly one argument");
    return e.args[0];
  };
  if (kw == "env") {
    std::string text = "ENV";
    for (auto& [k, v] : key_values(e)) {
      std::string pre = k + "=";
      auto it = std::find_if(c.env.begin(), c.env.end(), [&](const std::string& x) { return x.rfind(pre, 0) == 0; });
      if (it != c.env.end()) *it = pre + v;
      else c.env.push_back(pre + v);
      text += " " + k + "=" + v;
    }
    return text;
  }
  if (kw == "label") {
    std::string text = "LABEL";
    for (auto& [k, v] : key_values(e)) {
      c.labels[k] = v;
      text += " " + k + "=" + v;
    }
    return text;
  }
  if (kw == "workdir") {
    const std::string& d = one("WORKDIR");
    std::string wd = c.working_dir.empty() ? "/" : c.working_dir;
    c.working_dir = fs::clean_path(!d.empty() && d[0] == '/' ? d : wd + "/" + d);
    return "WORKDIR " + c.working_dir;
  }
  if (kw == "user") {
    c.user = one("USER");
    return "USER " + c.user;
  }
  if (kw == "stopsignal") {
    c.stop_signal = one("STOPSIGNAL");
    return "STOPSIGNAL " + c.stop_signal;
  }
  if (kw == "expose") {
    for (auto p : e.args) {
      if (p.find('/') == std::string::npos) p += "/tcp";
      if (std::find(c.exposed_ports.begin(), c.exposed_ports.end(), p) == c.exposed_ports.end())
        c.exposed_ports.push_back(p);
    }
    std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
    return "EXPOSE " + join_words(e.args);
  }
  if (kw == "volume") {
    for (auto& v : e.args) {
      if (v.empty()) fail(Errc::invalid, "VOLUME specified can not be an empty string");
      if (std::find(c.volumes.begin(), c.volumes.end(), v) == c.volumes.end()) c.volumes.push_back(v);
    }
    std::sort(c.volumes.begin(), c.volumes.end());
    return "VOLUME [" + join_words(e.args) + "]";
  }
  if (kw == "cmd" || kw == "entrypoint") {
    std::vector<std::string> v = e.json_form ? e.args : shell;
    if (!e.json_form) v.push_back(join_words(e.args));
    (kw == "cmd" ? c.cmd : c.entrypoint) = v;
    return (kw == "cmd" ? "CMD " : "ENTRYPOINT ") + json_words(v);
  }
  if (kw == "shell") {
    if (!e.json_form || e.args.empty()) fail(Errc::invalid, "SHELL requires the arguments to be in JSON form");
    c.shell = e.args;
    return "SHELL " + json_words(e.args);
  }
  if (kw == "healthcheck") {
    c.healthcheck = healthcheck(e);
    return "HEALTHCHECK " + json_words(c.healthcheck->test);
  }
  if (kw == "onbuild") {
    c.on_build.push_back(trigger_text(e.original));
    return "ONBUILD " + c.on_build.back();
  }
  return std::nullopt;
}

}  // namespace ocikit::dockerfile
