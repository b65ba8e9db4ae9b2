#include "netlink.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "common/error.hpp"

namespace ocikit::netlink {
namespace {

[[noreturn]] void nl_fail(const std::string& what, int err) { fail(Errc::io, what + ": " + nl_geterror(err)); }

struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;

NlAddrPtr to_nl_addr(const std::string& text, int family = AF_UNSPEC) {
  nl_addr* a = nullptr;
  if (int err = nl_addr_parse(text.c_str(), family, &a); err < 0) nl_fail("parse address " + text, err);
  return NlAddrPtr(a);
}

}  // namespace

fs::UniqueFd open_netns(const std::string& target) {
  std::string path = target;
  if (!target.empty() && target.find_first_not_of("0123456789") == std::string::npos)
    path = "/proc/" + target + "/ns/net";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail(Errc::not_found, "network namespace " + path + " does not exist");
    throw_errno("open network namespace " + path);
  }
  return fs::UniqueFd(fd);
}

void in_netns(int ns_fd, const std::function<void()>& fn) {
  fs::UniqueFd self(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) throw_errno("open /proc/thread-self/ns/net");
  if (setns(ns_fd, CLONE_NEWNET) != 0) throw_errno("enter network namespace");
  try {
    fn();
  } catch (...) {
    setns(self.get(), CLONE_NEWNET);
    throw;
  }
  if (setns(self.get(), CLONE_NEWNET) != 0) throw_errno("return to the host network namespace");
}

Socket::Socket(int netns_fd) {
  auto connect = [&] {
    sk_ = nl_socket_alloc();
    if (!sk_) fail("netlink: out of memory");
    if (int err = nl_connect(sk_, NETLINK_ROUTE); err < 0) {
      nl_socket_free(sk_);
      sk_ = nullptr;
      nl_fail("netlink: connect", err);
    }
  };
  if (netns_fd >= 0) in_netns(netns_fd, connect);
  else connect();
}

Socket::~Socket() {
  if (sk_) nl_socket_free(sk_);
}

int Socket::link_index(const std::string& name) {
  rtnl_link* l = nullptr;
  if (rtnl_link_get_kernel(sk_, 0, name.c_str(), &l) < 0) return 0;
  LinkPtr p(l);
  return rtnl_link_get_ifindex(l);
}

std::string Socket::link_mac(const std::string& name) {
  rtnl_link* l = nullptr;
  if (rtnl_link_get_kernel(sk_, 0, name.c_str(), &l) < 0) return "";
  LinkPtr p(l);
  nl_addr* a = rtnl_link_get_addr(l);
  if (!a) return "";
  char buf[64];
  return nl_addr2str(a, buf, sizeof buf);
}

bool Socket::ensure_bridge(const std::string& name, int mtu, uint32_t group) {
  if (link_index(name) != 0) {
    set_up(name);
    return false;
  }
  LinkPtr l(rtnl_link_bridge_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  rtnl_link_set_mtu(l.get(), mtu);
  rtnl_link_set_group(l.get(), group);
  rtnl_link_set_flags(l.get(), IFF_UP);
  // A fixed (locally administered) MAC: a bridge left to itself takes the
  // lowest MAC of its ports, so it changes when a container leaves, and the
  // others' ARP entries for the gateway go stale until they time out.
  unsigned char mac[6];
  if (getrandom(mac, sizeof mac, 0) != sizeof mac) throw_errno("getrandom");
  mac[0] = static_cast<unsigned char>((mac[0] & 0xfe) | 0x02);
  std::unique_ptr<nl_addr, decltype(&nl_addr_put)> addr(nl_addr_build(AF_LLC, mac, sizeof mac), nl_addr_put);
  if (!addr) fail("netlink: out of memory");
  rtnl_link_set_addr(l.get(), addr.get());
  int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL);
  // Two concurrent first attaches may both try; the loser finds it made.
  if (err == -NLE_EXIST) {
    set_up(name);
    return false;
  }
  if (err < 0) nl_fail("create bridge " + name, err);
  set_up(name);
  return true;
}

void Socket::add_veth(const std::string& host_name, const std::string& master, const std::string& peer_name,
                      int peer_ns_fd, int mtu) {
  LinkPtr l(rtnl_link_veth_alloc());
  if (!l) fail("netlink: out of memory");
  rtnl_link_set_name(l.get(), host_name.c_str());
  rtnl_link_set_mtu(l.get(), mtu);
  if (!master.empty()) {
    int m = link_index(master);
    if (m == 0) fail(Errc::not_found, "bridge " + master + " does not exist");
    rtnl_link_set_master(l.get(), m);
  }
  rtnl_link_set_flags(l.get(), IFF_UP);
  rtnl_link* peer = rtnl_link_veth_get_peer(l.get());
  rtnl_link_set_name(peer, peer_name.c_str());
  rtnl_link_set_mtu(peer, mtu);
  rtnl_link_set_ns_fd(peer, peer_ns_fd);
  int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put(peer);
  if (err == -NLE_EXIST) fail(Errc::exists, "create veth " + host_name + ": link exists (already connected?)");
  if (err < 0) nl_fail("create veth " + host_name, err);
}

void Socket::add_macvlan(const std::string& name, const std::string& parent, int ns_fd, int mtu) {
  int p = link_index(parent);
  if (p == 0) fail(Errc::not_found, "parent link " + parent + " does not exist");
  LinkPtr l(rtnl_link_macvlan_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  rtnl_link_set_link(l.get(), p);
  rtnl_link_set_mtu(l.get(), mtu);
  rtnl_link_macvlan_set_mode(l.get(), rtnl_link_macvlan_str2mode("bridge"));
  rtnl_link_set_ns_fd(l.get(), ns_fd);
  if (int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    nl_fail("create macvlan on " + parent, err);
}

void Socket::add_vxlan(const std::string& name, uint32_t vni, const std::string& local, const std::string& underlay,
                       const std::string& master, int mtu) {
  LinkPtr l(rtnl_link_vxlan_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  rtnl_link_vxlan_set_id(l.get(), vni);
  rtnl_link_vxlan_set_port(l.get(), 4789);
  rtnl_link_vxlan_set_learning(l.get(), 1);
  rtnl_link_set_mtu(l.get(), mtu);
  NlAddrPtr la;
  if (!local.empty()) {
    la = to_nl_addr(local);
    rtnl_link_vxlan_set_local(l.get(), la.get());
  }
  if (!underlay.empty()) {
    int u = link_index(underlay);
    if (u == 0) fail(Errc::not_found, "underlay link " + underlay + " does not exist");
    rtnl_link_set_link(l.get(), u);
  }
  int m = link_index(master);
  if (m == 0) fail(Errc::not_found, "bridge " + master + " does not exist");
  rtnl_link_set_master(l.get(), m);
  rtnl_link_set_flags(l.get(), IFF_UP);
  int err = rtnl_link_add(sk_, l.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) nl_fail("create vxlan " + name, err);
}

namespace {
// An all-zero-MAC FDB entry of VXLAN `idx` towards `peer`, as add/del take it.
std::unique_ptr<rtnl_neigh, void (*)(rtnl_neigh*)> fdb_entry(int idx, const std::string& peer) {
  std::unique_ptr<rtnl_neigh, void (*)(rtnl_neigh*)> np(rtnl_neigh_alloc(), rtnl_neigh_put);
  rtnl_neigh* n = np.get();
  rtnl_neigh_set_ifindex(n, idx);
  // libnl checks the dst family against the neighbour's: set dst (AF_INET)
  // first, then switch the entry to AF_BRIDGE (an FDB entry).
  auto dst = to_nl_addr(peer);
  rtnl_neigh_set_dst(n, dst.get());
  rtnl_neigh_set_family(n, AF_BRIDGE);
  auto mac = to_nl_addr("00:00:00:00:00:00", AF_LLC);
  rtnl_neigh_set_lladdr(n, mac.get());
  rtnl_neigh_set_state(n, NUD_PERMANENT);
  rtnl_neigh_set_flags(n, NTF_SELF);
  return np;
}
}  // namespace

void Socket::add_fdb_peer(const std::string& name, const std::string& peer) {
  int idx = link_index(name);
  if (idx == 0) fail(Errc::not_found, "vxlan " + name + " does not exist");
  auto n = fdb_entry(idx, peer);
  int err = rtnl_neigh_add(sk_, n.get(), NLM_F_CREATE | NLM_F_APPEND);
  if (err < 0 && err != -NLE_EXIST) nl_fail("add fdb peer " + peer + " to " + name, err);
}

void Socket::del_fdb_peer(const std::string& name, const std::string& peer) {
  int idx = link_index(name);
  if (idx == 0) return;
  auto n = fdb_entry(idx, peer);
  int err = rtnl_neigh_delete(sk_, n.get(), 0);
  if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NOADDR)
    nl_fail("delete fdb peer " + peer + " from " + name, err);
}

std::vector<std::string> Socket::fdb_peers(const std::string& name) {
  std::vector<std::string> out;
  int idx = link_index(name);
  if (idx == 0) return out;
  // Iterate the families: the FDB entries come with the AF_BRIDGE dump.
  nl_cache* cache = nullptr;
  if (int err = rtnl_neigh_alloc_cache_flags(sk_, &cache, NL_CACHE_AF_ITER); err < 0)
    nl_fail("list fdb of " + name, err);
  std::unique_ptr<nl_cache, void (*)(nl_cache*)> cp(cache, nl_cache_free);
  for (nl_object* o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
    auto* n = reinterpret_cast<rtnl_neigh*>(o);
    if (rtnl_neigh_get_family(n) != AF_BRIDGE || rtnl_neigh_get_ifindex(n) != idx) continue;
    nl_addr* mac = rtnl_neigh_get_lladdr(n);
    nl_addr* dst = rtnl_neigh_get_dst(n);
    if (!mac || !dst || !nl_addr_iszero(mac)) continue;
    char buf[64];
    out.push_back(nl_addr2str(dst, buf, sizeof buf));
  }
  return out;
}

void Socket::set_hairpin(const std::string& name) {
  int idx = link_index(name);
  if (idx == 0) fail(Errc::not_found, "link " + name + " does not exist");
  // Bridge port flags travel in an AF_BRIDGE RTM_SETLINK (IFLA_PROTINFO).
  LinkPtr l(rtnl_link_alloc());
  rtnl_link_set_ifindex(l.get(), idx);
  rtnl_link_set_family(l.get(), AF_BRIDGE);
  if (int err = rtnl_link_bridge_set_flags(l.get(), RTNL_BRIDGE_HAIRPIN_MODE); err < 0)
    nl_fail("hairpin on " + name, err);
  if (int err = rtnl_link_change(sk_, l.get(), l.get(), 0); err < 0) nl_fail("hairpin on " + name, err);
}

bool Socket::delete_link(const std::string& name) {
  int idx = link_index(name);
  if (idx == 0) return false;
  LinkPtr l(rtnl_link_alloc());
  rtnl_link_set_ifindex(l.get(), idx);
  int err = rtnl_link_delete(sk_, l.get());
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return false;
  if (err < 0) nl_fail("delete link " + name, err);
  return true;
}

void Socket::set_up(const std::string& name) {
  rtnl_link* orig = nullptr;
  if (int err = rtnl_link_get_kernel(sk_, 0, name.c_str(), &orig); err < 0) nl_fail("find link " + name, err);
  LinkPtr o(orig);
  LinkPtr change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sk_, orig, change.get(), 0); err < 0) nl_fail("set " + name + " up", err);
}

void Socket::add_address(const std::string& name, const net::Cidr& addr) {
  int idx = link_index(name);
  if (idx == 0) fail(Errc::not_found, "link " + name + " does not exist");
  rtnl_addr* a = rtnl_addr_alloc();
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> ap(a, rtnl_addr_put);
  rtnl_addr_set_ifindex(a, idx);
  auto local = to_nl_addr(net::to_string(addr));
  rtnl_addr_set_local(a, local.get());
  rtnl_addr_set_prefixlen(a, addr.prefix);
  if (addr.addr.family == AF_INET) {
    auto bc = to_nl_addr(net::to_string(net::last_of(addr)));
    rtnl_addr_set_broadcast(a, bc.get());
  } else {
    // No duplicate address detection: the address is ours by lease, and DAD
    // would keep it tentative (unusable) for a second or more.
    rtnl_addr_set_flags(a, IFA_F_NODAD);
  }
  int err = rtnl_addr_add(sk_, a, 0);
  if (err < 0 && err != -NLE_EXIST) nl_fail("add address " + net::to_string(addr) + " to " + name, err);
}

void Socket::add_default_route(const std::string& name, const net::IpAddr& gateway) {
  int idx = link_index(name);
  if (idx == 0) fail(Errc::not_found, "link " + name + " does not exist");
  rtnl_route* r = rtnl_route_alloc();
  std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> rp(r, rtnl_route_put);
  rtnl_route_set_family(r, gateway.family);
  auto dst = to_nl_addr("default", gateway.family);
  rtnl_route_set_dst(r, dst.get());
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  auto gw = to_nl_addr(net::to_string(gateway));
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_nh_set_ifindex(nh, idx);
  rtnl_route_add_nexthop(r, nh);
  int err = rtnl_route_add(sk_, r, NLM_F_CREATE);
  if (err < 0 && err != -NLE_EXIST) nl_fail("add default route via " + net::to_string(gateway), err);
}

}  // namespace ocikit::netlink
