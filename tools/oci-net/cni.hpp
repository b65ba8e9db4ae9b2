#pragma once
// oci-net's CNI plugin mode (cni.cpp): the parts of a network configuration
// it reads, separated from the plugin's commands so that they can be tested
// and fuzzed on their own.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/net.hpp"

namespace ocikit::netcmd {

/// A CNI error with its spec code (1 incompatible version, 3 unknown
/// container, 4 invalid environment, 6 decode failure, 7 invalid config,
/// 100+ plugin specific).
struct CniError {
  int code;
  std::string msg;
};

/// The network a CNI configuration describes (name, bridge, mtu, ipMasq,
/// ipam.subnet or ipam.ranges). Throws CniError, ocikit::Error (bad
/// addresses) or nlohmann::json::exception (wrong types); not validated yet
/// (net::validate_network does that when it is stored).
net::Network network_from_conf(const nlohmann::json& conf);

/// runtimeConfig.portMappings of a configuration.
std::vector<net::PortMapping> port_mappings(const nlohmann::json& conf);

}  // namespace ocikit::netcmd
