#include "store.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>

#include "common/digest.hpp"
#include "common/error.hpp"

namespace ocikit::netstore {

using nlohmann::json;

namespace {
// The data dir and its leases/. Parents made here are 0755 and the data dir
// 0711 (searchable, not listable), so that a network's resolver, which drops
// root, reaches its files in dns/ (dns.cpp); leases/ stays private.
void make_dirs(const std::string& dir) {
  if (fs::exists(dir + "/leases")) return;
  auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) fs::mkdir_p(dir.substr(0, slash), 0755);
  fs::mkdir_p(dir, 0711);
  fs::mkdir_p(dir + "/leases", 0700);
}
}  // namespace

Store::Store(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) {
    const char* env = getenv("OCIKIT_NET_DIR");
    dir_ = env && *env ? env : "/var/lib/ocikit/networks";
  }
}

std::vector<net::Network> Store::list() {
  std::vector<net::Network> out;
  DIR* d = opendir(dir_.c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() <= 5 || n.compare(n.size() - 5, 5, ".json") != 0) continue;
    std::string path = dir_ + "/" + n;
    try {
      out.push_back(with_context(path, [&] { return net::network_from_json(json::parse(fs::read_file(path))); }));
    } catch (...) {
      closedir(d);
      throw;
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

std::optional<net::Network> Store::find(const std::string& name) {
  if (!net::valid_network_name(name)) return std::nullopt;
  std::string path = dir_ + "/" + name + ".json";
  if (!fs::exists(path)) return std::nullopt;
  return with_context(path, [&] { return net::network_from_json(json::parse(fs::read_file(path))); });
}

net::Network Store::get(const std::string& name) {
  if (auto n = find(name)) return *n;
  // docker's order: a name, then a full id, then a unique id prefix.
  if (!name.empty() && name.size() <= 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos) {
    std::vector<net::Network> hits;
    for (auto& n : list())
      if (n.id.compare(0, name.size(), name) == 0) hits.push_back(std::move(n));
    if (hits.size() == 1) return hits[0];
    if (hits.size() > 1)
      fail(Errc::invalid, "network id prefix \"" + name + "\" is ambiguous (" + std::to_string(hits.size()) +
                              " networks match)");
  }
  if (name == "bridge") {
    // docker's docker0 equivalent, made on first use.
    net::Network n;
    n.name = "bridge";
    n.subnets.push_back({net::parse_cidr("10.87.0.0/16"), {}, {}});
    try {
      create(n);
    } catch (const Error& e) {
      if (e.code() != Errc::exists) throw;
    }
    return *find(name);
  }
  fail(Errc::not_found, "network \"" + name + "\" not found");
}

void Store::create(net::Network& n) {
  make_dirs(dir_);
  auto lock = lock_defs();
  auto others = list();
  for (const auto& o : others)
    if (o.name == n.name) fail(Errc::exists, "network \"" + n.name + "\" already exists");
  net::validate_network(n, others);
  for (const auto& o : others)
    if (!n.bridge.empty() && o.bridge == n.bridge)
      fail(Errc::invalid, "network \"" + n.name + "\": bridge " + n.bridge + " is used by network \"" + o.name + "\"");
  if (n.created.empty()) {
    char buf[32];
    time_t t = time(nullptr);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    n.created = buf;
  }
  if (n.id.empty()) {
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) fail(Errc::io, "getrandom failed");
    n.id = digest::of(n.name + "\n" + n.created + "\n" + std::string(reinterpret_cast<char*>(rnd), sizeof rnd)).hex;
  }
  fs::write_file_atomic(dir_ + "/" + n.name + ".json", net::to_json(n).dump(2) + "\n");
}

void Store::remove(const std::string& name) {
  unlink((dir_ + "/leases/" + name + ".json").c_str());
  if (unlink((dir_ + "/" + name + ".json").c_str()) != 0 && errno != ENOENT)
    throw_errno("remove " + dir_ + "/" + name + ".json");
}

fs::FileLock Store::lock_defs() {
  make_dirs(dir_);
  return fs::FileLock(dir_ + "/.lock");
}

fs::FileLock Store::lock_leases(const std::string& network) {
  make_dirs(dir_);
  return fs::FileLock(dir_ + "/leases/" + network + ".lock");
}

std::vector<Lease> Store::leases(const std::string& network) {
  std::string path = dir_ + "/leases/" + network + ".json";
  std::vector<Lease> out;
  if (!fs::exists(path)) return out;
  with_context(path, [&] {
    json doc = json::parse(fs::read_file(path));
    for (const auto& j : doc.at("leases")) {
      Lease l;
      l.container = j.at("container").get<std::string>();
      l.hostname = j.value("hostname", "");
      l.aliases = j.value("aliases", std::vector<std::string>{});
      l.ifname = j.value("ifname", "");
      l.host_if = j.value("host_if", "");
      l.netns = j.value("netns", "");
      l.netns_id = j.value("netns_id", "");
      l.addrs = j.value("addrs", std::vector<std::string>{});
      l.mac = j.value("mac", "");
      for (const auto& p : j.value("ports", json::array())) l.ports.push_back(net::port_from_json(p));
      l.etc_dir = j.value("etc_dir", "");
      l.owns_etc = j.value("owns_etc", false);
      l.setting_up = j.value("setting_up", "");
      out.push_back(std::move(l));
    }
  });
  return out;
}

void Store::save_leases(const std::string& network, const std::vector<Lease>& leases) {
  json arr = json::array();
  for (const auto& l : leases) {
    json ports = json::array();
    for (const auto& p : l.ports) ports.push_back(net::to_json(p));
    arr.push_back({{"container", l.container},
                   {"hostname", l.hostname},
                   {"aliases", l.aliases},
                   {"ifname", l.ifname},
                   {"host_if", l.host_if},
                   {"netns", l.netns},
                   {"netns_id", l.netns_id},
                   {"addrs", l.addrs},
                   {"ports", ports},
                   {"etc_dir", l.etc_dir},
                   {"owns_etc", l.owns_etc}});
    if (!l.mac.empty()) arr.back()["mac"] = l.mac;
    if (!l.setting_up.empty()) arr.back()["setting_up"] = l.setting_up;
  }
  std::string path = dir_ + "/leases/" + network + ".json";
  if (leases.empty()) {
    unlink(path.c_str());
    return;
  }
  fs::write_file_atomic(path, json{{"leases", arr}}.dump(1) + "\n");
}

}  // namespace ocikit::netstore
