// oci-push: push an image from the store or a layout to a registry.
#include <cstdio>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "push.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-push", [&] {
    CLI::App app{"Push an image from the image store or a layout to a registry", "oci-push"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    ocikit::push::Options o;
    app.add_option("SRC", o.src, "source: NAME[:TAG] (the store) or oci:DIR[:TAG]")->required();
    auto* dest = app.add_option("DEST", o.dest, "destination: docker://HOST/REPO[:TAG] or ssh://[USER@]HOST[:PORT][/NAME]");
    app.add_flag("--send-stdio", o.send_stdio, "send SRC on stdout to an `oci-fetch ssh://` (run by it through ssh)")
        ->group("");
    app.add_option("-j,--jobs", o.jobs, "blobs uploaded in parallel")->default_val(4);
    app.add_option("--format", o.format, "output: text (the digest) or json (the descriptor)")->default_val("text");
    app.add_option("--creds", o.creds, "registry credentials USER:PASSWORD");
    app.add_option("--cert-dir", o.cert_dir, "directory with *.crt CAs and *.cert/*.key client certificates");
    app.add_option("--tls-verify", o.tls_verify, "verify TLS certificates (true|false)")->default_val(true);
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the standard path)");
    app.add_option("--mount-from", o.mount_from, "repository of the same registry to mount blobs from (repeatable)");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    if (!o.send_stdio && dest->count() == 0) {
      std::fprintf(stderr, "oci-push: error: DEST is required (see --help)\n");
      return 2;
    }
    ocikit::cli::apply_log_flags(log_opts);
    return ocikit::push::run(o);
  });
}
