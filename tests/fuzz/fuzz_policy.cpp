// containers-policy.json as a user (or an attacker who can write one)
// writes it: parsed, then evaluated for a few references with no signatures
// and with one that does not verify.
#include "common/policy.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    ocikit::policy::Policy p = ocikit::policy::parse(text, "fuzz");
    for (const char* r : {"busybox", "reg.example.com:5000/ns/app:v1", "a.b.example.org/x@sha256:"
                                                                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
      ocikit::reference::Reference ref = ocikit::reference::parse(r);
      try {
        ocikit::policy::check(p, ref, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", [] {
          return std::vector<ocikit::signature::Attached>{{"{}", "MEQCIA=="}};
        });
      } catch (const std::exception&) {
      }
    }
  });
}
