// oci-push: push an image from the store or a layout to a registry (or to
// another host's store over ssh); sign images (sigstore) and generate
// signing keys.
#include "common/cli.hpp"
#include "common/error.hpp"
#include "push.hpp"

namespace {

void add_registry_flags(CLI::App& app, ocikit::push::Options& o) {
  app.add_option("--creds", o.creds, "registry credentials USER:PASSWORD");
  app.add_option("--authfile", o.authfile,
                 "read the credentials from this auth file only (docker config.json or containers auth.json)");
  app.add_option("--cert-dir", o.cert_dir, "directory with *.crt CAs and *.cert/*.key client certificates");
  app.add_option("--tls-verify", o.tls_verify, "verify TLS certificates (true|false)")->default_val(true);
}

void add_sign_flags(CLI::App& app, ocikit::push::Options& o) {
  app.add_option("--sign-by-sigstore-private-key", o.sign.key,
                 "sign the pushed manifest with this sigstore (cosign) private key");
  app.add_option("--sign-passphrase-file", o.sign.passphrase_file,
                 "read the key's passphrase from the first line of FILE (default: ask on the terminal)");
  app.add_option("--sign-identity", o.sign.identity,
                 "the docker reference the signature claims (default: the destination)");
}

}  // namespace

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-push", [&] {
    CLI::App app{"Push an image from the image store or a layout to a registry", "oci-push"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    ocikit::push::Options o;
    app.add_option("SRC", o.src, "source: NAME[:TAG] (the store) or oci:DIR[:TAG]");
    app.add_option("DEST", o.dest, "destination: docker://HOST/REPO[:TAG] or ssh://[USER@]HOST[:PORT][/NAME]");
    app.add_flag("--send-stdio", o.send_stdio, "send SRC on stdout to an `oci-fetch ssh://` (run by it through ssh)")
        ->group("");
    app.add_option("-j,--jobs", o.jobs, "blobs uploaded in parallel")->default_val(4);
    app.add_option("--format", o.format, "output: text (the digest) or json (the descriptor)")->default_val("text");
    app.add_option("--progress", o.progress, "progress on stderr: auto (bars on a terminal) or json (JSON lines)")
        ->default_val("auto");
    add_registry_flags(app, o);
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the standard path)");
    app.add_option("--mount-from", o.mount_from, "repository of the same registry to mount blobs from (repeatable)")
        ->allow_extra_args(false);
    add_sign_flags(app, o);
    app.add_flag("--remove-signatures", o.remove_signatures,
                 "do not push the sigstore signatures an oci: source keeps beside the image");

    ocikit::push::Options so;
    CLI::App* sign = app.add_subcommand("sign", "attach a sigstore signature to an image already in a registry");
    sign->add_option("IMAGE", so.dest, "docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST")->required();
    add_registry_flags(*sign, so);
    add_sign_flags(*sign, so);

    std::string prefix, gen_passphrase;
    CLI::App* gen = app.add_subcommand("generate-sigstore-key",
                                       "write a sigstore key pair: PREFIX.private (encrypted) and PREFIX.pub");
    gen->add_option("--output-prefix", prefix, "write PREFIX.private and PREFIX.pub")->required();
    gen->add_option("--passphrase-file", gen_passphrase,
                    "read the passphrase from the first line of FILE (default: ask twice on the terminal)");
    app.require_subcommand(0, 1);
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    if (*gen) return ocikit::push::run_generate_key(prefix, gen_passphrase);
    if (*sign) {
      if (so.sign.key.empty()) ocikit::fail(ocikit::Errc::usage, "sign: --sign-by-sigstore-private-key is required");
      return ocikit::push::run_sign(so);
    }
    if (o.src.empty()) ocikit::fail(ocikit::Errc::usage, "SRC is required");
    if (o.dest.empty() && !o.send_stdio) ocikit::fail(ocikit::Errc::usage, "DEST is required");
    return ocikit::push::run(o);
  });
}
