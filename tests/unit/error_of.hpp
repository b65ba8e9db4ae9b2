// The message of the ocikit::Error a call throws, for the unit tests' error
// cases ("" when it throws none).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "common/error.hpp"

namespace ocikit::testing {

/// Run `fn`; the message of the Error it throws, its code in `*code`.
template <class F>
std::string error_of(F&& fn, Errc* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

/// The same, checking that the code is `want`.
template <class F>
std::string error_of(F&& fn, Errc want) {
  Errc got{};
  std::string msg = error_of(fn, &got);
  if (!msg.empty()) CHECK(got == want);
  return msg;
}

}  // namespace ocikit::testing
