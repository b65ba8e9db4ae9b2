// oci-run-manage: oci-run's docker-style commands (run IMAGE, ps, logs,
// stop, rm, images, volume ... see manage/) and `spec --image`. The lean
// oci-run binary executes it with its own argv and its routing decision in
// $OCIKIT_RUN_ROUTE (router.hpp); the runtime runs through that oci-run
// again (locate.hpp). A `run`/`create` in a bundle directory whose first
// positional is not a store image (route if-image) goes back to oci-run.
#include <algorithm>
#include <thread>

#include <unistd.h>

#include <cstring>

#include "cmd_spec.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "locate.hpp"
#include "common/layout.hpp"
#include "router.hpp"
#include "manage/manage.hpp"

using namespace ocikit;

namespace {

// `spec --image IMAGE [--store DIR] [--copy] [-b DIR]` with oci-run's global flags.
int spec_image(int argc, char** argv) {
  CLI::App app{"Run containers: a runc-compatible OCI runtime", "oci-run"};
  cli::LogOptions log_opts;
  cli::add_log_flags(app, log_opts, true);
  run::GlobalFlags gf;
  run::add_global_options(app, gf);
  std::string bundle = ".";
  bool rootless_spec = false;
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
  run::write_bundle(
      bo, [](snapshot::Store& snaps, layout::Layout& store, const image::Manifest& m, const image::ImageConfig& c) {
        return snaps.prepare(store, m, c, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
      });
  return 0;
}

// The lean runtime, told not to route this line again.
[[noreturn]] void exec_runtime(char** argv) {
  std::string runtime = run::runtime_binary();
  setenv(run::kRouteEnv, run::route_name(run::Route::runtime), 1);
  execv(runtime.c_str(), argv);
  throw_errno("exec " + runtime);
}

}  // namespace

int main(int argc, char** argv) {
  auto cl = run::scan(argc, argv);
  // The decision oci-run made; decided here only when started directly.
  run::Route r;
  const char* handed = std::getenv(run::kRouteEnv);
  if (!handed || !run::parse_route(handed, r)) r = run::route(cl);
  unsetenv(run::kRouteEnv);
  bool failure_125 = cl.cmd == "run" || cl.cmd == "create" || cl.cmd == "exec" || cl.cmd == "start";
  return cli::run_main(
      "oci-run",
      [&]() -> int {
        switch (r) {
          case run::Route::spec_image: return spec_image(argc, argv);
          case run::Route::if_image:
            if (!manage::store_has_image(cl.store.empty() ? layout::default_store_path() : cl.store,
                                         run::route_image(cl)))
              exec_runtime(argv);
            return manage::docker_main(argc, argv);
          case run::Route::docker: return manage::docker_main(argc, argv);
          case run::Route::runtime: break;
        }
        exec_runtime(argv);
      },
      failure_125 ? 125 : 1);
}
