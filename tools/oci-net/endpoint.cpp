#include "endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "dns.hpp"
#include "netlink.hpp"
#include "nft.hpp"

namespace ocikit::endpoint {
namespace {

bool bridged(const net::Network& n) { return n.driver == "bridge" || n.driver == "overlay"; }

std::string vxlan_name(const net::Network& n) { return "okvx" + std::to_string(n.vni); }

void write_sysctl(const std::string& path, const std::string& value) {
  FILE* f = fopen(path.c_str(), "we");
  if (!f) throw_errno("open " + path);
  fputs(value.c_str(), f);
  if (fclose(f) != 0) throw_errno("write " + path);
}

// True when `ip` is an address of this namespace (binding to it works): a
// shared peers file lists every host, this one too.
bool is_local_address(const net::IpAddr& ip) {
  fs::UniqueFd fd(socket(ip.family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_storage ss{};
  socklen_t len;
  if (ip.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
    len = sizeof *sin6;
  }
  return bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

// Make the VXLAN's flooding FDB entries exactly the overlay's peers: --peer
// plus the peers file (re-read on every connect, so hosts can be added or
// removed by editing it), less this host's own addresses.
void sync_peers(netlink::Socket& host, const net::Network& n) {
  std::vector<net::IpAddr> want;
  for (const auto& p : n.peers) want.push_back(net::parse_ip(p));
  if (auto f = n.options.find("peers-file"); f != n.options.end()) {
    for (const auto& p : read_peers_file(f->second))
      if (std::find(want.begin(), want.end(), p) == want.end()) want.push_back(p);
  }
  std::erase_if(want, [&](const net::IpAddr& p) {
    return (!n.local.empty() && net::parse_ip(n.local) == p) || is_local_address(p);
  });
  std::string vx = vxlan_name(n);
  for (const auto& have : host.fdb_peers(vx)) {
    std::optional<net::IpAddr> h;
    try {
      h = net::parse_ip(have);
    } catch (const Error&) {
      continue;
    }
    if (std::find(want.begin(), want.end(), *h) == want.end()) host.del_fdb_peer(vx, have);
  }
  for (const auto& p : want) host.add_fdb_peer(vx, net::to_string(p));
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
    sync_peers(host, n);
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
  return net::reachable_nameservers(text);
}

std::string addr_only(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// True when `port` of `proto` can be bound on the host at `ip` ("" every
// address) now: no host program listens there.
bool bindable(const std::string& proto, const std::string& ip, uint16_t port) {
  bool v6 = ip.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1) a->sin6_addr = in6addr_any;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (ip.empty() || inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1) a->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *a;
  }
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
  close(fd);
  return ok;
}

// Host port 0 (docker's `-p 80`, `-p 127.0.0.1::80`): a free port of the
// kernel's ephemeral range (ip_local_port_range), published by no lease of
// any network and bindable on the host, starting at a random place.
void pick_host_ports(netstore::Store& st, std::vector<net::PortMapping>& ports) {
  if (std::none_of(ports.begin(), ports.end(), [](const auto& p) { return p.host_port == 0; })) return;
  std::set<std::pair<std::string, uint16_t>> used;
  for (const auto& n : st.list())
    for (const auto& l : st.leases(n.name))
      for (const auto& p : l.ports) used.insert({p.proto, p.host_port});
  for (const auto& p : ports)
    if (p.host_port) used.insert({p.proto, p.host_port});
  unsigned lo = 32768, hi = 60999;
  if (FILE* f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) {
    unsigned a, b;
    if (fscanf(f, "%u %u", &a, &b) == 2 && a >= 1 && a <= b && b <= 65535) lo = a, hi = b;
    fclose(f);
  }
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) rnd = static_cast<uint32_t>(getpid());
  unsigned span = hi - lo + 1;
  for (auto& p : ports) {
    if (p.host_port) continue;
    for (unsigned i = 0; i < span && !p.host_port; ++i) {
      auto port = static_cast<uint16_t>(lo + (rnd + i) % span);
      if (used.count({p.proto, port}) || !bindable(p.proto, p.host_ip, port)) continue;
      p.host_port = port;
      used.insert({p.proto, port});
    }
    if (!p.host_port)
      fail(Errc::exists, "no free host port in " + std::to_string(lo) + "-" + std::to_string(hi) + " for " +
                             std::to_string(p.container_port) + "/" + p.proto);
    rnd = rnd * 1103515245u + 12345u;
  }
}

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

// "dev:inode" of the namespace behind `fd`: a namespace's identity, which
// outlives neither it nor a reused pid or netns name.
std::string namespace_id(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// Release `gone` (lock held): its ports, host link and files.
void release(const net::Network& n, const std::vector<netstore::Lease>& gone) {
  for (const auto& l : gone) {
    log::info("network \"" + n.name + "\": releasing " + l.container + " (its namespace " + l.netns + " is gone)");
    unwire(n, l);
    remove_etc(l);
  }
}

// Take the addresses of lease `l` from each subnet (lock held): requested
// ones or the lowest free. Throws Errc::exists / Errc::failure.
std::vector<std::string> allocate(const net::Network& n, const ConnectOptions& o,
                                  const std::vector<netstore::Lease>& leases) {
  std::set<net::IpAddr> used;
  for (const auto& x : leases)
    for (const auto& a : x.addrs) used.insert(net::parse_cidr(a).addr);
  std::vector<std::string> out;
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
    if (!ip) fail("network \"" + n.name + "\": no free address in " + net::to_string(s.range));
    out.push_back(net::to_string(net::Cidr{*ip, s.subnet.prefix}));
  }
  return out;
}

// Tell the network's resolver (if it runs) that the leases are now
// `leases`; best effort on paths that must not fail (disconnect, rollback).
void sync_resolver(netstore::Store& st, const net::Network& n, const std::vector<netstore::Lease>& leases) {
  try {
    dns::sync(st, n, leases, false);
  } catch (const Error& e) {
    log::warn(std::string("network \"") + n.name + "\": resolver: " + e.what());
  }
}

void wire(const net::Network& n, const netstore::Lease& l, const ConnectOptions& o, int ns, bool resolver) {
  netlink::Socket host;
  if (bridged(n)) {
    host.add_veth(l.host_if, n.bridge, l.ifname, ns, n.mtu);
    if (n.driver == "bridge") host.set_hairpin(l.host_if);
  } else host.add_macvlan(l.ifname, n.parent, ns, n.mtu);
  netlink::Socket c(ns);
  c.set_up("lo");
  for (const auto& a : l.addrs) c.add_address(l.ifname, net::parse_cidr(a));
  c.set_up(l.ifname);
  // Overlay networks are flat L2 segments without a gateway; internal ones
  // have no way out.
  if (n.driver != "overlay" && !n.internal)
    for (const auto& s : n.subnets) c.add_default_route(l.ifname, s.gateway);
  if (!l.ports.empty()) {
    std::string v4, v6;
    for (const auto& a : l.addrs) (a.find(':') == std::string::npos ? v4 : v6) = addr_only(a);
    nft::add_ports(n.name, v4, v6, l.ports);
  }
  if (!l.etc_dir.empty()) {
    fs::mkdir_p(l.etc_dir);
    auto dns = !o.dns.empty() ? o.dns : resolver ? dns::nameservers(n) : host_nameservers();
    fs::write_file_atomic(l.etc_dir + "/resolv.conf", net::render_resolv(dns));
  }
}

}  // namespace

namespace {
// "PID:STARTTIME" of `pid` (/proc/PID/stat field 22), "" when it is gone.
std::string process_token(pid_t pid) {
  std::string stat;
  try {
    stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
  } catch (const Error&) {
    return "";
  }
  size_t p = stat.rfind(')');
  if (p == std::string::npos) return "";
  std::istringstream in(stat.substr(p + 2));
  std::string f;
  for (int i = 3; i <= 22 && in >> f; ++i) {
  }
  return std::to_string(pid) + ":" + f;
}

// A lease whose connect died before it was wired.
bool interrupted(const netstore::Lease& l) {
  if (l.setting_up.empty()) return false;
  auto colon = l.setting_up.find(':');
  pid_t pid = static_cast<pid_t>(std::atoi(l.setting_up.substr(0, colon).c_str()));
  return pid <= 0 || process_token(pid) != l.setting_up;
}
}  // namespace

bool lease_alive(const netstore::Lease& l) {
  if (interrupted(l)) return false;
  if (l.netns.empty()) return true;
  std::string path = l.netns;
  if (path.find_first_not_of("0123456789") == std::string::npos) path = "/proc/" + path + "/ns/net";
  struct stat st {};
  // Only a namespace that is certainly gone counts as dead.
  if (stat(path.c_str(), &st) != 0) return errno != ENOENT && errno != ESRCH;
  return l.netns_id.empty() || l.netns_id == std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

size_t release_stale(netstore::Store& st, const net::Network& n) {
  if (n.driver == "host" || n.driver == "none") return 0;
  auto lock = st.lock_leases(n.name);
  auto leases = st.leases(n.name);
  std::vector<netstore::Lease> gone;
  std::erase_if(leases, [&](const netstore::Lease& x) {
    if (lease_alive(x)) return false;
    gone.push_back(x);
    return true;
  });
  if (gone.empty()) return 0;
  release(n, gone);
  st.save_leases(n.name, leases);
  write_hosts(leases);
  sync_resolver(st, n, leases);
  return gone.size();
}

std::vector<net::IpAddr> read_peers_file(const std::string& path) {
  std::string text = with_context("peers file " + path, [&] { return fs::read_file(path); });
  return net::parse_peers(text, path);
}

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
  pick_host_ports(st, l.ports);
  l.etc_dir = o.etc_dir;
  l.owns_etc = o.owns_etc;
  if (bridged(n)) l.host_if = net::host_veth_name(o.id, n.name);
  bool resolver = false;
  l.netns_id = namespace_id(ns.get());
  l.setting_up = process_token(::getpid());
  {
    auto lock = st.lock_leases(n.name);
    auto leases = st.leases(n.name);
    // Leases of namespaces that are gone (a container killed without its
    // poststop hook, a deleted netns, a connect killed part way) are
    // reclaimed at every connect.
    std::vector<netstore::Lease> gone;
    auto reclaim = [&] {
      std::erase_if(leases, [&](const netstore::Lease& x) {
        if (lease_alive(x)) return false;
        gone.push_back(x);
        return true;
      });
      release(n, gone);
      return !gone.empty();
    };
    for (const auto& x : leases)
      if (x.container == o.id && lease_alive(x))
        fail(Errc::exists, "container \"" + o.id + "\" is already connected to network \"" + n.name + "\"");
    reclaim();
    // A connect of this container that died part way: its interface name
    // (freed by the reclaim) is the one to use again.
    if (o.ifname.empty())
      for (const auto& x : gone)
        if (x.container == o.id && x.netns_id == l.netns_id && !x.ifname.empty()) l.ifname = x.ifname;
    try {
      try {
        l.addrs = allocate(n, o, leases);
      } catch (const Error& e) {
        if (e.code() == Errc::invalid || !gone.empty() || !reclaim()) throw;
        l.addrs = allocate(n, o, leases);
      }
      if (bridged(n)) ensure_infra(n);
      if (o.resolver && dns::wanted(n)) {
        auto with_new = leases;
        with_new.push_back(l);
        try {
          dns::sync(st, n, with_new, true);
          resolver = true;
        } catch (const Error& e) {
          // Without dnsmasq the containers still find each other through
          // /etc/hosts; a resolver that fails to start is an error.
          if (e.code() != Errc::not_found) throw;
          log::warn(e.what());
        }
      }
    } catch (...) {
      // What was released stays released, even when this connect fails.
      if (!gone.empty()) st.save_leases(n.name, leases);
      throw;
    }
    leases.push_back(l);
    st.save_leases(n.name, leases);
  }
  try {
    wire(n, l, o, ns.get(), resolver);
    r.mac = netlink::Socket(ns.get()).link_mac(l.ifname);
    auto lock = st.lock_leases(n.name);
    auto leases = st.leases(n.name);
    // The hosts files first: the lease counts as wired only when they are written.
    write_hosts(leases);
    for (auto& x : leases)
      if (x.container == o.id) x.setting_up.clear(), x.mac = r.mac;
    st.save_leases(n.name, leases);
    l.setting_up.clear();
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
      sync_resolver(st, n, leases);
    } catch (const Error& e2) {
      log::warn(std::string("rollback: ") + e2.what());
    }
    throw e;
  }
  netlink::Socket host;
  if (!l.host_if.empty()) r.host_mac = host.link_mac(l.host_if);
  if (bridged(n)) r.bridge_mac = host.link_mac(n.bridge);
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
  sync_resolver(st, n, leases);
  return true;
}

size_t rename(netstore::Store& st, const std::string& id, const std::string& hostname) {
  if (hostname.empty()) fail(Errc::usage, "an endpoint's name cannot be empty");
  size_t changed = 0;
  for (const auto& n : st.list()) {
    if (n.driver == "host" || n.driver == "none") continue;
    auto lock = st.lock_leases(n.name);
    auto leases = st.leases(n.name);
    auto it = std::find_if(leases.begin(), leases.end(), [&](const auto& x) { return x.container == id; });
    if (it == leases.end() || it->hostname == hostname) continue;
    it->hostname = hostname;
    st.save_leases(n.name, leases);
    write_hosts(leases);
    sync_resolver(st, n, leases);
    changed++;
  }
  return changed;
}

void teardown_network(const net::Network& n) {
  if (!bridged(n)) return;
  netlink::Socket host;
  if (n.driver == "overlay") host.delete_link(vxlan_name(n));
  host.delete_link(n.bridge);
  if (n.driver == "bridge") nft::remove_network(n.name);
}

}  // namespace ocikit::endpoint
