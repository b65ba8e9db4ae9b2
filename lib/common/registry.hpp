#pragma once
// ocikit::registry: a distribution-spec (OCI) registry client: manifests by
// tag or digest with content negotiation, blobs streamed while hashed and
// verified, resumable with Range, uploads (monolithic or chunked) with
// cross-repository mounts, and tag listing. Authentication is answered on
// demand (auth::Authenticator); every call is safe from several threads.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth.hpp"
#include "common/http.hpp"

namespace ocikit::registry {

/// Media types the client negotiates.
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

/// The Accept header sent for manifests: all four types above.
std::string manifest_accept();

/// Client settings.
struct Options {
  http::RetryPolicy retry = http::default_retry_policy();
  /// Blobs above this upload in PATCH chunks of this size. docker-registry
  /// fsyncs each request's data before answering: 32 MiB chunks keep its
  /// disk busy during the transfer instead of at the end. Pushing 6 x 67 MB
  /// layers measured 1.20 s median (32 MiB), 1.27 (16), 1.29 (one PUT), 1.33
  /// (64), 1.34 (8), each six runs on fresh registries.
  uint64_t chunk_size = 32ull << 20;
  uint64_t max_manifest_size = 4ull << 20;  ///< larger manifests are refused
  std::string scheme;  ///< "http"/"https"; empty: http::default_scheme(host)
  /// The client pushes: every request for a repository asks for a
  /// "pull,push" token at once (as docker does), rather than a pull token for
  /// the HEADs and a second one for the upload.
  bool push = false;
};

/// A manifest as the registry served it.
struct Manifest {
  std::string media_type;  ///< Content-Type (or the JSON mediaType when generic)
  std::string body;  ///< the exact bytes (their digest is the manifest digest)
  std::string digest;  ///< "sha256:..." of body
};

/// What a HEAD says about a manifest or blob.
struct Head {
  std::string digest;  ///< Docker-Content-Digest ("" when not sent)
  std::string media_type;  ///< Content-Type
  uint64_t size = 0;  ///< Content-Length
};

/// Progress callback: bytes done so far of one transfer.
using Progress = std::function<void(uint64_t done)>;

/// A client for one registry host.
class Client {
 public:
  /// `host` is "host[:port]" as in a reference ("docker.io" means
  /// registry-1.docker.io). `t` must outlive the client.
  Client(std::string host, http::Transport& t, auth::Credentials creds, Options o = {});

  /// The registry host as given.
  const std::string& host() const { return host_; }

  /// GET a manifest by tag or digest. Throws Errc::not_found ("... not
  /// found"), Errc::unauthorized, Errc::invalid when a digest reference does
  /// not match the content or it is too large.
  Manifest get_manifest(const std::string& repo, const std::string& ref);
  /// HEAD a manifest; nullopt when it does not exist.
  std::optional<Head> head_manifest(const std::string& repo, const std::string& ref);
  /// PUT a manifest under `ref` (a tag or its digest). Returns its digest.
  std::string put_manifest(const std::string& repo, const std::string& ref, std::string_view media_type,
                           const std::string& body);

  /// HEAD a blob; nullopt when the repository does not have it.
  std::optional<Head> head_blob(const std::string& repo, const std::string& digest);
  /// Stream a blob into `sink`, hashing it; resumes with Range after a
  /// connection failure (bounded by the retry policy). `size` (when >= 0) is
  /// checked too. Throws Errc::invalid on a digest or size mismatch (the
  /// caller must then discard what the sink received), Errc::not_found.
  /// With `verify` false the digest is not computed here (for a sink that
  /// verifies it itself, as layout::BlobWriter does); sizes are still checked.
  void fetch_blob(const std::string& repo, const std::string& digest, int64_t size, const http::Sink& sink,
                  const Progress& progress = {}, bool verify = true);
  /// fetch_blob from a descriptor's external `url` (http or https only, e.g.
  /// a foreign layer's), without the registry's credentials. Same checks,
  /// retries and resume; Errc::not_found on 404, Errc::invalid for another
  /// scheme.
  void fetch_url(const std::string& url, const std::string& digest, int64_t size, const http::Sink& sink,
                 const Progress& progress = {}, bool verify = true);
  /// Upload `size` bytes read from `fd` (from offset 0, with pread) as blob
  /// `digest`. First tries a cross-repository mount from each repository in
  /// `mount_from` (same registry). Monolithic PUT up to Options::chunk_size,
  /// chunked PATCH beyond. Returns true when a mount made the upload
  /// unnecessary.
  bool push_blob(const std::string& repo, const std::string& digest, uint64_t size, int fd,
                 const std::vector<std::string>& mount_from = {}, const Progress& progress = {});
  /// Upload an in-memory blob (configs); same as push_blob otherwise.
  void push_blob_data(const std::string& repo, const std::string& digest, const std::string& data);
  /// All tags of `repo` (following Link pagination).
  std::vector<std::string> list_tags(const std::string& repo);

  /// Perform `req` (its URL relative to the registry root, e.g. "/v2/") with
  /// the authorization for `scope`, answering up to two 401 challenges.
  /// Throws Errc::unauthorized when they keep coming.
  http::Response send(http::Request req, const std::string& scope);

  /// The authenticator answering this registry's challenges.
  auth::Authenticator& authenticator() { return auth_; }

  /// Whether `url` is on the registry's own scheme, host and port (the only
  /// place its credentials go).
  bool same_origin(const std::string& url) const;

 private:
  std::string url(std::string_view path) const;
  std::string repo_scope(const std::string& repo) const;
  std::string resolve_location(const std::string& loc) const;
  void fetch(const std::string& url, const std::string* repo, const std::string& where, const std::string& digest,
             int64_t size, const http::Sink& sink, const Progress& progress, bool verify);
  bool upload(const std::string& repo, const std::string& digest, uint64_t size, int fd, const std::string* data,
              const std::vector<std::string>& mount_from, const Progress& progress);

  std::string host_;
  std::string base_;  // "https://registry-1.docker.io"
  http::Transport& transport_;
  auth::Authenticator auth_;
  Options opts_;
};

}  // namespace ocikit::registry
