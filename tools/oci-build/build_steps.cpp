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

namespace {
std::string now_rfc3339(const std::optional<int64_t>& epoch) {
  time_t t = epoch ? static_cast<time_t>(*epoch) : time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The trigger of an ONBUILD line as written ("ONBUILD  RUN x" -> "RUN x").
std::string trigger_text(const std::string& original) {
  size_t i = 0;
  while (i < original.size() && (original[i] == ' ' || original[i] == '\t')) ++i;
  i += 7;  // "onbuild", any case
  while (i < original.size() && (original[i] == ' ' || original[i] == '\t')) ++i;
  return i < original.size() ? original.substr(i) : "";
}
}  // namespace

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

df::EnvLookup Builder::env_lookup(const State& s) const {
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

void Builder::set_env(State& s, const std::string& k, const std::string& v) {
  auto& env = s.config.config.env;
  std::string pre = k + "=";
  for (auto& e : env)
    if (e.rfind(pre, 0) == 0) {
      e = pre + v;
      return;
    }
  env.push_back(pre + v);
}

void Builder::add_history(State& s, const std::string& created_by, bool empty) {
  image::History h;
  h.created = now_rfc3339(o_.source_date_epoch);
  h.created_by = created_by;
  h.empty_layer = empty;
  s.config.history.push_back(h);
}

void Builder::nop(State& s, const std::string& text) {
  s.key = sha256_str(s.key + "\n" + text);
  add_history(s, "/bin/sh -c #(nop)  " + text, true);
}

void Builder::workdir(State& s, const std::string& dir) {
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

std::string Builder::abs_in_workdir(const State& s, const std::string& p) const {
  if (!p.empty() && p[0] == '/') return fs::clean_path(p);
  std::string wd = s.config.config.working_dir.empty() ? "/" : s.config.config.working_dir;
  return fs::clean_path(wd + "/" + p);
}

void Builder::step(const df::Instruction& raw, State& s, size_t index) {
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
    } else if (kw == "workdir") {
      c.working_dir = abs_in_workdir(s, e.args.at(0));
      workdir(s, c.working_dir);
    } else if (kw == "user") {
      c.user = e.args.at(0);
      nop(s, "USER " + c.user);
    } else if (kw == "expose") {
      for (auto p : e.args) {
        if (p.find('/') == std::string::npos) p += "/tcp";
        if (std::find(c.exposed_ports.begin(), c.exposed_ports.end(), p) == c.exposed_ports.end())
          c.exposed_ports.push_back(p);
      }
      std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
      nop(s, "EXPOSE " + join(e.args));
    } else if (kw == "volume") {
      for (auto& v : e.args) {
        if (v.empty()) fail(Errc::invalid, "VOLUME specified can not be an empty string");
        if (std::find(c.volumes.begin(), c.volumes.end(), v) == c.volumes.end()) c.volumes.push_back(v);
      }
      std::sort(c.volumes.begin(), c.volumes.end());
      nop(s, "VOLUME [" + join(e.args) + "]");
    } else if (kw == "cmd" || kw == "entrypoint") {
      std::vector<std::string> v = e.json_form ? e.args : s.shell;
      if (!e.json_form) v.push_back(join(e.args));
      if (kw == "cmd") {
        c.cmd = v;
      } else {
        c.entrypoint = v;
        if (!s.cmd_set_in_stage) c.cmd.reset();
      }
      if (kw == "cmd") s.cmd_set_in_stage = true;
      nop(s, KW + " " + json(v).dump());
    } else if (kw == "shell") {
      s.shell = e.args;
      c.shell = e.args;
      nop(s, "SHELL " + json(e.args).dump());
    } else if (kw == "stopsignal") {
      c.stop_signal = e.args.at(0);
      nop(s, "STOPSIGNAL " + c.stop_signal);
    } else if (kw == "healthcheck") {
      auto hc = df::healthcheck(e);
      image::Healthcheck h;
      h.test = hc.test;
      h.interval = hc.interval;
      h.timeout = hc.timeout;
      h.start_period = hc.start_period;
      h.start_interval = hc.start_interval;
      h.retries = hc.retries;
      c.healthcheck = h;
      nop(s, "HEALTHCHECK " + json(hc.test).dump());
    } else if (kw == "maintainer") {
      s.config.author = join(e.args);
      nop(s, "MAINTAINER " + s.config.author);
    } else if (kw == "onbuild") {
      c.on_build.push_back(trigger_text(raw.original));
    nop(s, "ONBUILD " + c.on_build.back());
  } else if (kw == "copy" || kw == "add") {
    copy(e, s, index, kw == "add");
  } else if (kw == "run") {
    run(e, s, index);
  } else {
    fail(Errc::invalid, KW + " is not supported yet");
  }
}

}  // namespace ocikit::build
