#include "common/text.hpp"

namespace ocikit::text {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t at = s.find(sep, pos);
    if (at == std::string_view::npos) {
      out.emplace_back(s.substr(pos));
      return out;
    }
    out.emplace_back(s.substr(pos, at - pos));
    pos = at + 1;
  }
}

}  // namespace ocikit::text
