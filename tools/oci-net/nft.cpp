#include "nft.hpp"

#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <memory>

#include "common/error.hpp"
#include "common/log.hpp"

namespace ocikit::nft {
namespace {

struct Ctx {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  Ctx() {
    if (!ctx) fail("nftables: cannot create a context");
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
  }
  ~Ctx() { nft_ctx_free(ctx); }
};

// Run a script; return nft's error text ("" on success).
std::string try_run(const std::string& script) {
  Ctx c;
  log::debug("nft: " + script);
  int rc = nft_run_cmd_from_buffer(c.ctx, script.c_str());
  if (rc == 0) return "";
  std::string err = nft_ctx_get_error_buffer(c.ctx);
  auto nl = err.find('\n');
  if (nl != std::string::npos) err.resize(nl);
  return err.empty() ? "nft command failed" : err;
}

std::string element_key(const net::PortMapping& p, bool with_ip) {
  std::string k = p.proto + " . " + std::to_string(p.host_port);
  return with_ip ? p.host_ip + " . " + k : k;
}

}  // namespace

std::string table_name(const std::string& network) { return "ocikit-" + network; }

void run(const std::string& script) {
  if (auto err = try_run(script); !err.empty()) fail(Errc::io, "nftables: " + err);
}

bool has_table(const std::string& network) { return try_run("list table inet " + table_name(network)).empty(); }

void ensure_network(const net::Network& n) {
  if (has_table(n.name)) return;
  std::string t = "inet " + table_name(n.name), br = "\"" + n.bridge + "\"";
  std::string s = "create table " + t + "\n";
  s += "add chain " + t + " forward { type filter hook forward priority filter; policy accept; }\n";
  s += "add chain " + t + " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n";
  s += "add chain " + t + " prerouting { type nat hook prerouting priority dstnat; policy accept; }\n";
  s += "add chain " + t + " output { type nat hook output priority -100; policy accept; }\n";
  // The network's resolver (dns.hpp) listens on the gateway: it answers the
  // containers of this bridge (and the host itself), not those of another
  // network that reach the address through the host's routing.
  s += "add chain " + t + " input { type filter hook input priority filter; policy accept; }\n";
  for (const auto& sub : n.subnets) {
    std::string fam = sub.subnet.addr.family == AF_INET ? "ip" : "ip6";
    for (const char* proto : {"udp", "tcp"})
      s += "add rule " + t + " input " + fam + " daddr " + net::to_string(sub.gateway) + " " + proto +
          " dport 53 iifname != { " + br + ", \"lo\" } drop\n";
  }
  for (const char* fam : {"4", "6"}) {
    std::string addr = fam[0] == '4' ? "ipv4_addr" : "ipv6_addr";
    s += "add map " + t + " ports" + fam + " { type inet_proto . inet_service : " + addr + " . inet_service; }\n";
    s += "add map " + t + " hostports" + fam + " { type " + addr + " . inet_proto . inet_service : " + addr +
        " . inet_service; }\n";
  }
  if (n.internal) {
    s += "add rule " + t + " forward iifname " + br + " oifname != " + br + " drop\n";
    s += "add rule " + t + " forward oifname " + br + " iifname != " + br + " drop\n";
  } else {
    s += "add rule " + t + " forward iifname " + br + " oifname != " + br + " oifgroup " +
        std::to_string(kBridgeGroup) + " drop\n";
    auto masq = n.options.find("masquerade");
    bool no_masq = masq != n.options.end() && masq->second == "false";
    for (const auto& sub : no_masq ? std::vector<net::Subnet>{} : n.subnets) {
      std::string fam = sub.subnet.addr.family == AF_INET ? "ip" : "ip6";
      std::string c = net::to_string(sub.subnet);
      s += "add rule " + t + " postrouting " + fam + " saddr " + c + " " + fam + " daddr != " + c + " masquerade\n";
    }
  }
  s += "add rule " + t + " postrouting oifname " + br + " ip saddr 127.0.0.0/8 masquerade\n";
  // Hairpin: a container reaching a published port of its own network
  // through a host address comes back out of the bridge it entered; without
  // the source rewrite the target would answer it directly, from an address
  // the client never talked to.
  // (With br_netfilter the flow is bridged back and postrouting sees no
  // input device, so the match is on the subnet.)
  for (const auto& sub : n.subnets) {
    std::string fam = sub.subnet.addr.family == AF_INET ? "ip" : "ip6";
    s += "add rule " + t + " postrouting oifname " + br + " ct status dnat " + fam + " saddr " +
        net::to_string(sub.subnet) + " masquerade\n";
  }
  for (const char* chain : {"prerouting", "output"}) {
    std::string r = "add rule " + t + " " + chain + " ";
    s += r + "meta nfproto ipv4 fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @hostports4\n";
    s += r + "meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport map @ports4\n";
    // ::1 has no route_localnet equivalent: a DNAT from it could never be
    // answered, so the host's own IPv6 loopback is left alone.
    std::string v6 = r + "meta nfproto ipv6 " + (chain[0] == 'o' ? "ip6 daddr != ::1 " : "") + "fib daddr type local ";
    s += v6 + "dnat ip6 to ip6 daddr . meta l4proto . th dport map @hostports6\n";
    s += v6 + "dnat ip6 to meta l4proto . th dport map @ports6\n";
  }
  auto err = try_run(s);
  // A concurrent first attach may have made it between the check and here.
  if (!err.empty() && !has_table(n.name)) fail(Errc::io, "nftables: create table " + table_name(n.name) + ": " + err);
}

bool remove_network(const std::string& network) {
  if (!has_table(network)) return false;
  run("delete table inet " + table_name(network));
  return true;
}

namespace {
// The map a mapping lives in: host address family, or both families.
std::string map_of(const net::PortMapping& p, int family) {
  std::string fam = family == AF_INET ? "4" : "6";
  return (p.host_ip.empty() ? " ports" : " hostports") + fam;
}
int family_of_host(const net::PortMapping& p) { return p.host_ip.empty() ? 0 : net::parse_ip(p.host_ip).family; }
}  // namespace

void add_ports(const std::string& network, const std::string& ip4, const std::string& ip6,
               const std::vector<net::PortMapping>& ports) {
  if (ports.empty()) return;
  std::string t = "inet " + table_name(network), s;
  for (auto p : ports) {
    net::check_port(p);  // the text below goes to nftables' parser
    bool with_ip = !p.host_ip.empty();
    int hf = family_of_host(p);
    for (int fam : {AF_INET, AF_INET6}) {
      const std::string& ip = fam == AF_INET ? ip4 : ip6;
      if ((hf != 0 && hf != fam) || ip.empty()) continue;
      // "create" (not "add") fails on an existing key: a port published twice.
      s += "create element " + t + map_of(p, fam) + " { " + element_key(p, with_ip) + " : " + ip + " . " +
          std::to_string(p.container_port) + " }\n";
    }
    if (hf != 0 && (hf == AF_INET ? ip4 : ip6).empty())
      fail(Errc::invalid,
           "published port " + p.host_ip + ":" + std::to_string(p.host_port) +
               ": the container has no address of that family");
  }
  if (auto err = try_run(s); !err.empty()) {
    if (err.find("File exists") != std::string::npos)
      fail(Errc::exists, "a published host port is already in use on network \"" + network + "\"");
    fail(Errc::io, "nftables: publish ports: " + err);
  }
}

void remove_ports(const std::string& network, const std::vector<net::PortMapping>& ports) {
  std::string t = "inet " + table_name(network);
  for (auto p : ports) {
    net::check_port(p);
    bool with_ip = !p.host_ip.empty();
    int hf = family_of_host(p);
    for (int fam : {AF_INET, AF_INET6})
      if (hf == 0 || hf == fam)
        try_run("delete element " + t + map_of(p, fam) + " { " + element_key(p, with_ip) + " }");
  }
}

}  // namespace ocikit::nft
