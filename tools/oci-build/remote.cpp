// oci-build remote.cpp (remote.hpp).
#include "remote.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.hpp"
#include "common/layer.hpp"
#include "common/process.hpp"
#include "common/ssh.hpp"

namespace ocikit::build {

std::unique_ptr<fs::TempDir> context_from_stdin() {
  auto dir = std::make_unique<fs::TempDir>("oci-build-context");
  layer::ApplyOptions ao;
  ao.same_owner = false;
  ao.allow_devices = false;
  try {
    layer::apply(0, dir->path(), ao);
  } catch (const Error& e) {
    fail(Errc::invalid, std::string("context from stdin: ") + e.what());
  }
  return dir;
}

int build_remote(const std::string& host, const std::string& context, const std::vector<std::string>& args) {
  if (!ssh::is_ssh_url(host))
    fail(Errc::usage, "unsupported host \"" + host.substr(0, 200) + "\": oci-build reaches other hosts only through ssh://");
  ssh::Address a = ssh::parse_url(host);
  if (!a.path.empty()) fail(Errc::usage, "host " + host + ": a path is not allowed");
  std::vector<std::string> remote = {"oci-build"};
  remote.insert(remote.end(), args.begin(), args.end());
  remote.push_back("-");
  auto ssh_argv = ssh::command(a, remote, {false, false});
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd r(p[0]), w(p[1]);
  // The context as tar (Debian's, run as a process like git for ADD).
  process::Spec tar;
  tar.argv = {"tar", "-C", context, "-cf", "-", "."};
  tar.out = w.get();
  pid_t tar_pid = process::spawn(tar);
  w.reset();
  process::Spec s;
  s.argv = ssh_argv;
  s.in = r.get();
  pid_t ssh_pid = process::spawn(s);
  r.reset();
  int tar_status = process::wait(tar_pid);
  int status = process::wait(ssh_pid);
  if (tar_status != 0 && status == 0) fail("tar of the context " + context + " failed (status " + std::to_string(tar_status) + ")");
  return status;
}

}  // namespace ocikit::build
