#pragma once
// oci-net's kernel side for links, addresses, routes and FDB entries, through
// libnl-route-3. A Socket is bound to one network namespace for its whole
// life (netlink sockets belong to the namespace they were created in), so
// wiring a container takes one Socket in the host namespace and one opened
// inside the container's.
#include <functional>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "common/net.hpp"

struct nl_sock;

namespace ocikit::netlink {

/// Open the network namespace `target`: a decimal pid (its /proc/PID/ns/net)
/// or a path to an nsfs file (/var/run/netns/NAME). Throws Errc::not_found/io.
fs::UniqueFd open_netns(const std::string& target);

/// Run fn() with the calling thread inside the namespace `ns_fd`, then come
/// back to the original namespace (also when fn throws).
void in_netns(int ns_fd, const std::function<void()>& fn);

/// A NETLINK_ROUTE socket.
class Socket {
 public:
  /// A socket in the current namespace, or in `netns_fd` when >= 0. Throws Errc::io.
  explicit Socket(int netns_fd = -1);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  /// The ifindex of link `name`, 0 when there is none.
  int link_index(const std::string& name);
  /// The MAC address of link `name` ("aa:bb:.."), "" when it has none.
  std::string link_mac(const std::string& name);
  /// Create a bridge `name` (if missing) with `mtu` in link group `group`
  /// (oci-net's isolation rules match the group), and bring it up.
  /// Returns true when it was created now.
  bool ensure_bridge(const std::string& name, int mtu, uint32_t group);
  /// Create a veth pair: `host_name` here, enslaved to `master` (when not
  /// empty) and up; `peer_name` created directly in namespace `peer_ns_fd`.
  void add_veth(const std::string& host_name, const std::string& master, const std::string& peer_name, int peer_ns_fd,
                int mtu);
  /// Create a macvlan (bridge mode) on `parent`, created directly in `ns_fd` as `name`.
  void add_macvlan(const std::string& name, const std::string& parent, int ns_fd, int mtu);
  /// Create a VXLAN device `name` with `vni` on UDP 4789, sending from
  /// `local` (may be empty) over `underlay` (may be empty), enslaved to `master`, up.
  void add_vxlan(const std::string& name, uint32_t vni, const std::string& local, const std::string& underlay,
                 const std::string& master, int mtu);
  /// Add a flooding FDB entry (00:00:00:00:00:00 dst `peer`) to VXLAN `name`.
  void add_fdb_peer(const std::string& name, const std::string& peer);
  /// Remove the flooding FDB entry of `peer` from VXLAN `name` (missing: no-op).
  void del_fdb_peer(const std::string& name, const std::string& peer);
  /// The peers (destination addresses of all-zero FDB entries) of VXLAN `name`.
  std::vector<std::string> fdb_peers(const std::string& name);
  /// Turn on hairpin mode on bridge port `name` (frames may leave by the
  /// port they came in on).
  void set_hairpin(const std::string& name);
  /// Delete link `name`. Returns false when it did not exist.
  bool delete_link(const std::string& name);
  /// Set link `name` up.
  void set_up(const std::string& name);
  /// Add `addr` (address with prefix length) to link `name`.
  void add_address(const std::string& name, const net::Cidr& addr);
  /// Add a default route via `gateway` out of link `name`.
  void add_default_route(const std::string& name, const net::IpAddr& gateway);

 private:
  nl_sock* sk_ = nullptr;
};

}  // namespace ocikit::netlink
