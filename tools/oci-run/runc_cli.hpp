#pragma once
// oci-run's runc-style commands (runc_cli.cpp): create, run, start, state,
// kill, delete, list, ps, pause, resume, events, update, spec, features, exec.
#include "router.hpp"

namespace ocikit::run {

/// Parse argv as a runc command line and run it; `failure` is the exit code
/// of oci-run's own errors (125 for run and exec, docker's convention).
int runc_main(int argc, char** argv, int failure);

/// Execute oci-run-manage with this argv and the route decided for it.
[[noreturn]] void exec_manage(char** argv, Route r);

}  // namespace ocikit::run
