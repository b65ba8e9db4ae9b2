// oci-run: a runc-compatible OCI runtime plus docker-like container management.
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-run", [&] {
    CLI::App app{"Run containers: a runc-compatible OCI runtime", "oci-run"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts, true);
    std::string root = "/run/ocikit";
    app.add_option("--root", root, "root directory for container state")->capture_default_str();
    app.require_subcommand(1);
    // TODO(#5): the runtime commands.
    app.add_subcommand("state", "output the state of a container");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    ocikit::fail("the runtime is not implemented yet (issue #5)");
  }, 125);
}
