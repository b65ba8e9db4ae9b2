#pragma once
// oci-push's operations: push an image from SRC to a registry (signing it
// on the way when asked), sign an image already in a registry, and
// generate a sigstore key pair.
#include <string>
#include <vector>

namespace ocikit::push {

/// How to sign (skopeo's flag names).
struct SignOptions {
  std::string key;  ///< --sign-by-sigstore-private-key FILE ("" = do not sign)
  std::string passphrase_file;  ///< --sign-passphrase-file FILE ("" = ask on the terminal)
  std::string identity;  ///< --sign-identity REF ("" = the destination reference)
};

/// What the command line asked for.
struct Options {
  std::string src, dest;
  int jobs = 4;  ///< --jobs
  std::string format = "text";  ///< --format text|json
  std::string creds;  ///< --creds USER:PASS
  std::string authfile;  ///< --authfile FILE: credentials from this auth file only
  std::string progress = "auto";  ///< --progress auto (bars on a terminal) | json (JSON lines on stderr)
  std::string cert_dir;  ///< --cert-dir
  bool tls_verify = true;  ///< --tls-verify
  std::string store;  ///< --store
  std::vector<std::string> mount_from;  ///< --mount-from REPO (extra mount sources)
  SignOptions sign;
  bool remove_signatures = false;  ///< --remove-signatures: do not push the source layout's signatures
  bool send_stdio = false;  ///< --send-stdio: the other end of `oci-fetch ssh://` (ssh_images.hpp)
};

/// Push the image; print the pushed digest (or JSON) on stdout. Returns the
/// exit code; throws ocikit::Error on failure.
int run(const Options& o);

/// `oci-push sign`: attach a sigstore signature to the image `o.dest`
/// (docker://HOST/REPO:TAG or @DIGEST) already in its registry, without
/// pushing it again; prints the signed manifest digest.
int run_sign(const Options& o);

/// `oci-push generate-sigstore-key --output-prefix P`: write P.private
/// (encrypted, cosign format) and P.pub; refuses to overwrite either.
int run_generate_key(const std::string& prefix, const std::string& passphrase_file);

}  // namespace ocikit::push
