// Registry reply headers: the Link header of a paginated tag listing. The
// link found must be a substring of the header between '<' and '>'.
#include <cstdlib>
#include <string>

#include "common/http.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    std::string next = ocikit::http::next_link(text);
    if (!next.empty() &&
        (std::string_view(text).find("<" + next + ">") == std::string_view::npos ||
         next.find('>') != std::string::npos))
      abort();
  });
}
