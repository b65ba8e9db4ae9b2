#include "dockerignore.hpp"

#include "common/error.hpp"

#include <doctest/doctest.h>

using namespace ocikit;
using namespace ocikit::dockerfile;

TEST_CASE("dockerignore: pattern rules") {
  struct Row {
    const char* patterns;
    const char* path;
    bool ignored;
  };
  for (Row r : {
           Row{"*.o", "a.o", true},
           Row{"*.o", "dir/a.o", false},
           Row{"*/*.o", "dir/a.o", true},
           Row{"**/*.o", "dir/sub/a.o", true},
           Row{"**/*.o", "a.o", true},
           Row{"dir", "dir/sub/file", true},
           Row{"dir/", "dir/file", true},
           Row{"/dir", "dir/file", true},
           Row{"./dir", "dir", true},
           Row{"dir/**", "dir/a/b", true},
           Row{"dir/**", "dir", false},
           Row{"a/**/b", "a/b", true},
           Row{"a/**/b", "a/x/y/b", true},
           Row{"a/**/b", "a/x/c", false},
           Row{"file?.txt", "file1.txt", true},
           Row{"file?.txt", "file10.txt", false},
           Row{"file[0-9].txt", "file5.txt", true},
           Row{"file[^0-9].txt", "file5.txt", false},
           Row{"file[^0-9].txt", "filex.txt", true},
           Row{"*.md\n!README.md", "README.md", false},
           Row{"*.md\n!README.md", "other.md", true},
           Row{"!README.md\n*.md", "README.md", true},
           Row{"docs\n!docs/keep", "docs/keep", false},
           Row{"docs\n!docs/keep", "docs/drop", true},
           Row{"# comment\n\n  node_modules  ", "node_modules/x", true},
           Row{"# comment", "# comment", false},
           Row{" #x", " #x", false},
           Row{"a/../b", "b", true},
           Row{"**", "anything/at/all", true},
           Row{"foo.txt", "foo.txt/", true},
           Row{"*", "a/b", true},
           Row{"\\*x", "*x", true},
           Row{"\\*x", "ax", false},
       }) {
    CAPTURE(r.patterns);
    CAPTURE(r.path);
    auto m = IgnoreMatcher::parse(r.patterns);
    CHECK(m.ignored(r.path) == r.ignored);
  }
}

TEST_CASE("dockerignore: descending into excluded directories") {
  auto m = IgnoreMatcher::parse("vendor\n!vendor/keep/*.go\nbuild\n");
  CHECK(m.ignored("vendor"));
  CHECK(m.may_match_inside("vendor"));
  CHECK(m.may_match_inside("vendor/keep"));
  CHECK_FALSE(m.may_match_inside("vendor/other"));
  CHECK_FALSE(m.may_match_inside("build"));
  CHECK_FALSE(m.ignored("vendor/keep/a.go"));
  CHECK(m.ignored("vendor/keep/a.c"));
  auto any = IgnoreMatcher::parse("*\n!**/*.go\n");
  CHECK(any.may_match_inside("deep/dir"));
}

TEST_CASE("dockerignore: build files are kept") {
  auto m = IgnoreMatcher::parse("*\n");
  CHECK(m.ignored("Dockerfile"));
  m.keep_build_files("./docker/Dockerfile.prod");
  CHECK_FALSE(m.ignored(".dockerignore"));
  CHECK_FALSE(m.ignored("docker/Dockerfile.prod"));
  CHECK(m.ignored("docker/other"));
}

TEST_CASE("dockerignore: malformed patterns") {
  struct Row {
    const char* text;
    const char* err;
  };
  for (Row r : {
           Row{"ok\n[abc", ".dockerignore:2: syntax error in pattern"},
           Row{"!", ".dockerignore:1: illegal exclusion pattern: \"!\""},
       }) {
    CAPTURE(r.text);
    try {
      IgnoreMatcher::parse(r.text);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid);
      CHECK(std::string(e.what()) == r.err);
    }
  }
}

TEST_CASE(
    "dockerignore: an escaped digit or letter is that character (fuzzer finding: a backreference overflowed libstdc++'s regex compiler)") {
  auto m = IgnoreMatcher::parse("a[Et-z.]?\\7777777777777777777777777777777*n\n\\d\\.x\n[\\9]z\n");
  CHECK(m.ignored("aE.7777777777777777777777777777777n"));
  CHECK(m.ignored("aE.7777777777777777777777777777777xyzn"));
  CHECK_FALSE(m.ignored("aE.7n"));
  CHECK(m.ignored("d.x"));
  CHECK_FALSE(m.ignored("3.x"));
  CHECK(m.ignored("9z"));
}
