#pragma once
// oci-api's HTTP layer: listeners (unix socket, socket activation, TCP with
// mutual TLS), one thread per connection reading requests with Boost.Beast's
// parser (bounded header and body), a watchdog that shuts down connections
// whose client stalls, and the Exchange a handler answers through: a JSON
// reply, a chunked stream, or the connection itself (hijacked, as docker's
// attach and exec start take it over).
//
//   acceptor thread ──accept──▶ connection thread: read request ─▶ route ─▶ handler
//                                                   ▲                        │
//                                                   └──── keep-alive ◀───────┘
//   watchdog thread: shutdown(fd) of a connection past its deadline

#include <sys/types.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::api {

/// A handler's failure, answered as docker's `{"message": ...}` with `status`.
struct ApiError {
  int status;
  std::string message;
};
/// Throw ApiError{status, message}.
[[noreturn]] void fail_api(int status, const std::string& message);

/// One accepted connection's byte stream (a plain socket or a TLS stream).
class Io {
 public:
  virtual ~Io() = default;
  /// Read at least one byte (0 with ec at EOF or on error).
  virtual size_t read_some(void* p, size_t n, boost::system::error_code& ec) = 0;
  /// Write all of it; false when the peer is gone.
  virtual bool write_all(const void* p, size_t n) = 0;
  /// The socket's fd (for poll and the watchdog's shutdown).
  virtual int fd() const = 0;
  /// True when reads and writes must not run on two threads at once (TLS).
  virtual bool serialized() const { return false; }
};

/// Limits and timeouts of connections.
struct Limits {
  size_t max_header = 16 * 1024;  ///< request line + headers
  size_t max_body = 16 * 1024 * 1024;  ///< JSON bodies (streamed bodies are not bounded here)
  int read_timeout_s = 60;  ///< a request must arrive whole within this (and idle keep-alive)
  int write_timeout_s = 60;  ///< one write may stall this long
  int max_connections = 512;
};

/// A request being answered. A handler calls exactly one of reply/json/
/// error, or begin_stream + chunk... + end_stream, or hijack + raw writes.
class Exchange {
 public:
  Exchange(Io& io, const boost::beast::http::request<boost::beast::http::string_body>& req,
           boost::beast::flat_buffer& leftover, uint64_t conn_id, const Limits& limits);

  const boost::beast::http::request<boost::beast::http::string_body>& req;
  std::string method;  ///< GET, POST, ...
  std::string path;  ///< decoded, without the /vX.Y prefix
  std::map<std::string, std::string> query;  ///< decoded query parameters (last one wins)
  std::vector<std::pair<std::string, std::string>> query_list;  ///< all of them, in order

  /// Query parameter `k` or `def`.
  std::string q(const std::string& k, const std::string& def = "") const;
  /// docker's boolean query values: 1/true/True (anything else is false).
  bool q_bool(const std::string& k, bool def = false) const;
  /// Every value of a repeated query parameter (docker's `t` of build).
  std::vector<std::string> q_all(const std::string& k) const;
  /// A streamed body (routes that serve() was told stream, e.g. /build):
  /// up to `n` bytes of it, 0 at its end; ApiError 400 when the client
  /// breaks the framing or stalls past the read timeout. Other routes have
  /// the body whole in `req.body()` and get 0 here.
  size_t read_body(char* p, size_t n);
  void set_body_reader(std::function<size_t(char*, size_t)> r) { body_reader_ = std::move(r); }
  /// The request body as JSON (an empty body is `{}`); 400 when malformed.
  nlohmann::json body_json() const;

  /// One more response header (name: value) for the reply or stream that follows.
  void add_header(const std::string& name, const std::string& value) { extra_headers_ += name + ": " + value + "\r\n"; }
  void reply(int status, std::string body = "", const std::string& content_type = "application/json");
  void json(int status, const nlohmann::json& j);
  void error(int status, const std::string& message);
  /// A 200 chunked response: headers now, then chunk() per piece.
  void begin_stream(const std::string& content_type);
  bool chunk(std::string_view data);  ///< false when the client is gone
  void end_stream();
  /// Take the connection over: 101 UPGRADED when the client asked for
  /// `Upgrade: tcp`, else 200; the connection is closed afterwards.
  void hijack(const std::string& content_type = "application/vnd.docker.raw-stream");
  bool raw_write(std::string_view data);  ///< false when the client is gone
  /// Bytes the client sent after the request (stdin of a hijacked stream).
  std::string take_leftover();

  /// True when the client hung up (poll, no wait). A hijacked connection
  /// passes `half_close_ok`: docker's client shuts down its writing side
  /// once its stdin ended (or at once without stdin) and still reads.
  bool client_gone(bool half_close_ok = false) const;
  Io& io() { return io_; }
  bool responded() const { return responded_; }
  bool close_after() const { return close_after_ || streaming_; }
  bool head() const { return method == "HEAD"; }
  bool upgrade_requested() const;

 private:
  bool write_timed(std::string_view data);
  Io& io_;
  boost::beast::flat_buffer& leftover_;
  uint64_t conn_id_;
  const Limits& limits_;
  bool responded_ = false, close_after_ = false, streaming_ = false;
  std::function<size_t(char*, size_t)> body_reader_;
  std::string extra_headers_;
};

/// A route handler.
using Handler = std::function<void(Exchange&)>;

/// Where to listen: unix://PATH, tcp://HOST:PORT, fd:// (socket activation).
struct ListenSpec {
  std::string host;
  std::string group;  ///< unix socket group (0660); "" = root's
  bool tls = false;
  std::string tls_ca, tls_cert, tls_key;
  bool insecure_tcp = false;
};

/// Which requests have their body streamed to the handler (Exchange::
/// read_body) instead of read whole under Limits::max_body.
using StreamsBody = std::function<bool(const Exchange&)>;

/// Listen on every `hosts` entry and serve with `handler` until SIGTERM/
/// SIGINT; requests for which `streams_body` says so get a streamed body. Errc::usage for a refused address (non-loopback TCP without mutual
/// TLS and without insecure_tcp), Errc::io when binding fails.
int serve(const std::vector<std::string>& hosts, const ListenSpec& opts, const Limits& limits, const Handler& handler,
          const StreamsBody& streams_body = {});

/// The connection's deadline: arm (seconds from now) or disarm (0).
void set_deadline(uint64_t conn_id, int seconds);

}  // namespace ocikit::api
