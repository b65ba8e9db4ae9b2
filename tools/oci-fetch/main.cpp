// oci-fetch: pull an image from a registry (or copy between layouts) into
// the local store or another destination.
#include "common/cli.hpp"
#include "common/error.hpp"
#include "fetch.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-fetch", [&] {
    CLI::App app{"Pull an image from a registry, layout or archive into the image store", "oci-fetch"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    ocikit::fetch::Options o;
    app.add_option("SRC", o.src, "source: docker://REF, oci:DIR[:TAG], ssh://[USER@]HOST[:PORT]/NAME, or a store name")
        ->required();
    app.add_flag("--receive-stdio", o.receive_stdio,
                 "receive an image named SRC on stdin from an `oci-push ssh://` (run by it through ssh)")
        ->group("");
    app.add_option("DEST", o.dest, "destination: oci:DIR[:TAG] (default: the local store)");
    app.add_option("--platform", o.platform, "os/arch[/variant] to pick from an index (default: the host)");
    app.add_flag("--all-platforms", o.all_platforms, "copy every platform of an index");
    app.add_option("-j,--jobs", o.jobs, "blobs fetched in parallel")->default_val(4);
    app.add_option("--format", o.format, "output: text (the digest) or json (the descriptor)")->default_val("text");
    app.add_option("--creds", o.creds, "registry credentials USER:PASSWORD");
    app.add_option("--cert-dir", o.cert_dir, "directory with *.crt CAs and *.cert/*.key client certificates");
    app.add_option("--tls-verify", o.tls_verify, "verify TLS certificates (true|false)")->default_val(true);
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the standard path)");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    return ocikit::fetch::run(o);
  });
}
