// oci-api's HTTP layer (server.hpp). Blocking I/O on one thread per
// connection keeps a long request (attach, wait, logs -f, events) from
// holding up anything else, and lets a hijacked connection be a plain
// byte pipe; Beast parses the requests, Asio accepts and does TLS.
#include "server.hpp"

#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "ocikit_config.h"

namespace ocikit::api {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

void fail_api(int status, const std::string& message) { throw ApiError{status, message}; }

namespace {

// ---- the watchdog: deadlines of connections ----

struct Watchdog {
  std::mutex m;
  std::map<uint64_t, std::pair<int, std::chrono::steady_clock::time_point>> deadlines;  // id -> fd, when
  std::map<uint64_t, int> fds;
};
Watchdog& watchdog() {
  static Watchdog w;
  return w;
}

void watchdog_register(uint64_t id, int fd) {
  std::lock_guard l(watchdog().m);
  watchdog().fds[id] = fd;
}
void watchdog_unregister(uint64_t id) {
  std::lock_guard l(watchdog().m);
  watchdog().fds.erase(id);
  watchdog().deadlines.erase(id);
}

// Shut down the socket of every connection past its deadline: its blocked
// read or write returns, and its thread ends the connection.
void watchdog_loop() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto now = std::chrono::steady_clock::now();
    std::lock_guard l(watchdog().m);
    for (auto it = watchdog().deadlines.begin(); it != watchdog().deadlines.end();) {
      if (it->second.second <= now) {
        log::debug("connection " + std::to_string(it->first) + " stalled: closing it");
        ::shutdown(it->second.first, SHUT_RDWR);
        it = watchdog().deadlines.erase(it);
      } else {
        ++it;
      }
    }
  }
}

// ---- byte streams ----

template <class Socket>
class PlainIo : public Io {
 public:
  explicit PlainIo(Socket s) : s_(std::move(s)) {}
  size_t read_some(void* p, size_t n, error_code& ec) override { return s_.read_some(net::buffer(p, n), ec); }
  bool write_all(const void* p, size_t n) override {
    error_code ec;
    net::write(s_, net::buffer(p, n), ec);
    return !ec;
  }
  int fd() const override { return const_cast<Socket&>(s_).native_handle(); }

 private:
  Socket s_;
};

class TlsIo : public Io {
 public:
  TlsIo(net::ip::tcp::socket s, net::ssl::context& ctx) : s_(std::move(s), ctx) {}
  bool handshake() {
    error_code ec;
    s_.handshake(net::ssl::stream_base::server, ec);
    if (ec) log::debug("TLS handshake: " + ec.message());
    return !ec;
  }
  size_t read_some(void* p, size_t n, error_code& ec) override {
    std::lock_guard l(m_);
    return s_.read_some(net::buffer(p, n), ec);
  }
  bool write_all(const void* p, size_t n) override {
    std::lock_guard l(m_);
    error_code ec;
    net::write(s_, net::buffer(p, n), ec);
    return !ec;
  }
  int fd() const override { return const_cast<net::ssl::stream<net::ip::tcp::socket>&>(s_).next_layer().native_handle(); }
  bool serialized() const override { return true; }

 private:
  std::mutex m_;
  net::ssl::stream<net::ip::tcp::socket> s_;
};

// Io as Beast's SyncReadStream (the parser reads through it).
class BeastStream {
 public:
  explicit BeastStream(Io& io) : io_(io) {}
  template <class B>
  size_t read_some(const B& b, error_code& ec) {
    for (auto it = net::buffer_sequence_begin(b); it != net::buffer_sequence_end(b); ++it) {
      net::mutable_buffer mb = *it;
      if (mb.size() == 0) continue;
      size_t n = io_.read_some(mb.data(), mb.size(), ec);
      return n;
    }
    ec = {};
    return 0;
  }
  template <class B>
  size_t read_some(const B& b) {
    error_code ec;
    size_t n = read_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class B>
  size_t write_some(const B& b, error_code& ec) {
    size_t total = 0;
    for (auto it = net::buffer_sequence_begin(b); it != net::buffer_sequence_end(b); ++it) {
      net::const_buffer cb = *it;
      if (!io_.write_all(cb.data(), cb.size())) {
        ec = net::error::broken_pipe;
        return total;
      }
      total += cb.size();
    }
    return total;
  }
  template <class B>
  size_t write_some(const B& b) {
    error_code ec;
    size_t n = write_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  Io& io_;
};

std::string url_decode(std::string_view s, bool plus_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit((unsigned char)s[i + 1]) &&
        std::isxdigit((unsigned char)s[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (plus_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string reason(int status) {
  std::string r(http::obsolete_reason(static_cast<http::status>(status)));
  return r.empty() ? "Status" : r;
}

std::string common_headers() {
  return "Api-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: oci-api/" OCIKIT_VERSION
         " (linux)\r\n";
}

}  // namespace

// ---- Exchange ----

Exchange::Exchange(Io& io, const http::request<http::string_body>& r, boost::beast::flat_buffer& leftover,
                   uint64_t conn_id, const Limits& limits)
    : req(r), io_(io), leftover_(leftover), conn_id_(conn_id), limits_(limits) {
  method = std::string(r.method_string());
  std::string_view target(r.target().data(), r.target().size());
  auto qpos = target.find('?');
  std::string raw_path(target.substr(0, qpos));
  if (qpos != std::string_view::npos) {
    std::string_view qs = target.substr(qpos + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      std::string k = url_decode(kv.substr(0, eq), true);
      query[k] = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1), true);
      query_list.emplace_back(k, query[k]);
      if (amp == std::string_view::npos) break;
      qs.remove_prefix(amp + 1);
    }
  }
  path = url_decode(raw_path, false);
  // The API version prefix (/v1.41/...) is optional; any 1.x is served as 1.41.
  if (path.size() > 3 && path.compare(0, 2, "/v") == 0 && std::isdigit((unsigned char)path[2])) {
    auto slash = path.find('/', 1);
    path = slash == std::string::npos ? "/" : path.substr(slash);
  }
}

std::string Exchange::q(const std::string& k, const std::string& def) const {
  auto it = query.find(k);
  return it == query.end() ? def : it->second;
}

std::vector<std::string> Exchange::q_all(const std::string& k) const {
  std::vector<std::string> v;
  for (const auto& [key, val] : query_list)
    if (key == k) v.push_back(val);
  return v;
}

size_t Exchange::read_body(char* p, size_t n) { return body_reader_ ? body_reader_(p, n) : 0; }

bool Exchange::q_bool(const std::string& k, bool def) const {
  auto it = query.find(k);
  if (it == query.end()) return def;
  return it->second == "1" || it->second == "true" || it->second == "True";
}

nlohmann::json Exchange::body_json() const {
  if (req.body().empty()) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(req.body());
  } catch (const nlohmann::json::exception& e) {
    fail_api(400, std::string("invalid JSON body: ") + e.what());
  }
}

bool Exchange::upgrade_requested() const {
  auto it = req.find(http::field::upgrade);
  return it != req.end() && boost::beast::iequals(it->value(), "tcp");
}

bool Exchange::write_timed(std::string_view data) {
  set_deadline(conn_id_, limits_.write_timeout_s);
  bool ok = io_.write_all(data.data(), data.size());
  set_deadline(conn_id_, 0);
  return ok;
}

void Exchange::reply(int status, std::string body, const std::string& content_type) {
  responded_ = true;
  if (!req.keep_alive()) close_after_ = true;
  std::string h =
      "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n" + common_headers() + extra_headers_;
  if (status != 204 && status != 304) {
    if (!content_type.empty()) h += "Content-Type: " + content_type + "\r\n";
    h += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  } else {
    body.clear();
  }
  if (close_after_) h += "Connection: close\r\n";
  h += "\r\n";
  if (!head()) h += body;
  if (!write_timed(h)) close_after_ = true;
}

void Exchange::json(int status, const nlohmann::json& j) { reply(status, j.dump() + "\n"); }

void Exchange::error(int status, const std::string& message) { json(status, {{"message", message}}); }

void Exchange::begin_stream(const std::string& content_type) {
  responded_ = true;
  streaming_ = true;
  if (!req.keep_alive()) close_after_ = true;
  std::string h = "HTTP/1.1 200 OK\r\n" + common_headers() + extra_headers_ + "Content-Type: " + content_type +
      "\r\nTransfer-Encoding: chunked\r\n";
  if (close_after_) h += "Connection: close\r\n";
  h += "\r\n";
  if (!write_timed(h)) close_after_ = true;
}

bool Exchange::chunk(std::string_view data) {
  if (data.empty()) return true;
  char hex[32];
  snprintf(hex, sizeof hex, "%zx\r\n", data.size());
  std::string c = hex;
  c.append(data);
  c += "\r\n";
  if (!write_timed(c)) {
    close_after_ = true;
    return false;
  }
  return true;
}

void Exchange::end_stream() {
  if (!write_timed("0\r\n\r\n")) close_after_ = true;
  streaming_ = false;
}

void Exchange::hijack(const std::string& content_type) {
  responded_ = true;
  close_after_ = true;
  std::string h;
  if (upgrade_requested())
    h = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + content_type + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n" +
        common_headers() + "\r\n";
  else
    h = "HTTP/1.1 200 OK\r\nContent-Type: " + content_type + "\r\n" + common_headers() + "Connection: close\r\n\r\n";
  write_timed(h);
}

bool Exchange::raw_write(std::string_view data) { return write_timed(data); }

std::string Exchange::take_leftover() {
  std::string s(static_cast<const char*>(leftover_.data().data()), leftover_.size());
  leftover_.consume(leftover_.size());
  return s;
}

bool Exchange::client_gone(bool half_close_ok) const {
  struct pollfd p = {io_.fd(), static_cast<short>(half_close_ok ? 0 : POLLRDHUP), 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & ((half_close_ok ? 0 : POLLRDHUP) | POLLHUP | POLLERR));
}

void set_deadline(uint64_t conn_id, int seconds) {
  std::lock_guard l(watchdog().m);
  if (seconds <= 0) {
    watchdog().deadlines.erase(conn_id);
    return;
  }
  auto it = watchdog().fds.find(conn_id);
  if (it == watchdog().fds.end()) return;
  watchdog().deadlines[conn_id] = {it->second, std::chrono::steady_clock::now() + std::chrono::seconds(seconds)};
}

// ---- connections ----

namespace {

std::atomic<uint64_t> g_next_conn{1};
std::atomic<int> g_connections{0};

StreamsBody g_streams_body;  // set once by serve()

// A request that broke a limit or the grammar gets docker's error (and the
// connection ends); a client that closed between requests gets nothing.
void answer_read_error(Io& io, uint64_t id, const Limits& limits, const error_code& ec) {
  int status = 0;
  std::string msg;
  if (ec == http::error::header_limit) status = 431, msg = "request header too large (limit " + std::to_string(limits.max_header) + " bytes)";
  else if (ec == http::error::body_limit) status = 413, msg = "request body too large (limit " + std::to_string(limits.max_body) + " bytes)";
  else if (ec.category() == boost::beast::http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
           ec != http::error::partial_message)
    status = 400, msg = "malformed HTTP request: " + ec.message();
  if (!status) return;
  std::string body = nlohmann::json{{"message", msg}}.dump() + "\n";
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n" + common_headers() +
                  "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\n\r\n" + body;
  set_deadline(id, limits.write_timeout_s);
  io.write_all(h.data(), h.size());
}

void serve_connection(Io& io, const Limits& limits, const Handler& handler) {
  uint64_t id = g_next_conn++;
  watchdog_register(id, io.fd());
  BeastStream stream(io);
  boost::beast::flat_buffer buf;
  for (;;) {
    // The header first: the route decides whether the body is read whole
    // (bounded by max_body) or streamed to the handler (a build context).
    http::request_parser<http::empty_body> hp;
    hp.header_limit(static_cast<std::uint32_t>(limits.max_header));
    // Not boost::none: Beast compares Content-Length > body_limit with the
    // optional, and anything is greater than none.
    hp.body_limit(std::numeric_limits<std::uint64_t>::max());
    error_code ec;
    set_deadline(id, limits.read_timeout_s);
    http::read_header(stream, buf, hp, ec);
    set_deadline(id, 0);
    if (ec) {
      answer_read_error(io, id, limits, ec);
      break;
    }
    http::request<http::string_body> req(http::request_header<>(hp.get().base()));
    Exchange x(io, req, buf, id, limits);
    std::optional<http::request_parser<http::buffer_body>> bp;
    if (g_streams_body && g_streams_body(x)) {
      bp.emplace(std::move(hp));
      bp->body_limit(std::numeric_limits<std::uint64_t>::max());
      auto* p = &*bp;
      x.set_body_reader([p, &stream, &buf, id, &limits](char* out, size_t n) -> size_t {
        while (!p->is_done()) {
          p->get().body().data = out;
          p->get().body().size = n;
          p->get().body().more = true;
          error_code rec;
          set_deadline(id, limits.read_timeout_s);
          http::read_some(stream, buf, *p, rec);
          set_deadline(id, 0);
          if (rec == http::error::need_buffer) rec = {};
          if (rec) fail_api(400, "reading the request body: " + rec.message());
          size_t got = n - p->get().body().size;
          if (got > 0) return got;
        }
        return 0;
      });
    } else {
      if (hp.content_length() && *hp.content_length() > limits.max_body) {
        answer_read_error(io, id, limits, http::error::body_limit);
        break;
      }
      http::request_parser<http::string_body> sp(std::move(hp));
      sp.body_limit(limits.max_body);
      if (!sp.is_done()) {
        set_deadline(id, limits.read_timeout_s);
        http::read(stream, buf, sp, ec);
        set_deadline(id, 0);
      }
      if (ec) {
        answer_read_error(io, id, limits, ec);
        break;
      }
      req.body() = std::move(sp.get().body());
    }
    log::debug(x.method + " " + std::string(req.target()));
    try {
      handler(x);
    } catch (const ApiError& e) {
      if (!x.responded()) x.error(e.status, e.message);
    } catch (const std::exception& e) {
      if (!x.responded()) x.error(500, e.what());
    }
    if (!x.responded()) x.error(500, "no response");
    // A streamed body the handler did not read to its end leaves the
    // connection mid-request: it is not reused.
    if (x.close_after() || (bp && !bp->is_done())) break;
  }
  watchdog_unregister(id);
}

// The connection's thread: owns the Io; a TLS one shakes hands first (with
// the read deadline, so that a silent client cannot hold the thread).
void start_connection(std::unique_ptr<Io> io, const Limits& limits, const Handler& handler,
                      std::function<bool(Io&)> prepare = {}) {
  if (g_connections.load() >= limits.max_connections) {
    log::warn("too many connections: refusing one");
    return;
  }
  ++g_connections;
  std::thread([io = std::move(io), &limits, &handler, prepare]() mutable {
    bool ok = true;
    if (prepare) {
      uint64_t id = g_next_conn++;
      watchdog_register(id, io->fd());
      set_deadline(id, limits.read_timeout_s);
      ok = prepare(*io);
      watchdog_unregister(id);
    }
    if (ok) serve_connection(*io, limits, handler);
    io.reset();
    --g_connections;
  }).detach();
}

bool is_loopback(const net::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() && net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
}

}  // namespace

int serve(const std::vector<std::string>& hosts_in, const ListenSpec& opts, const Limits& limits, const Handler& handler,
          const StreamsBody& streams_body) {
  g_streams_body = streams_body;
  net::io_context ctx;
  std::vector<std::thread> acceptors;
  std::vector<std::string> unlink_paths;
  std::unique_ptr<net::ssl::context> tls;
  if (opts.tls) {
    tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1);
    try {
      tls->use_certificate_chain_file(opts.tls_cert);
      tls->use_private_key_file(opts.tls_key, net::ssl::context::pem);
      tls->load_verify_file(opts.tls_ca);
    } catch (const boost::system::system_error& e) {
      fail(Errc::invalid, "TLS files (--tlscert " + opts.tls_cert + ", --tlskey " + opts.tls_key + ", --tlscacert " +
                              opts.tls_ca + "): " + e.what());
    }
    tls->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
  }

  // Socket activation: LISTEN_FDS sockets from fd 3 when LISTEN_PID is us.
  std::vector<int> activated;
  if (const char* lp = getenv("LISTEN_PID"); lp && std::to_string(getpid()) == lp) {
    int n = atoi(getenv("LISTEN_FDS") ? getenv("LISTEN_FDS") : "0");
    for (int i = 0; i < n; ++i) activated.push_back(3 + i);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
  }
  std::vector<std::string> hosts = hosts_in;
  if (hosts.empty()) hosts.push_back(activated.empty() ? "unix:///run/ocikit/docker.sock" : "fd://");

  // One thread per listener: accept until the acceptor is closed, hand
  // each socket to `serve`; other errors (EMFILE, ...) are waited out.
  auto accept_loop = [](auto& a, auto serve) {
    for (;;) {
      error_code ec;
      auto s = a.accept(ec);
      if (ec) {
        if (ec == net::error::bad_descriptor) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      serve(std::move(s));
    }
  };
  auto add_unix_acceptor = [&](net::local::stream_protocol::acceptor a) {
    acceptors.emplace_back([a = std::move(a), &limits, &handler, accept_loop]() mutable {
      accept_loop(a, [&](net::local::stream_protocol::socket s) {
        start_connection(std::make_unique<PlainIo<net::local::stream_protocol::socket>>(std::move(s)), limits, handler);
      });
    });
  };
  auto add_tcp_acceptor = [&](net::ip::tcp::acceptor a) {
    acceptors.emplace_back([a = std::move(a), &limits, &handler, &tls, accept_loop]() mutable {
      accept_loop(a, [&](net::ip::tcp::socket s) {
        if (tls) {
          start_connection(std::make_unique<TlsIo>(std::move(s), *tls), limits, handler,
                           [](Io& io) { return static_cast<TlsIo&>(io).handshake(); });
        } else {
          start_connection(std::make_unique<PlainIo<net::ip::tcp::socket>>(std::move(s)), limits, handler);
        }
      });
    });
  };

  for (const auto& h : hosts) {
    if (h == "fd://" || h.rfind("fd://", 0) == 0) {
      if (activated.empty()) fail(Errc::usage, "-H fd:// needs socket activation (LISTEN_FDS and LISTEN_PID)");
      for (int fd : activated) {
        struct sockaddr_storage ss {};
        socklen_t len = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_errno("socket activation: fd " + std::to_string(fd));
        if (ss.ss_family == AF_UNIX) {
          add_unix_acceptor(net::local::stream_protocol::acceptor(ctx, net::local::stream_protocol(), fd));
        } else {
          if (!tls && !opts.insecure_tcp)
            fail(Errc::usage, "activated TCP socket (fd " + std::to_string(fd) +
                                  ") refused without --tlsverify (or --insecure-tcp)");
          add_tcp_acceptor(net::ip::tcp::acceptor(ctx, ss.ss_family == AF_INET6 ? net::ip::tcp::v6() : net::ip::tcp::v4(), fd));
        }
      }
      continue;
    }
    if (h.rfind("unix://", 0) == 0) {
      std::string path = h.substr(7);
      if (path.empty()) path = "/run/ocikit/docker.sock";
      if (path.size() >= sizeof(sockaddr_un::sun_path)) fail(Errc::usage, "socket path too long: " + path);
      // A stale socket of an earlier run is replaced, anything else is not.
      struct stat st {};
      if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) fail(Errc::exists, path + " exists and is not a socket");
        unlink(path.c_str());
      }
      gid_t gid = 0;
      if (!opts.group.empty()) {
        struct group* gr = getgrnam(opts.group.c_str());
        if (!gr) {
          char* end = nullptr;
          long g = strtol(opts.group.c_str(), &end, 10);
          if (*end != 0 || end == opts.group.c_str()) fail(Errc::not_found, "no such group: " + opts.group);
          gid = static_cast<gid_t>(g);
        } else {
          gid = gr->gr_gid;
        }
      }
      // Bound with umask 0177 so that the socket is never wider than 0600
      // before the chmod to 0660.
      mode_t old = umask(0177);
      net::local::stream_protocol::acceptor a(ctx);
      error_code ec;
      a.open(net::local::stream_protocol(), ec);
      if (!ec) a.bind(net::local::stream_protocol::endpoint(path), ec);
      umask(old);
      if (ec) fail(Errc::io, "listen on " + h + ": " + ec.message());
      a.listen(net::socket_base::max_listen_connections, ec);
      if (ec) fail(Errc::io, "listen on " + h + ": " + ec.message());
      if (chown(path.c_str(), 0, gid) != 0 && geteuid() == 0) throw_errno("chown " + path);
      if (chmod(path.c_str(), 0660) != 0) throw_errno("chmod " + path);
      unlink_paths.push_back(path);
      log::info("listening on " + h);
      add_unix_acceptor(std::move(a));
      continue;
    }
    if (h.rfind("tcp://", 0) == 0) {
      std::string hp = h.substr(6);
      auto colon = hp.rfind(':');
      if (colon == std::string::npos) fail(Errc::usage, "-H " + h + ": want tcp://ADDR:PORT");
      std::string host = hp.substr(0, colon), port = hp.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      if (host.empty()) host = "0.0.0.0";
      if (host == "localhost") host = "127.0.0.1";
      error_code ec;
      auto addr = net::ip::make_address(host, ec);
      if (ec) fail(Errc::usage, "-H " + h + ": not an IP address: " + host);
      char* end = nullptr;
      long p = strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != 0 || p < 0 || p > 65535) fail(Errc::usage, "-H " + h + ": bad port " + port);
      if (!is_loopback(addr) && !tls && !opts.insecure_tcp)
        fail(Errc::usage, "refusing to listen on " + h +
                              " without mutual TLS: the API gives root on this host to anyone who can reach it "
                              "(use --tlsverify --tlscacert --tlscert --tlskey, or --insecure-tcp)");
      net::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(p));
      net::ip::tcp::acceptor a(ctx);
      a.open(ep.protocol(), ec);
      if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) a.bind(ep, ec);
      if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
      if (ec) fail(Errc::io, "listen on " + h + ": " + ec.message());
      log::info("listening on " + h + (tls ? " (mutual TLS)" : ""));
      add_tcp_acceptor(std::move(a));
      continue;
    }
    fail(Errc::usage, "-H " + h + ": want unix://PATH, tcp://ADDR:PORT or fd://");
  }

  std::thread(watchdog_loop).detach();
  // Wait for SIGTERM or SIGINT (blocked in every thread: main set the mask
  // before any was started), then remove the sockets we made.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log::info("signal " + std::to_string(sig) + ": stopping");
  for (const auto& p : unlink_paths) unlink(p.c_str());
  // The acceptors and connection threads end with the process.
  for (auto& t : acceptors) t.detach();
  return 0;
}

}  // namespace ocikit::api
