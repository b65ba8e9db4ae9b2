// oci-build's executor: the driver (see build.hpp, builder.hpp).
#include "build.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <set>
#include <thread>

#include <mutex>

#include "builder.hpp"
#include "common/auth.hpp"
#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/http.hpp"
#include "common/layer.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/reference.hpp"
#include "common/policy.hpp"
#include "common/registry.hpp"
#include "common/signature.hpp"
#include "common/text.hpp"
#include "common/transfer.hpp"
#include "output.hpp"

namespace ocikit::build {

std::string sha256_str(std::string_view s) { return digest::of(s).str(); }

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

TempDir::TempDir(const std::string& parent) {
  fs::mkdir_p(parent);
  std::string tmpl = parent + "/tmp-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw_errno("mkdtemp " + parent);
  path = tmpl;
}

TempDir::~TempDir() {
  try {
    fs::remove_all(path);
  } catch (...) {
  }
}

Mounts::~Mounts() {
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}

PullPolicy parse_pull_policy(const std::string& s) {
  if (s == "missing" || s == "ifmissing") return PullPolicy::missing;
  if (s == "always" || s == "true") return PullPolicy::always;
  if (s == "never" || s == "false") return PullPolicy::never;
  fail(Errc::usage, "--pull: expected missing, always or never, got \"" + s + "\"");
}

namespace {

/// The binfmt_misc handler name qemu-user-static registers for `arch`.
std::string qemu_name(const std::string& arch) {
  static const std::map<std::string, std::string> m = {
      {"amd64", "x86_64"},       {"arm64", "aarch64"}, {"arm", "arm"},       {"386", "i386"},
      {"ppc64le", "ppc64le"},    {"ppc64", "ppc64"},   {"s390x", "s390x"},   {"riscv64", "riscv64"},
      {"mips64le", "mips64el"},  {"mips64", "mips64"}, {"mipsle", "mipsel"}, {"mips", "mips"},
      {"loong64", "loongarch64"}};
  auto it = m.find(arch);
  return "qemu-" + (it == m.end() ? arch : it->second);
}

/// A platform of --platform or FROM --platform: parsed, normalised, and
/// for the host's os.
platform::Platform parse_target(const std::string& spec) {
  auto host = platform::host();
  auto p = platform::normalize(platform::parse(spec));
  if (p.os != host.os) fail(Errc::usage, "--platform " + spec + ": cannot build for os " + p.os + " on " + host.os);
  return p;
}

std::string real_dir(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (!real) throw_errno("build context " + path);
  std::string r = real;
  ::free(real);
  return r;
}

}  // namespace

std::vector<platform::Platform> parse_platforms(const std::string& spec) {
  std::vector<platform::Platform> out;
  if (spec.empty()) return {platform::host()};
  for (std::string one : text::split(spec, ',')) {
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (one.empty()) fail(Errc::usage, "--platform " + spec + ": empty platform in the list");
    platform::Platform p;
    try {
      p = parse_target(one);
    } catch (const Error& e) {
      if (e.code() == Errc::usage) throw;
      fail(Errc::usage, "--platform " + spec + ": " + e.what());
    }
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::string binfmt_handler(const platform::Platform& p) {
  auto host = platform::host();
  if (p.architecture == host.architecture) return "";
  if (host.architecture == "amd64" && p.architecture == "386") return "";  // the kernel runs i386 itself
  return "/proc/sys/fs/binfmt_misc/" + qemu_name(p.architecture);
}

void check_runnable(const platform::Platform& p) {
  std::string handler = binfmt_handler(p);
  if (handler.empty()) return;
  std::string state;
  try {
    state = fs::read_file(handler);
  } catch (const Error&) {
  }
  if (state.rfind("enabled", 0) != 0)
    fail(Errc::failure,
         "cannot run " + p.str() + " binaries on " + platform::host().str() + ": no enabled qemu-user binfmt handler " +
             handler + " (install qemu-user-static)");
}

namespace {

// The mounts under `dir` in this mount namespace, deepest first.
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  std::string info;
  try {
    info = fs::read_file("/proc/self/mountinfo");
  } catch (const Error&) {
    return out;
  }
  size_t pos = 0;
  while (pos < info.size()) {
    size_t nl = info.find('\n', pos);
    std::string line = info.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? info.size() : nl + 1;
    // field 5 is the mount point (octal escapes for space etc.)
    size_t f = 0;
    for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + 1);
    if (f == std::string::npos) continue;
    size_t e = line.find(' ', f + 1);
    std::string mp = line.substr(f + 1, e - f - 1);
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) out.push_back(mp);
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

// Clean up after builds that died (kill -9, a crash): each build works in
// <cache>/tmp/build-<pid>/ while it holds build-<pid>.lock; a lock nobody
// holds is a dead build's. Its RUN containers are deleted with the runtime
// (which runs their poststop hooks: network leases go back), then its
// mounts are detached and its files removed.
void sweep_dead_builds(const std::string& tmp, const std::string& runtime) {
  DIR* d = ::opendir(tmp.c_str());
  if (!d) return;
  std::vector<std::string> locks;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("build-", 0) == 0 && n.size() > 5 && n.ends_with(".lock")) locks.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : locks) {
    std::string lock_path = tmp + "/" + n, dir = tmp + "/" + n.substr(0, n.size() - 5);
    fs::UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // alive (or gone meanwhile)
    std::string state = dir + "/runtime-state";
    if (DIR* sd = ::opendir(state.c_str())) {
      std::vector<std::string> ids;
      while (auto* e = ::readdir(sd))
        if (e->d_name[0] != '.') ids.push_back(e->d_name);
      ::closedir(sd);
      for (const auto& id : ids) {
        try {
          process::run({.argv = {runtime, "--root", state, "delete", "-f", id},
                        .out = process::kDevNull,
                        .err = process::kDevNull});
        } catch (const Error& e) {
          log::warn(std::string("clean up a dead build's RUN ") + id + ": " + e.what());
        }
      }
    }
    for (const auto& m : mounts_under(dir)) ::umount2(m.c_str(), MNT_DETACH);
    // A RUN killed before its runtime wrote its state: its (empty) cgroups,
    // ocikit/okt-build-<pid>-N in each hierarchy, are removed here.
    std::string prefix = "okt-build-" + n.substr(6, n.size() - 11) + "-";
    for (const std::string& root : {std::string("/sys/fs/cgroup")}) {
      std::vector<std::string> parents = {root + "/ocikit"};
      if (DIR* cd = ::opendir(root.c_str())) {
        while (auto* e = ::readdir(cd))
          if (e->d_name[0] != '.') parents.push_back(root + "/" + e->d_name + "/ocikit");
        ::closedir(cd);
      }
      for (const auto& parent : parents) {
        DIR* pd = ::opendir(parent.c_str());
        if (!pd) continue;
        std::vector<std::string> gone;
        while (auto* e = ::readdir(pd))
          if (std::string(e->d_name).rfind(prefix, 0) == 0) gone.push_back(parent + "/" + e->d_name);
        ::closedir(pd);
        for (const auto& g : gone) ::rmdir(g.c_str());  // only an empty one goes
      }
    }
    try {
      fs::remove_all(dir);
      ::unlink(lock_path.c_str());
    } catch (const Error& e) {
      log::warn(std::string("clean up a dead build: ") + e.what());
    }
  }
}

}  // namespace

namespace {
std::mutex g_work_mu;
std::string g_work_dir;  // this process's, once made
}  // namespace

void remove_work_dir() {
  std::lock_guard lk(g_work_mu);
  if (g_work_dir.empty()) return;
  try {
    for (const auto& m : mounts_under(g_work_dir)) ::umount2(m.c_str(), MNT_DETACH);
    fs::remove_all(g_work_dir);
    ::unlink((g_work_dir + ".lock").c_str());  // still ours: its fd is open
  } catch (const Error& e) {
    log::warn(std::string("remove ") + g_work_dir + ": " + e.what());
  }
  g_work_dir.clear();
}

std::string work_dir(const std::string& cache_dir, const std::string& runtime) {
  // One per process (several platforms' Builders share it), locked for the
  // process's life: the fd stays open, close-on-exec.
  std::lock_guard lk(g_work_mu);
  std::string& dir = g_work_dir;
  if (!dir.empty()) return dir;
  std::string tmp = cache_dir + "/tmp";
  fs::mkdir_p(tmp);
  sweep_dead_builds(tmp, runtime);
  std::string name = "build-" + std::to_string(::getpid());
  int fd = ::open((tmp + "/" + name + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw_errno("create " + tmp + "/" + name + ".lock");
  if (::flock(fd, LOCK_EX) != 0) throw_errno("lock " + tmp + "/" + name + ".lock");
  dir = tmp + "/" + name;
  // A dead build with our pid left this: it is ours to clear now.
  for (const auto& m : mounts_under(dir)) ::umount2(m.c_str(), MNT_DETACH);
  fs::remove_all(dir);
  fs::mkdir_p(dir);
  return dir;
}

Builder::Builder(const Options& o, layout::Layout store, const df::Dockerfile& file, std::string file_name,
                 platform::Platform target)
    : o_(o),
      store_(std::move(store)),
      file_(file),
      file_name_(std::move(file_name)),
      cache_dir_(cache_dir(store_.path())),
      tmp_(work_dir(cache_dir_, o.runtime)),
      context_(real_dir(o.context)),
      snaps_(snapshot::Store::open(snapshot::default_dir(store_.path()))),
      cache_(cache_dir_),
      stats_(cache_dir_ + "/stat/" + digest::of(context_).hex),
      platform_(std::move(target)) {
  ignore_ = df::IgnoreMatcher::load(context_ + "/.dockerignore");
  escape_ = file_.directives.escape;
  for (size_t i = 0; i < file_.stages.size(); ++i)
    if (!file_.stages[i].name.empty()) names_[file_.stages[i].name] = i;
  // Global ARGs (before the first FROM): build args override their defaults.
  for (auto& a : file_.global_args) {
    for (auto& d : df::arg_decls(a)) {
      auto it = o_.build_args.find(d.name);
      if (it != o_.build_args.end()) global_args_[d.name] = it->second;
      else if (d.default_value) global_args_[d.name] = *d.default_value;
      else if (auto v = automatic_arg(d.name); !v.empty()) global_args_[d.name] = v;
    }
  }
  done_.resize(file_.stages.size());
}

void Builder::finish() {
  log::info("build context: " + std::to_string(stats_.hashed()) + " files read and hashed");
  stats_.save();
}

// ---- stage graph and scheduling ----

StageState Builder::build_all(size_t target) {
  size_t n = file_.stages.size();
  // Which earlier stages each stage reads: FROM, COPY --from, RUN --mount from=.
  // A reference still holding a variable may name any earlier stage.
  std::vector<std::set<size_t>> deps(n);
  auto add_ref = [&](size_t i, std::string ref) {
    if (ref.find('$') != std::string::npos) {
      for (size_t j = 0; j < i; ++j) deps[i].insert(j);
      return;
    }
    std::transform(ref.begin(), ref.end(), ref.begin(), ::tolower);
    if (auto it = names_.find(ref); it != names_.end() && it->second < i) deps[i].insert(it->second);
    else if (!ref.empty() && ref.find_first_not_of("0123456789") == std::string::npos && std::stoul(ref) < i)
      deps[i].insert(std::stoul(ref));
  };
  for (size_t i = 0; i < n; ++i) {
    const auto& st = file_.stages[i];
    add_ref(i, st.base);
    for (const auto& inst : st.instructions) {
      if (auto f = inst.flag("from"); f && (inst.keyword == "copy" || inst.keyword == "add")) add_ref(i, *f);
      if (inst.keyword == "run")
        for (auto& m : inst.flag_values("mount"))
          if (auto p = m.find("from="); p != std::string::npos) add_ref(i, m.substr(p + 5, m.find(',', p) - p - 5));
    }
  }
  std::vector<bool> needed(n, false);
  std::vector<size_t> todo{target};
  while (!todo.empty()) {
    size_t i = todo.back();
    todo.pop_back();
    if (needed[i]) continue;
    needed[i] = true;
    for (size_t d : deps[i]) todo.push_back(d);
  }

  enum { pending, running, finished };
  std::vector<int> status(n, pending);
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Error> error;
  auto ready = [&](size_t i) {
    if (!needed[i] || status[i] != pending) return false;
    for (size_t d : deps[i])
      if (status[d] != finished) return false;
    return true;
  };
  auto worker = [&] {
    std::unique_lock lk(mu);
    for (;;) {
      std::optional<size_t> pick;
      cv.wait(lk, [&] {
        if (error || status[target] == finished) return true;
        for (size_t i = 0; i < n; ++i)
          if (ready(i)) {
            pick = i;
            return true;
          }
        return false;
      });
      if (!pick) return;
      status[*pick] = running;
      lk.unlock();
      try {
        StageState s = run_stage(*pick);
        lk.lock();
        done_[*pick] = std::move(s);
        status[*pick] = finished;
      } catch (...) {
        Error e = current_exception_as_error();
        lk.lock();
        if (!error) error = e;
      }
      cv.notify_all();
    }
  };
  size_t independent = std::count(needed.begin(), needed.end(), true);
  size_t threads = std::clamp<size_t>(static_cast<size_t>(std::max(o_.jobs, 1)), 1, independent);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) throw *error;
  return *done_[target];
}

const StageState* Builder::stage_ref(const std::string& ref, size_t current) const {
  std::string f = ref;
  std::transform(f.begin(), f.end(), f.begin(), ::tolower);
  size_t idx = SIZE_MAX;
  if (auto it = names_.find(f); it != names_.end() && it->second < current) idx = it->second;
  else if (!f.empty() && f.find_first_not_of("0123456789") == std::string::npos && f.size() < 6 &&
           std::stoul(f) < current)
    idx = std::stoul(f);
  if (idx == SIZE_MAX) return nullptr;
  if (!done_[idx]) fail(Errc::failure, "stage \"" + ref + "\" was not built before it is used");
  return &*done_[idx];
}

const StageState& Builder::source_state(const std::string& ref, size_t current, StageState& img_holder) {
  if (const StageState* s = stage_ref(ref, current)) return *s;
  load_image(ref, platform_, img_holder);
  return img_holder;
}

// ---- FROM ----

StageState Builder::run_stage(size_t index) {
  const df::Stage& st = file_.stages[index];
  // FROM lines see the global ARGs and, as in BuildKit, the automatic platform ARGs.
  auto genv = [&](std::string_view n) -> std::optional<std::string> {
    auto it = global_args_.find(std::string(n));
    if (it != global_args_.end()) return it->second;
    if (auto a = automatic_arg(std::string(n)); !a.empty()) return a;
    return std::nullopt;
  };
  df::LexOptions lo;
  lo.escape = escape_;
  std::string base = with_context(loc(st.line), [&] { return df::expand_word(st.base, genv, lo); });
  platform::Platform plat = platform_;
  if (!st.platform.empty()) {
    std::string ps = with_context(loc(st.line), [&] { return df::expand_word(st.platform, genv, lo); });
    plat = with_context(loc(st.line), [&] { return parse_target(ps); });
  }
  StageState s;
  if (const StageState* prev = stage_ref(base, index)) {
    s = *prev;
    s.args.clear();
    s.cmd_set_in_stage = false;
  } else if (base == "scratch") {
    s.platform = plat;
    s.config.architecture = plat.architecture;
    s.config.os = plat.os;
    s.config.variant = plat.variant;
    s.config.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    s.key = sha256_str("scratch " + plat.str());
  } else {
    with_context(loc(st.line), [&] { load_image(base, plat, s); });
  }
  // Progress as buildah prints it ("[2/3] STEP 1/4: FROM ..." with several
  // stages); oci-api turns these lines into docker's "Step 1/4 : ...".
  std::string stage_tag =
      file_.stages.size() > 1 ? "[" + std::to_string(index + 1) + "/" + std::to_string(file_.stages.size()) + "] " : "";
  size_t n = st.instructions.size() + 1;
  auto announce = [&](size_t i, const std::string& text) {
    if (o_.quiet) return;
    std::fprintf(stderr, "%sSTEP %zu/%zu: %s\n", stage_tag.c_str(), i, n, text.c_str());
    std::fflush(stderr);
  };
  announce(1, st.from.original.empty() ? "FROM " + st.base : st.from.original);
  run_onbuild(s, st.line, index);
  for (size_t i = 0; i < st.instructions.size(); i++) {
    const auto& inst = st.instructions[i];
    announce(i + 2, inst.original);
    with_context(loc(inst.line), [&] { step(inst, s, index); });
  }
  return s;
}

void Builder::run_onbuild(StageState& s, int line, size_t index) {
  auto triggers = std::move(s.config.config.on_build);
  s.config.config.on_build.clear();
  for (auto& t : triggers) {
    with_context(loc(line) + ": ONBUILD " + t, [&] {
      for (auto& inst : df::parse_instructions(t, file_name_)) step(inst, s, index);
    });
  }
}

std::optional<image::Descriptor> Builder::pick_platform(const image::Descriptor& d, const platform::Platform& p) {
  if (image::is_index_media_type(d.media_type)) {
    auto idx = store_.read_index(d);
    for (auto& m : idx.manifests)
      if (m.platform && platform::matches(p, *m.platform)) return m;
    return std::nullopt;
  }
  // A single manifest: its config says what it is for (nothing said: any).
  auto cfg = store_.read_config(store_.read_manifest(d).config);
  if (cfg.architecture.empty()) return d;
  platform::Platform have{cfg.os.empty() ? p.os : cfg.os, cfg.architecture, cfg.variant, "", {}};
  if (platform::matches(p, have)) return d;
  return std::nullopt;
}

void Builder::load_image(const std::string& name, const platform::Platform& p, StageState& s) {
  std::optional<image::Descriptor> d, found;
  if (o_.pull != PullPolicy::always) found = store_.resolve(name);
  if (found) d = pick_platform(*found, p);
  if (!d) {
    if (o_.pull == PullPolicy::never) {
      if (found)
        fail(Errc::not_found, "image \"" + name + "\" in the store has no manifest for " + p.str() + " (--pull never)");
      fail(Errc::not_found, "image \"" + name + "\" not found in the store " + store_.path() + " (--pull never)");
    }
    if (found) {
      d = with_context("image \"" + name + "\" in the store has no manifest for " + p.str(),
                       [&] { return pull(name, p); });
    } else {
      d = pull(name, p);
    }
  }
  auto m = store_.read_manifest(*d);
  s.config = store_.read_config(m.config);
  s.layers = m.layers;
  s.key = sha256_str("image " + d->digest.str());
  s.platform = p;
}

image::Descriptor Builder::pull(const std::string& name, const platform::Platform& p) {
  // One pull at a time: two stages FROM the same image fetch it once.
  std::lock_guard g(pull_mu_);
  auto existing = store_.resolve(name);
  if (o_.pull != PullPolicy::always && existing)
    if (auto d = pick_platform(*existing, p)) return *d;
  reference::Reference ref = reference::parse(name);
  std::fprintf(stderr, "Pulling %s (%s)\n", ref.str().c_str(), p.str().c_str());
  auth::Credentials creds = auth::find_credentials(ref.domain);
  http::CurlTransport transport(http::TlsOptions{});
  registry::Client client(ref.domain, transport, creds);
  transfer::PullOptions po;
  po.platform = p;
  po.jobs = 4;
  blobloc::BlobLocations locations(blobloc::default_path());
  po.locations = &locations;
  transfer::PullTarget target;
  target.has_blob = [&](const image::Descriptor& d) { return store_.has_blob(d.digest); };
  target.write_blob = [&](const image::Descriptor& d, const std::function<void(const http::Sink&)>& fill) {
    layout::BlobWriter w = store_.begin_blob(d.media_type, d.digest.algorithm);
    fill([&](const char* data, size_t n) { w.write(data, n); });
    w.commit(d.digest, d.size);
  };
  target.verifies = true;
  // The trust policy, checked on the top manifest before anything is stored.
  policy::Policy pol = policy::load(o_.policy);
  po.check_top = [&](const registry::Manifest& m) {
    policy::check(pol, ref, m.digest, [&] { return signature::read_attached(client, ref.path, m.digest); });
  };
  image::Descriptor top = with_context("pull " + ref.str(), [&] {
    return transfer::pull_image(client, ref.path, ref.digest ? ref.digest->str() : ref.tag, target, po);
  });
  image::Descriptor picked = top;
  if (image::is_index_media_type(top.media_type)) {
    auto d = pick_platform(top, p);
    if (!d) fail(Errc::not_found, "pull " + ref.str() + ": no manifest for " + p.str());
    picked = *d;
  }
  // Keep a name that stands for another platform (a multi-platform build
  // pulls each one in turn); replace a missing or same-platform one.
  if (!existing || pick_platform(*existing, p)) {
    top.annotations["io.ocikit.source.repository"] = ref.repository();
    store_.tag(ref.str(), top);
  }
  return picked;
}

// ---- layers ----

void Builder::commit_layer(StageState& s, const std::string& upper, const std::string& key, const std::string& created_by) {
  TempDir tmp(tmp_);
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
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0) throw_errno("read " + tar);
      if (n == 0) break;
      w.write(buf.data(), static_cast<size_t>(n));
    }
  }
  auto d = w.commit(r.digest, static_cast<int64_t>(r.size));
  std::string created = now_rfc3339(o_.source_date_epoch);
  cache_.put(key, CacheRecord{d, r.diff_id, created});
  add_layer(s, d, r.diff_id, key, created_by, created);
  adopt_snapshot(s, upper);
}

void Builder::adopt_snapshot(const StageState& s, const std::string& upper) {
  // The upper dir already is this layer's snapshot in overlay form (char 0/0
  // whiteouts, opaque xattrs), so it is moved into the snapshot dir rather
  // than extracted again from the tar by the next RUN. Not with
  // SOURCE_DATE_EPOCH: the layer's times are clamped, the upper's are not,
  // and a later RUN must see exactly what an extracted layer holds.
  if (o_.source_date_epoch) return;
  std::string dir = snaps_.path(snapshot::chain_id(s.config.diff_ids).hex);
  if (fs::exists(dir)) return;
  fs::FileLock lock(snaps_.dir() + "/.lock", false);
  // A lost race (EEXIST/ENOTEMPTY) or another file system (EXDEV) leaves it to prepare().
  if (::rename(upper.c_str(), dir.c_str()) != 0) log::debug("keep snapshot " + dir + ": " + std::strerror(errno));
}

void Builder::add_layer(StageState& s, const image::Descriptor& d, const digest::Digest& diff_id, const std::string& key,
                        const std::string& created_by, const std::string& created) {
  s.layers.push_back(d);
  s.config.diff_ids.push_back(diff_id);
  s.key = key;
  add_history(s, created_by, false, created);
}

bool Builder::cache_hit(StageState& s, const std::string& key, const std::string& created_by) {
  if (o_.no_cache) return false;
  auto r = cache_.find(key, store_);
  if (!r) return false;
  if (r->created.empty()) {
    // A record from before times were kept: it gets this build's.
    r->created = now_rfc3339(std::nullopt);
    cache_.put(key, *r);
  }
  add_layer(s, r->layer, r->diff_id, key, created_by, r->created);
  log::info("cache hit: " + created_by);
  if (!o_.quiet) std::fprintf(stderr, "--> Using cache %s\n", key.c_str());
  return true;
}

std::vector<std::string> Builder::lowers(const StageState& s) {
  image::Manifest m;
  m.layers = s.layers;
  return snaps_.prepare(store_, m, s.config);
}

void Builder::mount_state(const StageState& s, const std::string& target, const std::string& scratch, Mounts& m,
                          std::string upper, std::string work) {
  if (upper.empty()) {
    upper = scratch + "/upper";
    work = scratch + "/work";
    fs::mkdir_p(upper);
    fs::mkdir_p(work);
  }
  fs::mkdir_p(target);
  snapshot::mount_rootfs(lowers(s), upper, work, target);
  m.targets.push_back(target);
}

// ---- the build ----

Result build(const Options& in) {
  Options o = in;
  // This build's work dir goes when it ends, whatever the outcome.
  struct WorkDirCleanup {
    ~WorkDirCleanup() { remove_work_dir(); }
  } work_dir_cleanup;
  std::optional<OutputSpec> out;
  if (!o.output.empty()) out = parse_output(o.output);
  std::string dfpath = o.dockerfile.empty() ? o.context + "/Dockerfile" : o.dockerfile;
  auto text = fs::read_file(dfpath);
  std::string fname = o.dockerfile.empty() ? "Dockerfile" : dfpath;
  auto file = dockerfile::parse(text, fname);
  if (file.stages.empty()) fail(Errc::invalid, fname + ": no FROM instruction");
  std::vector<std::string> refs;
  for (auto& t : o.tags) refs.push_back(reference::parse(t).str());
  auto store = layout::Layout::open_or_create(o.store);
  size_t last = file.stages.size() - 1;
  if (!o.target.empty()) {
    std::string t = o.target;
    std::transform(t.begin(), t.end(), t.begin(), ::tolower);
    auto it = std::find_if(file.stages.begin(), file.stages.end(), [&](auto& s) { return s.name == t; });
    if (it == file.stages.end()) fail(Errc::invalid, "target stage \"" + o.target + "\" could not be found");
    last = static_cast<size_t>(it - file.stages.begin());
  }
  auto plats = parse_platforms(o.platform);
  // Keep the store's gc away from the blobs written until they are tagged.
  layout::Layout::Lease lease(store);
  // One image per platform, one after the other (each builds its stages concurrently).
  std::vector<image::Descriptor> manifests;
  std::vector<image::Descriptor> configs;
  for (auto& p : plats) {
    if (plats.size() > 1) std::fprintf(stderr, "PLATFORM %s\n", p.str().c_str());
    Builder b(o, store, file, fname, p);
    StageState s = b.build_all(last);
    b.finish();
    for (auto& [k, v] : o.labels) s.config.config.labels[k] = v;
    // The image's time is its last step's, so that a fully cached rebuild
    // is the same image (same id), as with docker's builders.
    s.config.created = s.config.history.empty() || o.source_date_epoch ? now_rfc3339(o.source_date_epoch)
                                                                       : s.config.history.back().created;
    auto cfg = store.put_json(image::to_json(s.config), std::string(image::media::kOciConfig));
    image::Manifest m;
    m.media_type = image::media::kOciManifest;
    m.config = cfg;
    m.layers = s.layers;
    auto md = store.put_json(image::to_json(m), std::string(image::media::kOciManifest));
    md.platform = p;
    manifests.push_back(md);
    configs.push_back(cfg);
  }
  image::Descriptor top;
  Result res;
  if (manifests.size() == 1) {
    top = manifests[0];
    top.platform.reset();
    res.image_id = configs[0].digest.str();
  } else {
    image::Index idx;
    idx.media_type = image::media::kOciIndex;
    idx.manifests = manifests;
    top = store.put_json(image::to_json(idx), std::string(image::media::kOciIndex));
    res.image_id = top.digest.str();
  }
  res.manifest_digest = top.digest.str();
  res.wrote_stdout = out && output_is_stdout(*out);
  if (out) write_output(store, top, refs, *out);
  for (auto& r : refs) store.tag(r, top);
  // Without a name (and no --output), the image is kept under its id, as
  // docker keeps a dangling image: `oci-run run ID` finds it, prune removes it.
  if (refs.empty() && !out) store.tag(res.image_id, top);
  if (!o.iidfile.empty()) fs::write_file_atomic(o.iidfile, res.image_id);
  return res;
}

}  // namespace ocikit::build
