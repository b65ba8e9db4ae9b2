// oci-run-manage: oci-run's docker-style commands (run IMAGE, ps, logs,
// stop, rm, images, volume ... see manage/) and `spec --image`. The lean
// oci-run binary executes it with its own argv (main.cpp); the runtime runs
// through that oci-run again (locate.hpp). A command line that is
// runc-style after all (mode.hpp: run in a bundle directory naming no store
// image, or an unknown command) goes back to oci-run.
#include <algorithm>
#include <thread>

#include <unistd.h>

#include <cstring>

#include "cmd_spec.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "locate.hpp"
#include "manage/extra.hpp"
#include "manage/manage.hpp"

using namespace ocikit;

namespace {

bool is_spec_image(int argc, char** argv) {
  bool spec = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "spec")) spec = true;
    if (spec && (!strcmp(argv[i], "--image") || !strncmp(argv[i], "--image=", 8))) return true;
  }
  return false;
}

// `spec --image IMAGE [--store DIR] [--copy] [-b DIR]` with oci-run's global flags.
int spec_image(int argc, char** argv) {
  CLI::App app{"Run containers: a runc-compatible OCI runtime", "oci-run"};
  cli::LogOptions log_opts;
  cli::add_log_flags(app, log_opts, true);
  std::string root, rootless, bundle = ".";
  bool systemd_cgroup = false, rootless_spec = false;
  app.add_option("--root", root, "root directory for container state");
  app.add_flag("--systemd-cgroup", systemd_cgroup, "accepted for runc compatibility");
  app.add_option("--rootless", rootless, "accepted for runc compatibility (true, false, auto)");
  app.require_subcommand(1);
  auto* spec = app.add_subcommand("spec", "write a bundle made from an image of the store");
  spec->add_flag("--rootless", rootless_spec, "a spec for a rootless container");
  spec->add_option("-b,--bundle", bundle, "the bundle directory")->capture_default_str();
  run::BundleOptions bo;
  run::add_bundle_options(spec, bo);
  if (auto rc = cli::parse(app, argc, argv)) return *rc;
  cli::apply_log_flags(log_opts);
  if (rootless_spec) fail(Errc::usage, "spec: --rootless cannot be combined with --image");
  bo.bundle = bundle;
  run::write_bundle(bo, [](snapshot::Store& snaps, layout::Layout& store, const image::Manifest& m,
                           const image::ImageConfig& c) {
    return snaps.prepare(store, m, c, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto rc = manage::main_if_managed(argc, argv)) return *rc;
  if (int rc; manage::run_extra_command(argc, argv, rc)) return rc;
  return cli::run_main("oci-run", [&] {
    if (is_spec_image(argc, argv)) return spec_image(argc, argv);
    // runc-style: the runtime, told not to send it back here.
    std::string runtime = run::runtime_binary();
    setenv(manage::kRuntimeOnlyEnv, "1", 1);
    execv(runtime.c_str(), argv);
    throw_errno("exec " + runtime);
  });
}
