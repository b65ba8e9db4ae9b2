// A layer tar (plain or compressed) applied to a scratch root, which is
// emptied again after each input: nothing may land outside it.
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/fs.hpp"
#include "common/layer.hpp"
#include "fuzz_common.hpp"

namespace {
std::string scratch() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/okt-fuzz-layer-XXXXXX";
    if (!mkdtemp(tmpl)) abort();
    return std::string(tmpl);
  }();
  return dir;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string root = scratch() + "/root";
  ocikit::fs::mkdir_p(root);
  int fd = memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0) abort();
  if (size && write(fd, data, size) != static_cast<ssize_t>(size)) abort();
  lseek(fd, 0, SEEK_SET);
  fuzz_one(data, size, [&](std::string_view) { (void)ocikit::layer::apply(fd, root); });
  close(fd);
  ocikit::fs::remove_all(root);
  return 0;
}
