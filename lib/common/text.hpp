#pragma once
// ocikit::text: small string helpers shared by the tools' option parsers.

#include <string>
#include <string_view>
#include <vector>

namespace ocikit::text {

/// The fields of `s` between `sep` characters, empty ones included: n
/// separators give n + 1 fields, and "" gives one empty field (as Python's
/// str.split(sep)). Callers decide what an empty field means.
std::vector<std::string> split(std::string_view s, char sep);

}  // namespace ocikit::text
