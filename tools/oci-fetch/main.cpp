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
    app.add_option("--authfile", o.authfile,
                   "read the credentials from this auth file only (docker config.json or containers auth.json)");
    app.add_option("--progress", o.progress, "progress on stderr: auto (bars on a terminal) or json (JSON lines)")
        ->default_val("auto");
    app.add_option("--cert-dir", o.cert_dir, "directory with *.crt CAs and *.cert/*.key client certificates");
    app.add_option("--tls-verify", o.tls_verify, "verify TLS certificates (true|false)")->default_val(true);
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the standard path)");
    app.add_option("--policy", o.policy,
                   "trust policy (containers-policy.json) checked before pulling (default: /etc/containers/policy.json; "
                   "accept anything when it does not exist)");
    app.add_flag("--verify-only", o.verify_only,
                 "only evaluate the policy for SRC: print its digest when accepted, store nothing");
    app.add_flag("--remove-signatures", o.remove_signatures,
                 "do not copy the image's sigstore signatures into an oci: destination");
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    return ocikit::fetch::run(o);
  });
}
