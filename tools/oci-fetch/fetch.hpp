#pragma once
// oci-fetch's one operation: copy an image from SRC to DEST.
#include <string>

namespace ocikit::fetch {

/// What the command line asked for.
struct Options {
  std::string src, dest;
  std::string platform;  ///< --platform ("" = host)
  bool all_platforms = false;  ///< --all-platforms
  int jobs = 4;  ///< --jobs
  std::string format = "text";  ///< --format text|json
  std::string creds;  ///< --creds USER:PASS
  std::string authfile;  ///< --authfile FILE: credentials from this auth file only
  std::string progress = "auto";  ///< --progress auto (bars on a terminal) | json (JSON lines on stderr)
  std::string cert_dir;  ///< --cert-dir
  bool tls_verify = true;  ///< --tls-verify
  std::string store;  ///< --store ("" = layout::default_store_path())
  std::string policy;  ///< --policy FILE ("" = /etc/containers/policy.json, accept when absent)
  bool verify_only = false;
  bool remove_signatures = false;  ///< --remove-signatures: do not copy signatures into an oci: destination
  bool receive_stdio = false;  ///< --receive-stdio: the other end of `oci-push ssh://` (ssh_images.hpp)
};

/// Copy the image; print its digest (or descriptor JSON) on stdout.
/// Returns the exit code; throws ocikit::Error on failure.
int run(const Options& o);

}  // namespace ocikit::fetch
