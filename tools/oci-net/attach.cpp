#include "attach.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "netlink.hpp"
#include "nft.hpp"

namespace ocikit::attach {
namespace {

bool bridged(const net::Network& n) { return n.driver == "bridge" || n.driver == "overlay"; }

std::string vxlan_name(const net::Network& n) { return "okvx" + std::to_string(n.vni); }

void write_sysctl(const std::string& path, const std::string& value) {
  FILE* f = fopen(path.c_str(), "we");
  if (!f) throw_errno("open " + path);
  fputs(value.c_str(), f);
  if (fclose(f) != 0) throw_errno("write " + path);
}

// The bridge, its gateway address, forwarding, the VXLAN device and the nft
// table. Idempotent; called with the leases lock held.
void ensure_infra(const net::Network& n) {
  netlink::Socket host;
  bool routed = n.driver == "bridge";
  host.ensure_bridge(n.bridge, n.mtu, routed ? nft::kBridgeGroup : 0);
  if (routed) {
    for (const auto& s : n.subnets) host.add_address(n.bridge, {s.gateway, s.subnet.prefix});
    if (!n.internal) {
      write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
      for (const auto& s : n.subnets)
        if (s.subnet.addr.family == AF_INET6) write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
    }
    // Published ports reached through 127.0.0.1 are DNATed to the bridge;
    // the kernel drops 127/8 sources on the wire unless route_localnet.
    write_sysctl("/proc/sys/net/ipv4/conf/" + n.bridge + "/route_localnet", "1");
    nft::ensure_network(n);
  } else {
    auto u = n.options.find("underlay");
    host.add_vxlan(vxlan_name(n), n.vni, n.local, u == n.options.end() ? "" : u->second, n.bridge, n.mtu);
    for (const auto& p : n.peers) host.add_fdb_peer(vxlan_name(n), p);
  }
}

std::vector<std::string> host_nameservers() {
  std::vector<std::string> out;
  std::string text;
  try {
    text = fs::read_file("/etc/resolv.conf");
  } catch (const Error&) {
    return out;
  }
  std::istringstream in(text);
  std::string key, val;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    if (ls >> key >> val && key == "nameserver" && val.rfind("127.", 0) != 0 && val != "::1") out.push_back(val);
  }
  return out;
}

std::string addr_only(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// Rewrite /etc/hosts of every container on the network (lock held): each
// lists every container's names, so they resolve each other by name.
void write_hosts(const std::vector<netstore::Lease>& leases) {
  std::vector<net::HostEntry> entries;
  for (const auto& l : leases)
    for (const auto& a : l.addrs) {
      net::HostEntry e{addr_only(a), {l.hostname}};
      for (const auto& al : l.aliases) e.names.push_back(al);
      entries.push_back(e);
    }
  std::string text = net::render_hosts(entries);
  for (const auto& l : leases)
    if (!l.etc_dir.empty() && fs::exists(l.etc_dir)) fs::write_file_atomic(l.etc_dir + "/hosts", text);
}

void remove_etc(const netstore::Lease& l) {
  if (!l.owns_etc || l.etc_dir.empty()) return;
  unlink((l.etc_dir + "/hosts").c_str());
  unlink((l.etc_dir + "/resolv.conf").c_str());
  rmdir(l.etc_dir.c_str());
}

// Undo the kernel side of one lease (best effort: used on rollback and
// disconnect, where parts may already be gone).
void unwire(const net::Network& n, const netstore::Lease& l) {
  if (!l.ports.empty()) nft::remove_ports(n.name, l.ports);
  try {
    netlink::Socket host;
    if (!l.host_if.empty()) {
      host.delete_link(l.host_if);
    } else if (n.driver == "macvlan") {
      auto ns = netlink::open_netns(l.netns);
      netlink::Socket c(ns.get());
      c.delete_link(l.ifname);
    }
  } catch (const Error& e) {
    log::debug(std::string("unwire: ") + e.what());
  }
}

void wire(const net::Network& n, const netstore::Lease& l, const ConnectOptions& o, int ns) {
  netlink::Socket host;
  if (bridged(n))
    host.add_veth(l.host_if, n.bridge, l.ifname, ns, n.mtu);
  else
    host.add_macvlan(l.ifname, n.parent, ns, n.mtu);
  netlink::Socket c(ns);
  c.set_up("lo");
  for (const auto& a : l.addrs) c.add_address(l.ifname, net::parse_cidr(a));
  c.set_up(l.ifname);
  // Overlay networks are flat L2 segments without a gateway; internal ones
  // have no way out.
  if (n.driver != "overlay" && !n.internal)
    for (const auto& s : n.subnets) c.add_default_route(l.ifname, s.gateway);
  if (!l.ports.empty()) {
    std::string v4;
    for (const auto& a : l.addrs)
      if (a.find(':') == std::string::npos) v4 = addr_only(a);
    if (v4.empty()) fail(Errc::invalid, "published ports need an IPv4 subnet");
    nft::add_ports(n.name, v4, l.ports);
  }
  if (!l.etc_dir.empty()) {
    fs::mkdir_p(l.etc_dir);
    auto dns = o.dns.empty() ? host_nameservers() : o.dns;
    fs::write_file_atomic(l.etc_dir + "/resolv.conf", net::render_resolv(dns));
  }
}

}  // namespace

std::string id_for_target(const std::string& target) {
  if (!target.empty() && target.find_first_not_of("0123456789") == std::string::npos) return "pid-" + target;
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::string etc_dir_for_target(const std::string& target) {
  for (const char* prefix : {"/var/run/netns/", "/run/netns/"}) {
    std::string p = prefix;
    if (target.rfind(p, 0) == 0 && target.find('/', p.size()) == std::string::npos && target.size() > p.size())
      return "/etc/netns/" + target.substr(p.size());
  }
  return "";
}

ConnectResult connect(netstore::Store& st, const ConnectOptions& o) {
  ConnectResult r;
  r.network = st.get(o.network);
  const net::Network& n = r.network;
  if (n.driver == "host") return r;  // the container shares the host's namespace
  auto ns = netlink::open_netns(o.target);
  if (n.driver == "none") {
    netlink::Socket(ns.get()).set_up("lo");
    return r;
  }
  if (!o.ports.empty() && n.driver != "bridge")
    fail(Errc::invalid, "network \"" + n.name + "\": published ports need the bridge driver");
  netstore::Lease& l = r.lease;
  l.container = o.id;
  l.hostname = o.hostname.empty() ? o.id : o.hostname;
  l.aliases = o.aliases;
  l.ifname = o.ifname;
  if (l.ifname.empty()) {
    // The first free ethN, so one container can join several networks.
    netlink::Socket c(ns.get());
    for (int i = 0; l.ifname.empty(); ++i)
      if (c.link_index("eth" + std::to_string(i)) == 0) l.ifname = "eth" + std::to_string(i);
  }
  l.netns = o.target;
  l.ports = o.ports;
  l.etc_dir = o.etc_dir;
  l.owns_etc = o.owns_etc;
  if (bridged(n)) l.host_if = net::host_veth_name(o.id, n.name);
  {
    auto lock = st.lock_leases(n.name);
    auto leases = st.leases(n.name);
    std::set<net::IpAddr> used;
    for (const auto& x : leases) {
      if (x.container == o.id)
        fail(Errc::exists, "container \"" + o.id + "\" is already connected to network \"" + n.name + "\"");
      for (const auto& a : x.addrs) used.insert(net::parse_cidr(a).addr);
    }
    for (const auto& s : n.subnets) {
      std::optional<net::IpAddr> ip;
      for (const auto& want : o.ips) {
        auto w = net::parse_ip(want);
        if (w.family != s.subnet.addr.family) continue;
        if (!net::contains(s.subnet, w))
          fail(Errc::invalid, "address " + want + " is outside subnet " + net::to_string(s.subnet));
        if (used.count(w) || w == s.gateway) fail(Errc::exists, "address " + want + " is already in use");
        ip = w;
      }
      if (!ip) ip = net::next_free(s.subnet, s.range, s.gateway, used);
      if (!ip)
        fail("network \"" + n.name + "\": no free address in " + net::to_string(s.range));
      l.addrs.push_back(net::to_string(net::Cidr{*ip, s.subnet.prefix}));
    }
    if (bridged(n)) ensure_infra(n);
    leases.push_back(l);
    st.save_leases(n.name, leases);
  }
  try {
    wire(n, l, o, ns.get());
    auto lock = st.lock_leases(n.name);
    write_hosts(st.leases(n.name));
  } catch (...) {
    Error e = current_exception_as_error();
    netstore::Lease undo = l;
    // Ports may belong to someone else when add_ports refused them.
    if (e.code() == Errc::exists) undo.ports.clear();
    unwire(n, undo);
    try {
      auto lock = st.lock_leases(n.name);
      auto leases = st.leases(n.name);
      std::erase_if(leases, [&](const auto& x) { return x.container == o.id; });
      st.save_leases(n.name, leases);
      remove_etc(l);
    } catch (const Error& e2) {
      log::warn(std::string("rollback: ") + e2.what());
    }
    throw e;
  }
  netlink::Socket host;
  if (!l.host_if.empty()) r.host_mac = host.link_mac(l.host_if);
  if (bridged(n)) r.bridge_mac = host.link_mac(n.bridge);
  r.mac = netlink::Socket(ns.get()).link_mac(l.ifname);
  return r;
}

bool disconnect(netstore::Store& st, const std::string& network, const std::string& id, bool missing_ok) {
  net::Network n = st.get(network);
  if (n.driver == "host" || n.driver == "none") return true;
  auto lock = st.lock_leases(n.name);
  auto leases = st.leases(n.name);
  auto it = std::find_if(leases.begin(), leases.end(), [&](const auto& x) { return x.container == id; });
  if (it == leases.end()) {
    if (missing_ok) return false;
    fail(Errc::not_found, "container \"" + id + "\" is not connected to network \"" + network + "\"");
  }
  netstore::Lease l = *it;
  leases.erase(it);
  unwire(n, l);
  remove_etc(l);
  st.save_leases(n.name, leases);
  write_hosts(leases);
  return true;
}

void teardown_network(const net::Network& n) {
  if (!bridged(n)) return;
  netlink::Socket host;
  if (n.driver == "overlay") host.delete_link(vxlan_name(n));
  host.delete_link(n.bridge);
  if (n.driver == "bridge") nft::remove_network(n.name);
}

}  // namespace ocikit::attach
