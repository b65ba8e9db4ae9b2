#pragma once
// oci-net's packet filtering and NAT, through libnftables. Each network gets
// its own table "inet ocikit-<network>" in the host namespace, so nothing is
// shared with other tools' rules and `oci-net rm` removes it whole:
//
//   forward     isolation: traffic from this bridge to another oci-net bridge
//               (link group kBridgeGroup) is dropped; --internal networks drop
//               everything that enters or leaves the bridge
//   postrouting masquerade for the subnets (not internal), for 127/8
//               sources leaving on the bridge (published ports hit through
//               the host's loopback, with route_localnet on the bridge), and
//               for hairpin flows (DNATed, in and out the same bridge)
//   prerouting  DNAT of published ports to local addresses, through maps
//   output        hostports4/6 (host address . proto . port) and ports4/6
//                 (proto . port), whose elements each connect adds and its
//                 disconnect deletes exactly; IPv6 from ::1 is not DNATed
#include <cstdint>
#include <string>
#include <vector>

#include "common/net.hpp"

namespace ocikit::nft {

/// The link group oci-net puts its bridges in (isolation rules match it).
inline constexpr uint32_t kBridgeGroup = 0x6f6b;

/// The table name of a network: "ocikit-<network>".
std::string table_name(const std::string& network);
/// Run an nft script (one atomic transaction). Throws Errc::io with nft's
/// first error line.
void run(const std::string& script);
/// True when the table of `network` exists.
bool has_table(const std::string& network);
/// Create the table of a bridge-like network (if missing): see the diagram.
void ensure_network(const net::Network& n);
/// Delete the table of `network`; false when there was none.
bool remove_network(const std::string& network);
/// Publish `ports` of a container with addresses `ip4` and `ip6` (either may
/// be empty): a mapping without host address goes to every family the
/// container has, one with a host address to that family only. Throws
/// Errc::exists when a host port is taken on this network, Errc::invalid when
/// a host address's family is one the container lacks; adds nothing then.
void add_ports(const std::string& network, const std::string& ip4, const std::string& ip6,
               const std::vector<net::PortMapping>& ports);
/// Remove published ports (missing ones are ignored).
void remove_ports(const std::string& network, const std::vector<net::PortMapping>& ports);

}  // namespace ocikit::nft
