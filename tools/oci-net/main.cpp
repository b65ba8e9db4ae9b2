// oci-net: container networks (bridge, host, none, macvlan, overlay).
#include "common/cli.hpp"
#include "common/error.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-net", [&] {
    CLI::App app{"Manage container networks", "oci-net"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    app.require_subcommand(1);
    // TODO(#7): networks.
    app.add_subcommand("ls", "list networks");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    ocikit::fail("networks are not implemented yet (issue #7)");
  });
}
