#pragma once
// oci-build --output: where the built image goes besides the store. The
// spellings are skopeo's: oci:DIR[:TAG] (an OCI image layout),
// oci-archive:FILE[:TAG] and docker-archive:FILE[:TAG] (tar archives, FILE
// "-" is stdout), and a bare "-" (an oci-archive on stdout, for
// `oci-build -o - . | oci-push - docker://...`).

#include <string>
#include <vector>

#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/reference.hpp"

namespace ocikit::build {

/// A parsed --output value.
struct OutputSpec {
  reference::Transport transport = reference::Transport::oci_archive;  ///< oci, oci_archive or docker_archive
  std::string path;  ///< DIR or FILE ("-" = stdout)
  std::string tag;  ///< ":TAG" part, "" when absent
};

/// Parse `s`. Throws Errc::usage for other transports (docker://, a store
/// name) or an empty path: "--output X: must be oci:DIR[:TAG], ...".
OutputSpec parse_output(const std::string& s);

/// True when the output goes to stdout (then stdout carries only the archive).
bool output_is_stdout(const OutputSpec& o);

/// Write the image `manifest` (in `store`) to `o`. Its names: o.tag when
/// set; else for oci: "latest", for an oci-archive the first of `tags`
/// (normalised names; "latest" when there is none), for a docker-archive
/// all of them (none: no RepoTags). An oci: layout gets the blobs it lacks and
/// an index.json entry (replacing one of the same name); archives are
/// written atomically. Throws Errc::io / Errc::invalid.
void write_output(const layout::Layout& store, const image::Descriptor& manifest, const std::vector<std::string>& tags,
                  const OutputSpec& o);

}  // namespace ocikit::build
