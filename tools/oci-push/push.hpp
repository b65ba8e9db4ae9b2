#pragma once
// oci-push's one operation: push an image from SRC to a registry.
#include <string>
#include <vector>

namespace ocikit::push {

/// What the command line asked for.
struct Options {
  std::string src, dest;
  int jobs = 4;  ///< --jobs
  std::string format = "text";  ///< --format text|json
  std::string creds;  ///< --creds USER:PASS
  std::string cert_dir;  ///< --cert-dir
  bool tls_verify = true;  ///< --tls-verify
  std::string store;  ///< --store
  std::vector<std::string> mount_from;  ///< --mount-from REPO (extra mount sources)
  bool send_stdio = false;  ///< --send-stdio: the other end of `oci-fetch ssh://` (ssh_images.hpp)
};

/// Push the image; print the pushed digest (or JSON) on stdout. Returns the
/// exit code; throws ocikit::Error on failure.
int run(const Options& o);

}  // namespace ocikit::push
