#include "git.hpp"

#include <doctest/doctest.h>

#include "common/error.hpp"

using namespace ocikit;
namespace git = ocikit::build::git;

TEST_CASE("build git: which ADD sources are repositories") {
  CHECK(git::is_git_source("https://github.com/moby/buildkit.git#v0.10.1"));
  CHECK(git::is_git_source("https://example.com/r.git"));
  CHECK(git::is_git_source("http://127.0.0.1:8080/r.git/"));
  CHECK(git::is_git_source("git@github.com:moby/buildkit.git"));
  CHECK(git::is_git_source("git://127.0.0.1:9418/repo"));
  CHECK(git::is_git_source("ssh://git@example.com/r.git#main:docs"));
  CHECK_FALSE(git::is_git_source("https://example.com/file.tar.gz"));
  CHECK_FALSE(git::is_git_source("https://example.com/get?name=x.git"));
  CHECK_FALSE(git::is_git_source("src/project.git"));
  CHECK_FALSE(git::is_git_source("https://example.com/a.github"));
}

TEST_CASE("build git: URL, ref and subdir") {
  auto r = git::parse("https://github.com/moby/buildkit.git#v0.10.1:frontend/dockerfile/");
  CHECK(r.url == "https://github.com/moby/buildkit.git");
  CHECK(r.ref == "v0.10.1");
  CHECK(r.subdir == "frontend/dockerfile");
  r = git::parse("git@github.com:moby/buildkit.git");
  CHECK(r.url == "git@github.com:moby/buildkit.git");
  CHECK(r.ref.empty());
  CHECK(r.subdir.empty());
  r = git::parse("git://h/r#:/docs");
  CHECK(r.ref.empty());
  CHECK(r.subdir == "docs");
  r = git::parse("git://h/r#main:a..b/c");  // ".." only as a whole component
  CHECK(r.subdir == "a..b/c");
  auto err = [](const std::string& s) {
    try {
      git::parse(s);
    } catch (const Error& e) {
      CHECK(e.code() == Errc::invalid);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(err("git://h/r#main:../etc") == "ADD git://h/r#main:../etc: subdir \"../etc\" leaves the repository");
  CHECK(err("git://h/r#main:a/../../b") == "ADD git://h/r#main:a/../../b: subdir \"a/../../b\" leaves the repository");
  CHECK(err("#main") == "ADD #main: no repository URL");
}
