// oci-build: build an image from a Dockerfile into the image store.
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-build", [&] {
    CLI::App app{"Build an image from a Dockerfile", "oci-build"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    std::string file, context = ".";
    std::vector<std::string> tags;
    app.add_option("-f,--file", file, "Dockerfile path (default: CONTEXT/Dockerfile)");
    app.add_option("-t,--tag", tags, "name and tag of the image");
    app.add_option("CONTEXT", context, "build context directory")->capture_default_str();
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    // TODO(#8): the builder.
    ocikit::fail("building is not implemented yet (issue #8)");
  });
}
