// oci-push: push an image from the store, a layout or an archive to a registry.
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-push", [&] {
    CLI::App app{"Push an image from the image store, a layout or an archive to a registry", "oci-push"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    std::string src, dest;
    app.add_option("SRC", src, "source: NAME[:TAG], oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE")->required();
    app.add_option("DEST", dest, "destination: docker://HOST/REPO[:TAG]")->required();
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    // TODO(#3): the registry client.
    ocikit::fail("pushing is not implemented yet (issue #3)");
  });
}
