#include "common/progress.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace ocikit;

namespace {
// What `f` writes on stderr.
template <class F>
std::string stderr_of(F&& f) {
  char tmpl[] = "/tmp/okt-progress-XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  std::fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  f();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::string out;
  char buf[4096];
  lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  unlink(tmpl);
  return out;
}
}  // namespace

TEST_CASE("progress: human sizes in decimal units") {
  CHECK(progress::human_size(0) == "0 B");
  CHECK(progress::human_size(999) == "999 B");
  CHECK(progress::human_size(1500) == "1.5 kB");
  CHECK(progress::human_size(12'300'000) == "12.3 MB");
  CHECK(progress::human_size(5'000'000'000ULL) == "5.0 GB");
}

TEST_CASE("progress: bars draw label, fill and sizes, redraw in place, and end with the finishing word") {
  std::string out = stderr_of([] {
    progress::Bars b(true);
    auto id = b.add("sha256:abc", 1000);
    b.finish(id, "done");
  });
  CHECK(out.find("sha256:abc [") != std::string::npos);
  CHECK(out.find("0 B / 1.0 kB") != std::string::npos);
  CHECK(out.find("\x1b[1A") != std::string::npos);  // the second draw moves up over the first
  CHECK(out.find("sha256:abc done") != std::string::npos);
}

TEST_CASE("progress: disabled bars print nothing") {
  std::string out = stderr_of([] {
    progress::Bars b(false);
    auto id = b.add("x", 10);
    b.update(id, 5);
    b.finish(id, "done");
  });
  CHECK(out.empty());
}

TEST_CASE("progress: JSON lines: one object per added, advancing and finished bar") {
  std::string out = stderr_of([] {
    progress::Bars b(progress::Bars::JsonLines{});
    auto id = b.add("abc123", 1000);
    b.update(id, 400);
    b.update(id, 500);  // within 100 ms of the last line: not printed
    b.finish(id, "exists");
  });
  CHECK(out == "{\"id\":\"abc123\",\"total\":1000}\n"
               "{\"current\":400,\"id\":\"abc123\",\"total\":1000}\n"
               "{\"id\":\"abc123\",\"status\":\"exists\"}\n");
}
