// seccomp-default-profile: print lib/common's seccomp::default_profile() as
// an OCI linux.seccomp object. A test helper (not installed): the bats files
// put it into a bundle to check that the default profile lets busybox work.
#include <iostream>

#include "common/seccomp.hpp"

int main() {
  std::cout << ocikit::seccomp::default_profile().dump() << "\n";
  return 0;
}
