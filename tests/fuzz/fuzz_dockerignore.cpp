// .dockerignore text, then matching paths against the rules.
#include "dockerignore.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    auto m = ocikit::dockerfile::IgnoreMatcher::parse(text);
    m.keep_build_files("Dockerfile");
    for (const char* p : {"a", "a/b/c", ".env", "src/main.go", "node_modules/x/y", "Dockerfile", "..", "a/../b"}) {
      (void)m.ignored(p, false);
      (void)m.ignored(p, true);
      (void)m.may_match_inside(p);
    }
  });
}
