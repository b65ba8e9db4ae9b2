// oci-build: build an image from a Dockerfile into the image store.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "build.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layout.hpp"

namespace {

/// The oci-run binary next to this one in the build tree, else "oci-run" from PATH.
std::string default_runtime() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    std::string self(buf, static_cast<size_t>(n));
    std::string dir = self.substr(0, self.rfind('/'));
    for (std::string cand : {dir + "/../oci-run/oci-run", dir + "/oci-run"})
      if (::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return "oci-run";
}

std::pair<std::string, std::string> split_kv(const std::string& s, const char* what) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) ocikit::fail(ocikit::Errc::usage, std::string(what) + ": expected KEY=VALUE, got \"" + s + "\"");
  return {s.substr(0, eq), s.substr(eq + 1)};
}

}  // namespace

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-build", [&] {
    CLI::App app{"Build an image from a Dockerfile", "oci-build"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    ocikit::build::Options o;
    std::vector<std::string> build_args, labels;
    std::string output;
    app.add_option("-f,--file", o.dockerfile, "Dockerfile path (default: CONTEXT/Dockerfile)");
    app.add_option("-t,--tag", o.tags, "name and tag of the image (repeatable)")->allow_extra_args(false);
    app.add_option("--build-arg", build_args, "KEY=VALUE build argument (repeatable)")->allow_extra_args(false);
    app.add_option("--label", labels, "KEY=VALUE label added to the image (repeatable)")->allow_extra_args(false);
    app.add_option("--target", o.target, "build up to this stage");
    app.add_flag("--no-cache", o.no_cache, "do not reuse cached layers");
    app.add_option("--output", output, "where to write the image (only the store is supported)");
    app.add_option("--runtime", o.runtime, "OCI runtime binary for RUN (default: oci-run)");
    app.add_option("--iidfile", o.iidfile, "write the image id to this file");
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the system store)");
    app.add_option("CONTEXT", o.context, "build context directory")->capture_default_str();
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    if (!output.empty()) ocikit::fail(ocikit::Errc::usage, "--output is not supported yet; the image goes to the store");
    for (auto& a : build_args) {
      auto eq = a.find('=');
      if (eq == std::string::npos) {
        if (const char* v = std::getenv(a.c_str())) o.build_args[a] = v;
      } else {
        o.build_args[a.substr(0, eq)] = a.substr(eq + 1);
      }
    }
    for (auto& l : labels) o.labels.insert(split_kv(l, "--label"));
    if (o.runtime.empty()) o.runtime = default_runtime();
    if (o.store.empty()) o.store = ocikit::layout::default_store_path();
    if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) {
      try {
        o.source_date_epoch = std::stoll(e);
      } catch (...) {
        ocikit::fail(ocikit::Errc::usage, std::string("SOURCE_DATE_EPOCH: not a number: \"") + e + "\"");
      }
    }
    auto r = ocikit::build::build(o);
    std::printf("%s\n", r.image_id.c_str());
    return 0;
  });
}
