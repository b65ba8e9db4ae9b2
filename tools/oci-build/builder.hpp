#pragma once
// oci-build's executor internals (see build.hpp for the overview). One
// Builder runs the stages of one Dockerfile; stages that do not depend on
// each other run on separate threads, so everything a step touches is either
// its own StageState or thread-safe (the store, the caches, the stat cache).
//
//   build.cpp        driver: stage graph, scheduling, FROM (store, pull,
//                    stages), ONBUILD, the final config/manifest, --output
//   build_steps.cpp  instruction dispatch and the metadata instructions
//   build_copy.cpp   COPY/ADD (context, --from, heredocs) and source hashing
//   build_run.cpp    RUN: bundle, mounts, runtime, layer commit

#include <sys/stat.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "build.hpp"
#include "build_cache.hpp"
#include "common/digest.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/platform.hpp"
#include "common/snapshot.hpp"
#include "common/dockerfile.hpp"
#include "dockerignore.hpp"
#include "stat_cache.hpp"

namespace ocikit::build {

namespace df = dockerfile;

/// sha256 of `s` as "sha256:<hex>".
std::string sha256_str(std::string_view s);
/// This build process's work dir under `cache_dir`/tmp (locked while the
/// process lives), made on first use after the dirs of dead builds are
/// cleaned up (their RUN containers deleted with `runtime`, mounts detached).
std::string work_dir(const std::string& cache_dir, const std::string& runtime);
/// Remove this process's work dir (at the end of build()).
void remove_work_dir();
/// The time `epoch` (SOURCE_DATE_EPOCH), else now, as RFC 3339 UTC seconds.
std::string now_rfc3339(const std::optional<int64_t>& epoch);
/// `v` joined with `sep`.
std::string join(const std::vector<std::string>& v, const char* sep = " ");

/// A temporary directory under `parent`, removed on scope exit.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& parent);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// Mounts unmounted (lazily, last first) on scope exit.
struct Mounts {
  std::vector<std::string> targets;
  Mounts() = default;
  Mounts(const Mounts&) = delete;
  Mounts& operator=(const Mounts&) = delete;
  ~Mounts();
};

/// The state of a stage: its config and layers, and the cache key chain.
struct StageState {
  image::ImageConfig config;
  std::vector<image::Descriptor> layers;
  std::string key;  ///< cache chain key
  platform::Platform platform;  ///< what the stage's binaries run on (FROM --platform, else the target)
  std::vector<std::string> shell{"/bin/sh", "-c"};
  std::map<std::string, std::string> args;  ///< ARGs in scope
  bool cmd_set_in_stage = false;
};

class Builder {
 public:
  /// A builder for the target platform `target` (one of --platform's list).
  Builder(const Options& o, layout::Layout store, const df::Dockerfile& file, std::string file_name,
          platform::Platform target);

  /// Build the stages the target needs, up to `jobs` at once; returns the target's state.
  StageState build_all(size_t target);

  /// Save the stat cache.
  void finish();

  /// The store.
  layout::Layout& store() { return store_; }

 private:
  // build.cpp
  StageState run_stage(size_t index);
  void load_image(const std::string& name, const platform::Platform& p, StageState& s);
  /// The manifest of `d` (a store manifest or index) for `p`; nullopt when
  /// `d` is an index without one or a manifest whose config names another
  /// platform.
  std::optional<image::Descriptor> pick_platform(const image::Descriptor& d, const platform::Platform& p);
  /// Pull `name` for `p` into the store; returns its manifest. Tags `name`
  /// when the store has no such name yet, or one for the same platform.
  image::Descriptor pull(const std::string& name, const platform::Platform& p);
  /// The finished stage named (or numbered) `ref` as seen from stage
  /// `current`; nullptr when `ref` names no earlier stage.
  const StageState* stage_ref(const std::string& ref, size_t current) const;
  /// The state COPY --from / RUN --mount from= read: a stage or an image.
  const StageState& source_state(const std::string& ref, size_t current, StageState& img_holder);
  void run_onbuild(StageState& s, int line, size_t index);

  // build_steps.cpp
  void step(const df::Instruction& raw, StageState& s, size_t index);
  df::EnvLookup env_lookup(const StageState& s) const;
  void set_env(StageState& s, const std::string& k, const std::string& v);
  /// A history entry; `created` "" means now (or SOURCE_DATE_EPOCH).
  void add_history(StageState& s, const std::string& created_by, bool empty, const std::string& created = "");
  void nop(StageState& s, const std::string& text);
  /// WORKDIR: make `dir` in the image when it is missing (a layer holding
  /// it, as docker does), else only the config changes.
  void workdir(StageState& s, const std::string& dir);
  std::string abs_in_workdir(const StageState& s, const std::string& p) const;
  std::string loc(int line) const { return file_name_ + ":" + std::to_string(line); }
  std::string automatic_arg(const std::string& name) const;

  // build_copy.cpp
  void copy(const df::Instruction& e, StageState& s, size_t index, bool add);
  /// Hash what copying `rel` from `root` would produce (names, types,
  /// modes, link targets, contents through the stat cache).
  void hash_source(digest::Hasher& h, const std::string& root, const std::string& rel, bool use_ignore);
  /// A COPY source: its path resolved inside the root, and the name it
  /// takes in a destination directory (the name as written, a link's own).
  struct Source {
    std::string rel, name;
  };
  std::vector<Source> resolve_sources(const std::string& root, const std::string& pattern);
  static std::string resolve_in_root(const std::string& root, const std::string& rel);
  /// The context (or `source` in it) as RUN --mount=type=bind sees it: the
  /// directory itself without a .dockerignore, else a copy under `dir`
  /// without what .dockerignore excludes (every view of the context honours it).
  std::string context_view(const std::string& source, const std::string& dir);

  // build_run.cpp
  void run(const df::Instruction& e, StageState& s, size_t index);
  int exec_runtime(const std::string& bundle, const std::string& id);

  // layers (build.cpp)
  void commit_layer(StageState& s, const std::string& upper, const std::string& key, const std::string& created_by);
  /// Move the committed `upper` of `s`'s top layer into the snapshot dir.
  void adopt_snapshot(const StageState& s, const std::string& upper);
  bool cache_hit(StageState& s, const std::string& key, const std::string& created_by);
  void add_layer(StageState& s, const image::Descriptor& d, const digest::Digest& diff_id, const std::string& key,
                 const std::string& created_by, const std::string& created);
  /// The snapshot dirs of `s`'s layers (extracted on first use), lowest first.
  std::vector<std::string> lowers(const StageState& s);
  /// Mount the rootfs of `s` at `target`, writable into `upper`/`work`
  /// (created under `scratch` when empty: a throwaway upper).
  void mount_state(const StageState& s, const std::string& target, const std::string& scratch, Mounts& m,
                   std::string upper = "", std::string work = "");

  const Options& o_;
  layout::Layout store_;
  const df::Dockerfile& file_;
  std::string file_name_;
  std::string cache_dir_, tmp_, context_;
  snapshot::Store snaps_;
  LayerCache cache_;
  StatCache stats_;
  df::IgnoreMatcher ignore_;
  platform::Platform platform_;
  char escape_ = '\\';
  std::map<std::string, std::string> global_args_;
  std::map<std::string, size_t> names_;
  std::vector<std::optional<StageState>> done_;
  std::atomic<int> runs_{0};
  std::mutex pull_mu_;
};

}  // namespace ocikit::build
