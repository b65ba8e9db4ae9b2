// oci-net's CNI plugin mode: the network configuration on stdin (the
// runtime's, e.g. containerd's or a user's file) as it is read and then
// validated before anything is stored or configured. A configuration that
// passes validation must hold names the kernel and the store take, and port
// mappings fit for nftables' parser.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cni.hpp"
#include "common/net.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz_one(data, size, [](std::string_view text) {
    auto conf = nlohmann::json::parse(text, nullptr, false);
    if (conf.is_discarded()) return;
    try {
      auto n = ocikit::netcmd::network_from_conf(conf);
      ocikit::net::validate_network(n, {});
      if (!ocikit::net::valid_network_name(n.name) || !ocikit::net::valid_link_name(n.bridge)) abort();
      for (const auto& s : n.subnets)
        if (!ocikit::net::contains(s.subnet, s.gateway)) abort();
      (void)ocikit::net::to_json(n).dump();
    } catch (const ocikit::netcmd::CniError&) {
    }
    try {
      for (const auto& p : ocikit::netcmd::port_mappings(conf)) {
        if (p.proto != "tcp" && p.proto != "udp") abort();
        if (p.host_ip.find_first_not_of("0123456789abcdef.:") != std::string::npos) abort();
      }
    } catch (const ocikit::netcmd::CniError&) {
    }
  });
}
