// oci-net cni install: set oci-net up as a node's CNI plugin for
// containerd's CRI (examples/kubernetes/): the conflist in conf-dir, the
// plugin binary in bin-dir under the conflist's "type", and the standard
// loopback plugin beside it when missing.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "commands.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/net.hpp"

namespace ocikit::netcmd {
namespace {

// Where Debian's containernetworking-plugins keeps the standard plugins.
constexpr const char* kLoopback = "/usr/lib/cni/loopback";

// The conflist: examples/kubernetes/10-ocikit.conflist with the defaults,
// byte for byte (the CNI bats file compares them).
std::string render_conflist(const CniInstallOptions& o) {
  // Every value was checked against a strict grammar: none needs escaping.
  return "{\n"
         "  \"cniVersion\": \"1.0.0\",\n"
         "  \"name\": \"" +
      o.name +
      "\",\n"
      "  \"plugins\": [\n"
      "    {\n"
      "      \"type\": \"oci-net\",\n"
      "      \"bridge\": \"" +
      o.bridge +
      "\",\n"
      "      \"ipMasq\": true,\n"
      "      \"mtu\": 1500,\n"
      "      \"ipam\": {\"subnet\": \"" +
      o.subnet +
      "\"},\n"
      "      \"capabilities\": {\"portMappings\": true}\n"
      "    }\n"
      "  ]\n"
      "}\n";
}

void check_options(const CniInstallOptions& o) {
  if (!net::valid_network_name(o.name))
    fail(Errc::usage, "invalid network name \"" + o.name + "\" (want 1-32 of A-Z a-z 0-9 _ . -)");
  net::Cidr c;
  try {
    c = net::network_of(net::parse_cidr(o.subnet));
  } catch (const Error& e) {
    fail(Errc::usage, std::string("--subnet: ") + e.what());
  }
  if (net::to_string(c) != o.subnet) fail(Errc::usage, "--subnet " + o.subnet + ": want " + net::to_string(c));
  bool ok = !o.bridge.empty() && o.bridge.size() <= 15 && o.bridge != "." && o.bridge != "..";
  for (char ch : o.bridge)
    ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
  if (!ok) fail(Errc::usage, "invalid bridge name \"" + o.bridge + "\" (want 1-15 of A-Z a-z 0-9 _ . -)");
  for (const auto* d : {&o.bin_dir, &o.conf_dir})
    if (d->empty() || (*d)[0] != '/') fail(Errc::usage, "\"" + *d + "\" is not an absolute path");
}

// Write `data` to `path` unless it holds exactly that already; a different
// file there is replaced only with --force. Returns what happened.
std::string install_file(const std::string& path, const std::string& data, mode_t mode, bool force) {
  struct stat sb {};
  // A symlink to the same content (an earlier `ln -s`) counts as installed.
  if (lstat(path.c_str(), &sb) == 0) {
    struct stat target {};
    if (stat(path.c_str(), &target) == 0 && S_ISREG(target.st_mode) && fs::read_file(path) == data) {
      if (S_ISREG(sb.st_mode) && (sb.st_mode & 07777) != mode && chmod(path.c_str(), mode) != 0)
        throw_errno("chmod " + path);
      return "unchanged " + path;
    }
    if (!force) fail(Errc::exists, path + " exists and differs (use --force to replace it)");
    if (S_ISDIR(sb.st_mode)) fail(Errc::exists, path + " is a directory");
  }
  fs::write_file_atomic(path, data, mode);
  return "wrote " + path;
}

}  // namespace

int cni_install(const CniInstallOptions& o) {
  check_options(o);
  std::string self = fs::read_file("/proc/self/exe");
  std::string conflist = o.conf_dir + "/10-ocikit.conflist";
  // Check both destinations before changing anything: a refusal leaves the
  // node as it was.
  const std::string text = render_conflist(o);
  for (const auto& [path, want] : {std::pair<std::string, const std::string*>{o.bin_dir + "/oci-net", &self},
                                   std::pair<std::string, const std::string*>{conflist, &text}}) {
    struct stat sb {};
    struct stat target {};
    if (!o.force && lstat(path.c_str(), &sb) == 0 &&
        (stat(path.c_str(), &target) != 0 || !S_ISREG(target.st_mode) || fs::read_file(path) != *want))
      fail(Errc::exists, path + " exists and differs (use --force to replace it)");
  }
  std::string loopback = o.bin_dir + "/loopback";
  bool need_loopback = !fs::exists(loopback);
  if (need_loopback && access(kLoopback, X_OK) != 0)
    fail(Errc::not_found,
         std::string("the loopback plugin is missing from ") + o.bin_dir + " and " + kLoopback +
             " (Debian: apt-get install containernetworking-plugins)");
  fs::mkdir_p(o.bin_dir, 0755);
  fs::mkdir_p(o.conf_dir, 0755);
  std::cout << install_file(o.bin_dir + "/oci-net", self, 0755, o.force) << "\n";
  if (need_loopback) {
    if (symlink(kLoopback, loopback.c_str()) != 0) throw_errno("symlink " + loopback);
    std::cout << "linked " << loopback << " -> " << kLoopback << "\n";
  }
  std::cout << install_file(conflist, text, 0644, o.force) << "\n";
  return 0;
}

}  // namespace ocikit::netcmd
