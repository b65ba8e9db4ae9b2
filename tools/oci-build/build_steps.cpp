// oci-build: instruction dispatch and the metadata instructions (see builder.hpp).
#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include "builder.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::build {

using nlohmann::json;

std::string now_rfc3339(const std::optional<int64_t>& epoch) {
  time_t t = epoch ? static_cast<time_t>(*epoch) : time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Builder::automatic_arg(const std::string& name) const {
  auto host = platform::host();
  const platform::Platform& t = platform_;
  if (name == "TARGETPLATFORM") return t.str();
  if (name == "TARGETOS") return t.os;
  if (name == "TARGETARCH") return t.architecture;
  if (name == "TARGETVARIANT") return t.variant;
  if (name == "BUILDPLATFORM") return host.str();
  if (name == "BUILDOS") return host.os;
  if (name == "BUILDARCH") return host.architecture;
  if (name == "BUILDVARIANT") return host.variant;
  return "";
}

df::EnvLookup Builder::env_lookup(const StageState& s) const {
  return [&s](std::string_view n) -> std::optional<std::string> {
    // ENV wins over ARG.
    for (auto it = s.config.config.env.rbegin(); it != s.config.config.env.rend(); ++it) {
      auto eq = it->find('=');
      if (eq != std::string::npos && std::string_view(*it).substr(0, eq) == n) return it->substr(eq + 1);
    }
    if (auto a = s.args.find(std::string(n)); a != s.args.end()) return a->second;
    return std::nullopt;
  };
}

void Builder::set_env(StageState& s, const std::string& k, const std::string& v) {
  auto& env = s.config.config.env;
  std::string pre = k + "=";
  for (auto& e : env)
    if (e.rfind(pre, 0) == 0) {
      e = pre + v;
      return;
    }
  env.push_back(pre + v);
}

void Builder::add_history(StageState& s, const std::string& created_by, bool empty, const std::string& created) {
  image::History h;
  h.created = created.empty() || o_.source_date_epoch ? now_rfc3339(o_.source_date_epoch) : created;
  h.created_by = created_by;
  h.empty_layer = empty;
  s.config.history.push_back(h);
}

void Builder::nop(StageState& s, const std::string& text) {
  s.key = sha256_str(s.key + "\n" + text);
  std::string now = now_rfc3339(o_.source_date_epoch);
  add_history(s, "/bin/sh -c #(nop)  " + text, true,
              o_.source_date_epoch ? now : cache_.step_time(s.key, now, !o_.no_cache));
}

void Builder::workdir(StageState& s, const std::string& dir) {
  std::string text = "WORKDIR " + dir;
  if (dir == "/" || s.layers.empty()) return nop(s, text);
  std::string key = sha256_str(s.key + "\n" + text);
  std::string created_by = "/bin/sh -c #(nop)  " + text;
  if (cache_hit(s, key, created_by)) return;
  // The directory is made through an overlay of the image, so that parents
  // copied up keep their modes and owners, and a link on the way is
  // followed inside the root.
  TempDir stage(tmp_);
  std::string upper = stage.path + "/upper", work = stage.path + "/work";
  fs::mkdir_p(upper);
  fs::mkdir_p(work);
  bool made = false;
  {
    Mounts m;
    std::string root = stage.path + "/root";
    mount_state(s, root, stage.path, m, upper, work);
    std::string host = fs::secure_join(root, dir);
    struct stat st;
    if (::stat(host.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) fail(Errc::invalid, text + ": not a directory in the image");
    } else {
      fs::mkdir_p(host, 0755);
      made = true;
    }
  }
  if (!made) return nop(s, text);
  commit_layer(s, upper, key, created_by);
}

std::string Builder::abs_in_workdir(const StageState& s, const std::string& p) const {
  if (!p.empty() && p[0] == '/') return fs::clean_path(p);
  std::string wd = s.config.config.working_dir.empty() ? "/" : s.config.config.working_dir;
  return fs::clean_path(wd + "/" + p);
}

void Builder::step(const df::Instruction& raw, StageState& s, size_t index) {
  auto env = env_lookup(s);
  df::Instruction e = df::expand_instruction(raw, env, escape_, file_name_);
  auto& c = s.config.config;
  const std::string& kw = e.keyword;
  std::string KW = kw;
  std::transform(KW.begin(), KW.end(), KW.begin(), ::toupper);
  if (kw == "env") {
    std::string text = "ENV";
    for (auto& [k, v] : df::key_values(e)) {
      set_env(s, k, v);
      text += " " + k + "=" + v;
    }
    nop(s, text);
  } else if (kw == "label") {
    std::string text = "LABEL";
    for (auto& [k, v] : df::key_values(e)) {
      c.labels[k] = v;
      text += " " + k + "=" + v;
    }
    nop(s, text);
  } else if (kw == "arg") {
    std::string text = "ARG";
    for (auto& d : df::arg_decls(e)) {
      auto it = o_.build_args.find(d.name);
      if (it != o_.build_args.end()) s.args[d.name] = it->second;
      else if (d.default_value) s.args[d.name] = *d.default_value;
      else if (auto g = global_args_.find(d.name); g != global_args_.end()) s.args[d.name] = g->second;
      else if (auto a = automatic_arg(d.name); !a.empty()) s.args[d.name] = a;
      text += " " + d.name + (d.default_value ? "=" + *d.default_value : "");
      if (s.args.count(d.name)) s.key = sha256_str(s.key + "\narg " + d.name + "=" + s.args[d.name]);
    }
    nop(s, text);
  } else if (kw == "maintainer") {
    s.config.author = join(e.args);
    nop(s, "MAINTAINER " + s.config.author);
  } else if (kw == "workdir") {
    // As every metadata instruction, then the directory itself (a layer when it is new).
    df::apply_metadata(c, e, s.shell);
    workdir(s, c.working_dir);
  } else if (auto text = df::apply_metadata(c, e, s.shell)) {
    if (kw == "entrypoint" && !s.cmd_set_in_stage) c.cmd.reset();
    if (kw == "cmd") s.cmd_set_in_stage = true;
    if (kw == "shell") s.shell = c.shell;
    nop(s, *text);
  } else if (kw == "copy" || kw == "add") {
    copy(e, s, index, kw == "add");
  } else if (kw == "run") {
    run(e, s, index);
  } else {
    fail(Errc::invalid, KW + " is not supported yet");
  }
}

}  // namespace ocikit::build
