// oci-net's CNI configuration reading (tools/oci-net/cni.hpp), with what
// fuzz_cni_config found.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "cni.hpp"
#include "common/error.hpp"
#include "common/net.hpp"

using namespace ocikit;
using nlohmann::json;

TEST_CASE("net_cni: fuzz finding: a float mtu or port out of int range is an error, not a float-to-int overflow") {
  // fuzz_cni_config (UBSan float-cast-overflow in network_from_conf)
  auto conf = json::parse(R"({"cniVersion":"1.0.0","name":"okt-cni","mtu":122222222222222222400,
                              "ipam":{"subnet":"10.22.0.0/24"}})");
  CHECK_THROWS_WITH(netcmd::network_from_conf(conf), doctest::Contains("mtu: not an integer"));
  conf["mtu"] = 1400.5;
  CHECK_THROWS_WITH(netcmd::network_from_conf(conf), doctest::Contains("mtu: not an integer"));
  conf["mtu"] = 70000;
  CHECK_THROWS_WITH(netcmd::network_from_conf(conf), doctest::Contains("mtu: 70000 out of range"));
  conf["mtu"] = 1400;
  CHECK(netcmd::network_from_conf(conf).mtu == 1400);
  conf["runtimeConfig"] = {{"portMappings", {{{"hostPort", 1e30}, {"containerPort", 80}}}}};
  CHECK_THROWS_WITH(netcmd::port_mappings(conf), doctest::Contains("hostPort: not an integer"));
  conf["runtimeConfig"] = {{"portMappings", {{{"hostPort", 8080}, {"containerPort", -1}}}}};
  CHECK_THROWS_WITH(netcmd::port_mappings(conf), doctest::Contains("containerPort: -1 out of range"));
  conf["runtimeConfig"] = {{"portMappings", {{{"hostPort", 8080}, {"containerPort", 80}, {"protocol", "UDP"}}}}};
  auto ports = netcmd::port_mappings(conf);
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].proto == "udp");
}

TEST_CASE("net_cni: lease and network files with float numbers are refused") {
  CHECK_THROWS(net::port_from_json({{"host_port", 1.5}, {"container_port", 80}}));
  CHECK_THROWS(net::port_from_json({{"container_port", 80}}));
  CHECK(net::port_from_json({{"host_port", 8080}, {"container_port", 80}}).host_port == 8080);
}

TEST_CASE("net_cni: portMappings as containerd's CRI sends them (Go field names) are read like Go plugins read them") {
  // go-cni marshals its PortMapping struct without JSON tags.
  auto conf = json::parse(R"({"cniVersion":"1.0.0","name":"okt-cni","ipam":{"subnet":"10.22.0.0/24"},
    "runtimeConfig":{"portMappings":[{"HostPort":41823,"ContainerPort":8080,"Protocol":"tcp","HostIP":"127.0.0.1"}]}})");
  auto ports = netcmd::port_mappings(conf);
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].host_port == 41823);
  CHECK(ports[0].container_port == 8080);
  CHECK(ports[0].proto == "tcp");
  CHECK(ports[0].host_ip == "127.0.0.1");
  // an exact match wins over a case-insensitive one
  conf["runtimeConfig"]["portMappings"] = {{{"HOSTPORT", 1}, {"hostPort", 2}, {"containerport", 3}}};
  ports = netcmd::port_mappings(conf);
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].host_port == 2);
  CHECK(ports[0].container_port == 3);
  CHECK(ports[0].proto == "tcp");
}
