#include "common/text.hpp"

#include <doctest/doctest.h>

using ocikit::text::split;
using V = std::vector<std::string>;

TEST_CASE("text: split keeps empty fields") {
  CHECK(split("a,b,c", ',') == V{"a", "b", "c"});
  CHECK(split("", ',') == V{""});
  CHECK(split(",", ',') == V{"", ""});
  CHECK(split("a,,b,", ',') == V{"a", "", "b", ""});
  CHECK(split("no separator", ',') == V{"no separator"});
  CHECK(split("k=v;x", ';') == V{"k=v", "x"});
}
