#pragma once
// ocikit::net: the pure parts of container networking that oci-net (and
// oci-run's -p flag) share: IP addresses and CIDRs (IPv4 and IPv6), address
// allocation inside a range, published-port specs, network definitions and
// their validation, and the /etc/hosts and /etc/resolv.conf texts. Nothing
// here touches the kernel or the disk.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ocikit::net {

/// An IPv4 or IPv6 address. IPv4 uses the first 4 bytes.
struct IpAddr {
  int family = 0;  ///< AF_INET or AF_INET6 (0: unset)
  std::array<uint8_t, 16> bytes{};  ///< network byte order
  /// The address bytes in use: 4 for IPv4, 16 for IPv6.
  size_t size() const { return family == 10 ? 16 : 4; }
  bool operator==(const IpAddr&) const = default;
  auto operator<=>(const IpAddr&) const = default;
};

/// Parse a dotted-quad IPv4 or textual IPv6 address. Throws Errc::invalid
/// 'invalid IP address "<s>"'.
IpAddr parse_ip(std::string_view s);
/// The canonical text of an address ("10.0.0.1", "fd00::1").
std::string to_string(const IpAddr& a);
/// `a` plus `n` (wrapping within the address width).
IpAddr add(const IpAddr& a, uint64_t n);

/// An address prefix such as 10.213.0.0/24 or fd00:213::/64.
struct Cidr {
  IpAddr addr;  ///< as written (may have host bits, e.g. 10.0.0.5/24)
  int prefix = 0;  ///< prefix length
  bool operator==(const Cidr&) const = default;
};

/// Parse "ADDR/LEN". Throws Errc::invalid 'invalid CIDR "<s>"'.
Cidr parse_cidr(std::string_view s);
/// "ADDR/LEN" text.
std::string to_string(const Cidr& c);
/// The prefix with host bits cleared (10.0.0.5/24 -> 10.0.0.0/24).
Cidr network_of(const Cidr& c);
/// The last address of the prefix (the IPv4 broadcast address).
IpAddr last_of(const Cidr& c);
/// True when `a` lies within `c` (same family).
bool contains(const Cidr& c, const IpAddr& a);
/// True when two prefixes of the same family share an address.
bool overlaps(const Cidr& a, const Cidr& b);

/// Pick the lowest free address in `range` (a sub-prefix of `subnet`): not
/// the network address, not the IPv4 broadcast, not `gateway`, not in `used`.
/// Returns nullopt when the range is exhausted. Scans at most 2^20 addresses.
std::optional<IpAddr> next_free(const Cidr& subnet, const Cidr& range, const IpAddr& gateway,
                                const std::set<IpAddr>& used);

/// One published port: traffic to host_ip:host_port goes to container_port.
struct PortMapping {
  std::string host_ip;  ///< empty: every host address
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string proto = "tcp";  ///< "tcp" or "udp"
  bool operator==(const PortMapping&) const = default;
};

/// Parse a docker -p spec "[hostip:]hostport:containerport[/tcp|udp]" where
/// each port may be a range "A-B" (both ranges the same length, or a host
/// range to one container port is refused); "containerport" alone or an
/// empty host port ("127.0.0.1::80") gives host_port 0: a free port is
/// picked at connect, as docker's. IPv6 host addresses go in brackets
/// "[::1]:80:80".
/// Returns one mapping per port. Throws Errc::invalid 'bad port spec "<s>": <why>'.
std::vector<PortMapping> parse_port_spec(std::string_view spec);
/// The integer member `key` of `j` (`def` when absent), checked to be an
/// integer (not a float, which would convert with undefined behaviour) in
/// [lo, hi]. Throws Errc::invalid naming the member.
int64_t int_member(const nlohmann::json& j, const char* key, int64_t def, int64_t lo, int64_t hi);
/// JSON form of a mapping: {"host_ip","host_port","container_port","proto"}.
nlohmann::json to_json(const PortMapping& p);
/// The inverse of to_json(PortMapping), checked (check_port). Throws Errc::invalid.
PortMapping port_from_json(const nlohmann::json& j);
/// Check a mapping from outside (a CNI config, a lease file) before it
/// reaches nftables: protocol tcp or udp (lowercased), host address an IP
/// (written canonically) or empty, ports 1-65535. Throws Errc::invalid.
void check_port(PortMapping& p);

/// One address family's addressing of a network.
struct Subnet {
  Cidr subnet;  ///< e.g. 10.213.0.0/24 (host bits cleared)
  IpAddr gateway;  ///< defaults to the first host address
  Cidr range;  ///< where containers get addresses; defaults to subnet
};

/// A network definition as stored in <data-dir>/<name>.json.
struct Network {
  std::string name;
  /// 64 hex digits, made at creation (docker's network ID); a network
  /// stored without one gets one derived from its name and creation time.
  std::string id;
  std::string driver = "bridge";  ///< bridge, macvlan, overlay, host, none
  std::string bridge;  ///< bridge device (bridge, overlay)
  std::vector<Subnet> subnets;  ///< IPv4 and/or IPv6
  bool internal = false;  ///< no outbound NAT, no route off the bridge
  int mtu = 1500;
  std::string parent;  ///< macvlan: parent link
  uint32_t vni = 0;  ///< overlay: VXLAN id
  std::vector<std::string> peers;  ///< overlay: underlay addresses of other hosts
  std::string local;  ///< overlay: this host's underlay address
  std::map<std::string, std::string> options;  ///< --opt K=V as given
  std::map<std::string, std::string> labels;  ///< --label K=V
  std::string created;  ///< RFC 3339 creation time
};

/// True when `name` is a valid network name: 1-32 of [A-Za-z0-9_.-],
/// starting with a letter or digit.
bool valid_network_name(std::string_view name);
/// A name the kernel takes for a network interface (dev_valid_name): 1-15
/// printable ASCII characters, no '/', ':' or space, not "." or "..".
bool valid_link_name(std::string_view name);
/// The JSON form of a network.
nlohmann::json to_json(const Network& n);
/// Parse a stored network. Throws Errc::invalid.
Network network_from_json(const nlohmann::json& j);
/// Fill defaults (gateway, range, bridge name, overlay MTU) and reject bad
/// definitions: bad name, unknown driver, gateway or range outside the
/// subnet, two subnets of one family, a subnet overlapping one of `others`
/// ('subnet 10.0.0.0/24 overlaps network "x" (10.0.0.0/16)'), an overlay
/// without --vni, a macvlan without a parent. Throws Errc::invalid.
void validate_network(Network& n, const std::vector<Network>& others);

/// The bridge device name used for a network without --opt bridge=:
/// "ocikit0" for the default network "bridge", else "okbr-" plus a short hash.
std::string default_bridge_name(std::string_view network);

/// A name for the host side of a veth (at most 15 characters), derived from
/// the container id and network so that disconnect can find it again.
std::string host_veth_name(std::string_view container, std::string_view network);

/// A stable IPv6 unique local (RFC 4193) /64 for `network`, used by
/// `create --ipv6` without an IPv6 --subnet: fd00::/8 plus a 40-bit global
/// id and a 16-bit subnet id hashed from the name ("fdxx:xxxx:xxxx:xxxx::/64").
Cidr ula_subnet(std::string_view network);

/// Parse an overlay peers file: one underlay address per line; blank lines
/// and '#' comments are skipped. Throws Errc::invalid
/// '<path>:<line>: invalid IP address "<s>"'.
std::vector<IpAddr> parse_peers(std::string_view text, const std::string& path);

/// One /etc/hosts line: address and names.
struct HostEntry {
  std::string ip;
  std::vector<std::string> names;
};
/// The /etc/hosts text of a container: localhost lines, then `entries`.
std::string render_hosts(const std::vector<HostEntry>& entries);
/// The nameservers of a resolv.conf text that a container in its own network
/// namespace can reach: loopback ones (127.0.0.0/8, ::1) are left out.
std::vector<std::string> reachable_nameservers(std::string_view resolv_conf);
/// Every nameserver of a resolv.conf text that is a valid IP address (for a
/// resolver in the host's own namespace, which reaches loopback ones too).
std::vector<std::string> all_nameservers(std::string_view resolv_conf);
/// True for a host name a resolver may serve: 1-253 characters of dot
/// separated labels, each 1-63 of A-Z a-z 0-9 _ - not starting with '-'.
bool valid_hostname(std::string_view name);
/// A resolv.conf text: "nameserver X" lines, then "search"/"options" when set.
std::string render_resolv(const std::vector<std::string>& nameservers, const std::vector<std::string>& search = {},
                          const std::vector<std::string>& options = {});

}  // namespace ocikit::net
