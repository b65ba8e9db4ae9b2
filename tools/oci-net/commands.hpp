#pragma once
// oci-net's subcommands: main.cpp fills these option structs with CLI11 and
// calls one function each. Every function returns the exit code.
#include <string>
#include <vector>

namespace ocikit::netcmd {

/// `oci-net create`.
struct CreateOptions {
  std::string name, driver = "bridge", gateway, ip_range, bridge, parent, local;
  std::vector<std::string> subnets, opts, peers, labels;
  bool internal = false, ipv6 = false;
  int mtu = 0;
  uint32_t vni = 0;
};
/// `oci-net connect` / `disconnect` / `hook`.
struct ConnectOptions {
  std::string network, target, id, name, ifname, etc_dir, stage;
  std::vector<std::string> ports, aliases, ips, dns;
  bool no_etc = false;
};

/// `oci-net cni install`.
struct CniInstallOptions {
  std::string bin_dir = "/opt/cni/bin", conf_dir = "/etc/cni/net.d", name = "ocikit-pods", subnet = "10.88.0.0/16",
              bridge = "ocikit0";
  bool force = false;
};

int create(const std::string& data_dir, const CreateOptions& o);
int list(const std::string& data_dir, bool quiet, const std::string& format);
int inspect(const std::string& data_dir, const std::vector<std::string>& names);
int remove(const std::string& data_dir, const std::vector<std::string>& names);
int prune(const std::string& data_dir, const std::vector<std::string>& filters = {});
int connect(const std::string& data_dir, const ConnectOptions& o);
int disconnect(const std::string& data_dir, const ConnectOptions& o);
/// `oci-net rename-endpoint ID NAME`: the name container ID is known by on
/// every network it is connected to (oci-run rename).
int rename_endpoint(const std::string& data_dir, const std::string& id, const std::string& name);
/// `oci-net hook createRuntime|prestart|poststop`: the OCI state JSON on stdin.
int hook(const std::string& data_dir, const ConnectOptions& o);
/// `oci-net cni install`: the conflist in conf_dir/10-ocikit.conflist, this
/// binary as bin_dir/oci-net and bin_dir/loopback (a symlink to Debian's)
/// when missing. Refuses (Errc::exists) to replace a different file without
/// force, before changing anything.
int cni_install(const CniInstallOptions& o);
/// CNI plugin mode (CNI_COMMAND set): config on stdin, result on stdout.
int cni_main();

}  // namespace ocikit::netcmd
