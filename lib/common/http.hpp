#pragma once
// ocikit::http: the HTTP transport the registry client uses. A small
// Transport interface (one request in, one response out, the body optionally
// streamed to a sink) so unit tests can fake it, a libcurl implementation
// with the TLS options docker and containers-certs.d define, and a retry
// helper with exponential backoff for 5xx, 429 and connection failures.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocikit::http {

/// Header list, in order; names compare case-insensitively.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// Receives a 2xx response body chunk by chunk.
using Sink = std::function<void(const char* data, size_t len)>;

/// One HTTP request.
struct Request {
  std::string method = "GET";  ///< GET, HEAD, PUT, POST, PATCH, DELETE
  std::string url;
  Headers headers;
  std::string body;  ///< request body when body_fd < 0
  int body_fd = -1;  ///< stream the request body from this fd (pread)
  uint64_t body_offset = 0;  ///< ... starting at this offset
  uint64_t body_length = 0;  ///< ... this many bytes
  Sink sink;  ///< when set, a 2xx body goes here instead of Response::body
  /// Called with the final status before the first body byte (or at the
  /// end for an empty body); lets a resumed download see 200 vs 206.
  std::function<void(long status)> on_status;
  bool follow_redirects = true;
};

/// One HTTP response. Non-2xx bodies are always kept in `body` (capped).
struct Response {
  long status = 0;
  Headers headers;  ///< headers of the final response (after redirects)
  std::string body;  ///< the body, unless it went to Request::sink
  std::string effective_url;

  /// The first header named `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  /// True for 200..299.
  bool ok() const { return status >= 200 && status < 300; }
};

/// TLS settings, as docker/podman spell them.
struct TlsOptions {
  bool verify = true;  ///< --tls-verify (false: accept any certificate)
  std::string cert_dir;  ///< --cert-dir: *.crt CAs, *.cert + *.key client pairs
};

/// Something that performs HTTP requests. Implementations must be safe to
/// call from several threads at once. Connection-level failures (refused,
/// reset, timed out, TLS errors, a body cut short) throw Errc::io errors;
/// any HTTP status is returned, not thrown.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Perform `req` and return the response.
  virtual Response perform(const Request& req) = 0;
};

/// The libcurl transport. Each thread reuses its own easy handle, so
/// connections are kept alive between requests.
class CurlTransport : public Transport {
 public:
  /// Throws Errc::io when the cert dir cannot be read.
  explicit CurlTransport(TlsOptions tls = {});
  ~CurlTransport() override;
  Response perform(const Request& req) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// How often and how patiently perform_with_retry retries.
struct RetryPolicy {
  int attempts = 5;  ///< total tries, including the first
  int base_delay_ms = 200;  ///< delay before the 2nd try, doubled each time
  int max_delay_ms = 5000;  ///< cap on one delay (also caps Retry-After)
};

/// The default policy; OCIKIT_RETRY_DELAY_MS overrides base_delay_ms (tests).
RetryPolicy default_retry_policy();

/// True for statuses worth retrying: 429, 500, 502, 503, 504.
bool is_retryable_status(long status);

/// Perform `req`, retrying on connection failures and retryable statuses
/// with exponential backoff. Returns the last response (which may still be
/// 5xx/429 when attempts ran out); rethrows the last Errc::io error. A
/// request with a sink is retried only while the sink has received nothing.
Response perform_with_retry(Transport& t, const Request& req, const RetryPolicy& p);

/// The scheme docker uses for `host` ("host[:port]"): "http" for localhost,
/// 127.0.0.0/8 and ::1, "https" otherwise.
std::string default_scheme(std::string_view host);

/// A short description of a non-2xx response for error messages:
/// "HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)" from a distribution-spec
/// error body, "HTTP 401 (invalid_grant: ...)" from an OAuth2 one, else
/// "HTTP 404".
std::string describe_status(const Response& r);

/// The target of the rel="next" link in a Link header (RFC 8288:
/// comma-separated `<URI>; param=value` entries; rel may be quoted, a token,
/// or a space-separated list), "" when there is none or it is malformed.
std::string next_link(std::string_view header);

}  // namespace ocikit::http
