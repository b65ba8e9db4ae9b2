// oci-net's resolver of user networks (tools/oci-net/dns.hpp): which networks
// have one, what containers are told, and which names it serves (the rest,
// running dnsmasq, is tests/integration/oci-net_dns.bats).
#include <doctest/doctest.h>

#include "common/net.hpp"
#include "dns.hpp"

using namespace ocikit;

TEST_CASE("net_dns: user bridge networks have a resolver on their gateways, IPv4 first") {
  net::Network n;
  n.name = "web";
  n.driver = "bridge";
  n.subnets.push_back({net::parse_cidr("fd00:1::/64"), net::parse_ip("fd00:1::1"), {}});
  n.subnets.push_back({net::parse_cidr("10.1.0.0/24"), net::parse_ip("10.1.0.1"), {}});
  CHECK(dns::wanted(n));
  CHECK(dns::nameservers(n) == std::vector<std::string>{"10.1.0.1", "fd00:1::1"});
  for (const char* driver : {"macvlan", "overlay", "host", "none"}) {
    CAPTURE(driver);
    n.driver = driver;
    CHECK_FALSE(dns::wanted(n));
  }
  n.driver = "bridge";
  n.name = "bridge";  // docker's default bridge has no embedded DNS
  CHECK_FALSE(dns::wanted(n));
}

TEST_CASE("net_dns: served names are the name, aliases and short id, hostile ones left out") {
  netstore::Lease l;
  l.container = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  l.hostname = "web";
  l.aliases = {"www", "web", "bad name", "evil\n10.0.0.9 bank", "-x", "db.internal"};
  CHECK(dns::names_of(l) == std::vector<std::string>{"web", "www", "db.internal", "0123456789ab"});
  l.container = "pid-42";  // not a docker id: no short id
  l.aliases.clear();
  CHECK(dns::names_of(l) == std::vector<std::string>{"web"});
  l.container = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";
  CHECK(dns::names_of(l) == std::vector<std::string>{"web"});
}
