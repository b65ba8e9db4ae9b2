#include "common/net.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include "common/error.hpp"

using namespace ocikit;
using namespace ocikit::net;

namespace {
std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
Network bridge_net(const std::string& name, const std::string& subnet) {
  Network n;
  n.name = name;
  n.subnets.push_back({parse_cidr(subnet), {}, {}});
  return n;
}
}  // namespace

TEST_CASE("net: parse and print addresses and CIDRs") {
  CHECK(to_string(parse_ip("10.213.0.1")) == "10.213.0.1");
  CHECK(to_string(parse_ip("fd00:0:0::1")) == "fd00::1");
  CHECK(to_string(add(parse_ip("10.0.0.255"), 1)) == "10.0.1.0");
  CHECK(to_string(add(parse_ip("fd00::ffff"), 2)) == "fd00::1:1");
  CHECK(to_string(network_of(parse_cidr("10.213.5.7/16"))) == "10.213.0.0/16");
  CHECK(to_string(last_of(parse_cidr("10.213.5.0/24"))) == "10.213.5.255");
  CHECK(contains(parse_cidr("10.213.0.0/24"), parse_ip("10.213.0.200")));
  CHECK_FALSE(contains(parse_cidr("10.213.0.0/24"), parse_ip("10.213.1.1")));
  CHECK_FALSE(contains(parse_cidr("10.213.0.0/24"), parse_ip("fd00::1")));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8", "fd00::/129", "10.0.0.0/"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_cidr(bad); }) == std::string("invalid CIDR \"") + bad + "\"");
  }
  CHECK(error_of([] { parse_ip("300.1.1.1"); }) == "invalid IP address \"300.1.1.1\"");
}

TEST_CASE("net: overlaps") {
  struct {
    const char *a, *b;
    bool want;
  } cases[] = {
      {"10.0.0.0/24", "10.0.0.0/16", true},   {"10.0.1.0/24", "10.0.0.0/24", false},
      {"10.0.0.128/25", "10.0.0.0/24", true}, {"fd00::/64", "fd00::/48", true},
      {"fd00::/64", "10.0.0.0/8", false},
  };
  for (auto& c : cases) {
    CAPTURE(c.a);
    CAPTURE(c.b);
    CHECK(overlaps(parse_cidr(c.a), parse_cidr(c.b)) == c.want);
    CHECK(overlaps(parse_cidr(c.b), parse_cidr(c.a)) == c.want);
  }
}

TEST_CASE("net: next_free skips network, gateway, broadcast and used addresses") {
  Cidr sub = parse_cidr("10.213.0.0/30");
  IpAddr gw = parse_ip("10.213.0.1");
  std::set<IpAddr> used;
  auto a = next_free(sub, sub, gw, used);
  REQUIRE(a);
  CHECK(to_string(*a) == "10.213.0.2");
  used.insert(*a);
  CHECK_FALSE(next_free(sub, sub, gw, used));  // .3 is the broadcast address
  Cidr s24 = parse_cidr("10.213.0.0/24");
  auto r = next_free(s24, parse_cidr("10.213.0.128/25"), gw, {});
  REQUIRE(r);
  CHECK(to_string(*r) == "10.213.0.128");
  Cidr s6 = parse_cidr("fd00:213::/64");
  auto v6 = next_free(s6, s6, parse_ip("fd00:213::1"), {});
  REQUIRE(v6);
  CHECK(to_string(*v6) == "fd00:213::2");
}

TEST_CASE("net: port specs") {
  auto one = parse_port_spec("8080:80");
  REQUIRE(one.size() == 1);
  CHECK(one[0] == PortMapping{"", 8080, 80, "tcp"});
  CHECK(parse_port_spec("127.0.0.1:53:5353/udp")[0] == PortMapping{"127.0.0.1", 53, 5353, "udp"});
  CHECK(parse_port_spec("[::1]:8080:80")[0] == PortMapping{"::1", 8080, 80, "tcp"});
  // no host port, or an empty one: host_port 0, any free port (docker's -p 80)
  CHECK(parse_port_spec("80")[0] == PortMapping{"", 0, 80, "tcp"});
  CHECK(parse_port_spec("127.0.0.1::53/udp")[0] == PortMapping{"127.0.0.1", 0, 53, "udp"});
  CHECK(parse_port_spec(":80")[0] == PortMapping{"", 0, 80, "tcp"});
  auto anyrange = parse_port_spec("7000-7001");
  REQUIRE(anyrange.size() == 2);
  CHECK(anyrange[1] == PortMapping{"", 0, 7001, "tcp"});
  auto range = parse_port_spec("9000-9002:7000-7002/udp");
  REQUIRE(range.size() == 3);
  CHECK(range[2] == PortMapping{"", 9002, 7002, "udp"});
  struct {
    const char *spec, *err;
  } bad[] = {
      {"8080:80/sctp", "protocol \"sctp\" is not tcp or udp"},
      {"0:80", "port 0 out of range 1-65535"},
      {"70000:80", "port 70000 out of range 1-65535"},
      {"x:80", "invalid port \"x\""},
      {"9000-9001:80", "host range has 2 ports, container range 1"},
      {"9002-9000:80", "range 9002-9000 ends before it starts"},
      {"1.2.3:80:80", "invalid host address \"1.2.3\""},
      {"a:b:c:d", "too many ':' (put an IPv6 host address in brackets)"},
  };
  for (auto& b : bad) {
    CAPTURE(b.spec);
    CHECK(error_of([&] { parse_port_spec(b.spec); }) == std::string("bad port spec \"") + b.spec + "\": " + b.err);
  }
}

TEST_CASE("net: validate_network fills defaults and rejects bad definitions") {
  Network n = bridge_net("okt-a", "10.213.7.9/24");
  validate_network(n, {});
  CHECK(to_string(n.subnets[0].subnet) == "10.213.7.0/24");
  CHECK(to_string(n.subnets[0].gateway) == "10.213.7.1");
  CHECK(n.bridge.rfind("okbr-", 0) == 0);
  CHECK(n.bridge.size() <= 15);

  Network other = bridge_net("okt-b", "10.213.0.0/16");
  validate_network(other, {});
  Network clash = bridge_net("okt-c", "10.213.7.0/24");
  CHECK(error_of([&] { validate_network(clash, {other}); }) ==
        "network \"okt-c\": subnet 10.213.7.0/24 overlaps network \"okt-b\" (10.213.0.0/16)");

  Network gw = bridge_net("okt-d", "10.213.8.0/24");
  gw.subnets[0].gateway = parse_ip("10.213.9.1");
  CHECK(error_of([&] { validate_network(gw, {}); }) ==
        "network \"okt-d\": gateway 10.213.9.1 is outside subnet 10.213.8.0/24");
  Network name = bridge_net("-x", "10.213.8.0/24");
  CHECK(error_of([&] { validate_network(name, {}); }) ==
        "invalid network name \"-x\" (want 1-32 of A-Z a-z 0-9 _ . -)");
  Network drv = bridge_net("okt-e", "10.213.8.0/24");
  drv.driver = "ipvlan";
  CHECK(error_of([&] { validate_network(drv, {}); }) ==
        "network \"okt-e\": unknown driver \"ipvlan\" (want bridge, macvlan, overlay, host or none)");
  Network ov = bridge_net("okt-f", "10.213.8.0/24");
  ov.driver = "overlay";
  CHECK(error_of([&] { validate_network(ov, {}); }) == "network \"okt-f\": overlay needs --vni 1-16777215");
  ov.vni = 42;
  validate_network(ov, {});
  CHECK(ov.mtu == 1450);

  auto round = network_from_json(to_json(n));
  CHECK(to_string(round.subnets[0].gateway) == "10.213.7.1");
  CHECK(round.bridge == n.bridge);
}

TEST_CASE("net: a network's id and labels survive a round trip; one stored without an id gets a stable one") {
  Network n = bridge_net("okt-id", "10.213.7.0/24");
  validate_network(n, {});
  n.id = std::string(64, 'a');
  n.labels = {{"tier", "web"}, {"keep", ""}};
  n.created = "2026-12-07T10:00:00Z";
  auto round = network_from_json(to_json(n));
  CHECK(round.id == n.id);
  CHECK(round.labels == n.labels);
  // older definitions have neither: no labels, an id from name and creation time
  auto j = to_json(n);
  j.erase("id");
  j.erase("labels");
  auto old = network_from_json(j);
  CHECK(old.labels.empty());
  CHECK(old.id.size() == 64);
  CHECK(old.id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(old.id == network_from_json(j).id);
  j["created"] = "2026-12-07T10:00:01Z";
  CHECK(network_from_json(j).id != old.id);
  // an id that is not 64 lowercase hex digits is not kept
  j["id"] = "../../etc";
  CHECK(network_from_json(j).id.size() == 64);
}

TEST_CASE("net: host names and veth names") {
  CHECK(render_hosts({{"10.0.0.2", {"a", "a.x"}}}) ==
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\ta\ta.x\n");
  CHECK(render_resolv({"10.0.0.1"}, {"x"}) == "nameserver 10.0.0.1\nsearch x\n");
  auto v = host_veth_name("c1", "n");
  CHECK(v.size() <= 15);
  CHECK(v == host_veth_name("c1", "n"));
  CHECK(v != host_veth_name("c2", "n"));
  CHECK(default_bridge_name("bridge") == "ocikit0");
}

TEST_CASE("net: ula_subnet is a stable /64 in fd00::/8, different per name") {
  Cidr a = ula_subnet("web"), b = ula_subnet("db");
  CHECK(a == ula_subnet("web"));
  CHECK(a.prefix == 64);
  CHECK(a.addr.family == AF_INET6);
  CHECK(contains(parse_cidr("fd00::/8"), a.addr));
  CHECK(network_of(a) == a);
  CHECK_FALSE(overlaps(a, b));
}

TEST_CASE("net: parse_peers skips blanks and comments, names file:line on errors") {
  auto peers = parse_peers("# hosts\n10.0.0.1\n\n  10.0.0.2  # second\n10.0.0.1\nfd00::9\n", "p.txt");
  REQUIRE(peers.size() == 3);
  CHECK(to_string(peers[0]) == "10.0.0.1");
  CHECK(to_string(peers[1]) == "10.0.0.2");
  CHECK(to_string(peers[2]) == "fd00::9");
  CHECK(parse_peers("", "p.txt").empty());
  CHECK(error_of([] { parse_peers("10.0.0.1\n\nnot-an-ip\n", "/x/peers"); }) ==
        "/x/peers:3: invalid IP address \"not-an-ip\"");
}

TEST_CASE("net: check_port keeps text fit for nftables out of CNI configs and lease files") {
  net::PortMapping p{"127.0.0.1", 8080, 80, "TCP"};
  net::check_port(p);
  CHECK(p.proto == "tcp");
  net::PortMapping inj{"", 8080, 80, "tcp . 1 : 10.0.0.1 . 1 }; flush ruleset; add element x y { tcp"};
  CHECK_THROWS_WITH(net::check_port(inj), doctest::Contains("is not tcp or udp"));
  net::PortMapping ip{"1.2.3.4 } ; flush ruleset", 1, 1, "udp"};
  CHECK_THROWS(net::check_port(ip));
  net::PortMapping zero{"", 0, 80, "tcp"};
  CHECK_THROWS(net::check_port(zero));
  CHECK_THROWS(net::port_from_json({{"host_port", 1}, {"container_port", 1}, {"proto", "sctp"}}));
}

TEST_CASE("net: a CNI config's bridge name must be one the kernel takes") {
  CHECK(net::valid_link_name("cni0"));
  CHECK(net::valid_link_name("okt-br.1_x"));
  for (const char* bad : {"", ".", "..", "a/b", "a:b", "a b", "0123456789abcdef", "\x01x"})
    CHECK_FALSE(net::valid_link_name(bad));
  net::Network n;
  n.name = "x";
  n.bridge = "../eth0";
  n.subnets.push_back({net::parse_cidr("10.9.0.0/24"), {}, {}});
  CHECK_THROWS_WITH(net::validate_network(n, {}), doctest::Contains("not a valid interface name"));
}

TEST_CASE("net: resolver upstreams and served host names") {
  CHECK(all_nameservers("# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bad;x\nsearch a\n"
                        "nameserver 10.0.0.1\n") == std::vector<std::string>{"127.0.0.53", "fe80::1%eth0", "10.0.0.1"});
  struct Case {
    std::string name;
    bool ok;
  };
  for (const auto& c : std::vector<Case>{{"web", true},
                                         {"db_1.local", true},
                                         {"a-b", true},
                                         {"0123456789ab", true},
                                         {"", false},
                                         {"-x", false},
                                         {"a..b", false},
                                         {"a.", false},
                                         {".a", false},
                                         {"a b", false},
                                         {"a\nb", false},
                                         {"a#b", false},
                                         {std::string(63, 'a'), true},
                                         {std::string(64, 'a'), false},
                                         {std::string(300, 'a'), false}}) {
    CAPTURE(c.name);
    CHECK(valid_hostname(c.name) == c.ok);
  }
}
