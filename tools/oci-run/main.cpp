// oci-run: a runc-compatible OCI runtime and the entry of every oci-run
// command line. main routes it once (router.hpp): docker-style lines go to
// oci-run-manage, runc-style ones to runc_cli.cpp, after create, run and
// exec have sealed this binary against a container that would rewrite it.
#include <cstdio>
#include <cstdlib>

#include "container.hpp"
#include "router.hpp"
#include "runc_cli.hpp"

using namespace ocikit;
using namespace ocikit::run;

int main(int argc, char** argv) {
  CommandLine cl;
  Route r = Route::runtime;
  // run and exec return the container's status, so their own failures are
  // 125 (docker's convention); oci-run-manage's create and start too.
  auto failure = [&](bool managed) {
    return cl.cmd == "run" || cl.cmd == "exec" || (managed && (cl.cmd == "create" || cl.cmd == "start")) ? 125 : 1;
  };
  try {
    cl = scan(argc, argv);
    // oci-run-manage runs its runtime commands with OCIKIT_RUN_ROUTE=runtime:
    // a managed container's id must not send them back.
    const char* handed = std::getenv(kRouteEnv);
    bool runtime_only = handed && std::string(handed) == route_name(Route::runtime);
    if (handed) unsetenv(kRouteEnv);
    if (!runtime_only) r = route(cl);
    if (r != Route::runtime) exec_manage(argv, r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "oci-run: error: %s\n", e.what());
    return failure(r != Route::runtime);
  }
  // create, run and exec put this binary's image into a container's reach:
  // they run from a view of it nothing writes through (CVE-2019-5736,
  // exe_seal.hpp: a private read-only overlayfs, else a sealed memfd),
  // re-executed first thing, so that nothing is parsed twice
  // (container.hpp). create and run with a bundle flag got there before
  // glibc started (early_seal.cpp).
  if (cl.cmd == "create" || cl.cmd == "run" || cl.cmd == "exec") {
    try {
      ensure_sealed_binary(argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "oci-run: error: %s\n", e.what());
      return failure(false);
    }
  }
  return runc_main(argc, argv, failure(false));
}
