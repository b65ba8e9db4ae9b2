#include "common/net.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <sstream>

#include "common/digest.hpp"
#include "common/error.hpp"

namespace ocikit::net {

IpAddr parse_ip(std::string_view s) {
  std::string str(s);
  IpAddr a;
  if (str.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, str.c_str(), a.bytes.data()) == 1) {
      a.family = AF_INET;
      return a;
    }
  } else if (inet_pton(AF_INET6, str.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  fail(Errc::invalid, "invalid IP address \"" + str + "\"");
}

std::string to_string(const IpAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == 0) return "";
  inet_ntop(a.family, a.bytes.data(), buf, sizeof buf);
  return buf;
}

IpAddr add(const IpAddr& a, uint64_t n) {
  IpAddr r = a;
  // Add from the least significant byte up, carrying.
  for (int i = static_cast<int>(a.size()) - 1; i >= 0 && n != 0; --i) {
    uint64_t v = r.bytes[i] + (n & 0xff);
    r.bytes[i] = static_cast<uint8_t>(v);
    n = (n >> 8) + (v >> 8);
  }
  return r;
}

Cidr parse_cidr(std::string_view s) {
  auto slash = s.find('/');
  auto bad = [&] { fail(Errc::invalid, "invalid CIDR \"" + std::string(s) + "\""); };
  if (slash == std::string_view::npos) bad();
  Cidr c;
  try {
    c.addr = parse_ip(s.substr(0, slash));
  } catch (const Error&) {
    bad();
  }
  auto len = s.substr(slash + 1);
  auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), c.prefix);
  if (ec != std::errc() || p != len.data() + len.size() || len.empty() || c.prefix < 0 ||
      c.prefix > static_cast<int>(c.addr.size() * 8))
    bad();
  return c;
}

std::string to_string(const Cidr& c) { return to_string(c.addr) + "/" + std::to_string(c.prefix); }

namespace {
// Keep the first `prefix` bits of `a`; set the others to `fill`.
IpAddr mask(const IpAddr& a, int prefix, bool fill) {
  IpAddr r = a;
  for (size_t i = 0; i < a.size(); ++i) {
    int bits = prefix - static_cast<int>(i) * 8;
    uint8_t keep = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    r.bytes[i] = static_cast<uint8_t>((a.bytes[i] & keep) | (fill ? ~keep & 0xff : 0));
  }
  return r;
}
}  // namespace

Cidr network_of(const Cidr& c) { return {mask(c.addr, c.prefix, false), c.prefix}; }
IpAddr last_of(const Cidr& c) { return mask(c.addr, c.prefix, true); }

bool contains(const Cidr& c, const IpAddr& a) {
  return c.addr.family == a.family && mask(a, c.prefix, false) == mask(c.addr, c.prefix, false);
}

bool overlaps(const Cidr& a, const Cidr& b) {
  if (a.addr.family != b.addr.family) return false;
  int p = std::min(a.prefix, b.prefix);
  return mask(a.addr, p, false) == mask(b.addr, p, false);
}

std::optional<IpAddr> next_free(const Cidr& subnet, const Cidr& range, const IpAddr& gateway,
                                const std::set<IpAddr>& used) {
  IpAddr net = network_of(subnet).addr, bcast = last_of(subnet);
  IpAddr cur = network_of(range).addr, end = last_of(range);
  for (uint64_t i = 0; i < (1u << 20); ++i) {
    bool reserved = cur == net || cur == gateway || (cur.family == AF_INET && cur == bcast);
    if (!reserved && contains(subnet, cur) && !used.count(cur)) return cur;
    if (cur == end) break;
    cur = add(cur, 1);
  }
  return std::nullopt;
}

namespace {
struct PortRange {
  uint32_t lo = 0, hi = 0;
};

PortRange parse_range(std::string_view s, const std::string& spec) {
  auto bad = [&](const std::string& why) { fail(Errc::invalid, "bad port spec \"" + spec + "\": " + why); };
  auto num = [&](std::string_view t) {
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size()) bad("invalid port \"" + std::string(t) + "\"");
    if (v < 1 || v > 65535) bad("port " + std::string(t) + " out of range 1-65535");
    return v;
  };
  PortRange r;
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    r.lo = r.hi = num(s);
  } else {
    r.lo = num(s.substr(0, dash));
    r.hi = num(s.substr(dash + 1));
    if (r.hi < r.lo) bad("range " + std::string(s) + " ends before it starts");
  }
  return r;
}
}  // namespace

std::vector<PortMapping> parse_port_spec(std::string_view spec_in) {
  std::string spec(spec_in);
  auto bad = [&](const std::string& why) { fail(Errc::invalid, "bad port spec \"" + spec + "\": " + why); };
  std::string_view s = spec_in;
  std::string proto = "tcp";
  if (auto sl = s.rfind('/'); sl != std::string_view::npos) {
    proto = std::string(s.substr(sl + 1));
    s = s.substr(0, sl);
    if (proto != "tcp" && proto != "udp") bad("protocol \"" + proto + "\" is not tcp or udp");
  }
  std::string host_ip;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      bad("unclosed [ in host address");
    host_ip = std::string(s.substr(1, close - 1));
    s = s.substr(close + 2);
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == ':') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() == 3) {
    if (!host_ip.empty()) bad("two host addresses");
    host_ip = std::string(parts[0]);
    parts.erase(parts.begin());
  } else if (parts.size() > 3) {
    bad("too many ':' (put an IPv6 host address in brackets)");
  }
  if (!host_ip.empty()) {
    try {
      host_ip = to_string(parse_ip(host_ip));
    } catch (const Error&) {
      bad("invalid host address \"" + host_ip + "\"");
    }
  }
  PortRange c = parse_range(parts.back(), spec);
  // no host port (or an empty one): any free port, picked at connect
  bool any = parts.size() == 1 || parts[0].empty();
  PortRange h = any ? c : parse_range(parts[0], spec);
  uint32_t hn = h.hi - h.lo + 1, cn = c.hi - c.lo + 1;
  if (hn != cn) bad("host range has " + std::to_string(hn) + " ports, container range " + std::to_string(cn));
  std::vector<PortMapping> out;
  for (uint32_t i = 0; i < cn; ++i)
    out.push_back({host_ip, static_cast<uint16_t>(any ? 0 : h.lo + i), static_cast<uint16_t>(c.lo + i), proto});
  return out;
}

nlohmann::json to_json(const PortMapping& p) {
  return {{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port}, {"proto", p.proto}};
}

int64_t int_member(const nlohmann::json& j, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!j.is_object() || !j.contains(key)) return def;
  const auto& v = j.at(key);
  int64_t x;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) fail(Errc::invalid, std::string(key) + ": out of range");
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else {
    fail(Errc::invalid, std::string(key) + ": not an integer");
  }
  if (x < lo || x > hi)
    fail(
        Errc::invalid,
        std::string(key) + ": " + std::to_string(x) + " out of range " + std::to_string(lo) + "-" + std::to_string(hi));
  return x;
}

PortMapping port_from_json(const nlohmann::json& j) {
  PortMapping p;
  p.host_ip = j.value("host_ip", "");
  if (!j.contains("host_port") || !j.contains("container_port"))
    fail(Errc::invalid, "port mapping: host_port and container_port required");
  p.host_port = static_cast<uint16_t>(int_member(j, "host_port", 0, 0, 65535));
  p.container_port = static_cast<uint16_t>(int_member(j, "container_port", 0, 0, 65535));
  p.proto = j.value("proto", "tcp");
  check_port(p);
  return p;
}

void check_port(PortMapping& p) {
  for (auto& c : p.proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p.proto != "tcp" && p.proto != "udp")
    fail(Errc::invalid, "port mapping: protocol \"" + p.proto + "\" is not tcp or udp");
  if (p.host_port == 0 || p.container_port == 0) fail(Errc::invalid, "port mapping: port 0");
  if (!p.host_ip.empty()) p.host_ip = to_string(parse_ip(p.host_ip));
}

bool valid_network_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-') return false;
  return true;
}

nlohmann::json to_json(const Network& n) {
  nlohmann::json subs = nlohmann::json::array();
  for (const auto& s : n.subnets)
    subs.push_back(
        {{"subnet", to_string(s.subnet)}, {"gateway", to_string(s.gateway)}, {"ip_range", to_string(s.range)}});
  nlohmann::json j = {{"name", n.name}, {"id", n.id},           {"driver", n.driver},   {"subnets", subs},
                      {"internal", n.internal}, {"mtu", n.mtu}, {"options", n.options}, {"labels", n.labels},
                      {"created", n.created}};
  if (!n.bridge.empty()) j["bridge"] = n.bridge;
  if (!n.parent.empty()) j["parent"] = n.parent;
  if (n.driver == "overlay") {
    j["vni"] = n.vni;
    j["peers"] = n.peers;
    j["local"] = n.local;
  }
  return j;
}

Network network_from_json(const nlohmann::json& j) {
  Network n;
  n.name = j.at("name").get<std::string>();
  n.driver = j.value("driver", "bridge");
  n.bridge = j.value("bridge", "");
  n.internal = j.value("internal", false);
  n.mtu = static_cast<int>(int_member(j, "mtu", 1500, 0, 65535));
  n.parent = j.value("parent", "");
  n.vni = j.value("vni", 0u);
  n.peers = j.value("peers", std::vector<std::string>{});
  n.local = j.value("local", "");
  n.options = j.value("options", std::map<std::string, std::string>{});
  n.created = j.value("created", "");
  n.labels = j.value("labels", std::map<std::string, std::string>{});
  n.id = j.value("id", "");
  if (n.id.size() != 64 || n.id.find_first_not_of("0123456789abcdef") != std::string::npos)
    n.id = digest::of("ocikit-network\n" + n.name + "\n" + n.created).hex;
  for (const auto& s : j.value("subnets", nlohmann::json::array())) {
    Subnet sub;
    sub.subnet = parse_cidr(s.at("subnet").get<std::string>());
    sub.gateway = parse_ip(s.at("gateway").get<std::string>());
    sub.range = parse_cidr(s.value("ip_range", s.at("subnet").get<std::string>()));
    n.subnets.push_back(sub);
  }
  return n;
}

bool valid_link_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char ch : name)
    if (ch == '/' || ch == ':' || std::isspace(static_cast<unsigned char>(ch)) ||
        static_cast<unsigned char>(ch) < 0x21 || static_cast<unsigned char>(ch) >= 0x7f)
      return false;
  return true;
}

void validate_network(Network& n, const std::vector<Network>& others) {
  auto bad = [&](const std::string& why) { fail(Errc::invalid, "network \"" + n.name + "\": " + why); };
  if (!valid_network_name(n.name))
    fail(Errc::invalid, "invalid network name \"" + n.name + "\" (want 1-32 of A-Z a-z 0-9 _ . -)");
  static const std::set<std::string> drivers = {"bridge", "macvlan", "overlay", "host", "none"};
  if (!drivers.count(n.driver))
    bad("unknown driver \"" + n.driver + "\" (want bridge, macvlan, overlay, host or none)");
  if (n.mtu < 576 || n.mtu > 65535) bad("mtu " + std::to_string(n.mtu) + " out of range 576-65535");
  bool has4 = false, has6 = false;
  for (auto& s : n.subnets) {
    bool& seen = s.subnet.addr.family == AF_INET ? has4 : has6;
    if (seen) bad("two subnets of one address family");
    seen = true;
    s.subnet = network_of(s.subnet);
    int max = static_cast<int>(s.subnet.addr.size() * 8);
    if (s.subnet.prefix > max - 2) bad("subnet " + to_string(s.subnet) + " is too small");
    if (s.gateway.family == 0) s.gateway = add(s.subnet.addr, 1);
    if (!contains(s.subnet, s.gateway))
      bad("gateway " + to_string(s.gateway) + " is outside subnet " + to_string(s.subnet));
    if (s.range.addr.family == 0) s.range = s.subnet;
    s.range = network_of(s.range);
    if (!contains(s.subnet, s.range.addr) || s.range.prefix < s.subnet.prefix)
      bad("ip range " + to_string(s.range) + " is outside subnet " + to_string(s.subnet));
    for (const auto& o : others) {
      if (o.name == n.name) continue;
      for (const auto& os : o.subnets)
        if (overlaps(os.subnet, s.subnet))
          bad("subnet " + to_string(s.subnet) + " overlaps network \"" + o.name + "\" (" + to_string(os.subnet) + ")");
    }
  }
  if ((n.driver == "bridge" || n.driver == "overlay" || n.driver == "macvlan") && !has4 && !has6) bad("no subnet");
  if (n.driver == "bridge" || n.driver == "overlay") {
    if (n.bridge.empty()) n.bridge = default_bridge_name(n.name);
    if (n.bridge.size() > 15) bad("bridge name \"" + n.bridge + "\" is longer than 15 characters");
    if (!valid_link_name(n.bridge)) bad("bridge name \"" + n.bridge + "\" is not a valid interface name");
  }
  if (n.driver == "macvlan" && n.parent.empty()) bad("macvlan needs a parent link (--opt parent=LINK)");
  if (n.driver == "macvlan" && !valid_link_name(n.parent))
    bad("parent \"" + n.parent + "\" is not a valid interface name");
  if (n.driver == "overlay") {
    if (n.vni == 0 || n.vni > 0xffffff) bad("overlay needs --vni 1-16777215");
    for (const auto& p : n.peers) parse_ip(p);
    if (!n.local.empty()) parse_ip(n.local);
    // VXLAN over IPv4 adds 50 bytes of headers to every frame.
    if (!n.options.count("mtu") && n.mtu > 1450) n.mtu = 1450;
  }
}

std::string default_bridge_name(std::string_view network) {
  if (network == "bridge") return "ocikit0";
  // FNV-1a: short, stable, no dependency.
  uint32_t h = 2166136261u;
  for (char ch : network) h = (h ^ static_cast<uint8_t>(ch)) * 16777619u;
  char buf[16];
  snprintf(buf, sizeof buf, "okbr-%08x", h);
  return buf;
}

std::string host_veth_name(std::string_view container, std::string_view network) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (char ch : s) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
  };
  mix(container);
  mix("/");
  mix(network);
  char buf[16];
  snprintf(buf, sizeof buf, "okv%011llx", static_cast<unsigned long long>(h & 0xfffffffffffull));
  return buf;
}

Cidr ula_subnet(std::string_view network) {
  // FNV-1a 64 over the name: 56 bits after the fd prefix byte.
  uint64_t h = 1469598103934665603ull;
  for (char ch : network) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
  Cidr c;
  c.addr.family = AF_INET6;
  c.addr.bytes[0] = 0xfd;
  for (int i = 1; i < 8; ++i) c.addr.bytes[i] = static_cast<uint8_t>(h >> (8 * (i - 1)));
  c.prefix = 64;
  return c;
}

std::vector<IpAddr> parse_peers(std::string_view text, const std::string& path) {
  std::vector<IpAddr> out;
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.remove_suffix(1);
    if (line.empty()) continue;
    try {
      auto a = parse_ip(line);
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    } catch (const Error& e) {
      fail(Errc::invalid, path + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return out;
}

std::string render_hosts(const std::vector<HostEntry>& entries) {
  std::string s = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& e : entries) {
    s += e.ip;
    for (const auto& n : e.names) s += "\t" + n;
    s += "\n";
  }
  return s;
}

std::vector<std::string> reachable_nameservers(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string key, val;
    if (ls >> key >> val && key == "nameserver" && val.rfind("127.", 0) != 0 && val != "::1") out.push_back(val);
  }
  return out;
}

std::vector<std::string> all_nameservers(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string key, val;
    if (!(ls >> key >> val) || key != "nameserver") continue;
    try {
      parse_ip(val.substr(0, val.find('%')));  // fe80::1%eth0 keeps its scope
    } catch (const Error&) {
      continue;
    }
    out.push_back(val);
  }
  return out;
}

bool valid_hostname(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    if (ch == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
    if (ch == '-' && label == 0) return false;
    if (++label > 63) return false;
  }
  return label != 0;
}

std::string render_resolv(const std::vector<std::string>& nameservers, const std::vector<std::string>& search,
                          const std::vector<std::string>& options) {
  std::string s;
  for (const auto& n : nameservers) s += "nameserver " + n + "\n";
  auto line = [&](const char* key, const std::vector<std::string>& v) {
    if (v.empty()) return;
    s += key;
    for (const auto& x : v) s += " " + x;
    s += "\n";
  };
  line("search", search);
  line("options", options);
  return s;
}

}  // namespace ocikit::net
