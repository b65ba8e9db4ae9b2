#pragma once
// Connecting a container (a network namespace) to a network and undoing it.
//
//   connect:  lock leases ── allocate addresses, record lease, make the
//             bridge/table if missing ── unlock
//             wire: veth (or macvlan) into the netns, addresses, routes, MTU,
//             published ports, /etc/hosts + resolv.conf
//             on any failure: delete what was made and the lease, rethrow
//             a lease whose namespace is gone is reclaimed first when it is
//             in the way (same id or host port, requested address,
//             exhausted range)
//             the network's resolver (dns.hpp) is started or reloaded with
//             the new lease before the wiring, and the container's
//             resolv.conf names it
//   disconnect: under the lock, delete ports, the host link, the lease and the
//             files written, and rewrite the other containers' /etc/hosts
//             and the resolver's names (it stops with the last lease)
#include <string>
#include <vector>

#include "common/net.hpp"
#include "store.hpp"

namespace ocikit::endpoint {

/// What to connect where.
struct ConnectOptions {
  std::string network;  ///< network name
  std::string target;  ///< netns path or pid
  std::string id;  ///< container id (unique per network)
  std::string hostname;  ///< name in /etc/hosts (default: id)
  std::vector<std::string> aliases;  ///< more names
  std::string ifname;  ///< interface in the container ("": first free ethN)
  std::vector<net::PortMapping> ports;  ///< published ports (bridge only)
  std::vector<std::string> ips;  ///< requested addresses (one per family)
  std::vector<std::string> dns;  ///< nameservers (default: the host's)
  std::string etc_dir;  ///< where to write hosts/resolv.conf ("" none)
  bool owns_etc = false;  ///< delete them on disconnect
  /// Serve the container's names through the network's resolver (dns.hpp)
  /// and make it the container's nameserver, on a network that has one
  /// (oci-net connect and hook; not the CNI plugin, where the cluster's DNS
  /// serves names).
  bool resolver = false;
};

/// What connect made.
struct ConnectResult {
  net::Network network;
  netstore::Lease lease;
  std::string mac;  ///< the container interface's MAC
  std::string host_mac;  ///< the host veth's MAC ("" without one)
  std::string bridge_mac;
};

/// The container id used for a target: the netns file name for
/// /var/run/netns/NAME, "pid-N" for a pid.
std::string id_for_target(const std::string& target);
/// The etc dir iproute2's `ip netns exec` bind-mounts for a named netns
/// (/etc/netns/NAME), "" for other targets.
std::string etc_dir_for_target(const std::string& target);

/// Connect as described above. Throws Errc::not_found (network, netns),
/// Errc::exists (already connected, port taken), Errc::failure (no free
/// address), Errc::io (kernel); nothing is left configured after a throw.
ConnectResult connect(netstore::Store& st, const ConnectOptions& o);

/// Disconnect container `id` from `network`. Returns false when it was not
/// connected and `missing_ok`; throws Errc::not_found otherwise.
bool disconnect(netstore::Store& st, const std::string& network, const std::string& id, bool missing_ok);

/// Give container `id` the name `hostname` on every network it is connected
/// to (docker rename): its leases, the other containers' /etc/hosts and the
/// networks' resolvers (which serve it only when it is a valid host name, as
/// any name). Returns how many networks changed. Throws Errc::usage for "".
size_t rename(netstore::Store& st, const std::string& id, const std::string& hostname);

/// True unless the namespace of lease `l` is certainly gone: its path (or
/// /proc/PID/ns/net) no longer exists, or now names another namespace than
/// the one connected.
bool lease_alive(const netstore::Lease& l);

/// Release the leases of `n` whose namespace is gone (their published ports,
/// host links and files) and return how many. Takes the leases lock.
size_t release_stale(netstore::Store& st, const net::Network& n);

/// The addresses of an overlay peers file (see net::parse_peers). Throws
/// Errc::not_found/io 'peers file PATH: ...' or Errc::invalid 'PATH:LINE: ...'.
std::vector<net::IpAddr> read_peers_file(const std::string& path);

/// Remove a network's kernel objects (bridge, vxlan, nft table).
void teardown_network(const net::Network& n);

}  // namespace ocikit::endpoint
