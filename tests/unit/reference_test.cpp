#include "common/reference.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/error.hpp"
#include "error_of.hpp"

using namespace ocikit;
using reference::Transport;

namespace {
const std::string kHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string error_of(std::string_view s) {
  return testing::error_of([&] { reference::parse(s); }, Errc::invalid);
}
}  // namespace

TEST_CASE("reference: normalisation as docker does") {
  struct Row {
    std::string in, full, familiar;
  };
  for (const Row& r : {
           Row{"alpine", "docker.io/library/alpine:latest", "alpine:latest"},
           Row{"alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"},
           Row{"library/alpine", "docker.io/library/alpine:latest", "alpine:latest"},
           Row{"docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"},
           Row{"index.docker.io/user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
           Row{"user/app", "docker.io/user/app:latest", "user/app:latest"},
           Row{"localhost/x", "localhost/x:latest", "localhost/x:latest"},
           Row{"localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"},
           Row{"localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"},
           Row{"quay.io/coreos/etcd", "quay.io/coreos/etcd:latest", "quay.io/coreos/etcd:latest"},
           Row{"[::1]:5000/foo:bar", "[::1]:5000/foo:bar", "[::1]:5000/foo:bar"},
           Row{"[2001:db8::1]/foo", "[2001:db8::1]/foo:latest", "[2001:db8::1]/foo:latest"},
           Row{"127.0.0.1:5000/a_b__c.d-e--f", "127.0.0.1:5000/a_b__c.d-e--f:latest",
               "127.0.0.1:5000/a_b__c.d-e--f:latest"},
           Row{"Registry.Example.com/x", "Registry.Example.com/x:latest", "Registry.Example.com/x:latest"},
           Row{"alpine@sha256:" + kHex, "docker.io/library/alpine@sha256:" + kHex, "alpine@sha256:" + kHex},
           Row{"alpine:3@sha256:" + kHex, "docker.io/library/alpine:3@sha256:" + kHex, "alpine:3@sha256:" + kHex},
           Row{"a:_tag.with-Upper_9", "docker.io/library/a:_tag.with-Upper_9", "a:_tag.with-Upper_9"},
       }) {
    CAPTURE(r.in);
    auto ref = reference::parse(r.in);
    CHECK(ref.str() == r.full);
    CHECK(ref.familiar() == r.familiar);
    CHECK(reference::parse(ref.str()) == ref);  // idempotent
    CHECK(reference::parse(ref.familiar()) == ref);
  }
  auto r = reference::parse("localhost:5000/a/b:t");
  CHECK(r.domain == "localhost:5000");
  CHECK(r.path == "a/b");
  CHECK(r.tag == "t");
  CHECK(r.repository() == "localhost:5000/a/b");
  CHECK(reference::parse("alpine").familiar_name() == "alpine");
  CHECK(reference::parse("docker.io/library/a/b").familiar_name() == "library/a/b");
  auto d = reference::parse("alpine@sha256:" + kHex);
  CHECK(d.tag.empty());
  REQUIRE(d.digest);
  CHECK(d.digest->hex == kHex);
  CHECK(reference::parse_no_default_tag("alpine").tag.empty());
}

TEST_CASE("reference: bad input gets one-line errors") {
  struct Row {
    std::string in, err;
  };
  for (
      const Row& r : {
          Row{"", "invalid reference \"\": empty reference"},
          Row{"Foo", "invalid reference \"Foo\": repository name must be lowercase"},
          Row{"docker.io/Library/alpine",
              "invalid reference \"docker.io/Library/alpine\": repository name must be lowercase"},
          Row{"alpine:", "invalid reference \"alpine:\": invalid tag \"\""},
          Row{"alpine:-x", "invalid reference \"alpine:-x\": invalid tag \"-x\""},
          Row{"alpine:" + std::string(129, 'a'),
              "invalid reference \"alpine:" + std::string(129, 'a') + "\": invalid tag \"" + std::string(129, 'a') +
                  "\""},
          Row{"a//b", "invalid reference \"a//b\": invalid path component \"\""},
          Row{"a/b/", "invalid reference \"a/b/\": invalid path component \"\""},
          Row{"-a", "invalid reference \"-a\": invalid path component \"-a\""},
          Row{"a..b", "invalid reference \"a..b\": invalid path component \"a..b\""},
          Row{"a___b", "invalid reference \"a___b\": invalid path component \"a___b\""},
          Row{"a.", "invalid reference \"a.\": invalid path component \"a.\""},
          Row{"a b", "invalid reference \"a b\": invalid path component \"a b\""},
          Row{":tag", "invalid reference \":tag\": empty repository name"},
          Row{"alpine@sha256:abc",
              "invalid reference \"alpine@sha256:abc\": invalid digest \"sha256:abc\": want 64 hex digits, got 3"},
          Row{"alpine@md5:abc",
              "invalid reference \"alpine@md5:abc\": invalid digest \"md5:abc\": unsupported digest algorithm \"md5\""},
          Row{"-bad.com/x", "invalid reference \"-bad.com/x\": invalid domain \"-bad.com\""},
          Row{"host:port/x", "invalid reference \"host:port/x\": invalid domain \"host:port\""},
          Row{"host:/x", "invalid reference \"host:/x\": invalid domain \"host:\""},
          Row{"[::1/x", "invalid reference \"[::1/x\": invalid domain \"[::1\""},
          Row{"[zz]:5000/x", "invalid reference \"[zz]:5000/x\": invalid domain \"[zz]:5000\""},
          Row{"a/" + std::string(260, 'b'),
              "invalid reference \"a/" + std::string(260, 'b') + "\": repository name longer than 255 characters"},
      }) {
    CAPTURE(r.in);
    CHECK(error_of(r.in) == r.err);
    CHECK_FALSE(reference::is_valid(r.in));
  }
}

TEST_CASE("reference: tags") {
  CHECK(reference::is_valid_tag("latest"));
  CHECK(reference::is_valid_tag("_x"));
  CHECK(reference::is_valid_tag(std::string(128, 'a')));
  CHECK_FALSE(reference::is_valid_tag(std::string(129, 'a')));
  CHECK_FALSE(reference::is_valid_tag(".x"));
  CHECK_FALSE(reference::is_valid_tag("a/b"));
  CHECK_FALSE(reference::is_valid_tag(""));
}

TEST_CASE("reference: transports in skopeo's spelling") {
  struct Row {
    std::string in;
    Transport t;
    std::string ref, path, tag, str;
  };
  for (const Row& r : {
           Row{"docker://alpine", Transport::docker, "docker.io/library/alpine:latest", "", "",
               "docker://docker.io/library/alpine:latest"},
           Row{"docker://localhost:5000/x:1", Transport::docker, "localhost:5000/x:1", "", "",
               "docker://localhost:5000/x:1"},
           Row{"oci:/tmp/lay", Transport::oci, "", "/tmp/lay", "", "oci:/tmp/lay"},
           Row{"oci:/tmp/lay:v1", Transport::oci, "", "/tmp/lay", "v1", "oci:/tmp/lay:v1"},
           Row{"oci-archive:-", Transport::oci_archive, "", "-", "", "oci-archive:-"},
           Row{"oci-archive:img.tar:latest", Transport::oci_archive, "", "img.tar", "latest",
               "oci-archive:img.tar:latest"},
           Row{"docker-archive:a.tar:busybox:1", Transport::docker_archive, "", "a.tar", "busybox:1",
               "docker-archive:a.tar:busybox:1"},
           Row{"alpine:3", Transport::store, "docker.io/library/alpine:3", "", "", "docker.io/library/alpine:3"},
           Row{"localhost:5000/x", Transport::store, "localhost:5000/x:latest", "", "", "localhost:5000/x:latest"},
       }) {
    CAPTURE(r.in);
    auto ir = reference::parse_image_ref(r.in);
    CHECK(ir.transport == r.t);
    if (!r.ref.empty()) CHECK(ir.ref.str() == r.ref);
    CHECK(ir.path == r.path);
    CHECK(ir.tag == r.tag);
    CHECK(ir.str() == r.str);
    CHECK(reference::parse_image_ref(ir.str()).str() == r.str);
  }
  struct Bad {
    std::string in, err;
  };
  for (const Bad& b : {
           Bad{"oci:", "invalid reference \"oci:\": empty path"},
           Bad{"oci::tag", "invalid reference \"oci::tag\": empty path"},
           Bad{"oci:/d:", "invalid reference \"oci:/d:\": empty tag after path"},
           Bad{"docker-archive:x.tar:Bad", "invalid reference \"Bad\": repository name must be lowercase"},
           Bad{"docker://", "invalid reference \"\": empty reference"},
           Bad{"docker://UP", "invalid reference \"UP\": repository name must be lowercase"},
           Bad{"http://x/y", "invalid reference \"http://x/y\": unknown transport \"http\""},
       }) {
    CAPTURE(b.in);
    CHECK_THROWS_WITH_AS(reference::parse_image_ref(b.in), b.err.c_str(), Error);
  }
}
