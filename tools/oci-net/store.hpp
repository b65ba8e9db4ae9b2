#pragma once
// oci-net's state on disk: network definitions (<dir>/<name>.json) and, per
// network, its leases (<dir>/leases/<name>.json) read and written only under
// <dir>/leases/<name>.lock, so concurrent attaches never hand out one
// address twice. <dir> is --data-dir, else $OCIKIT_NET_DIR, else
// /var/lib/ocikit/networks.
#include <optional>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "common/net.hpp"

namespace ocikit::netstore {

/// One container's attachment to a network.
struct Lease {
  std::string container;  ///< container id (unique per network)
  std::string hostname;  ///< name other containers resolve
  std::vector<std::string> aliases;  ///< more names
  std::string ifname;  ///< interface inside the container
  std::string host_if;  ///< host side of the veth (bridge drivers)
  std::string netns;  ///< the target as given
  std::string netns_id;  ///< "dev:inode" of that namespace when connected
  std::vector<std::string> addrs;  ///< "ADDR/LEN" per subnet
  std::string mac;  ///< the container interface's MAC once wired ("" before)
  std::vector<net::PortMapping> ports;
  std::string etc_dir;  ///< where hosts/resolv.conf were written ("" none)
  bool owns_etc = false;  ///< etc_dir files are ours to delete
  /// "PID:STARTTIME" of the connect still wiring it, "" once wired. A lease
  /// whose connect died (kill -9) part way is reclaimed (endpoint.cpp).
  std::string setting_up;
};

/// The data directory and its files.
class Store {
 public:
  /// Use `dir` ("" means $OCIKIT_NET_DIR or /var/lib/ocikit/networks).
  explicit Store(std::string dir);
  const std::string& dir() const { return dir_; }
  /// Every network, sorted by name. Throws Errc::invalid for a broken file.
  std::vector<net::Network> list();
  /// The network `name`, or nullopt.
  std::optional<net::Network> find(const std::string& name);
  /// Network `name` or Errc::not_found 'network "x" not found'. The default
  /// network "bridge" is created on first use.
  net::Network get(const std::string& name);
  /// Validate `n` against the others and write it; Errc::exists when taken.
  void create(net::Network& n);
  /// Delete the definition and its lease files.
  void remove(const std::string& name);
  /// Lock for the definitions directory (create/rm).
  fs::FileLock lock_defs();
  /// Lock for the leases of one network.
  fs::FileLock lock_leases(const std::string& network);
  /// The leases of `network` (call with its lock held).
  std::vector<Lease> leases(const std::string& network);
  /// Replace the leases of `network` (call with its lock held).
  void save_leases(const std::string& network, const std::vector<Lease>& leases);

 private:
  std::string dir_;
};

}  // namespace ocikit::netstore
