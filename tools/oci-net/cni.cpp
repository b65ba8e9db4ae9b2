// CNI plugin mode: with CNI_COMMAND in the environment oci-net acts as a
// bridge plugin with its own IPAM (CNI spec 1.0/1.1; 0.4.0 results are the
// same shape apart from the version). The network configuration comes on
// stdin; results and errors ({"code","msg"}) go to stdout.
//
// Configuration keys used: name, cniVersion, bridge (default cni0), mtu,
// ipMasq, ipam.subnet (+ ipam.gateway) | ipam.ranges[i][0].{subnet,gateway}
// (one range set per address family), runtimeConfig.portMappings.
// Leases live under $OCIKIT_NET_DIR or /var/lib/ocikit/cni.
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <iostream>
#include <iterator>

#include "endpoint.hpp"
#include "cni.hpp"
#include "commands.hpp"
#include "common/error.hpp"
#include "netlink.hpp"
#include "store.hpp"

namespace ocikit::netcmd {

using nlohmann::json;

net::Network network_from_conf(const json& conf) {
  if (!conf.is_object()) throw CniError{6, "network configuration is not a JSON object"};
  net::Network n;
  n.name = conf.at("name").get<std::string>();
  n.bridge = conf.value("bridge", "cni0");
  n.mtu = static_cast<int>(net::int_member(conf, "mtu", 1500, 0, 65535));
  if (!conf.value("ipMasq", true)) n.options["masquerade"] = "false";
  const json ipam = conf.value("ipam", json::object());
  std::vector<json> ranges;
  if (ipam.contains("subnet")) ranges.push_back(ipam);
  for (const auto& set : ipam.value("ranges", json::array()))
    if (set.is_array() && !set.empty()) ranges.push_back(set[0]);
  if (ranges.empty()) throw CniError{7, "ipam needs a subnet (ipam.subnet or ipam.ranges)"};
  for (const auto& r : ranges) {
    net::Subnet s;
    s.subnet = net::parse_cidr(r.at("subnet").get<std::string>());
    if (r.contains("gateway")) s.gateway = net::parse_ip(r.at("gateway").get<std::string>());
    n.subnets.push_back(s);
  }
  return n;
}

namespace {
void check_port_or_cni_error(net::PortMapping& p) {
  try {
    net::check_port(p);
  } catch (const Error& e) {
    throw CniError{7, std::string("runtimeConfig.portMappings: ") + e.what()};
  }
}
}  // namespace

namespace {
// A portMappings entry with its keys spelled as the CNI conventions spell
// them. containerd's CRI (go-cni) marshals a struct without JSON tags, so its
// keys are HostPort, ContainerPort, Protocol, HostIP; Go plugins read them
// because encoding/json matches keys case-insensitively (an exact match
// first), and so does this.
json canonical_port_mapping(const json& pm) {
  if (!pm.is_object()) return pm;
  static const char* const kKeys[] = {"hostPort", "containerPort", "protocol", "hostIP"};
  json out = json::object();
  for (const char* k : kKeys) {
    if (pm.contains(k)) {
      out[k] = pm.at(k);
      continue;
    }
    for (const auto& [name, v] : pm.items())
      if (strcasecmp(name.c_str(), k) == 0) {
        out[k] = v;
        break;
      }
  }
  return out;
}
}  // namespace

std::vector<net::PortMapping> port_mappings(const json& conf) {
  std::vector<net::PortMapping> out;
  for (const auto& raw : conf.value("runtimeConfig", json::object()).value("portMappings", json::array())) {
    const json pm = canonical_port_mapping(raw);
    if (!pm.is_object() || !pm.contains("hostPort") || !pm.contains("containerPort"))
      throw CniError{7, "runtimeConfig.portMappings: hostPort and containerPort required"};
    out.push_back({pm.value("hostIP", ""), static_cast<uint16_t>(net::int_member(pm, "hostPort", 0, 0, 65535)),
                   static_cast<uint16_t>(net::int_member(pm, "containerPort", 0, 0, 65535)),
                   pm.value("protocol", "tcp")});
  }
  for (auto& p : out) check_port_or_cni_error(p);
  return out;
}

namespace {

const char* const kVersions[] = {"0.4.0", "1.0.0", "1.1.0"};

std::string env(const char* name, bool required) {
  const char* v = getenv(name);
  if ((!v || !*v) && required) throw CniError{4, std::string("missing environment variable ") + name};
  return v ? v : "";
}

// The stored definition of the network the config names, created (and
// checked against the others) the first time.
net::Network load_network(netstore::Store& st, const json& conf) {
  net::Network want = network_from_conf(conf);
  if (auto have = st.find(want.name)) return *have;
  try {
    st.create(want);
  } catch (const Error& e) {
    if (e.code() != Errc::exists) throw;
  }
  return st.get(want.name);
}

json add(netstore::Store& st, const json& conf, const std::string& version) {
  auto n = load_network(st, conf);
  endpoint::ConnectOptions o;
  o.network = n.name;
  o.target = env("CNI_NETNS", true);
  o.ifname = env("CNI_IFNAME", true);
  o.id = env("CNI_CONTAINERID", true) + ":" + o.ifname;
  o.hostname = env("CNI_CONTAINERID", true);
  o.ports = port_mappings(conf);
  auto r = endpoint::connect(st, o);
  json ips = json::array(), routes = json::array();
  for (size_t i = 0; i < r.lease.addrs.size(); ++i) {
    const auto& s = r.network.subnets.at(i);
    ips.push_back({{"address", r.lease.addrs[i]}, {"gateway", net::to_string(s.gateway)}, {"interface", 2}});
    routes.push_back(
        {{"dst", s.subnet.addr.family == AF_INET ? "0.0.0.0/0" : "::/0"}, {"gw", net::to_string(s.gateway)}});
  }
  json ifs = json::array({{{"name", r.network.bridge}, {"mac", r.bridge_mac}},
                          {{"name", r.lease.host_if}, {"mac", r.host_mac}},
                          {{"name", r.lease.ifname}, {"mac", r.mac}, {"sandbox", o.target}}});
  return {{"cniVersion", version}, {"interfaces", ifs}, {"ips", ips}, {"routes", routes}, {"dns", json::object()}};
}

void check(netstore::Store& st, const json& conf) {
  auto n = load_network(st, conf);
  std::string id = env("CNI_CONTAINERID", true) + ":" + env("CNI_IFNAME", true);
  auto lock = st.lock_leases(n.name);
  for (const auto& l : st.leases(n.name)) {
    if (l.container != id) continue;
    auto ns = netlink::open_netns(env("CNI_NETNS", true));
    netlink::Socket c(ns.get());
    if (c.link_index(l.ifname) == 0) throw CniError{100, "interface " + l.ifname + " is missing in " + l.netns};
    netlink::Socket host;
    if (host.link_index(l.host_if) == 0) throw CniError{100, "host interface " + l.host_if + " is missing"};
    return;
  }
  throw CniError{3, "container " + id + " is not attached to network " + n.name};
}

int run() {
  std::string cmd = env("CNI_COMMAND", true);
  if (cmd == "VERSION") {
    std::cout << json{{"cniVersion", "1.1.0"}, {"supportedVersions", kVersions}}.dump() << "\n";
    return 0;
  }
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  json conf;
  try {
    conf = json::parse(text);
  } catch (const json::exception& e) {
    throw CniError{6, "decode network configuration: " + std::string(e.what())};
  }
  std::string version = conf.value("cniVersion", "1.0.0");
  if (std::find(std::begin(kVersions), std::end(kVersions), version) == std::end(kVersions))
    throw CniError{1, "incompatible CNI version " + version + " (supported: 0.4.0, 1.0.0, 1.1.0)"};
  const char* dir = getenv("OCIKIT_NET_DIR");
  netstore::Store st(dir && *dir ? dir : "/var/lib/ocikit/cni");
  if ((cmd == "STATUS" || cmd == "GC") && version != "1.1.0")
    throw CniError{1, "config version " + version + " does not allow " + cmd};
  if (cmd == "ADD") {
    std::cout << add(st, conf, version).dump() << "\n";
  } else if (cmd == "DEL") {
    // DEL succeeds when there is nothing left to delete (spec: idempotent).
    auto n = st.find(conf.at("name").get<std::string>());
    if (n) endpoint::disconnect(st, n->name, env("CNI_CONTAINERID", true) + ":" + env("CNI_IFNAME", true), true);
  } else if (cmd == "CHECK") {
    check(st, conf);
  } else if (cmd == "STATUS") {
    // Ready when the lease directory is usable (spec 1.1: 50 otherwise).
    try {
      fs::mkdir_p(st.dir() + "/leases", 0700);
      if (access((st.dir() + "/leases").c_str(), W_OK) != 0) throw_errno("write " + st.dir() + "/leases");
    } catch (const Error& e) {
      throw CniError{50, std::string("plugin not available: ") + e.what()};
    }
  } else if (cmd == "GC") {
    // Attachments still valid are listed in cni.dev/valid-attachments; the
    // ones we hold beyond that are released.
    auto n = st.find(conf.at("name").get<std::string>());
    if (!n) return 0;
    // Leases of namespaces that are gone go too, listed or not.
    endpoint::release_stale(st, *n);
    std::set<std::string> keep;
    for (const auto& a : conf.value("cni.dev/valid-attachments", json::array()))
      keep.insert(a.value("containerID", "") + ":" + a.value("ifname", ""));
    std::vector<std::string> drop;
    {
      auto lock = st.lock_leases(n->name);
      for (const auto& l : st.leases(n->name))
        if (!keep.count(l.container)) drop.push_back(l.container);
    }
    for (const auto& id : drop) endpoint::disconnect(st, n->name, id, true);
  } else {
    throw CniError{4, "unknown CNI_COMMAND " + cmd};
  }
  return 0;
}

}  // namespace

int cni_main() {
  std::string version = "1.1.0";
  try {
    return run();
  } catch (const CniError& e) {
    std::cout << json{{"cniVersion", version}, {"code", e.code}, {"msg", e.msg}}.dump() << "\n";
  } catch (...) {
    Error e = current_exception_as_error();
    int code = e.code() == Errc::invalid ? 7 : e.code() == Errc::not_found ? 3 : 100;
    std::cout << json{{"cniVersion", version}, {"code", code}, {"msg", e.what()}}.dump() << "\n";
  }
  return 1;
}

}  // namespace ocikit::netcmd
