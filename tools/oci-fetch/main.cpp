// oci-fetch: pull an image from a registry (or copy between layouts and
// archives) into the local store or another destination.
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-fetch", [&] {
    CLI::App app{"Pull an image from a registry, layout or archive into the image store", "oci-fetch"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    std::string src, dest;
    app.add_option("SRC", src, "source: docker://REF, oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE")->required();
    app.add_option("DEST", dest, "destination (default: the local store)");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    // TODO(#3): the registry client.
    ocikit::fail("pulling is not implemented yet (issue #3)");
  });
}
