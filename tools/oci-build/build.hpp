#pragma once
// oci-build's executor: runs the stages of a parsed Dockerfile against the
// image store. COPY/ADD stage files into a fresh upper dir, RUN executes in an
// OCI runtime (oci-run by default) on an overlay of the parent's layer
// snapshots; each upper dir becomes a gzip layer (layer::diff_upper).
// Metadata instructions change only the config. Each layer-producing step has
// a content key (parent key + expanded instruction + digest of the files it
// read); a key already in the store's build cache (build_cache.hpp) reuses
// its layer. Layers are extracted once into the store's snapshot dir
// (common/snapshot.hpp), shared with containers. Independent stages run
// concurrently. Base images missing from the store are pulled.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/platform.hpp"

namespace ocikit::build {

/// When FROM pulls an image from its registry.
enum class PullPolicy { missing, always, never };

/// Parse "missing" / "always" / "never" (also "true" = always, "false" =
/// never, as buildah). Throws Errc::usage.
PullPolicy parse_pull_policy(const std::string& s);

struct Options {
  std::string context = ".";
  std::string dockerfile;  ///< default CONTEXT/Dockerfile
  std::vector<std::string> tags;  ///< -t, normalised before use
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;  ///< --label, added to the final config
  std::string target;  ///< --target stage name ("" = last)
  bool no_cache = false;
  bool quiet = false;  ///< -q: no STEP and cache lines (RUN's own output still shows)
  std::string runtime;  ///< runtime binary (oci-run, runc, crun)
  std::string store;  ///< image store layout directory
  std::optional<int64_t> source_date_epoch;
  std::string iidfile;
  std::string output;  ///< --output (output.hpp), "" = the store only
  PullPolicy pull = PullPolicy::missing;
  std::string policy;  ///< --policy: trust policy for FROM pulls ("" = /etc/containers/policy.json if present)
  std::map<std::string, std::string> secrets;  ///< --secret id -> file
  std::map<std::string, std::string> ssh;  ///< --ssh id -> agent socket
  std::string platform;  ///< --platform: "P[,P...]" ("" = the host)
  int jobs = 2;  ///< stages built at once
  /// --network: RUN's network unless a RUN says otherwise: "default" (its
  /// own network namespace on oci-net's "bridge" network, NAT outbound),
  /// "none" (a namespace with only loopback), "host", or an oci-net network.
  std::string network = "default";
  bool allow_network_host = false;  ///< --allow network.host: RUN --network=host may run
  std::string oci_net;  ///< the oci-net binary (found when a RUN needs it)
};

struct Result {
  std::string image_id;  ///< config digest, "sha256:..." (the index digest for several platforms)
  std::string manifest_digest;  ///< the manifest's (or index's) digest, "sha256:..."
  bool wrote_stdout = false;  ///< --output went to stdout
};

/// The platforms of a --platform list ("linux/amd64,linux/arm64"; a bare
/// "arm64" means linux/arm64), normalised, duplicates dropped; the host for
/// "". Throws Errc::usage for an empty element or another os than the
/// host's, Errc::invalid for a malformed platform.
std::vector<platform::Platform> parse_platforms(const std::string& spec);

/// The binfmt_misc entry that must be enabled to run `p`'s binaries here
/// ("/proc/sys/fs/binfmt_misc/qemu-aarch64"), "" when the host runs them
/// itself (same architecture, or 386 on amd64).
std::string binfmt_handler(const platform::Platform& p);

/// Throws Errc::failure when `p`'s binaries cannot run here: "cannot run
/// linux/arm64 binaries on linux/amd64: no enabled qemu-user binfmt handler
/// /proc/sys/fs/binfmt_misc/qemu-aarch64 (install qemu-user-static)".
void check_runnable(const platform::Platform& p);

/// Build the image: with several platforms, one image each and an OCI
/// index of them (each entry's platform set) that -t and --output name. Throws ocikit::Error; failures carry "Dockerfile:LINE: ".
/// Nothing is tagged (or written to the output) unless every step succeeded.
Result build(const Options& opts);

}  // namespace ocikit::build
