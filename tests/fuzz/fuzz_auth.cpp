// Registry replies and credentials: WWW-Authenticate challenges, and an
// auth file (docker config.json / containers auth.json) looked up.
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "common/auth.hpp"
#include "common/fs.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::string file = [] {
    char tmpl[] = "/tmp/okt-fuzz-auth-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) abort();
    close(fd);
    return std::string(tmpl);
  }();
  return fuzz_one(data, size, [&](std::string_view text) {
    (void)ocikit::auth::parse_challenges(text);
    try {
      (void)ocikit::auth::parse_creds_flag(text);
    } catch (const std::exception&) {
    }
    ocikit::fs::write_file_atomic(file, std::string(text), 0600);
    (void)ocikit::auth::lookup_in_auth_file(file, "registry.example:5000");
  });
}
