// tools/oci-run/exe_seal.hpp: which views of the runtime binary count as
// protected (CVE-2019-5736), on real memfds, files and overlayfs mounts.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "exe_seal.hpp"

namespace seal = ocikit::run::seal;

namespace {

long sys(long n, long a, long b, long c, long d, long e) {
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}

int memfd_with(unsigned seals) {
  int fd = memfd_create("okt-seal-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd,
                "\x7f"
                "ELF",
                4) == 4);
  if (seals) REQUIRE(fcntl(fd, F_ADD_SEALS, seals) == 0);
  return fd;
}

}  // namespace

TEST_CASE("a memfd counts only with every write seal") {
  int all = memfd_with(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  CHECK(seal::is_protected(sys, all));
  int some = memfd_with(F_SEAL_SHRINK | F_SEAL_GROW);
  CHECK_FALSE(seal::is_protected(sys, some));
  int none = memfd_with(0);
  CHECK_FALSE(seal::is_protected(sys, none));
  close(all);
  close(some);
  close(none);
}

TEST_CASE("a file on a writable filesystem does not count") {
  char path[] = "/tmp/okt-seal-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  CHECK_FALSE(seal::is_protected(sys, fd));
  close(fd);
}

TEST_CASE("a file of a read-only overlayfs counts, of a writable one not") {
  char base[] = "/tmp/okt-seal-ovl-XXXXXX";
  REQUIRE(mkdtemp(base) != nullptr);
  std::string b = base;
  for (const char* d : {"/l", "/e", "/u", "/w", "/ro", "/rw"}) REQUIRE(mkdir((b + d).c_str(), 0700) == 0);
  int f = open((b + "/l/bin").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  REQUIRE(f >= 0);
  close(f);
  std::string ro = "lowerdir=" + b + "/l:" + b + "/e";
  std::string rw = "lowerdir=" + b + "/l,upperdir=" + b + "/u,workdir=" + b + "/w";
  if (mount("overlay", (b + "/ro").c_str(), "overlay", 0, ro.c_str()) != 0) {
    MESSAGE("overlayfs cannot be mounted here (" << errno << "): skipped");
  } else {
    REQUIRE(mount("overlay", (b + "/rw").c_str(), "overlay", 0, rw.c_str()) == 0);
    int a = open((b + "/ro/bin").c_str(), O_RDONLY | O_CLOEXEC);
    int c = open((b + "/rw/bin").c_str(), O_RDONLY | O_CLOEXEC);
    CHECK(seal::is_protected(sys, a));
    CHECK_FALSE(seal::is_protected(sys, c));
    close(a);
    close(c);
    umount2((b + "/rw").c_str(), MNT_DETACH);
    umount2((b + "/ro").c_str(), MNT_DETACH);
  }
  std::string cmd = "rm -rf '" + b + "'";
  CHECK(std::system(cmd.c_str()) == 0);
}

TEST_CASE("OCIKIT_RUN_SEAL=memfd (or the old OCI_RUN_SEAL=memfd) asks for the copy") {
  char a[] = "PATH=/bin", b[] = "OCIKIT_RUN_SEAL=memfd", c[] = "OCIKIT_RUN_SEAL=overlay", d[] = "OCI_RUN_SEAL=memfd";
  char* with[] = {a, b, nullptr};
  char* old[] = {d, a, nullptr};
  char* other[] = {a, c, nullptr};
  CHECK(seal::memfd_wanted(with));
  CHECK(seal::memfd_wanted(old));
  CHECK_FALSE(seal::memfd_wanted(other));
  CHECK_FALSE(seal::memfd_wanted(nullptr));
}
