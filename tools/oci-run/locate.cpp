// How oci-run and oci-run-manage find each other (locate.hpp).
#include "locate.hpp"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "common/error.hpp"

// Set by tools/oci-run/meson.build: the absolute install directories.
#ifndef OCIKIT_BINDIR
#define OCIKIT_BINDIR "/usr/local/bin"
#endif
#ifndef OCIKIT_LIBEXECDIR
#define OCIKIT_LIBEXECDIR "/usr/local/libexec"
#endif

namespace ocikit::run {

namespace {

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// The relative path from directory `from` to directory `to` (both absolute).
std::string relative(const std::string& from, const std::string& to) {
  auto f = components(from), t = components(to);
  size_t common = 0;
  while (common < f.size() && common < t.size() && f[common] == t[common]) common++;
  std::string out;
  for (size_t i = common; i < f.size(); i++) out += "../";
  for (size_t i = common; i < t.size(); i++) out += t[i] + "/";
  if (out.empty()) return ".";
  out.pop_back();
  return out;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string first_executable(const std::vector<std::string>& candidates, const std::string& what) {
  for (const auto& c : candidates)
    if (!c.empty() && access(c.c_str(), X_OK) == 0) return c;
  std::string tried;
  for (const auto& c : candidates)
    if (!c.empty()) tried += (tried.empty() ? "" : ", ") + c;
  fail(Errc::not_found, what + " not found (tried " + tried + ")");
}

const std::string kManageDir = std::string(OCIKIT_LIBEXECDIR) + "/ocikit";

}  // namespace

std::string self_binary() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string manage_binary(const std::string& runtime) {
  if (const char* e = std::getenv(kManageEnv); e && *e) return e;
  std::string dir = dir_of(runtime);
  return first_executable({dir + "/oci-run-manage", dir + "/" + relative(OCIKIT_BINDIR, kManageDir) + "/oci-run-manage",
                           kManageDir + "/oci-run-manage"},
                          "oci-run-manage");
}

std::string runtime_binary() {
  static const std::string found = [] {
    if (const char* e = std::getenv(kRuntimeEnv); e && *e) return std::string(e);
    std::string dir = dir_of(self_binary());
    return first_executable({dir + "/oci-run", dir + "/" + relative(kManageDir, OCIKIT_BINDIR) + "/oci-run",
                             std::string(OCIKIT_BINDIR) + "/oci-run"},
                            "the oci-run runtime");
  }();
  return found;
}

}  // namespace ocikit::run
