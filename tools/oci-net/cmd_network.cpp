// oci-net create, ls, inspect, rm, prune.
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "dns.hpp"
#include "endpoint.hpp"
#include "commands.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "store.hpp"

namespace ocikit::netcmd {

int create(const std::string& data_dir, const CreateOptions& o) {
  netstore::Store st(data_dir);
  net::Network n;
  n.name = o.name;
  n.driver = o.driver;
  n.internal = o.internal;
  n.parent = o.parent;
  n.vni = o.vni;
  n.peers = o.peers;
  n.local = o.local;
  n.bridge = o.bridge;
  for (const auto& kv : o.opts) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) fail(Errc::usage, "bad --opt \"" + kv + "\" (want KEY=VALUE)");
    n.options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& kv : o.labels) {
    auto eq = kv.find('=');
    if (eq == 0 || kv.empty()) fail(Errc::usage, "bad --label \"" + kv + "\" (want KEY=VALUE or KEY)");
    n.labels[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  if (auto it = n.options.find("parent"); it != n.options.end() && n.parent.empty()) n.parent = it->second;
  if (auto it = n.options.find("bridge"); it != n.options.end() && n.bridge.empty()) n.bridge = it->second;
  if (auto it = n.options.find("mtu"); it != n.options.end()) n.mtu = std::stoi(it->second);
  if (o.mtu) {
    n.mtu = o.mtu;
    n.options["mtu"] = std::to_string(o.mtu);
  }
  for (const auto& s : o.subnets) n.subnets.push_back({net::parse_cidr(s), {}, {}});
  // --ipv6 without an IPv6 --subnet: a unique local /64 derived from the name.
  if (o.ipv6 && std::none_of(n.subnets.begin(), n.subnets.end(), [](const net::Subnet& s) {
        return s.subnet.addr.family == AF_INET6;
      }))
    n.subnets.push_back({net::ula_subnet(n.name), {}, {}});
  if (auto it = n.options.find("peers-file"); it != n.options.end()) {
    if (n.driver != "overlay") fail(Errc::invalid, "network \"" + n.name + "\": peers-file needs the overlay driver");
    if (it->second.empty() || it->second[0] != '/')
      fail(Errc::invalid, "network \"" + n.name + "\": peers-file must be an absolute path");
    endpoint::read_peers_file(it->second);
  }
  if (n.subnets.empty() && (n.driver == "bridge" || n.driver == "overlay" || n.driver == "macvlan"))
    fail(Errc::usage, "network \"" + n.name + "\": --subnet is required");
  auto for_family = [&](const std::string& what, const std::string& text, auto&& apply) {
    if (text.empty()) return;
    for (auto& s : n.subnets) {
      if (what == "gateway" && net::parse_ip(text).family == s.subnet.addr.family) return apply(s);
      if (what == "range" && net::parse_cidr(text).addr.family == s.subnet.addr.family) return apply(s);
    }
    fail(Errc::invalid, "--" + what + " " + text + " matches no --subnet");
  };
  for_family("gateway", o.gateway, [&](net::Subnet& s) { s.gateway = net::parse_ip(o.gateway); });
  for_family("range", o.ip_range, [&](net::Subnet& s) { s.range = net::parse_cidr(o.ip_range); });
  st.create(n);
  events::emit({"network", "create", n.name, {{"name", n.name}, {"type", n.driver}}});
  std::cout << n.name << "\n";
  return 0;
}

int list(const std::string& data_dir, bool quiet, const std::string& format) {
  netstore::Store st(data_dir);
  auto nets = st.list();
  if (format == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& n : nets) arr.push_back(net::to_json(n));
    std::cout << arr.dump(2) << "\n";
    return 0;
  }
  if (!quiet) printf("%-20s %-8s %-20s %s\n", "NAME", "DRIVER", "SUBNET", "BRIDGE");
  for (const auto& n : nets) {
    if (quiet) {
      printf("%s\n", n.name.c_str());
      continue;
    }
    std::string subs;
    for (const auto& s : n.subnets) subs += (subs.empty() ? "" : ",") + net::to_string(s.subnet);
    printf("%-20s %-8s %-20s %s\n", n.name.c_str(), n.driver.c_str(), subs.c_str(), n.bridge.c_str());
  }
  return 0;
}

int inspect(const std::string& data_dir, const std::vector<std::string>& names) {
  netstore::Store st(data_dir);
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& name : names) {
    auto n = st.get(name);
    auto j = net::to_json(n);
    auto lock = st.lock_leases(n.name);
    nlohmann::json cs = nlohmann::json::object();
    for (const auto& l : st.leases(n.name)) {
      nlohmann::json ports = nlohmann::json::array();
      for (const auto& p : l.ports) ports.push_back(net::to_json(p));
      cs[l.container] = {{"name", l.hostname},
                         {"aliases", l.aliases},
                         {"addresses", l.addrs},
                         {"mac", l.mac},
                         {"interface", l.ifname},
                         {"host_interface", l.host_if},
                         {"netns", l.netns},
                         {"ports", ports}};
    }
    j["containers"] = cs;
    arr.push_back(j);
  }
  std::cout << arr.dump(2) << "\n";
  return 0;
}

namespace {
// Remove one network (a name or an id); `quiet_if_used` false makes a
// connected network an error. Its name, or "" when it is in use.
std::string remove_one(netstore::Store& st, const std::string& ref, bool quiet_if_used) {
  auto defs = st.lock_defs();
  auto n = st.get(ref);
  const std::string& name = n.name;
  auto lock = st.lock_leases(name);
  auto leases = st.leases(name);
  if (!leases.empty()) {
    if (quiet_if_used) return "";
    fail("network \"" + name + "\" has " + std::to_string(leases.size()) + " connected container(s)");
  }
  dns::stop(st, name);
  endpoint::teardown_network(n);
  st.remove(name);
  return name;
}
}  // namespace

int remove(const std::string& data_dir, const std::vector<std::string>& names) {
  netstore::Store st(data_dir);
  for (const auto& ref : names) {
    std::string name = remove_one(st, ref, false);
    events::emit({"network", "destroy", name, {{"name", name}}});
    std::cout << ref << "\n";
  }
  return 0;
}

int prune(const std::string& data_dir, const std::vector<std::string>& filters) {
  // docker's network prune filters: until=TIME, label=KEY[=VALUE] (every
  // one given must match), label!=KEY[=VALUE] (none may).
  int64_t until = 0;
  std::vector<std::string> with, without;
  for (const auto& f : filters) {
    if (f.rfind("until=", 0) == 0) until = events::parse_time(f.substr(6), events::now_nano());
    else if (f.rfind("label=", 0) == 0) with.push_back(f.substr(6));
    else if (f.rfind("label!=", 0) == 0) without.push_back(f.substr(7));
    else
      fail(Errc::usage,
           "invalid filter '" + f.substr(0, f.find_first_of("!=")) + "' (want until=TIME or label=KEY[=VALUE])");
  }
  auto has = [](const net::Network& n, const std::string& kv) {
    auto eq = kv.find('=');
    auto it = n.labels.find(kv.substr(0, eq));
    return it != n.labels.end() && (eq == std::string::npos || it->second == kv.substr(eq + 1));
  };
  netstore::Store st(data_dir);
  // Leases of containers whose namespace is gone first: that may leave
  // their networks unused.
  for (const auto& n : st.list()) endpoint::release_stale(st, n);
  for (const auto& n : st.list()) {
    if (n.name == "bridge") continue;
    if (until && (n.created.empty() || events::parse_time(n.created, 0) >= until)) continue;
    if (!std::all_of(with.begin(), with.end(), [&](const auto& kv) { return has(n, kv); })) continue;
    if (std::any_of(without.begin(), without.end(), [&](const auto& kv) { return has(n, kv); })) continue;
    if (remove_one(st, n.name, true).empty()) continue;
    events::emit({"network", "destroy", n.name, {{"name", n.name}}});
    std::cout << n.name << "\n";
  }
  return 0;
}

}  // namespace ocikit::netcmd
