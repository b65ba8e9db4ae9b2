// config.json as engines and hand-written bundles send it: the runtime's
// parser, its validation, and the seccomp and capability compilers.
#include "fuzz_common.hpp"
#include "security.hpp"
#include "spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    auto s = ocikit::run::parse_spec(std::string(text), "/bundle");
    try {
      ocikit::run::validate_spec(s);
    } catch (const std::exception&) {
    }
    (void)ocikit::run::sec::parse_caps(s.process.capabilities);
    (void)ocikit::run::sec::compile_seccomp(s.seccomp);
  });
}
