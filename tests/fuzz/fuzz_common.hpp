#pragma once
// Shared by the libFuzzer harnesses: run one input through `f`, where the
// project's own errors (and the standard exceptions its parsers turn into
// one-line messages at main) are expected outcomes; anything else
// (a sanitizer report, an abort, a leak, a hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

template <class F>
int fuzz_one(const uint8_t* data, size_t size, F&& f) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    f(in);
  } catch (const std::exception&) {
  }
  return 0;
}
