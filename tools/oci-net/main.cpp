// oci-net: container networks (bridge, host, none, macvlan, overlay), as a
// command, an OCI runtime hook and (with CNI_COMMAND set) a CNI plugin.
#include <cstdlib>

#include "commands.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"

using namespace ocikit;

namespace {
void add_connect_flags(CLI::App* c, netcmd::ConnectOptions& o) {
  c->add_option("-p,--publish", o.ports, "publish [hostip:]hostport:containerport[/tcp|udp] (ranges A-B)");
  c->add_option("--id", o.id, "container id (default: netns name or pid-N)");
  c->add_option("--name", o.name, "name other containers resolve (default: the id)");
  c->add_option("--alias", o.aliases, "another name for the container");
  c->add_option("--ifname", o.ifname, "interface name in the container (default: first free ethN)");
  c->add_option("--ip", o.ips, "request this address");
  c->add_option("--dns", o.dns, "nameserver for resolv.conf (default: the host's)");
  c->add_option("--etc-dir", o.etc_dir,
                "write hosts and resolv.conf here (default: /etc/netns/NAME for a named netns)");
  c->add_flag("--no-etc", o.no_etc, "write no hosts or resolv.conf");
}
}  // namespace

int main(int argc, char** argv) {
  if (const char* cmd = getenv("CNI_COMMAND"); cmd && *cmd) return netcmd::cni_main();
  return cli::run_main("oci-net", [&] {
    CLI::App app{"Manage container networks", "oci-net"};
    cli::LogOptions log_opts;
    cli::add_log_flags(app, log_opts);
    std::string data_dir;
    app.add_option("--data-dir", data_dir,
                   "network definitions and leases (default $OCIKIT_NET_DIR or /var/lib/ocikit/networks)");
    app.require_subcommand(1);

    netcmd::CreateOptions co;
    auto* create = app.add_subcommand("create", "create a network");
    create->add_option("NAME", co.name, "network name")->required();
    create->add_option("-d,--driver", co.driver, "bridge, macvlan, overlay, host or none")->capture_default_str();
    create->add_option("--subnet", co.subnets, "subnet CIDR (once per address family)");
    create->add_option("--gateway", co.gateway, "gateway address (default: first host address)");
    create->add_option("--ip-range", co.ip_range, "allocate container addresses from this CIDR");
    create->add_flag("--internal", co.internal, "no outbound access");
    create->add_flag("--ipv6", co.ipv6, "dual-stack: add a unique local IPv6 /64 unless --subnet gives one");
    create->add_option("-o,--opt", co.opts,
                       "driver option KEY=VALUE (bridge=, parent=, mtu=, underlay=, masquerade=false, peers-file=)");
    create->add_option("--mtu", co.mtu, "MTU");
    create->add_option("--label", co.labels, "set metadata on the network (KEY=VALUE, repeatable)");
    create->add_option("--parent", co.parent, "macvlan: parent link");
    create->add_option("--vni", co.vni, "overlay: VXLAN network id");
    create->add_option("--peer", co.peers, "overlay: another host's underlay address");
    create->add_option("--local", co.local, "overlay: this host's underlay address");

    bool quiet = false;
    std::string format = "table";
    auto* ls = app.add_subcommand("ls", "list networks");
    ls->alias("list");
    ls->add_flag("-q,--quiet", quiet, "names only");
    ls->add_option("--format", format, "table or json");

    std::vector<std::string> names;
    auto* inspect = app.add_subcommand("inspect", "show networks as JSON");
    inspect->add_option("NETWORK", names, "a network's name or id (or a unique id prefix)")->required();
    auto* rm = app.add_subcommand("rm", "remove networks");
    rm->add_option("NETWORK", names, "a network's name or id (or a unique id prefix)")->required();
    auto* prune = app.add_subcommand("prune", "release leases of vanished containers, remove all unused networks");
    std::vector<std::string> prune_filters;
    prune->add_option("--filter", prune_filters,
                      "only networks created before until=TIME, with label=KEY[=VALUE], without "
                      "label!=KEY[=VALUE]")
        ->allow_extra_args(false);

    netcmd::ConnectOptions cn;
    auto* connect = app.add_subcommand("connect", "connect a network namespace to a network");
    connect->add_option("NETWORK", cn.network)->required();
    connect->add_option("TARGET", cn.target, "netns path or pid")->required();
    add_connect_flags(connect, cn);
    auto* disconnect = app.add_subcommand("disconnect", "undo connect");
    disconnect->add_option("NETWORK", cn.network)->required();
    disconnect->add_option("TARGET", cn.target, "netns path or pid");
    disconnect->add_option("--id", cn.id, "container id");
    std::string rename_id, rename_name;
    auto* rename = app.add_subcommand("rename-endpoint", "give a connected container another name on its networks");
    rename->add_option("ID", rename_id, "container id")->required();
    rename->add_option("NAME", rename_name, "the name other containers resolve")->required();
    auto* hook = app.add_subcommand("hook", "run as an OCI hook (container state JSON on stdin)");
    hook->add_option("STAGE", cn.stage, "createRuntime, prestart or poststop")->required();
    hook->add_option("--network", cn.network, "network name")->required();
    add_connect_flags(hook, cn);

    netcmd::CniInstallOptions ci;
    auto* cni = app.add_subcommand("cni", "set oci-net up as a node's CNI plugin (containerd's CRI)");
    cni->require_subcommand(1);
    auto* cni_install = cni->add_subcommand("install", "write the conflist, install the plugin and loopback");
    cni_install->add_option("--bin-dir", ci.bin_dir, "CNI plugin directory")->capture_default_str();
    cni_install->add_option("--conf-dir", ci.conf_dir, "CNI configuration directory")->capture_default_str();
    cni_install->add_option("--name", ci.name, "network name")->capture_default_str();
    cni_install->add_option("--subnet", ci.subnet, "the node's pod CIDR")->capture_default_str();
    cni_install->add_option("--bridge", ci.bridge, "bridge device")->capture_default_str();
    cni_install->add_flag("--force", ci.force, "replace files that differ");

    if (auto rc = cli::parse(app, argc, argv)) return *rc;
    cli::apply_log_flags(log_opts);
    if (*create) return netcmd::create(data_dir, co);
    if (*ls) return netcmd::list(data_dir, quiet, format);
    if (*inspect) return netcmd::inspect(data_dir, names);
    if (*rm) return netcmd::remove(data_dir, names);
    if (*prune) return netcmd::prune(data_dir, prune_filters);
    if (*connect) return netcmd::connect(data_dir, cn);
    if (*cni_install) return netcmd::cni_install(ci);
    if (*rename) return netcmd::rename_endpoint(data_dir, rename_id, rename_name);
    if (*disconnect) {
      if (cn.target.empty() && cn.id.empty()) fail(Errc::usage, "disconnect needs TARGET or --id");
      return netcmd::disconnect(data_dir, cn);
    }
    return netcmd::hook(data_dir, cn);
  });
}
