// Image references as users and registries write them.
#include "common/reference.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view s) {
    try {
      (void)ocikit::reference::parse(s);
    } catch (const std::exception&) {
    }
    try {
      (void)ocikit::reference::parse_no_default_tag(s);
    } catch (const std::exception&) {
    }
    (void)ocikit::reference::parse_image_ref(s);
  });
}
