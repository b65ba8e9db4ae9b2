#include "common/digest.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"

using namespace ocikit;

TEST_CASE("digest: known vectors") {
  CHECK(digest::of("").str() == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest::of("abc").str() == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(digest::of("abc", digest::Algorithm::sha512).str() ==
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
        "454d4423643ce80e2a9ac94fa54ca49f");
}

TEST_CASE("digest: streaming equals one shot") {
  std::string data(1 << 20, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  digest::Hasher h;
  for (size_t off = 0; off < data.size(); off += 4099)
    h.update(data.data() + off, std::min<size_t>(4099, data.size() - off));
  CHECK(h.size() == data.size());
  CHECK(h.finish() == digest::of(data));
}

TEST_CASE("digest: parse accepts valid and rejects invalid") {
  auto d = digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(d.algorithm == digest::Algorithm::sha256);
  CHECK(d.short_hex() == "e3b0c44298fc");
  struct Row {
    const char* in;
    const char* err;
  };
  for (Row r : {
           Row{"e3b0c442", "invalid digest \"e3b0c442\": missing algorithm"},
           Row{"md5:abc", "invalid digest \"md5:abc\": unsupported digest algorithm \"md5\""},
           Row{"sha256:abc", "invalid digest \"sha256:abc\": want 64 hex digits, got 3"},
           Row{"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
               "invalid digest \"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\": not "
               "lowercase hex"},
           Row{"sha256:", "invalid digest \"sha256:\": want 64 hex digits, got 0"},
       }) {
    CAPTURE(r.in);
    CHECK_THROWS_WITH_AS(digest::parse(r.in), r.err, Error);
    CHECK_FALSE(digest::is_valid(r.in));
  }
}

TEST_CASE("digest: of_file reads files and names missing ones") {
  char tmpl[] = "/tmp/ocikit-digest-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  std::string p = std::string(tmpl) + "/f";
  fs::write_file_atomic(p, "abc");
  CHECK(digest::of_file(p) == digest::of("abc"));
  CHECK_THROWS_WITH(digest::of_file(p + "x"), ("open " + p + "x: No such file or directory").c_str());
  fs::remove_all(tmpl);
}
