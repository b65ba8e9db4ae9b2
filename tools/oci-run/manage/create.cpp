// oci-run manage/create: a managed container from a store image: parse and
// check every flag first, resolve (or pull) the image, extract its
// snapshots, and write the bundle's config.json plus the record. Any
// failure removes what was made (container dir, mount, volumes it created).
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/platform.hpp"
#include "common/process.hpp"
#include "common/reference.hpp"
#include "common/events.hpp"
#include "common/runtime_spec.hpp"
#include "common/snapshot.hpp"
#include "manage/health.hpp"
#include "manage/manage.hpp"
#include "manage/parse.hpp"

namespace ocikit::manage {

namespace {

std::string store_path(const Globals& g) { return g.store.empty() ? layout::default_store_path() : g.store; }

// Pull `name` from its registry into the store with the sibling oci-fetch
// (so that oci-run itself needs no registry client); its error line
// becomes ours.
void pull_into_store(const Globals& g, const std::string& store, const std::string& name, const std::string& plat,
                     const std::string& policy) {
  reference::Reference ref = with_context("image " + name, [&] { return reference::parse(name); });
  log::info("pulling " + ref.str());
  std::vector<std::string> args = {cli::find_tool("oci-fetch", g.self_dir, "OCIKIT_FETCH", {"OCI_FETCH"}), "--store",
                                   store};
  if (!plat.empty()) args.insert(args.end(), {"--platform", plat});
  if (!policy.empty()) args.insert(args.end(), {"--policy", policy});
  args.push_back("docker://" + ref.str());
  auto r = process::capture({.argv = args, .in = process::kDevNull, .out = process::kDevNull}, false, true);
  if (r.status == 0) return;
  std::string out = r.err;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  std::string line = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  if (line.rfind("oci-fetch: error: ", 0) == 0) line = line.substr(18);
  fail(Errc::failure, line.empty() ? "oci-fetch failed" : line);
}

// An index entry picks the manifest of the wanted (or host) platform.
image::Descriptor pick_manifest(const layout::Layout& store, image::Descriptor d, const std::string& plat) {
  platform::Platform want = plat.empty() ? platform::host() : platform::parse(plat);
  for (int depth = 0; depth < 4 && image::is_index_media_type(d.media_type); depth++) {
    image::Index idx = store.read_index(d);
    const image::Descriptor* hit = nullptr;
    for (const auto& m : idx.manifests)
      if (!m.platform || platform::matches(want, *m.platform)) {
        hit = &m;
        break;
      }
    if (!hit) fail(Errc::not_found, "image has no manifest for platform " + plat);
    d = *hit;
  }
  return d;
}

struct Image {
  image::Descriptor desc;
  image::Manifest manifest;
  image::ImageConfig config;
};

Image resolve_image(const Globals& g, const RunOptions& o) {
  if (o.pull != "missing" && o.pull != "always" && o.pull != "never")
    fail(Errc::usage, "invalid --pull \"" + o.pull + "\" (want missing, always or never)");
  std::string dir = store_path(g);
  std::optional<layout::Layout> store;
  if (o.pull == "never") store = layout::Layout::open(dir);
  else store = layout::Layout::open_or_create(dir);
  std::optional<image::Descriptor> d;
  if (o.pull != "always") d = store->resolve(o.image);
  if (!d) {
    if (o.pull == "never") fail(Errc::not_found, "image \"" + o.image + "\" not found in " + dir);
    with_context("pull " + o.image, [&] { pull_into_store(g, dir, o.image, o.platform, o.signature_policy); });
    store = layout::Layout::open(dir);
    d = store->resolve(o.image);
    if (!d) fail(Errc::not_found, "image \"" + o.image + "\" not in " + dir + " after the pull");
  }
  Image im;
  im.desc = pick_manifest(*store, *d, o.platform);
  im.manifest = store->read_manifest(im.desc);
  im.config = store->read_config(im.manifest.config);
  return im;
}

// Undo a half-made container.
struct Rollback {
  StateDir st;
  std::string id;
  std::string mounted;
  std::vector<std::string> volumes;
  bool armed = true;
  ~Rollback() {
    if (!armed) return;
    try {
      if (!mounted.empty()) snapshot::unmount_rootfs(mounted);
    } catch (...) {
    }
    try {
      if (!id.empty()) st.remove(id);
    } catch (...) {
    }
    for (const auto& v : volumes) try {
        fs::remove_all(st.volumes_dir() + "/" + v);
      } catch (...) {
      }
  }
};

}  // namespace

bool store_has_image(const std::string& store, const std::string& image) {
  try {
    return layout::Layout::open(store).resolve(image).has_value();
  } catch (const Error&) {
    return false;
  }
}

std::string create_from_image(const Globals& g, const RunOptions& o, bool keep_mounted) {
  // 1. Everything the command line says, checked before anything is made.
  if (o.image.empty()) fail(Errc::usage, "missing IMAGE");
  if (!o.name.empty() && !valid_name(o.name))
    fail(Errc::usage, "invalid container name \"" + o.name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::vector<MountRecord> mounts;
  for (const auto& v : o.volumes) mounts.push_back(parse_volume(v));
  for (const auto& m : o.mounts) mounts.push_back(parse_mount(m));
  for (const auto& t : o.tmpfs) mounts.push_back(parse_tmpfs(t));
  // --volumes-from: that container's volumes (named and anonymous) and
  // binds at the same destinations; an explicit mount there wins (docker).
  for (const auto& spec : o.volumes_from) {
    std::string key = spec, mode;
    if (auto colon = spec.rfind(':'); colon != std::string::npos) {
      key = spec.substr(0, colon);
      mode = spec.substr(colon + 1);
      if (mode != "ro" && mode != "rw") fail(Errc::usage, "invalid mode: " + mode + " (--volumes-from " + spec + ")");
    }
    StateDir from_st(g.state_dir.empty() ? default_state_dir() : g.state_dir);
    Record from = from_st.load(from_st.find(key));
    for (auto m : from.mounts) {
      if (m.type != "volume" && m.type != "bind") continue;
      bool covered = false;
      for (const auto& x : mounts) covered = covered || fs::clean_path(x.destination) == fs::clean_path(m.destination);
      if (covered) continue;
      if (!mode.empty()) m.read_only = mode == "ro";
      mounts.push_back(m);
    }
  }
  auto [policy, max_retries] = parse_restart(o.restart);
  HealthFlags hf{o.health_cmd, o.health_interval, o.health_timeout, o.health_start_period, o.health_start_interval,
                 o.health_retries, o.no_healthcheck};
  merge_healthcheck(std::nullopt, hf);  // the flags checked before anything is made
  if (o.rm && policy != "no") fail(Errc::usage, "conflicting options: --restart and --rm");
  std::vector<std::string> ports;
  for (const auto& p : o.publish) ports.push_back(check_publish(p));
  std::vector<std::string> exposed = parse_expose(o.expose);
  runtime_spec::Options so;
  so.cmd = o.cmd;
  if (o.entrypoint) {
    if (o.entrypoint->empty()) so.entrypoint = std::vector<std::string>{};
    else so.entrypoint = std::vector<std::string>{*o.entrypoint};
  }
  for (const auto& f : o.env_files)
    for (auto& e : read_env_file(f)) so.env.push_back(e);
  for (const auto& e : o.env) so.env.push_back(e);
  so.workdir = o.workdir;
  if (!so.workdir.empty() && so.workdir[0] != '/')
    fail(Errc::usage, "the working directory \"" + so.workdir + "\" is not absolute");
  so.user = o.user;
  so.hostname = o.hostname;
  so.terminal = o.tty;
  so.read_only = o.read_only;
  so.privileged = o.privileged;
  so.cap_add = o.cap_add;
  so.cap_drop = o.cap_drop;
  for (const auto& s : o.security_opts) apply_security_opt(s, so);
  std::map<std::string, std::string> labels;
  for (const auto& l : o.labels) {
    auto eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  nlohmann::json resources = parse_resources(o.memory, o.cpus, o.pids_limit);
  std::vector<nlohmann::json> ulimits;
  for (const auto& u : o.ulimits) ulimits.push_back(parse_ulimit(u));
  std::string network = o.network;
  // docker's "default" network mode is its default network, "bridge".
  bool docker_default = network == "default";
  if (docker_default) network = "bridge";
  if (network.empty() && !ports.empty()) network = "bridge";
  std::string network_mode = docker_default ? "default" : network.empty() ? "none" : network;
  if (network == "host" && !ports.empty())
    fail(Errc::usage, "published ports are discarded when using host network mode");
  // docker: "network-scoped alias is supported only for containers in user defined networks".
  if (!o.network_aliases.empty() && (network.empty() || network == "host" || network == "none" || network == "bridge"))
    fail(Errc::usage, "network-scoped aliases are supported only for containers in user defined networks");
  for (const auto& a : o.network_aliases)
    if (!net::valid_hostname(a)) fail(Errc::usage, "invalid network alias \"" + a + "\"");
  std::string oci_net;
  if (!network.empty() && network != "none" && network != "host")
    oci_net = cli::find_tool("oci-net", g.self_dir, "OCIKIT_NET", {"OCI_NET"});

  // 2. The image (pulled when asked or missing).
  Image im = resolve_image(g, o);
  // -P: every port the image EXPOSEs and every --expose not published yet,
  // each on a free host port, as docker's (not on host or none).
  if (o.publish_all && network != "host" && network != "none") {
    std::set<std::string> have;
    auto key = [](const net::PortMapping& m) { return std::to_string(m.container_port) + "/" + m.proto; };
    for (const auto& p : ports)
      for (const auto& m : net::parse_port_spec(p)) have.insert(key(m));
    std::vector<std::string> all = im.config.config.exposed_ports;
    all.insert(all.end(), exposed.begin(), exposed.end());
    for (const auto& e : all) {
      std::vector<net::PortMapping> maps;
      try {
        maps = net::parse_port_spec(e);
      } catch (const Error& err) {
        log::warn(std::string("-P: skipping exposed port: ") + err.what());
        continue;
      }
      for (const auto& m : maps)
        if (have.insert(key(m)).second) ports.push_back(key(m));
    }
    if (network.empty() && !ports.empty()) {
      network = network_mode = "bridge";
      oci_net = cli::find_tool("oci-net", g.self_dir, "OCIKIT_NET", {"OCI_NET"});
    }
  }
  so.annotations = labels;

  // 3. The record: name reserved and id chosen under the lock.
  StateDir st(g.state_dir.empty() ? default_state_dir() : g.state_dir);
  Record r;
  Rollback rb{st, "", "", {}};
  {
    auto lock = st.lock();
    if (!o.name.empty() && st.name_taken(o.name))
      fail(Errc::exists, "the container name \"" + o.name + "\" is already in use");
    r.id = new_id();
    r.name = o.name.empty() ? new_name(st) : o.name;
    r.status = "creating";
    r.created = log::now_rfc3339();
    st.save(r);
    rb.id = r.id;
  }
  r.image = o.image;
  r.image_digest = im.desc.digest.str();
  r.runtime_root = g.runtime_root;
  r.store = store_path(g);
  r.restart_policy = policy;
  r.restart_max = max_retries;
  r.auto_remove = o.rm;
  r.tty = o.tty;
  r.interactive = o.interactive;
  r.labels = labels;
  r.ports = ports;
  r.exposed = exposed;
  r.user = o.user;
  r.network = network;
  r.stop_signal = !o.stop_signal.empty()      ? o.stop_signal
      : !im.config.config.stop_signal.empty() ? im.config.config.stop_signal
                                              : "SIGTERM";
  r.stop_timeout = o.stop_timeout.value_or(10);
  if (auto hc = merge_healthcheck(im.config.config.healthcheck, hf)) r.healthcheck = healthcheck_to_json(*hc);

  // 4. Volumes: named ones are made on first use; "-v /path" gets an
  // anonymous one, and so does each image VOLUME no mount covers (docker).
  for (const auto& v : im.config.config.volumes) {
    std::string dst = fs::clean_path(v);
    if (dst.empty() || dst[0] != '/' || dst == "/") continue;
    bool covered = false;
    for (const auto& m : mounts) covered = covered || fs::clean_path(m.destination) == dst;
    if (!covered) mounts.push_back({"volume", "", dst, false, ""});
  }
  for (auto& m : mounts) {
    if (m.type != "volume") continue;
    bool anonymous = m.source.empty();
    if (anonymous) {
      m.source = new_id();
      r.volumes_created.push_back(m.source);
    }
    if (ensure_volume(st, m.source, anonymous)) rb.volumes.push_back(m.source);
  }
  r.mounts = mounts;

  // 5. Snapshots, a temporary rootfs mount (USER is resolved from its
  // /etc/passwd), and config.json.
  auto snaps = snapshot::Store::open(snapshot::default_dir(r.store));
  layout::Layout store = layout::Layout::open(r.store);
  r.layers = snaps.prepare(store, im.manifest, im.config);
  std::string rootfs = st.rootfs_dir(r.id);
  fs::mkdir_p(rootfs, 0755);
  fs::mkdir_p(st.upper_dir(r.id), 0755);
  fs::mkdir_p(st.work_dir(r.id), 0700);
  snapshot::mount_rootfs(r.layers, st.upper_dir(r.id), st.work_dir(r.id), rootfs);
  rb.mounted = rootfs;
  so.mounts = oci_mounts(st, r.mounts);
  so.resources = resources;
  so.rlimits = ulimits;
  so.network = network;
  so.net_tool = oci_net;
  so.net_args = {"--name", r.name};
  for (const auto& p : ports) so.net_args.insert(so.net_args.end(), {"-p", p});
  for (const auto& a : o.network_aliases) so.net_args.insert(so.net_args.end(), {"--alias", a});
  if (o.init) so.init = find_init(g.self_dir);
  nlohmann::ordered_json spec = runtime_spec::from_image(im.config, rootfs, "rootfs", so);
  // As docker: the working dir is made when the image lacks it (owned by the user).
  std::string cwd = spec["process"].value("cwd", "/");
  std::string host_cwd = fs::secure_join(rootfs, cwd);
  if (!fs::exists(host_cwd)) {
    fs::mkdir_p(host_cwd, 0755);
    if (chown(host_cwd.c_str(), spec["process"]["user"].value("uid", 0u), spec["process"]["user"].value("gid", 0u)) !=
        0)
      throw_errno("chown " + cwd);
  }
  // A volume made now starts with what the image holds at its path.
  for (const auto& m : r.mounts)
    if (m.type == "volume" && std::find(rb.volumes.begin(), rb.volumes.end(), m.source) != rb.volumes.end())
      with_context("volume " + m.destination, [&] {
        seed_volume(fs::secure_join(rootfs, m.destination), st.volumes_dir() + "/" + m.source + "/_data");
      });
  // `run` starts it at once: its monitor finds the rootfs mounted already.
  if (!keep_mounted) {
    snapshot::unmount_rootfs(rootfs);
    rb.mounted.clear();
  }

  for (const auto& a : spec["process"]["args"]) r.command.push_back(a.get<std::string>());
  r.host_config = {{"Memory", resources.contains("memory") ? resources["memory"].value("limit", 0L) : 0L},
                   {"NanoCpus", o.cpus.empty() ? 0L : static_cast<long>(std::llround(std::stod(o.cpus) * 1e9))},
                   {"PidsLimit", o.pids_limit},
                   {"Privileged", o.privileged},
                   {"ReadonlyRootfs", o.read_only},
                   {"CapAdd", o.cap_add},
                   {"CapDrop", o.cap_drop},
                   {"SecurityOpt", o.security_opts},
                   {"NetworkMode", network_mode},
                   {"PublishAllPorts", o.publish_all},
                   {"Init", o.init},
                   {"VolumesFrom", o.volumes_from},
                   {"Ulimits", nlohmann::json::array()}};
  for (const auto& u : ulimits) {
    std::string n = u["type"].get<std::string>().substr(7);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto signed_of = [](const nlohmann::json& v) {
      return v.get<uint64_t>() == UINT64_MAX ? int64_t{-1} : v.get<int64_t>();
    };
    r.host_config["Ulimits"].push_back({{"Name", n}, {"Soft", signed_of(u["soft"])}, {"Hard", signed_of(u["hard"])}});
  }
  write_file_replace(st.bundle_dir(r.id) + "/config.json", spec.dump(2) + "\n", 0600);
  r.status = "created";
  st.save(r);
  rb.armed = false;
  for (const auto& v : rb.volumes) {
    events::Event e{"volume", "create", v, {{"driver", "local"}}};
    events::emit(std::move(e));
  }
  container_event(r, "create");
  return r.id;
}

}  // namespace ocikit::manage
