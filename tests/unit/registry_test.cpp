#include "common/registry.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "fake_transport.hpp"

using namespace ocikit;
using testing::FakeTransport;
using testing::resp;

namespace {

registry::Options fast() {
  registry::Options o;
  o.retry = {3, 1, 2};
  return o;
}

bool has_header(const http::Request& r, const std::string& k, const std::string& v) {
  for (const auto& [a, b] : r.headers)
    if (a == k && b == v) return true;
  return false;
}

}  // namespace

TEST_CASE("registry: manifest GET negotiates all four media types and verifies digest refs") {
  FakeTransport t;
  std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  std::string d = digest::of(body).str();
  t.handler = [&](const http::Request& r) {
    CHECK(has_header(r, "Accept", registry::manifest_accept()));
    return resp(200, body, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
  };
  registry::Client c("127.0.0.1:5000", t, {}, fast());
  auto m = c.get_manifest("lib/a", "latest");
  CHECK(t.seen.at(0).url == "http://127.0.0.1:5000/v2/lib/a/manifests/latest");
  CHECK(m.body == body);
  CHECK(m.digest == d);
  CHECK(m.media_type == registry::kOciManifest);
  CHECK(c.get_manifest("lib/a", d).digest == d);
  std::string other = digest::of("x").str();
  CHECK_THROWS_WITH(c.get_manifest("lib/a", other),
                    ("manifest 127.0.0.1:5000/lib/a@" + other + ": digest mismatch (content is " + d + ")").c_str());
  CHECK(registry::manifest_accept().find("application/vnd.docker.distribution.manifest.list.v2+json") !=
        std::string::npos);
}

TEST_CASE("registry: unknown manifest is not found, generic content type is sniffed") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    if (r.url.ends_with("/missing"))
      return resp(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
    return resp(200, R"({"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"})",
                {{"Content-Type", "application/json; charset=utf-8"}});
  };
  registry::Client c("quay.io", t, {}, fast());
  try {
    c.get_manifest("x", "missing");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()) ==
          "manifest quay.io/x:missing not found: HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)");
  }
  CHECK(c.get_manifest("x", "t").media_type == registry::kDockerList);
  CHECK(t.seen.back().url == "https://quay.io/v2/x/manifests/t");
}

TEST_CASE("registry: 401 challenge then bearer token then success; docker.io maps to registry-1") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    if (r.url.starts_with("https://auth.example/")) return resp(200, R"({"access_token":"TOK"})");
    if (!has_header(r, "Authorization", "Bearer TOK"))
      return resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token",service="s")"}});
    return resp(200, "{}", {{"Content-Type", std::string(registry::kOciIndex)}});
  };
  registry::Client c("docker.io", t, {}, fast());
  c.get_manifest("library/alpine", "3");
  REQUIRE(t.seen.size() == 3);
  CHECK(t.seen[0].url == "https://registry-1.docker.io/v2/library/alpine/manifests/3");
  CHECK(t.seen[1].url == "https://auth.example/token?service=s&scope=repository%3Alibrary%2Falpine%3Apull");
  c.get_manifest("library/alpine", "3");
  CHECK(t.seen.size() == 4);  // the token is cached
}

TEST_CASE("registry: persistent 401 is unauthorized") {
  FakeTransport t;
  t.handler = [&](const http::Request&) {
    return resp(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})",
                {{"WWW-Authenticate", R"(Basic realm="r")"}});
  };
  registry::Client c("127.0.0.1:5000", t, {"u", "bad"}, fast());
  try {
    c.get_manifest("a", "b");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::unauthorized);
    CHECK(std::string(e.what()) == "127.0.0.1:5000: unauthorized: HTTP 401 (UNAUTHORIZED: authentication required)");
  }
}

TEST_CASE("registry: blob fetch resumes with Range after a cut and verifies") {
  std::string blob(100000, 'z');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7);
  std::string d = digest::of(blob).str();
  for (bool honour_range : {true, false}) {
    CAPTURE(honour_range);
    FakeTransport t;
    int calls = 0;
    t.handler = [&](const http::Request& r) -> http::Response {
      ++calls;
      if (calls == 1) {  // deliver 30000 bytes, then the connection breaks
        r.on_status(200);
        r.sink(blob.data(), 30000);
        fail(Errc::io, "GET x: transfer closed with outstanding read data remaining");
      }
      if (honour_range) {
        CHECK(has_header(r, "Range", "bytes=30000-"));
        return resp(206, blob.substr(30000));
      }
      return resp(200, blob);
    };
    registry::Client c("127.0.0.1:5000", t, {}, fast());
    std::string got;
    uint64_t last_progress = 0;
    c.fetch_blob(
        "a", d, static_cast<int64_t>(blob.size()), [&](const char* p, size_t n) { got.append(p, n); },
        [&](uint64_t done) { last_progress = done; });
    CHECK(got == blob);
    CHECK(last_progress == blob.size());
    CHECK(calls == 2);
  }
}

TEST_CASE("registry: corrupt or short blob is a digest or size mismatch") {
  std::string blob = "hello world";
  std::string d = digest::of(blob).str();
  FakeTransport t;
  std::string serve = "hellO world";
  t.handler = [&](const http::Request&) { return resp(200, serve); };
  registry::Client c("127.0.0.1:5000", t, {}, fast());
  auto sink = [](const char*, size_t) {};
  CHECK_THROWS_WITH(c.fetch_blob("a", d, 11, sink),
                    ("blob " + d + ": digest mismatch (content is " + digest::of(serve).str() + ")").c_str());
  serve = "hello";
  CHECK_THROWS_WITH(c.fetch_blob("a", d, 11, sink),
                    ("blob " + d + ": size mismatch (got 5 bytes, expected 11)").c_str());
  serve = "";
  t.handler = [&](const http::Request&) { return resp(404); };
  CHECK_THROWS_WITH(c.fetch_blob("a", d, 11, sink), ("blob " + d + " not found in 127.0.0.1:5000/a").c_str());
}

TEST_CASE("registry: small blob is one POST + PUT, large is PATCH chunks, mount skips upload") {
  char tmpl[] = "/tmp/okt-registry-blobXXXXXX";
  int fd = mkstemp(tmpl);
  unlink(tmpl);
  std::string data(2500, 'q');
  REQUIRE(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  std::string d = digest::of(data).str();
  FakeTransport t;
  std::string received;
  t.handler = [&](const http::Request& r) {
    std::string part;
    if (r.body_fd >= 0) {
      part.resize(r.body_length);
      REQUIRE(pread(r.body_fd, part.data(), part.size(), static_cast<off_t>(r.body_offset)) ==
              static_cast<ssize_t>(part.size()));
    } else {
      part = r.body;
    }
    if (r.method == "POST" && r.url.find("mount=") != std::string::npos)
      return r.url.find("from=good") != std::string::npos ? resp(201)
                                                          : resp(202, "", {{"Location", "/v2/a/blobs/uploads/m1"}});
    if (r.method == "POST") return resp(202, "", {{"Location", "/v2/a/blobs/uploads/u1?state=x"}});
    if (r.method == "PATCH") {
      received += part;
      return resp(202, "", {{"Location", "/v2/a/blobs/uploads/u1?state=y"}});
    }
    received += part;
    return resp(201);
  };
  registry::Options o = fast();
  o.chunk_size = 1000;
  registry::Client c("127.0.0.1:5000", t, {}, o);

  SUBCASE("chunked") {
    CHECK_FALSE(c.push_blob("a", d, data.size(), fd));
    // POST, PATCH 0-999, PATCH 1000-1999, PUT carrying the last 500 bytes.
    REQUIRE(t.seen.size() == 4);
    CHECK(t.seen[0].url == "http://127.0.0.1:5000/v2/a/blobs/uploads/");
    CHECK(t.seen[1].method == "PATCH");
    CHECK(has_header(t.seen[1], "Content-Range", "0-999"));
    CHECK(has_header(t.seen[2], "Content-Range", "1000-1999"));
    CHECK(t.seen[3].method == "PUT");
    CHECK(t.seen[3].body_offset == 2000);
    CHECK(t.seen[3].body_length == 500);
    CHECK(t.seen[3].url == "http://127.0.0.1:5000/v2/a/blobs/uploads/u1?state=y&digest=" + d);
    CHECK(received == data);
  }
  SUBCASE("monolithic") {
    c.push_blob_data("a", digest::of("cfg").str(), "cfg");
    REQUIRE(t.seen.size() == 2);
    CHECK(t.seen[1].method == "PUT");
    CHECK(t.seen[1].body == "cfg");
  }
  SUBCASE("mount") {
    CHECK(c.push_blob("a", d, data.size(), fd, {"good"}));
    REQUIRE(t.seen.size() == 1);
    CHECK(t.seen[0].url == "http://127.0.0.1:5000/v2/a/blobs/uploads/?mount=" + d + "&from=good");
  }
  SUBCASE("mount refused falls back to the opened upload") {
    CHECK_FALSE(c.push_blob("a", d, data.size(), fd, {"bad"}));
    CHECK(t.seen.size() == 4);
    CHECK(t.seen[1].url == "http://127.0.0.1:5000/v2/a/blobs/uploads/m1");
    CHECK(received == data);
  }
  SUBCASE("a mount the credentials do not allow is skipped, the blob uploaded") {
    auto inner = t.handler;
    t.handler = [&, inner](const http::Request& r) {
      if (r.url.find("from=secret") != std::string::npos)
        return resp(401, "", {{"WWW-Authenticate", R"(Basic realm="r")"}});
      return inner(r);
    };
    CHECK_FALSE(c.push_blob("a", d, data.size(), fd, {"secret"}));
    REQUIRE(t.seen.size() >= 5);
    CHECK(t.seen.back().method == "PUT");
    CHECK(received == data);
  }
  close(fd);
}

TEST_CASE("registry: put manifest and tag listing with pagination") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    if (r.method == "PUT") return resp(201, "", {{"Docker-Content-Digest", digest::of(r.body).str()}});
    if (r.url.find("last=b") == std::string::npos)
      return resp(200, R"({"name":"a","tags":["a","b"]})", {{"Link", R"(</v2/a/tags/list?last=b&n=2>; rel="next")"}});
    return resp(200, R"({"name":"a","tags":["c"]})");
  };
  registry::Client c("127.0.0.1:5000", t, {}, fast());
  CHECK(c.put_manifest("a", "v1", registry::kOciManifest, "{}") == digest::of("{}").str());
  CHECK(has_header(t.seen[0], "Content-Type", std::string(registry::kOciManifest)));
  CHECK(c.list_tags("a") == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("registry: a Link header that loops back is an error, not an endless listing") {
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    std::string other = r.url.find("last=b") == std::string::npos ? "/v2/a/tags/list?last=b" : "/v2/a/tags/list?last=a";
    return resp(200, R"({"name":"a","tags":["a"]})", {{"Link", "<" + other + ">; rel=\"next\""}});
  };
  registry::Client c("127.0.0.1:5000", t, {}, fast());
  CHECK_THROWS_WITH(c.list_tags("a"), doctest::Contains("Link header loops back"));
  CHECK(t.seen.size() == 3);
}

TEST_CASE("registry: a push client asks for one pull,push token; fetch_url sends no registry credentials") {
  FakeTransport t;
  std::string blob = "foreign layer bytes";
  std::string d = digest::of(blob).str();
  t.handler = [&](const http::Request& r) {
    if (r.url.starts_with("https://auth.example/")) return resp(200, R"({"token":"TOK"})");
    if (r.url.starts_with("http://files.example/")) return resp(200, blob);
    if (!has_header(r, "Authorization", "Bearer TOK"))
      return resp(401, "", {{"WWW-Authenticate", R"(Bearer realm="https://auth.example/token",service="s")"}});
    return resp(404);
  };
  registry::Options o = fast();
  o.push = true;
  registry::Client c("example.com", t, {"u", "p"}, o);
  CHECK_FALSE(c.head_blob("a/b", d));
  REQUIRE(t.seen.size() == 3);
  CHECK(t.seen[1].url == "https://auth.example/token?service=s&scope=repository%3Aa%2Fb%3Apull%2Cpush");
  // The upload's POST reuses that token: no second token request.
  t.handler = [&](const http::Request& r) {
    if (r.url.starts_with("https://auth.example/")) return resp(200, R"({"token":"OTHER"})");
    if (r.method == "POST") return resp(202, "", {{"Location", "/v2/a/b/blobs/uploads/u"}});
    return resp(201);
  };
  c.push_blob_data("a/b", d, blob);
  CHECK(t.seen.size() == 5);
  CHECK(has_header(t.seen[3], "Authorization", "Bearer TOK"));

  std::string got;
  t.handler = [&](const http::Request& r) {
    return r.url.starts_with("http://files.example/") ? resp(200, blob) : resp(500);
  };
  c.fetch_url("http://files.example/x.tgz", d, static_cast<int64_t>(blob.size()),
              [&](const char* p, size_t n) { got.append(p, n); });
  CHECK(got == blob);
  for (const auto& [k, v] : t.seen.back().headers) CHECK(k != "Authorization");
  CHECK_THROWS_WITH(c.fetch_url("file:///etc/passwd", d, -1, [](const char*, size_t) {}),
                    ("blob " + d + ": unsupported URL file:///etc/passwd (only http and https)").c_str());
}

TEST_CASE("registry credential leak class: an upload Location on another host gets no credentials") {
  char tmpl[] = "/tmp/okt-registry-leakXXXXXX";
  int fd = mkstemp(tmpl);
  unlink(tmpl);
  std::string data = "layer";
  REQUIRE(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  std::string d = digest::of(data).str();
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    bool authed = false;
    for (const auto& [k, v] : r.headers)
      if (k == "Authorization") authed = true;
    if (r.url.starts_with("http://127.0.0.1:5000/") && !authed)
      return resp(401, "", {{"WWW-Authenticate", R"(Basic realm="r")"}});
    if (r.method == "POST") return resp(202, "", {{"Location", "http://evil.example:5000/upload/u1?state=x"}});
    return resp(201);
  };
  registry::Client c("127.0.0.1:5000", t, {"user", "secret"}, fast());
  CHECK_FALSE(c.push_blob("a", d, data.size(), fd));
  close(fd);
  bool saw_foreign = false;
  for (auto& r : t.seen) {
    if (!r.url.starts_with("http://evil.example:5000/")) continue;
    saw_foreign = true;
    for (const auto& [k, v] : r.headers) CHECK(k != "Authorization");
  }
  CHECK(saw_foreign);
  // The same host on another port is another origin too.
  registry::Client c2("127.0.0.1:5000", t, {}, fast());
  CHECK(c2.same_origin("http://127.0.0.1:5000/v2/"));
  CHECK_FALSE(c2.same_origin("http://127.0.0.1:50001/v2/"));
  CHECK_FALSE(c2.same_origin("https://127.0.0.1:5000/v2/"));
  CHECK_FALSE(c2.same_origin("http://127.0.0.1:5000.evil.example/v2/"));
}
