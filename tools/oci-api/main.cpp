// oci-api: the Docker Engine API (v1.41) on a unix socket (or mutual-TLS
// TCP), carried out by the ocikit tools: `DOCKER_HOST=unix:///run/ocikit/docker.sock
// docker run ...` works unchanged. No state of its own: containers, images,
// volumes and networks are those oci-run, the store and oci-net keep.
#include <signal.h>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "handlers.hpp"
#include "server.hpp"
#include "tools.hpp"

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-api", [&] {
    CLI::App app{"Serve the Docker Engine API (v1.41) with the ocikit tools", "oci-api"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    std::vector<std::string> hosts;
    ocikit::api::ListenSpec ls;
    ocikit::api::Limits limits;
    std::string root;
    app.add_option("-H,--host", hosts,
                   "unix://PATH (default unix:///run/ocikit/docker.sock), tcp://ADDR:PORT or fd:// (socket activation)")
        ->allow_extra_args(false);
    app.add_option("-G,--group", ls.group, "group of the unix socket (mode 0660)");
    app.add_flag("--tlsverify", ls.tls, "TCP with mutual TLS: clients need a certificate signed by --tlscacert");
    app.add_option("--tlscacert", ls.tls_ca, "CA that signs client certificates");
    app.add_option("--tlscert", ls.tls_cert, "server certificate");
    app.add_option("--tlskey", ls.tls_key, "server key");
    app.add_flag("--insecure-tcp", ls.insecure_tcp,
                 "allow a non-loopback tcp:// without TLS (anyone who reaches it is root on this host)");
    app.add_option("--root", root, "oci-run's runtime state directory (its --root; default /run/ocikit)");
    app.add_option("--read-timeout", limits.read_timeout_s, "seconds a client may take to send a request")
        ->capture_default_str();
    app.add_option("--max-connections", limits.max_connections, "connections served at once")->capture_default_str();
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    if (ls.tls && (ls.tls_ca.empty() || ls.tls_cert.empty() || ls.tls_key.empty()))
      ocikit::fail(ocikit::Errc::usage, "--tlsverify needs --tlscacert, --tlscert and --tlskey");

    auto& t = ocikit::api::tools();
    std::string dir = ocikit::cli::self_dir();
    t.oci_run = ocikit::cli::find_tool("oci-run", dir, "OCIKIT_RUN");
    t.oci_fetch = ocikit::cli::find_tool("oci-fetch", dir, "OCIKIT_FETCH");
    t.oci_net = ocikit::cli::find_tool("oci-net", dir, "OCIKIT_NET");
    try {  // only POST /build needs it: the API serves without
      t.oci_build = ocikit::cli::find_tool("oci-build", dir, "OCIKIT_BUILD");
    } catch (const ocikit::Error&) {
      t.oci_build = "oci-build";
    }
    if (!root.empty()) t.run_globals = {"--root", root};

    // Every thread inherits this mask: serve() takes SIGTERM/SIGINT with
    // sigwait; a client gone mid-write is an error return, not SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return ocikit::api::serve(hosts, ls, limits, ocikit::api::route, [](const ocikit::api::Exchange& x) {
      return ocikit::api::build_streams_body(x) || ocikit::api::archive_streams_body(x);
    });
  });
}
