// Registry and layout documents: image manifest, index and config JSON.
#include "common/image.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    try {
      (void)ocikit::image::parse_manifest(text);
    } catch (const std::exception&) {
    }
    try {
      (void)ocikit::image::parse_index(text);
    } catch (const std::exception&) {
    }
    (void)ocikit::image::parse_config(text);
  });
}
