// oci-build: build an image from a Dockerfile into the image store.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "build.hpp"
#include "remote.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layout.hpp"
#include "common/text.hpp"

namespace {

std::pair<std::string, std::string> split_kv(const std::string& s, const char* what) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0)
    ocikit::fail(ocikit::Errc::usage, std::string(what) + ": expected KEY=VALUE, got \"" + s + "\"");
  return {s.substr(0, eq), s.substr(eq + 1)};
}

/// --secret id=ID,src=FILE (also "source", and "type=file"); id defaults to the file's name.
std::pair<std::string, std::string> parse_secret(const std::string& s) {
  std::string id, src;
  for (const auto& kv : ocikit::text::split(s, ',')) {
    auto [k, v] = split_kv(kv, "--secret");
    if (k == "id") id = v;
    else if (k == "src" || k == "source") src = v;
    else if (k == "type" && v == "file") continue;
    else ocikit::fail(ocikit::Errc::usage, "--secret: unknown key \"" + k + "\" in \"" + s + "\"");
  }
  if (src.empty()) ocikit::fail(ocikit::Errc::usage, "--secret " + s + ": src=FILE is required");
  if (::access(src.c_str(), R_OK) != 0) ocikit::fail(ocikit::Errc::usage, "--secret " + s + ": cannot read " + src);
  if (id.empty()) id = src.substr(src.rfind('/') + 1);
  return {id, src};
}

/// --ssh ID[=SOCKET]: SOCKET defaults to $SSH_AUTH_SOCK and must be a unix socket (an agent).
std::pair<std::string, std::string> parse_ssh(const std::string& s) {
  auto eq = s.find('=');
  std::string id = s.substr(0, eq), sock = eq == std::string::npos ? "" : s.substr(eq + 1);
  if (id.empty()) ocikit::fail(ocikit::Errc::usage, "--ssh " + s + ": expected ID[=SOCKET]");
  if (sock.empty()) {
    const char* env = std::getenv("SSH_AUTH_SOCK");
    if (!env || !*env)
      ocikit::fail(ocikit::Errc::usage, "--ssh " + s + ": no SOCKET given and SSH_AUTH_SOCK is not set");
    sock = env;
  }
  if (sock.find(',') != std::string::npos)
    ocikit::fail(ocikit::Errc::usage, "--ssh " + s + ": one agent socket per id (key files are not supported)");
  struct stat st;
  if (::stat(sock.c_str(), &st) != 0)
    ocikit::fail(ocikit::Errc::usage, "--ssh " + s + ": " + sock + ": no such socket");
  if (!S_ISSOCK(st.st_mode))
    ocikit::fail(ocikit::Errc::usage,
                 "--ssh " + s + ": " + sock + " is not a socket (only ssh-agent sockets are supported)");
  return {id, sock};
}

}  // namespace

int main(int argc, char** argv) {
  return ocikit::cli::run_main("oci-build", [&] {
    CLI::App app{"Build an image from a Dockerfile", "oci-build"};
    ocikit::cli::LogOptions log_opts;
    ocikit::cli::add_log_flags(app, log_opts);
    ocikit::build::Options o;
    std::vector<std::string> build_args, labels;
    std::string pull = "missing";
    std::vector<std::string> secrets, ssh;
    app.add_option("-f,--file", o.dockerfile, "Dockerfile path (default: CONTEXT/Dockerfile)");
    app.add_option("-t,--tag", o.tags, "name and tag of the image (repeatable)")->allow_extra_args(false);
    app.add_option("--build-arg", build_args, "KEY=VALUE build argument (repeatable)")->allow_extra_args(false);
    app.add_option("--label", labels, "KEY=VALUE label added to the image (repeatable)")->allow_extra_args(false);
    app.add_option("--target", o.target, "build up to this stage");
    app.add_flag("--no-cache", o.no_cache, "do not reuse cached layers");
    app.add_flag("-q,--quiet", o.quiet, "do not announce the instructions and cache hits (the id is still printed)");
    app.add_option(
        "-o,--output", o.output,
        "also write the image to oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or - (an oci-archive on stdout)");
    app.add_option("--pull", pull, "pull FROM images: missing (default), always or never");
    app.add_option("--policy,--signature-policy", o.policy,
                   "trust policy (containers-policy.json) FROM pulls must satisfy (default: /etc/containers/policy.json; "
                   "accept anything when it does not exist)");
    app.add_option("--secret", secrets, "id=ID,src=FILE: a secret for RUN --mount=type=secret (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--ssh", ssh,
                   "ID[=SOCKET]: an ssh-agent socket for RUN --mount=type=ssh (default: $SSH_AUTH_SOCK; repeatable)")
        ->allow_extra_args(false);
    app.add_option("--platform", o.platform,
                   "os/arch[/variant][,...] to build for; several give an image index (default: the host)");
    app.add_option("-j,--jobs", o.jobs, "stages built at once")->default_val(2);
    app.add_option("--network", o.network,
                   "RUN's network: default (an oci-net bridge with NAT), none, host or an oci-net network")
        ->capture_default_str();
    std::vector<std::string> allow;
    app.add_option("--allow", allow, "entitlement: network.host (lets RUN --network=host use the host's network)")
        ->allow_extra_args(false);
    app.add_option("--runtime", o.runtime, "OCI runtime binary for RUN (default: oci-run)");
    app.add_option("--iidfile", o.iidfile, "write the image id to this file");
    app.add_option("--store", o.store, "image store directory (default: $OCIKIT_STORE or the system store)");
    std::string host;
    app.add_option("-H,--host", host, "build on another host: ssh://[USER@]HOST[:PORT] (default $OCIKIT_HOST)");
    app.add_option("CONTEXT", o.context, "build context directory, or - (a tar on stdin)")->capture_default_str();
    if (auto rc = ocikit::cli::parse(app, argc, argv)) return *rc;
    ocikit::cli::apply_log_flags(log_opts);
    if (host.empty())
      if (const char* h = std::getenv("OCIKIT_HOST"); h && *h) host = h;
    if (!host.empty()) {
      // The options that describe the build go along; those naming this
      // host's files or store do not make sense there.
      if (!secrets.empty() || !ssh.empty() || !o.iidfile.empty() || !o.output.empty() || !o.store.empty() ||
          !o.runtime.empty())
        ocikit::fail(ocikit::Errc::usage,
                     "-H: --secret, --ssh, --iidfile, --output, --store and --runtime name this host's files");
      if (o.context == "-") ocikit::fail(ocikit::Errc::usage, "-H: the context must be a directory");
      std::vector<std::string> args;
      if (!o.dockerfile.empty()) {
        std::string ctx = std::filesystem::weakly_canonical(o.context).string() + "/";
        std::string df = std::filesystem::weakly_canonical(o.dockerfile).string();
        if (df.rfind(ctx, 0) != 0)
          ocikit::fail(ocikit::Errc::usage, "-H: -f must name a file inside the context");
        args.insert(args.end(), {"-f", df.substr(ctx.size())});
      }
      for (const auto& t : o.tags) args.insert(args.end(), {"-t", t});
      for (const auto& b : build_args) args.insert(args.end(), {"--build-arg", b});
      for (const auto& l : labels) args.insert(args.end(), {"--label", l});
      for (const auto& a : allow) args.insert(args.end(), {"--allow", a});
      if (!o.target.empty()) args.insert(args.end(), {"--target", o.target});
      if (o.no_cache) args.push_back("--no-cache");
      if (o.quiet) args.push_back("--quiet");
      if (!o.platform.empty()) args.insert(args.end(), {"--platform", o.platform});
      args.insert(args.end(), {"--pull", pull, "--network", o.network, "-j", std::to_string(o.jobs)});
      return ocikit::build::build_remote(host, o.context, args);
    }
    std::unique_ptr<ocikit::fs::TempDir> stdin_context;
    if (o.context == "-") {
      stdin_context = ocikit::build::context_from_stdin();
      o.context = stdin_context->path();
      if (!o.dockerfile.empty() && o.dockerfile[0] != '/') o.dockerfile = o.context + "/" + o.dockerfile;
    }
    o.pull = ocikit::build::parse_pull_policy(pull);
    if (o.jobs < 1) ocikit::fail(ocikit::Errc::usage, "--jobs must be at least 1");
    for (auto& sec : secrets) o.secrets.insert(parse_secret(sec));
    for (auto& x : ssh) o.ssh.insert(parse_ssh(x));
    for (auto& a : build_args) {
      auto eq = a.find('=');
      if (eq == std::string::npos) {
        if (const char* v = std::getenv(a.c_str())) o.build_args[a] = v;
      } else {
        o.build_args[a.substr(0, eq)] = a.substr(eq + 1);
      }
    }
    for (auto& l : labels) o.labels.insert(split_kv(l, "--label"));
    for (auto& a : allow) {
      if (a != "network.host")
        ocikit::fail(ocikit::Errc::usage, "--allow " + a + ": unknown entitlement (known: network.host)");
      o.allow_network_host = true;
    }
    if (o.network.empty()) ocikit::fail(ocikit::Errc::usage, "--network: empty");
    if (o.runtime.empty()) {
      // Only a RUN needs it: a build without one goes on, and exec says what is missing.
      try {
        o.runtime = ocikit::cli::find_tool("oci-run", ocikit::cli::self_dir(), "OCIKIT_RUN", {"OCI_RUN"});
      } catch (const ocikit::Error&) {
        o.runtime = "oci-run";
      }
    }
    if (o.store.empty()) o.store = ocikit::layout::default_store_path();
    if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) {
      try {
        o.source_date_epoch = std::stoll(e);
      } catch (...) {
        ocikit::fail(ocikit::Errc::usage, std::string("SOURCE_DATE_EPOCH: not a number: \"") + e + "\"");
      }
    }
    auto r = ocikit::build::build(o);
    if (!r.wrote_stdout) std::printf("%s\n", r.image_id.c_str());
    return 0;
  });
}
