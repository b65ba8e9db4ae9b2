#pragma once
// oci-build's executor: runs the stages of a parsed Dockerfile against the
// image store. COPY/ADD stage files into a fresh upper dir, RUN executes in an
// OCI runtime (oci-run by default) on an overlay of the parent's layer
// snapshots; each upper dir becomes a gzip layer (layer::diff_upper).
// Metadata instructions change only the config. Each layer-producing step has
// a content key (parent key + expanded instruction + digest of the files it
// read); a key already in the store's build cache reuses its layer.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ocikit::build {

struct Options {
  std::string context = ".";
  std::string dockerfile;                ///< default CONTEXT/Dockerfile
  std::vector<std::string> tags;         ///< -t, normalised before use
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;  ///< --label, added to the final config
  std::string target;                    ///< --target stage name ("" = last)
  bool no_cache = false;
  std::string runtime;                   ///< runtime binary (oci-run, runc, crun)
  std::string store;                     ///< image store layout directory
  std::optional<int64_t> source_date_epoch;
  std::string iidfile;
};

struct Result {
  std::string image_id;         ///< config digest, "sha256:..."
  std::string manifest_digest;  ///< "sha256:..."
};

/// Build the image. Throws ocikit::Error; failures carry "Dockerfile:LINE: ".
/// Nothing is tagged unless every step succeeded.
Result build(const Options& opts);

}  // namespace ocikit::build
