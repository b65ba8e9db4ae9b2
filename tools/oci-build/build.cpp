// oci-build's executor (see build.hpp).
#include "build.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/image.hpp"
#include "common/layer.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/reference.hpp"
#include "dockerfile.hpp"
#include "dockerignore.hpp"

namespace ocikit::build {
namespace {

using nlohmann::json;
namespace df = dockerfile;

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string sha256_hex(std::string_view s) {
  digest::Hasher h(digest::Algorithm::sha256);
  h.update(s.data(), s.size());
  return h.finish().str();
}

/// A temporary directory removed (after unmounting what is listed) on scope exit.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& parent) {
    fs::mkdir_p(parent);
    std::string tmpl = parent + "/tmp-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw_errno("mkdtemp " + parent);
    path = tmpl;
  }
  ~TempDir() {
    try {
      fs::remove_all(path);
    } catch (...) {
    }
  }
  TempDir(const TempDir&) = delete;
};

/// An overlay (or bind) mount removed on scope exit.
struct Mounted {
  std::string target;
  Mounted() = default;
  Mounted(const Mounted&) = delete;
  ~Mounted() {
    if (!target.empty()) umount2(target.c_str(), MNT_DETACH);
  }
};

/// The state of a stage: its config and layers, and the cache key chain.
struct State {
  image::ImageConfig config;
  std::vector<image::Descriptor> layers;
  std::string key;  ///< cache chain key
  std::vector<std::string> shell{"/bin/sh", "-c"};
  std::map<std::string, std::string> args;  ///< ARGs in scope
  bool cmd_set_in_stage = false;
};

std::string now_rfc3339(const std::optional<int64_t>& epoch) {
  time_t t = epoch ? static_cast<time_t>(*epoch) : time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

class Builder {
 public:
  Builder(const Options& o, layout::Layout store) : o_(o), store_(std::move(store)) {
    work_ = store_.path() + "/ocikit-build";
    fs::mkdir_p(work_ + "/snapshots");
    fs::mkdir_p(work_ + "/cache");
    ignore_ = df::IgnoreMatcher::load(o_.context + "/.dockerignore");
  }

  State run_stage(const df::Dockerfile& file, size_t index, const std::map<std::string, size_t>& names,
                  std::vector<State>& done, const std::vector<std::pair<std::string, std::optional<std::string>>>& global) {
    const df::Stage& st = file.stages[index];
    escape_ = file.directives.escape;
    std::map<std::string, std::string> gargs;
    for (auto& [k, v] : global) {
      auto it = o_.build_args.find(k);
      if (it != o_.build_args.end()) gargs[k] = it->second;
      else if (v) gargs[k] = *v;
    }
    auto genv = [&](std::string_view n) -> std::optional<std::string> {
      auto it = gargs.find(std::string(n));
      if (it == gargs.end()) return std::nullopt;
      return it->second;
    };
    global_args_ = gargs;
    std::string base = with_context(loc(st.line), [&] {
      df::LexOptions lo;
      lo.escape = escape_;
      return df::expand_word(st.base, genv, lo);
    });
    State s;
    auto lname = base;
    std::transform(lname.begin(), lname.end(), lname.begin(), ::tolower);
    if (auto it = names.find(lname); it != names.end() && it->second < index) {
      s = done[it->second];
      s.args.clear();
      s.cmd_set_in_stage = false;
    } else if (base == "scratch") {
      auto p = platform::host();
      s.config.architecture = p.architecture;
      s.config.os = p.os;
      s.config.variant = p.variant;
      s.config.config.env = {kDefaultPath};
      s.key = sha256_hex("scratch " + p.str());
    } else {
      with_context(loc(st.line), [&] { load_image(base, s); });
    }
    for (auto& inst : st.instructions) {
      with_context(loc(inst.line), [&] { step(inst, s, names, done); });
    }
    return s;
  }

  void load_image(const std::string& name, State& s) {
    auto d = store_.resolve(name);
    if (!d) fail(Errc::not_found, "image \"" + name + "\" not found in the store " + store_.path());
    if (image::is_index_media_type(d->media_type)) {
      auto idx = store_.read_index(*d);
      auto host = platform::host();
      std::optional<image::Descriptor> pick;
      for (auto& m : idx.manifests)
        if (m.platform && platform::matches(host, *m.platform)) { pick = m; break; }
      if (!pick) fail(Errc::not_found, "image \"" + name + "\" has no manifest for " + host.str());
      d = pick;
    }
    auto m = store_.read_manifest(*d);
    s.config = store_.read_config(m.config);
    s.layers = m.layers;
    s.key = sha256_hex("image " + d->digest.str());
  }

  std::string loc(int line) const { return file_name_ + ":" + std::to_string(line); }

  df::EnvLookup env_lookup(const State& s) const {
    return [&s](std::string_view n) -> std::optional<std::string> {
      // Build args override nothing set by ENV; ENV wins over ARG.
      for (auto it = s.config.config.env.rbegin(); it != s.config.config.env.rend(); ++it) {
        auto eq = it->find('=');
        if (eq != std::string::npos && std::string_view(*it).substr(0, eq) == n) return it->substr(eq + 1);
      }
      if (auto a = s.args.find(std::string(n)); a != s.args.end()) return a->second;
      return std::nullopt;
    };
  }

  void set_env(State& s, const std::string& k, const std::string& v) {
    auto& env = s.config.config.env;
    std::string pre = k + "=";
    for (auto& e : env)
      if (e.rfind(pre, 0) == 0) { e = pre + v; return; }
    env.push_back(pre + v);
  }

  void add_history(State& s, const std::string& created_by, bool empty) {
    image::History h;
    h.created = now_rfc3339(o_.source_date_epoch);
    h.created_by = created_by;
    h.empty_layer = empty;
    s.config.history.push_back(h);
  }

  void nop(State& s, const df::Instruction& e, const std::string& text) {
    s.key = sha256_hex(s.key + "\n" + text);
    add_history(s, "/bin/sh -c #(nop)  " + text, true);
    (void)e;
  }

  std::string abs_in_workdir(const State& s, const std::string& p) const {
    if (!p.empty() && p[0] == '/') return fs::clean_path(p);
    std::string wd = s.config.config.working_dir.empty() ? "/" : s.config.config.working_dir;
    return fs::clean_path(wd + "/" + p);
  }

  void step(const df::Instruction& raw, State& s, const std::map<std::string, size_t>& names,
            std::vector<State>& done) {
    auto env = env_lookup(s);
    df::Instruction e = df::expand_instruction(raw, env, escape_, file_name_);
    auto& c = s.config.config;
    const std::string& kw = e.keyword;
    std::string KW = kw;
    std::transform(KW.begin(), KW.end(), KW.begin(), ::toupper);
    if (kw == "env") {
      std::string text = "ENV";
      for (auto& [k, v] : df::key_values(e)) { set_env(s, k, v); text += " " + k + "=" + v; }
      nop(s, e, text);
    } else if (kw == "label") {
      std::string text = "LABEL";
      for (auto& [k, v] : df::key_values(e)) { c.labels[k] = v; text += " " + k + "=" + v; }
      nop(s, e, text);
    } else if (kw == "arg") {
      std::string text = "ARG";
      for (auto& d : df::arg_decls(e)) {
        auto it = o_.build_args.find(d.name);
        if (it != o_.build_args.end()) s.args[d.name] = it->second;
        else if (d.default_value) s.args[d.name] = *d.default_value;
        else if (auto g = global_args_.find(d.name); g != global_args_.end()) s.args[d.name] = g->second;
        text += " " + d.name + (d.default_value ? "=" + *d.default_value : "");
        if (s.args.count(d.name)) s.key = sha256_hex(s.key + "\narg " + d.name + "=" + s.args[d.name]);
      }
      nop(s, e, text);
    } else if (kw == "workdir") {
      c.working_dir = abs_in_workdir(s, e.args.at(0));
      nop(s, e, "WORKDIR " + c.working_dir);
    } else if (kw == "user") {
      c.user = e.args.at(0);
      nop(s, e, "USER " + c.user);
    } else if (kw == "expose") {
      for (auto p : e.args) {
        if (p.find('/') == std::string::npos) p += "/tcp";
        if (std::find(c.exposed_ports.begin(), c.exposed_ports.end(), p) == c.exposed_ports.end())
          c.exposed_ports.push_back(p);
      }
      std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
      nop(s, e, "EXPOSE " + join(e.args));
    } else if (kw == "volume") {
      for (auto& v : e.args) {
        if (v.empty()) fail(Errc::invalid, "VOLUME specified can not be an empty string");
        if (std::find(c.volumes.begin(), c.volumes.end(), v) == c.volumes.end()) c.volumes.push_back(v);
      }
      std::sort(c.volumes.begin(), c.volumes.end());
      nop(s, e, "VOLUME [" + join(e.args) + "]");
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
      nop(s, e, KW + " " + json(v).dump());
    } else if (kw == "shell") {
      s.shell = e.args;
      c.shell = e.args;
      nop(s, e, "SHELL " + json(e.args).dump());
    } else if (kw == "stopsignal") {
      c.stop_signal = e.args.at(0);
      nop(s, e, "STOPSIGNAL " + c.stop_signal);
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
      nop(s, e, "HEALTHCHECK " + json(hc.test).dump());
    } else if (kw == "maintainer") {
      s.config.author = join(e.args);
      nop(s, e, "MAINTAINER " + s.config.author);
    } else if (kw == "onbuild") {
      c.on_build.push_back(raw.original.substr(std::min(raw.original.size(), size_t(8))));
      nop(s, e, raw.original);
    } else if (kw == "copy" || kw == "add") {
      copy(e, s, names, done, kw == "add");
    } else if (kw == "run") {
      run(e, s);
    } else {
      fail(Errc::invalid, KW + " is not supported yet");
    }
  }

  // ---- layers ----

  /// Commit `upper` as a layer, keyed by `key`, and add it to `s`.
  void commit_layer(State& s, const std::string& upper, const std::string& key, const std::string& created_by) {
    TempDir tmp(work_);
    std::string tar = tmp.path + "/layer.tar.gz";
    layer::DiffResult r;
    {
      fs::UniqueFd fd(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (fd.get() < 0) throw_errno("open " + tar);
      layer::DiffOptions dopts;
      dopts.source_date_epoch = o_.source_date_epoch;
      r = layer::diff_upper(upper, fd.get(), dopts);
    }
    auto w = store_.begin_blob(std::string(image::media::kOciLayerGzip));
    {
      fs::UniqueFd fd(::open(tar.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.get() < 0) throw_errno("open " + tar);
      char buf[1 << 16];
      for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) throw_errno("read " + tar);
        if (n == 0) break;
        w.write(buf, static_cast<size_t>(n));
      }
    }
    auto d = w.commit(r.digest, static_cast<int64_t>(r.size));
    json entry = {{"layer", image::to_json(d)}, {"diff_id", r.diff_id.str()}};
    if (!o_.no_cache || true) fs::write_file_atomic(work_ + "/cache/" + key_file(key), entry.dump());
    add_layer(s, d, r.diff_id, key, created_by);
  }

  static std::string key_file(const std::string& key) {
    auto p = key.find(':');
    return p == std::string::npos ? key : key.substr(p + 1);
  }

  void add_layer(State& s, const image::Descriptor& d, const digest::Digest& diff_id, const std::string& key,
                 const std::string& created_by) {
    s.layers.push_back(d);
    s.config.diff_ids.push_back(diff_id);
    s.key = key;
    add_history(s, created_by, false);
  }

  /// Reuse a cached layer for `key`; false on a miss.
  bool cache_hit(State& s, const std::string& key, const std::string& created_by) {
    if (o_.no_cache) return false;
    std::string p = work_ + "/cache/" + key_file(key);
    if (!fs::exists(p)) return false;
    try {
      auto j = json::parse(fs::read_file(p));
      auto d = image::descriptor_from_json(j.at("layer"));
      if (!store_.has_blob(d.digest)) return false;
      add_layer(s, d, digest::parse(j.at("diff_id").get<std::string>()), key, created_by);
      log::info("cache hit: " + created_by);
      std::fprintf(stderr, "--> Using cache %s\n", key.c_str());
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  /// The extracted snapshot of layer `i` of `s` (extracted once, by chain).
  std::string snapshot(const State& s, size_t i) {
    std::string chain;
    for (size_t k = 0; k <= i; ++k) chain += s.config.diff_ids.at(k).str() + "\n";
    std::string dir = work_ + "/snapshots/" + key_file(sha256_hex(chain));
    if (fs::exists(dir)) return dir;
    std::string tmp = dir + ".tmp-" + std::to_string(getpid());
    fs::remove_all(tmp);
    fs::mkdir_p(tmp);
    try {
      auto fd = store_.open_blob(s.layers.at(i).digest);
      layer::ApplyOptions ao;
      ao.overlay_whiteouts = true;
      layer::apply(fd.get(), tmp, ao);
      if (::rename(tmp.c_str(), dir.c_str()) != 0 && errno != EEXIST && errno != ENOTEMPTY)
        throw_errno("rename " + tmp);
    } catch (...) {
      fs::remove_all(tmp);
      throw;
    }
    fs::remove_all(tmp);
    return dir;
  }

  /// Mount the rootfs of `s` at `target`: an overlay of its snapshots, with
  /// `upper`/`work` when given (read-write), else read-only.
  void mount_rootfs(const State& s, const std::string& target, const std::string& upper, const std::string& work,
                    Mounted& m) {
    std::vector<std::string> lowers;
    for (size_t i = s.layers.size(); i-- > 0;) lowers.push_back(snapshot(s, i));
    std::string empty = work_ + "/empty";
    fs::mkdir_p(empty);
    if (lowers.empty()) lowers.push_back(empty);
    if (upper.empty() && lowers.size() == 1) lowers.push_back(empty);
    std::string opts = "lowerdir=" + join(lowers, ":");
    if (!upper.empty()) opts += ",upperdir=" + upper + ",workdir=" + work;
    fs::mkdir_p(target);
    if (::mount("overlay", target.c_str(), "overlay", upper.empty() ? MS_RDONLY : 0, opts.c_str()) != 0)
      throw_errno("mount overlay on " + target);
    m.target = target;
  }

  // ---- COPY / ADD ----

  static void copy_meta(const std::string& dst, const struct stat& st, std::optional<uid_t> uid,
                        std::optional<gid_t> gid, std::optional<mode_t> mode, bool link) {
    uid_t u = uid ? *uid : 0;
    gid_t g = gid ? *gid : 0;
    if (::lchown(dst.c_str(), u, g) != 0) throw_errno("chown " + dst);
    if (!link) {
      if (::chmod(dst.c_str(), mode ? *mode : (st.st_mode & 07777)) != 0) throw_errno("chmod " + dst);
    }
    struct timespec ts[2] = {st.st_mtim, st.st_mtim};
    ::utimensat(AT_FDCWD, dst.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }

  struct CopyCtx {
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
    std::optional<mode_t> mode;
    bool use_ignore = false;
    std::string root;  ///< source root (context or stage rootfs)
  };

  void copy_entry(const CopyCtx& cx, const std::string& rel, const std::string& dst) {
    std::string src = cx.root + "/" + rel;
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) throw_errno("stat " + rel);
    if (cx.use_ignore && !rel.empty() && ignore_.ignored(rel, S_ISDIR(st.st_mode))) {
      if (!S_ISDIR(st.st_mode) || !ignore_.may_match_inside(rel)) return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(dst.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("mkdir " + dst);
      DIR* d = ::opendir(src.c_str());
      if (!d) throw_errno("opendir " + rel);
      std::vector<std::string> kids;
      while (auto* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") kids.push_back(n);
      }
      ::closedir(d);
      for (auto& k : kids) copy_entry(cx, rel.empty() ? k : rel + "/" + k, dst + "/" + k);
      copy_meta(dst, st, cx.uid, cx.gid, cx.mode, false);
    } else if (S_ISLNK(st.st_mode)) {
      std::string t(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(src.c_str(), t.data(), t.size());
      if (n < 0) throw_errno("readlink " + rel);
      t.resize(static_cast<size_t>(n));
      ::unlink(dst.c_str());
      if (::symlink(t.c_str(), dst.c_str()) != 0) throw_errno("symlink " + dst);
      copy_meta(dst, st, cx.uid, cx.gid, std::nullopt, true);
    } else if (S_ISREG(st.st_mode)) {
      fs::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
      if (in.get() < 0) throw_errno("open " + rel);
      ::unlink(dst.c_str());
      fs::UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (out.get() < 0) throw_errno("create " + dst);
      char buf[1 << 16];
      for (;;) {
        ssize_t n = ::read(in.get(), buf, sizeof buf);
        if (n < 0) throw_errno("read " + rel);
        if (n == 0) break;
        fs::write_all(out.get(), buf, static_cast<size_t>(n));
      }
      copy_meta(dst, st, cx.uid, cx.gid, cx.mode, false);
    }
  }

  /// Resolve a COPY source (with wildcards) to paths relative to `root`.
  std::vector<std::string> resolve_sources(const std::string& root, const std::string& pattern) {
    std::string clean = fs::clean_path("/" + pattern).substr(1);
    if (clean.find_first_of("*?[") == std::string::npos) {
      struct stat st;
      if (::lstat((root + "/" + clean).c_str(), &st) != 0)
        fail(Errc::not_found, "COPY source \"" + pattern + "\": no such file or directory in the build context");
      return {clean};
    }
    std::vector<std::string> out;
    std::string dir = clean.rfind('/') == std::string::npos ? "" : clean.substr(0, clean.rfind('/'));
    std::string base = clean.substr(dir.empty() ? 0 : dir.size() + 1);
    if (dir.find_first_of("*?[") != std::string::npos)
      fail(Errc::invalid, "wildcards in directories are not supported: " + pattern);
    DIR* d = ::opendir((root + "/" + dir).c_str());
    if (d) {
      while (auto* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        if (fnmatch(base.c_str(), n.c_str(), FNM_PERIOD) == 0) out.push_back(dir.empty() ? n : dir + "/" + n);
      }
      ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) fail(Errc::not_found, "COPY source \"" + pattern + "\": no source files were specified");
    return out;
  }

  /// A digest of a staged tree: names, types, modes, owners, contents, link targets (no times).
  static void hash_tree(digest::Hasher& h, const std::string& path, const std::string& rel) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) throw_errno("stat " + path);
    std::string meta = rel + std::string(1, '\0') + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " +
                       std::to_string(st.st_gid) + "\n";
    h.update(meta.data(), meta.size());
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> kids;
      if (DIR* d = ::opendir(path.c_str())) {
        while (auto* de = ::readdir(d)) {
          std::string n = de->d_name;
          if (n != "." && n != "..") kids.push_back(n);
        }
        ::closedir(d);
      }
      std::sort(kids.begin(), kids.end());
      for (auto& k : kids) hash_tree(h, path + "/" + k, rel + "/" + k);
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t n = ::readlink(path.c_str(), t, sizeof t);
      if (n > 0) h.update(t, static_cast<size_t>(n));
    } else if (S_ISREG(st.st_mode)) {
      std::string data = fs::read_file(path);
      h.update(data.data(), data.size());
    }
  }

  static bool is_tar(const std::string& path) {
    fs::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return false;
    unsigned char head[512];
    ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
    if (n < 4) return false;
    if (layer::detect_compression(head, static_cast<size_t>(n)) != layer::Compression::none) return true;
    return n >= 262 && std::memcmp(head + 257, "ustar", 5) == 0;
  }

  void copy(const df::Instruction& e, State& s, const std::map<std::string, size_t>& names,
            std::vector<State>& done, bool add) {
    auto co = df::copy_options(e);
    CopyCtx cx;
    if (!co.chown.empty()) {
      auto colon = co.chown.find(':');
      std::string u = co.chown.substr(0, colon), g = colon == std::string::npos ? u : co.chown.substr(colon + 1);
      auto num = [&](const std::string& v) -> uint32_t {
        if (v == "root") return 0;
        if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
          fail(Errc::invalid, "--chown: only numeric ids are supported: \"" + co.chown + "\"");
        return static_cast<uint32_t>(std::stoul(v));
      };
      cx.uid = num(u);
      cx.gid = num(g);
    }
    if (!co.chmod.empty()) {
      if (co.chmod.find_first_not_of("01234567") != std::string::npos || co.chmod.size() > 4)
        fail(Errc::invalid, "--chmod: invalid mode \"" + co.chmod + "\"");
      cx.mode = static_cast<mode_t>(std::stoul(co.chmod, nullptr, 8));
    }
    Mounted from_mount;
    TempDir stage(work_);
    std::string key_extra;
    if (!co.from.empty()) {
      std::string f = co.from;
      std::transform(f.begin(), f.end(), f.begin(), ::tolower);
      const State* src = nullptr;
      State img;
      if (auto it = names.find(f); it != names.end() && it->second < done.size()) {
        src = &done[it->second];
      } else if (f.find_first_not_of("0123456789") == std::string::npos && std::stoul(f) < done.size()) {
        src = &done[std::stoul(f)];
      } else {
        load_image(co.from, img);
        src = &img;
      }
      mount_rootfs(*src, stage.path + "/from", "", "", from_mount);
      cx.root = stage.path + "/from";
      key_extra = "from " + src->key;
    } else {
      cx.root = o_.context;
      cx.use_ignore = true;
    }
    for (auto& src : co.sources)
      if (src.rfind("<<", 0) == 0) fail(Errc::invalid, "COPY heredocs are not supported yet");
    std::string dest = abs_in_workdir(s, co.dest);
    bool dest_dir = co.dest.back() == '/' || co.sources.size() > 1 ||
                    co.sources[0].find_first_of("*?[") != std::string::npos;
    std::vector<std::string> rels;
    for (auto& src : co.sources) {
      if (add && (src.rfind("http://", 0) == 0 || src.rfind("https://", 0) == 0 || src.rfind("git@", 0) == 0))
        fail(Errc::invalid, "ADD from a URL is not supported yet");
      auto r = resolve_sources(cx.root, src);
      if (r.size() > 1) dest_dir = true;
      rels.insert(rels.end(), r.begin(), r.end());
    }
    std::string upper = stage.path + "/upper";
    fs::mkdir_p(upper);
    std::string dest_in = upper + dest;
    for (auto& rel : rels) {
      struct stat st;
      std::string full = cx.root + "/" + rel;
      if (::lstat(full.c_str(), &st) != 0) throw_errno("stat " + rel);
      if (cx.use_ignore && !rel.empty() && ignore_.ignored(rel, S_ISDIR(st.st_mode)) &&
          !(S_ISDIR(st.st_mode) && ignore_.may_match_inside(rel)))
        fail(Errc::not_found, "COPY source \"" + rel + "\": excluded by .dockerignore");
      if (S_ISDIR(st.st_mode)) {
        fs::mkdir_p(dest_in);
        copy_entry(cx, rel, dest_in);
      } else if (add && S_ISREG(st.st_mode) && is_tar(full) && co.unpack.value_or(true)) {
        fs::mkdir_p(dest_in);
        fs::UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) throw_errno("open " + rel);
        layer::apply(fd.get(), dest_in);
      } else {
        std::string target = dest_dir ? dest_in + "/" + rel.substr(rel.rfind('/') + 1) : dest_in;
        fs::mkdir_p(target.substr(0, target.rfind('/')));
        copy_entry(cx, rel, target);
      }
    }
    digest::Hasher h(digest::Algorithm::sha256);
    hash_tree(h, upper, "");
    std::string text = std::string(add ? "ADD" : "COPY") + (co.chown.empty() ? "" : " --chown=" + co.chown) +
                       (co.chmod.empty() ? "" : " --chmod=" + co.chmod) +
                       (co.from.empty() ? "" : " --from=" + co.from) + " " + join(co.sources) + " " + co.dest;
    std::string key = sha256_hex(s.key + "\n" + text + "\n" + key_extra + "\n" + h.finish().str());
    std::string created_by = "/bin/sh -c #(nop) " + text;
    if (cache_hit(s, key, created_by)) return;
    commit_layer(s, upper, key, created_by);
  }

  // ---- RUN ----

  json runtime_config(const State& s, const std::vector<std::string>& argv, const std::string& bundle,
                      const std::string& rootfs) {
    const auto& c = s.config.config;
    std::vector<std::string> env = c.env;
    bool has_path = false;
    for (auto& e : env) has_path |= e.rfind("PATH=", 0) == 0;
    if (!has_path) env.push_back(kDefaultPath);
    for (auto& [k, v] : s.args) {
      bool set = false;
      for (auto& e : env) set |= e.rfind(k + "=", 0) == 0;
      if (!set) env.push_back(k + "=" + v);
    }
    uint32_t uid = 0, gid = 0;
    if (!c.user.empty() && c.user != "root") {
      auto colon = c.user.find(':');
      std::string u = c.user.substr(0, colon);
      std::optional<uint32_t> pw_gid;
      auto lookup = [&](const char* file, const std::string& name, std::optional<uint32_t>* gid_out) -> uint32_t {
        if (name.find_first_not_of("0123456789") == std::string::npos) return static_cast<uint32_t>(std::stoul(name));
        std::string text;
        try {
          text = fs::read_file(fs::secure_join(rootfs, file));
        } catch (const Error&) {
        }
        size_t pos = 0;
        while (pos < text.size()) {
          size_t nl = text.find('\n', pos);
          std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
          pos = nl == std::string::npos ? text.size() : nl + 1;
          std::vector<std::string> f;
          size_t a = 0;
          for (size_t b; (b = line.find(':', a)) != std::string::npos; a = b + 1) f.push_back(line.substr(a, b - a));
          f.push_back(line.substr(a));
          if (f.size() >= 3 && f[0] == name) {
            if (gid_out && f.size() >= 4) *gid_out = static_cast<uint32_t>(std::stoul(f[3]));
            return static_cast<uint32_t>(std::stoul(f[2]));
          }
        }
        fail(Errc::not_found, std::string("USER ") + c.user + ": no " + name + " in " + file);
      };
      uid = lookup("/etc/passwd", u, &pw_gid);
      gid = colon != std::string::npos ? lookup("/etc/group", c.user.substr(colon + 1), nullptr) : pw_gid.value_or(uid);
    }
    json caps = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                 "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                 "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
    json j = {
        {"ociVersion", "1.0.2"},
        {"process",
         {{"terminal", false},
          {"user", {{"uid", uid}, {"gid", gid}}},
          {"args", argv},
          {"env", env},
          {"cwd", c.working_dir.empty() ? "/" : c.working_dir},
          {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
          {"noNewPrivileges", false}}},
        {"root", {{"path", "rootfs"}, {"readonly", false}}},
        {"hostname", "buildkitsandbox"},
        {"mounts",
         json::array({
             {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
             {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
              {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
             {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
              {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
             {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
              {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
             {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
              {"options", {"nosuid", "noexec", "nodev", "ro"}}},
             {{"destination", "/etc/hosts"}, {"type", "bind"}, {"source", bundle + "/hosts"},
              {"options", {"rbind", "ro"}}},
             {{"destination", "/etc/resolv.conf"}, {"type", "bind"}, {"source", bundle + "/resolv.conf"},
              {"options", {"rbind", "ro"}}},
         })},
        {"linux",
         {{"namespaces", json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
          {"maskedPaths", json::array({"/proc/kcore", "/proc/keys", "/proc/timer_list"})},
          {"readonlyPaths", json::array({"/proc/sys", "/proc/sysrq-trigger"})}}},
    };
    return j;
  }

  int exec_runtime(const std::string& bundle, const std::string& id) {
    std::string state = work_ + "/runtime-state";
    fs::mkdir_p(state);
    std::vector<std::string> argv = {o_.runtime, "--root", state, "run", "-b", bundle, id};
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
      ::dup2(2, 1);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execvp(a[0], a.data());
      std::fprintf(stderr, "oci-build: error: exec %s: %s\n", a[0], std::strerror(errno));
      _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) throw_errno("waitpid");
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
  }

  void run(const df::Instruction& e, State& s) {
    auto rc = df::run_command(e, s.shell);
    if (rc.script) fail(Errc::invalid, "RUN with a #! heredoc script is not supported yet");
    std::string text = "RUN " + (e.json_form ? json(rc.argv).dump() : join(rc.argv));
    std::string argstr;
    for (auto& [k, v] : s.args) argstr += k + "=" + v + " ";
    std::string key = sha256_hex(s.key + "\n" + argstr + "\n" + text);
    std::string created_by = (s.args.empty() ? "" : "|" + std::to_string(s.args.size()) + " " + argstr) +
                             (e.json_form ? text : join(rc.argv));
    if (cache_hit(s, key, created_by)) return;
    std::fprintf(stderr, "STEP %s\n", text.c_str());
    TempDir b(work_);
    std::string upper = b.path + "/upper", wk = b.path + "/work", rootfs = b.path + "/rootfs";
    fs::mkdir_p(upper);
    fs::mkdir_p(wk);
    int code;
    {
      Mounted m;
      mount_rootfs(s, rootfs, upper, wk, m);
      fs::write_file_atomic(b.path + "/hosts", "127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n");
      std::string resolv;
      try {
        resolv = fs::read_file("/etc/resolv.conf");
      } catch (const Error&) {
      }
      fs::write_file_atomic(b.path + "/resolv.conf", resolv);
      fs::write_file_atomic(b.path + "/config.json", runtime_config(s, rc.argv, b.path, rootfs).dump(2));
      std::string id = "okt-build-" + std::to_string(getpid()) + "-" + std::to_string(++runs_);
      code = exec_runtime(b.path, id);
    }
    if (code != 0) fail(Errc::failure, text + ": exit code " + std::to_string(code));
    // Mount points the runtime created in an image that had none (empty ones only).
    for (const char* p : {"proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc"}) {
      std::string up = upper + "/" + p;
      bool in_lower = false;
      for (size_t i = 0; i < s.layers.size() && !in_lower; ++i) {
        struct stat st;
        in_lower = ::lstat((snapshot(s, i) + "/" + p).c_str(), &st) == 0;
      }
      if (in_lower) continue;
      struct stat st;
      if (::lstat(up.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) ::rmdir(up.c_str());
      else if (S_ISREG(st.st_mode) && st.st_size == 0) ::unlink(up.c_str());
    }
    commit_layer(s, upper, key, created_by);
  }

 public:
  std::string file_name_ = "Dockerfile";

 private:
  const Options& o_;
  layout::Layout store_;
  std::string work_;
  df::IgnoreMatcher ignore_;
  char escape_ = '\\';
  int runs_ = 0;
  std::map<std::string, std::string> global_args_;
};

}  // namespace

Result build(const Options& in) {
  Options o = in;
  std::string dfpath = o.dockerfile.empty() ? o.context + "/Dockerfile" : o.dockerfile;
  auto text = fs::read_file(dfpath);
  std::string fname = o.dockerfile.empty() ? "Dockerfile" : dfpath;
  auto file = dockerfile::parse(text, fname);
  if (file.stages.empty()) fail(Errc::invalid, fname + ": no FROM instruction");
  std::vector<std::string> refs;
  for (auto& t : o.tags) refs.push_back(reference::parse(t).str());
  auto store = layout::Layout::open_or_create(o.store);
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < file.stages.size(); ++i)
    if (!file.stages[i].name.empty()) names[file.stages[i].name] = i;
  size_t last = file.stages.size() - 1;
  if (!o.target.empty()) {
    auto it = names.find(o.target);
    if (it == names.end()) fail(Errc::invalid, "target stage \"" + o.target + "\" could not be found");
    last = it->second;
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> global;
  for (auto& a : file.global_args)
    for (auto& d : dockerfile::arg_decls(a)) global.emplace_back(d.name, d.default_value);
  Builder b(o, store);
  b.file_name_ = fname;
  std::vector<State> done;
  for (size_t i = 0; i <= last; ++i) done.push_back(b.run_stage(file, i, names, done, global));
  State& s = done[last];
  for (auto& [k, v] : o.labels) s.config.config.labels[k] = v;
  s.config.created = now_rfc3339(o.source_date_epoch);
  layout::Layout::Lease lease(store);
  auto cfg = store.put_json(image::to_json(s.config), std::string(image::media::kOciConfig));
  image::Manifest m;
  m.media_type = image::media::kOciManifest;
  m.config = cfg;
  m.layers = s.layers;
  auto md = store.put_json(image::to_json(m), std::string(image::media::kOciManifest));
  for (auto& r : refs) store.tag(r, md);
  Result res{cfg.digest.str(), md.digest.str()};
  if (!o.iidfile.empty()) fs::write_file_atomic(o.iidfile, res.image_id);
  return res;
}

}  // namespace ocikit::build
