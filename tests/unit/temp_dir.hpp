// Test helpers shared by the unit tests that work on real files.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/fs.hpp"

namespace ocikit::testing {

/// A fresh directory (fs::TempDir under $TMPDIR or /tmp), removed with its
/// contents at scope exit; `path` names it.
struct TempDir {
  fs::TempDir dir{"ocikit-test"};
  std::string path = dir.path();
};

/// The names in `dir` but "." and "..", sorted; empty when it is missing.
inline std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ocikit::testing
