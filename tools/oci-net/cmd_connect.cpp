// oci-net connect, disconnect, rename-endpoint and hook (OCI runtime hooks).
#include <iostream>
#include <iterator>

#include "endpoint.hpp"
#include "commands.hpp"
#include "common/events.hpp"
#include "common/error.hpp"
#include "store.hpp"

namespace ocikit::netcmd {
namespace {

// docker's network connect/disconnect event: the network, the container.
void network_event(const std::string& action, const std::string& network, const std::string& container) {
  events::emit({"network", action, network, {{"name", network}, {"container", container}}});
}

endpoint::ConnectOptions to_attach(const ConnectOptions& o) {
  endpoint::ConnectOptions a;
  a.network = o.network;
  a.target = o.target;
  a.id = o.id.empty() ? endpoint::id_for_target(o.target) : o.id;
  a.hostname = o.name;
  a.aliases = o.aliases;
  a.ifname = o.ifname;
  a.ips = o.ips;
  a.dns = o.dns;
  a.resolver = true;
  for (const auto& p : o.ports) {
    auto v = net::parse_port_spec(p);
    a.ports.insert(a.ports.end(), v.begin(), v.end());
  }
  if (!o.no_etc) {
    a.etc_dir = o.etc_dir.empty() ? endpoint::etc_dir_for_target(o.target) : o.etc_dir;
    a.owns_etc = o.etc_dir.empty() && !a.etc_dir.empty();
  }
  return a;
}

}  // namespace

int connect(const std::string& data_dir, const ConnectOptions& o) {
  netstore::Store st(data_dir);
  auto r = endpoint::connect(st, to_attach(o));
  network_event("connect", r.network.name, r.lease.container);
  for (const auto& a : r.lease.addrs) std::cout << a << "\n";
  return 0;
}

int disconnect(const std::string& data_dir, const ConnectOptions& o) {
  netstore::Store st(data_dir);
  std::string id = o.id.empty() ? endpoint::id_for_target(o.target) : o.id;
  std::string name = st.get(o.network).name;  // o.network may be an id
  endpoint::disconnect(st, name, id, false);
  network_event("disconnect", name, id);
  return 0;
}

int rename_endpoint(const std::string& data_dir, const std::string& id, const std::string& name) {
  netstore::Store st(data_dir);
  endpoint::rename(st, id, name);
  return 0;
}

int hook(const std::string& data_dir, const ConnectOptions& o) {
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  auto state = with_context("container state on stdin", [&] { return nlohmann::json::parse(text); });
  ConnectOptions c = o;
  c.id = o.id.empty() ? state.at("id").get<std::string>() : o.id;
  netstore::Store st(data_dir);
  if (o.stage == "poststop") {
    endpoint::disconnect(st, o.network, c.id, true);
    network_event("disconnect", o.network, c.id);
    return 0;
  }
  if (o.stage != "createRuntime" && o.stage != "prestart")
    fail(Errc::usage, "unknown hook stage \"" + o.stage + "\" (want createRuntime, prestart or poststop)");
  int pid = state.value("pid", 0);
  if (pid <= 0) fail(Errc::invalid, "container state on stdin has no pid");
  c.target = std::to_string(pid);
  // /etc/hosts and resolv.conf go into the container's rootfs.
  if (c.etc_dir.empty() && !c.no_etc && state.contains("bundle")) {
    std::string bundle = state.at("bundle").get<std::string>();
    try {
      auto cfg = nlohmann::json::parse(fs::read_file(bundle + "/config.json"));
      std::string root = cfg.at("root").at("path").get<std::string>();
      if (root.empty() || root[0] != '/') root = bundle + "/" + root;
      c.etc_dir = root + "/etc";
    } catch (const std::exception&) {
      c.no_etc = true;
    }
  }
  if (c.etc_dir.empty()) c.no_etc = true;
  endpoint::connect(st, to_attach(c));
  network_event("connect", o.network, c.id);
  return 0;
}

}  // namespace ocikit::netcmd
