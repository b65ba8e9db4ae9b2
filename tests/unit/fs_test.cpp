#include "common/fs.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/file.h>

#include "common/error.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;

namespace {
int count_entries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  int n = 0;
  while (auto* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  closedir(d);
  return n;
}
}  // namespace

TEST_CASE("fs: clean_path") {
  struct Row {
    const char* in;
    const char* out;
  };
  for (Row r : {Row{"", "."}, Row{"/", "/"}, Row{"a//b/./c/", "a/b/c"}, Row{"/../../etc", "/etc"},
                Row{"a/../../b", "../b"}, Row{"/a/b/../c", "/a/c"}}) {
    CAPTURE(r.in);
    CHECK(fs::clean_path(r.in) == r.out);
  }
}

TEST_CASE("fs: atomic write replaces whole files and leaves no temp on abort") {
  TempDir t;
  std::string p = t.path + "/f";
  fs::write_file_atomic(p, "one");
  fs::write_file_atomic(p, "two", 0600);
  CHECK(fs::read_file(p) == "two");
  struct stat st {};
  REQUIRE(stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  {
    fs::AtomicFile f(t.path + "/g");
    f.write("partial");
  }
  CHECK_FALSE(fs::exists(t.path + "/g"));
  CHECK(count_entries(t.path) == 1);
  fs::AtomicFile f2(p);
  f2.write("three");
  CHECK_THROWS_WITH(f2.commit(false), (p + " already exists").c_str());
  CHECK(fs::read_file(p) == "two");
  CHECK(count_entries(t.path) == 1);
  fs::AtomicFile f3(p);  // without fsync (caches): replaced all the same
  f3.write("four");
  f3.commit(true, /*durable=*/false);
  CHECK(fs::read_file(p) == "four");
  CHECK(count_entries(t.path) == 1);
}

TEST_CASE("fs: a writer killed mid-write leaves nothing") {
  TempDir t;
  pid_t pid = fork();
  if (pid == 0) {
    fs::AtomicFile f(t.path + "/blob");
    f.write("half");
    raise(SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(count_entries(t.path) == 0);
}

TEST_CASE("fs: read_file of a missing file is not_found") {
  try {
    fs::read_file("/nonexistent/ocikit");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()) == "open /nonexistent/ocikit: No such file or directory");
  }
}

TEST_CASE("fs: mkdir_p and lock") {
  TempDir t;
  fs::mkdir_p(t.path + "/a/b/c");
  CHECK(fs::exists(t.path + "/a/b/c"));
  fs::mkdir_p(t.path + "/a/b/c");
  fs::write_file_atomic(t.path + "/file", "x");
  CHECK_THROWS(fs::mkdir_p(t.path + "/file"));
  fs::FileLock l(t.path + "/lock");
  // A second exclusive lock from another process must block; try non-blocking.
  int fd = open((t.path + "/lock").c_str(), O_RDWR);
  CHECK(flock(fd, LOCK_EX | LOCK_NB) != 0);
  close(fd);
}

TEST_CASE("fs: resolution stays inside the root") {
  TempDir t;
  std::string root = t.path + "/root";
  fs::mkdir_p(root + "/etc");
  fs::mkdir_p(t.path + "/outside");
  fs::write_file_atomic(t.path + "/outside/secret", "host");
  fs::write_file_atomic(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  REQUIRE(symlink("/etc", (root + "/abs").c_str()) == 0);
  REQUIRE(symlink("../../outside", (root + "/rel").c_str()) == 0);
  REQUIRE(symlink("../outside/secret", (root + "/etc/up").c_str()) == 0);
  REQUIRE(symlink("loop2", (root + "/loop1").c_str()) == 0);
  REQUIRE(symlink("loop1", (root + "/loop2").c_str()) == 0);

  struct Row {
    const char* in;
    std::string out;
  };
  for (const Row& r : {Row{"/abs/passwd", root + "/etc/passwd"}, Row{"../../../etc/passwd", root + "/etc/passwd"},
                       Row{"rel/secret", root + "/outside/secret"}, Row{"etc/up", root + "/outside/secret"},
                       Row{"new/dir", root + "/new/dir"}, Row{"/", root}}) {
    CAPTURE(r.in);
    CHECK(fs::secure_join(root, r.in) == r.out);
  }
  CHECK_THROWS_WITH(fs::secure_join(root, "loop1"),
                    ("resolve loop1 in " + root + ": Too many levels of symbolic links").c_str());

  fs::UniqueFd rfd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(rfd);
  auto fd = fs::open_in_root(rfd.get(), "/abs/passwd", O_RDONLY);
  char buf[5] = {};
  CHECK(read(fd.get(), buf, 4) == 4);
  CHECK(std::string(buf) == "root");
  // The symlink pointing above the root resolves inside it, where nothing is.
  CHECK_THROWS_AS(fs::open_in_root(rfd.get(), "rel/secret", O_RDONLY), Error);
  CHECK_THROWS_AS(fs::open_in_root(rfd.get(), "../outside/secret", O_RDONLY), Error);
  auto created = fs::open_in_root(rfd.get(), "abs/new", O_WRONLY | O_CREAT | O_EXCL, 0644);
  CHECK(fs::exists(root + "/etc/new"));
  CHECK_FALSE(fs::exists("/etc/new"));
}

TEST_CASE("fs: TempDir is made under $TMPDIR and removed with its contents") {
  TempDir parent;
  std::string made;
  const char* old = std::getenv("TMPDIR");
  std::string saved = old ? old : "";
  ::setenv("TMPDIR", parent.path.c_str(), 1);
  {
    fs::TempDir t("okt-unit");
    made = t.path();
    CHECK(made.rfind(parent.path + "/okt-unit.", 0) == 0);
    struct stat st {};
    CHECK((::stat(made.c_str(), &st) == 0 && S_ISDIR(st.st_mode)));
    fs::mkdir_p(made + "/a/b");
    fs::write_file_atomic(made + "/a/b/f", "x");
  }
  if (old) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
  CHECK_FALSE(fs::exists(made));
  ::setenv("TMPDIR", (parent.path + "/missing").c_str(), 1);
  CHECK_THROWS_WITH_AS(fs::TempDir("x"), doctest::Contains("create temporary directory"), Error);
  if (old) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
}
