#include "common/http.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"
#include "fake_transport.hpp"

using namespace ocikit;
using testing::FakeTransport;
using testing::resp;

namespace {
http::RetryPolicy fast() { return http::RetryPolicy{4, 1, 5}; }
}  // namespace

TEST_CASE("http: default scheme is plain http only for loopback hosts") {
  struct Row {
    const char* host;
    const char* scheme;
  };
  for (Row r : {Row{"localhost", "http"}, Row{"localhost:5000", "http"}, Row{"127.0.0.1:5000", "http"},
                Row{"127.1.2.3", "http"}, Row{"[::1]:5000", "http"}, Row{"::1", "http"}, Row{"docker.io", "https"},
                Row{"quay.io:443", "https"}, Row{"localhost.example.com", "https"}, Row{"[::2]:5000", "https"}}) {
    CAPTURE(r.host);
    CHECK(http::default_scheme(r.host) == r.scheme);
  }
}

TEST_CASE("http: header lookup is case-insensitive") {
  http::Response r = resp(200, "", {{"Content-Type", "a"}, {"docker-content-digest", "sha256:x"}});
  CHECK(r.header("content-type") == "a");
  CHECK(r.header("Docker-Content-Digest") == "sha256:x");
  CHECK(r.header("Location") == "");
}

TEST_CASE("http: retryable statuses") {
  for (long s : {429L, 500L, 502L, 503L, 504L}) CHECK(http::is_retryable_status(s));
  for (long s : {200L, 201L, 400L, 401L, 404L, 501L}) CHECK_FALSE(http::is_retryable_status(s));
}

TEST_CASE("http: retries 5xx and 429 then succeeds") {
  FakeTransport t;
  int n = 0;
  t.handler = [&](const http::Request&) { return ++n < 3 ? resp(n == 1 ? 500 : 429) : resp(200, "ok"); };
  http::Request req;
  req.url = "http://x/";
  auto r = http::perform_with_retry(t, req, fast());
  CHECK(r.status == 200);
  CHECK(r.body == "ok");
  CHECK(n == 3);
}

TEST_CASE("http: gives up after the attempts and returns the last status") {
  FakeTransport t;
  int n = 0;
  t.handler = [&](const http::Request&) {
    ++n;
    return resp(503);
  };
  http::Request req;
  req.url = "http://x/";
  CHECK(http::perform_with_retry(t, req, fast()).status == 503);
  CHECK(n == 4);
}

TEST_CASE("http: connection errors are retried, then rethrown") {
  FakeTransport t;
  int n = 0;
  t.handler = [&](const http::Request&) -> http::Response {
    ++n;
    fail(Errc::io, "GET http://x/: Connection reset by peer");
  };
  http::Request req;
  req.url = "http://x/";
  CHECK_THROWS_WITH(http::perform_with_retry(t, req, fast()), "GET http://x/: Connection reset by peer");
  CHECK(n == 4);
}

TEST_CASE("http: a 4xx is not retried") {
  FakeTransport t;
  int n = 0;
  t.handler = [&](const http::Request&) {
    ++n;
    return resp(404);
  };
  http::Request req;
  req.url = "http://x/";
  CHECK(http::perform_with_retry(t, req, fast()).status == 404);
  CHECK(n == 1);
}

TEST_CASE("http: describe_status reads distribution error bodies") {
  CHECK(http::describe_status(resp(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})")) ==
        "HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)");
  CHECK(http::describe_status(resp(500, "<html>oops</html>")) == "HTTP 500");
  CHECK(http::describe_status(resp(401, R"({"errors":[]})")) == "HTTP 401");
}

TEST_CASE("http: curl transport reports a refused connection as an io error") {
  http::CurlTransport t;
  http::Request req;
  req.url = "http://127.0.0.1:1/v2/";
  try {
    t.perform(req);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::io);
    CHECK(std::string(e.what()).starts_with("GET http://127.0.0.1:1/v2/: "));
  }
}

TEST_CASE("http: a missing cert dir is an error") {
  CHECK_THROWS_AS(http::CurlTransport(http::TlsOptions{true, "/nonexistent/certs.d"}), Error);
}

TEST_CASE("http: next_link finds rel=next among several links and parameter forms") {
  CHECK(http::next_link("</v2/r/tags/list?last=a&n=2>; rel=\"next\"") == "/v2/r/tags/list?last=a&n=2");
  CHECK(http::next_link("<https://x/p?a,b>; rel=\"prev\", </n>; rel=next") == "/n");
  CHECK(http::next_link("</a>; title=\"x, y; rel=next\"; rel=\"prev\"") == "");
  CHECK(http::next_link("</a>;rel=\"prev next\"") == "/a");
  CHECK(http::next_link("</a>; REL=Next") == "/a");
  CHECK(http::next_link("</a>; rel=\"prev\"") == "");
  CHECK(http::next_link("") == "");
  // malformed: no <, an unterminated URI or quoted value
  CHECK(http::next_link("/a; rel=next") == "");
  CHECK(http::next_link("</a; rel=next") == "");
  CHECK(http::next_link("</a>; rel=\"next") == "");
}
