#pragma once
// The name resolver of a user-defined bridge network (Docker's embedded DNS,
// podman's aardvark-dns): one dnsmasq per network, listening on the
// network's gateway addresses port 53 in the namespace that holds the
// bridge. It answers the names of the containers connected (name, aliases,
// short id) from <data-dir>/dns/<network>.hosts, re-read on SIGHUP, and
// forwards other names to the nameservers of the host's /etc/resolv.conf
// (none for an --internal network). Its pid is <data-dir>/dns/<network>.pid.
//
//   connect (first container):  write hosts, start dnsmasq (it daemonizes
//                               and reports bind errors before exiting)
//   connect/disconnect (others): write hosts, SIGHUP
//   last container leaves, rm:  SIGTERM, wait, remove the files
//
// The default network "bridge" has none, as docker's default bridge has none:
// its containers resolve each other only through /etc/hosts.
#include <string>
#include <vector>

#include "common/net.hpp"
#include "store.hpp"

namespace ocikit::dns {

/// True when containers connected to `n` get the network's resolver: a
/// user-defined network of the bridge driver.
bool wanted(const net::Network& n);

/// The nameserver lines for a container on `n`: its gateway addresses (IPv4
/// first).
std::vector<std::string> nameservers(const net::Network& n);

/// The names served for lease `l`: its hostname, aliases and (for a 64-hex
/// id) the 12-character short id, without duplicates or names that are not
/// valid host names.
std::vector<std::string> names_of(const netstore::Lease& l);

/// Make the resolver of `n` serve exactly `leases` (call with the leases lock
/// held). Writes the hosts file; a running resolver is told to reload; none is
/// started unless `start`. With no leases left the resolver is stopped.
/// Throws Errc::not_found when dnsmasq is missing and Errc::io when it cannot
/// start (its own message, e.g. the address being in use).
void sync(netstore::Store& st, const net::Network& n, const std::vector<netstore::Lease>& leases, bool start);

/// Stop the resolver of network `name` if one runs and remove its files.
void stop(netstore::Store& st, const std::string& name);

/// True when the resolver of network `name` runs (its pid file names a live
/// dnsmasq started for this pid file).
bool running(netstore::Store& st, const std::string& name);

}  // namespace ocikit::dns
