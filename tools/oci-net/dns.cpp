#include "dns.hpp"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace ocikit::dns {
namespace {

std::string dns_dir(netstore::Store& st) { return st.dir() + "/dns"; }
std::string pid_path(netstore::Store& st, const std::string& name) { return dns_dir(st) + "/" + name + ".pid"; }
std::string hosts_path(netstore::Store& st, const std::string& name) { return dns_dir(st) + "/" + name + ".hosts"; }
std::string servers_path(netstore::Store& st, const std::string& name) { return dns_dir(st) + "/" + name + ".servers"; }

std::string addr_only(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// The pid in the pid file when it is a dnsmasq started with that pid file
// (a reused pid names another program or another instance), else 0.
pid_t live_pid(netstore::Store& st, const std::string& name) {
  std::string path = pid_path(st, name), text;
  try {
    text = fs::read_file(path);
  } catch (const Error&) {
    return 0;
  }
  char* end = nullptr;
  long pid = strtol(text.c_str(), &end, 10);
  if (pid <= 1 || pid > 4194304 || end == text.c_str()) return 0;
  std::string cmdline;
  try {
    cmdline = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  } catch (const Error&) {
    return 0;
  }
  std::replace(cmdline.begin(), cmdline.end(), '\0', '\n');
  if (cmdline.find("--pid-file=" + path + "\n") == std::string::npos) return 0;
  return static_cast<pid_t>(pid);
}

std::string find_dnsmasq() {
  if (const char* p = getenv("PATH"))
    for (std::string_view rest = p; !rest.empty();) {
      auto colon = rest.find(':');
      std::string dir{rest.substr(0, colon)};
      rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
      if (!dir.empty() && access((dir + "/dnsmasq").c_str(), X_OK) == 0) return dir + "/dnsmasq";
    }
  if (access("/usr/sbin/dnsmasq", X_OK) == 0) return "/usr/sbin/dnsmasq";
  fail(Errc::not_found,
       "dnsmasq not found (Debian: apt-get install dnsmasq-base): containers on user networks need it "
       "to resolve each other's names");
}

// True when user "nobody"-like accounts can reach `path`: every directory
// above it is searchable by others.
bool reachable_by_others(const std::string& path) {
  std::string p = path;
  while (!p.empty()) {
    struct stat sb {};
    if (stat(p.c_str(), &sb) != 0 || !(sb.st_mode & S_IXOTH)) return false;
    auto slash = p.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    p.resize(slash);
  }
  return true;
}

// The account dnsmasq drops to: Debian's "dnsmasq" (dnsmasq-base makes it)
// or "nobody"; root only when the hosts file is out of their reach (a data
// dir under a private directory), as aardvark-dns always runs. The data dir
// itself is made searchable (not listable): what is private in it (leases/)
// keeps its own mode.
std::pair<std::string, std::string> account_for(netstore::Store& st, const std::string& dir) {
  struct stat sb {};
  if (stat(st.dir().c_str(), &sb) == 0 && (sb.st_mode & 011) != 011)
    chmod(st.dir().c_str(), (sb.st_mode & 07777) | 011);
  if (!reachable_by_others(dir)) {
    log::debug("dns: " + dir + " is not reachable by other users: dnsmasq keeps root");
    return {"root", "root"};
  }
  for (const char* u : {"dnsmasq", "nobody"})
    if (const passwd* pw = getpwnam(u)) {
      const group* gr = getgrgid(pw->pw_gid);
      return {u, gr ? gr->gr_name : std::to_string(pw->pw_gid)};
    }
  return {"root", "root"};
}

// True when process `pid` holds a UDP socket bound to `ip` port 53 in this
// network namespace (/proc/net/udp lists "HEXADDR:0035" and the inode); with
// pid 0, when any process holds it or the wildcard address's port 53.
bool listens_udp(pid_t pid, const net::IpAddr& ip) {
  char want[16];
  uint32_t a;
  memcpy(&a, ip.bytes.data(), 4);
  snprintf(want, sizeof want, "%08X:0035", a);  // host byte order, as the kernel prints it
  std::set<std::string> inodes;
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = pid > 0 ? opendir(fd_dir.c_str()) : nullptr) {
    while (auto* e = readdir(d)) {
      char buf[64];
      ssize_t n = readlink((fd_dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
      if (n <= 0) continue;
      std::string link(buf, static_cast<size_t>(n));
      if (link.rfind("socket:[", 0) == 0) inodes.insert(link.substr(8, link.size() - 9));
    }
    closedir(d);
  }
  std::string table;
  try {
    table = fs::read_file("/proc/net/udp");
  } catch (const Error&) {
    return false;
  }
  std::istringstream in(table);
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
    if (!(ls >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode)) continue;
    if (pid <= 0 && (local == want || local == "00000000:0035")) return true;
    if (local == want && inodes.count(inode)) return true;
  }
  return false;
}

void start(netstore::Store& st, const net::Network& n) {
  std::string dir = dns_dir(st);
  auto [user, group] = account_for(st, dir);
  std::vector<std::string> argv = {
      find_dnsmasq(), "--conf-file=/dev/null", "--pid-file=" + pid_path(st, n.name), "--user=" + user,
      "--group=" + group,
      // Binds each listen address as it appears
      // (an IPv6 gateway is tentative at first).
      "--bind-dynamic", "--port=53", "--no-hosts", "--addn-hosts=" + hosts_path(st, n.name),
      // "server=/NAME/" per served name: answered
      // here only (an AAAA query for a name with
      // only an IPv4 address is not forwarded).
      "--servers-file=" + servers_path(st, n.name), "--no-resolv", "--no-poll", "--cache-size=150"};
  std::vector<std::string> gateways;
  for (const auto& s : n.subnets) {
    gateways.push_back(net::to_string(s.gateway));
    argv.push_back("--listen-address=" + gateways.back());
  }
  // An internal network has no way out, and its resolver forwards nothing
  // either: it answers only the names of the network's containers.
  if (!n.internal) {
    std::string text;
    try {
      text = fs::read_file("/etc/resolv.conf");
    } catch (const Error& e) {
      log::warn(std::string("dns: ") + e.what() + ": network \"" + n.name + "\" forwards no names");
    }
    for (const auto& ns : net::all_nameservers(text))
      if (std::find(gateways.begin(), gateways.end(), ns) == gateways.end()) argv.push_back("--server=" + ns);
  }
  for (const auto& s : n.subnets)
    if (s.subnet.addr.family == AF_INET && listens_udp(0, s.gateway))
      fail(Errc::io,
           "network \"" + n.name + "\": start its resolver: " + net::to_string(s.gateway) +
               " port 53 is in use by another program");
  process::Spec spec;
  spec.argv = argv;
  spec.reset_signals = true;
  // dnsmasq daemonizes: the parent exits once the child is listening (0) or
  // has failed (its message on stderr); the child closes the pipe.
  process::Bounds b;
  b.max_output = 64 * 1024;
  b.timeout_ms = 10000;
  auto out = process::capture_bounded(spec, b);
  if (out.status != 0) {
    std::string msg = out.err.empty() ? out.out : out.err;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    fail(Errc::io,
         "network \"" + n.name + "\": start its resolver: " +
             (msg.empty() ? "dnsmasq exited with status " + std::to_string(out.status) : msg));
  }
  // With --bind-dynamic dnsmasq starts even when it cannot bind an address
  // (an IPv6 one is tentative at first); an IPv4 gateway it must hold.
  pid_t pid = live_pid(st, n.name);
  for (const auto& s : n.subnets)
    if (s.subnet.addr.family == AF_INET && !listens_udp(pid, s.gateway)) {
      stop(st, n.name);
      fail(Errc::io,
           "network \"" + n.name + "\": start its resolver: " + net::to_string(s.gateway) +
               " port 53 is in use by another program");
    }
  log::debug("dns: network \"" + n.name + "\": dnsmasq pid " + std::to_string(pid));
}

}  // namespace

bool wanted(const net::Network& n) { return n.driver == "bridge" && n.name != "bridge" && !n.subnets.empty(); }

std::vector<std::string> nameservers(const net::Network& n) {
  std::vector<std::string> out;
  for (int fam : {AF_INET, AF_INET6})
    for (const auto& s : n.subnets)
      if (s.subnet.addr.family == fam) out.push_back(net::to_string(s.gateway));
  return out;
}

std::vector<std::string> names_of(const netstore::Lease& l) {
  std::vector<std::string> names;
  auto add = [&](const std::string& x) {
    if (!net::valid_hostname(x)) return;
    if (std::find(names.begin(), names.end(), x) == names.end()) names.push_back(x);
  };
  add(l.hostname);
  for (const auto& a : l.aliases) add(a);
  if (l.container.size() == 64 && l.container.find_first_not_of("0123456789abcdef") == std::string::npos)
    add(l.container.substr(0, 12));
  return names;
}

bool running(netstore::Store& st, const std::string& name) { return live_pid(st, name) != 0; }

void sync(netstore::Store& st, const net::Network& n, const std::vector<netstore::Lease>& leases, bool start_it) {
  if (leases.empty()) {
    stop(st, n.name);
    return;
  }
  pid_t pid = live_pid(st, n.name);
  if (!pid && !start_it) return;
  std::string text, servers;
  for (const auto& l : leases) {
    if (!l.setting_up.empty() && l.addrs.empty()) continue;
    auto names = names_of(l);
    if (names.empty()) continue;
    for (const auto& a : l.addrs) {
      text += addr_only(a);
      for (const auto& x : names) text += " " + x;
      text += "\n";
    }
    for (const auto& x : names) servers += "server=/" + x + "/\n";
  }
  std::string dir = dns_dir(st);
  fs::mkdir_p(dir, 0755);
  chmod(dir.c_str(), 0755);
  fs::write_file_atomic(hosts_path(st, n.name), text, 0644);
  fs::write_file_atomic(servers_path(st, n.name), servers, 0644);
  if (pid) {
    // dnsmasq re-reads --addn-hosts and --servers-file (and clears its
    // cache) on SIGHUP.
    if (kill(pid, SIGHUP) != 0) throw_errno("network \"" + n.name + "\": reload its resolver");
    return;
  }
  start(st, n);
}

void stop(netstore::Store& st, const std::string& name) {
  if (pid_t pid = live_pid(st, name)) {
    kill(pid, SIGTERM);
    // Wait (at most ~2 s) until it is gone (a zombie has no cmdline), so
    // that no process outlives rm.
    for (int i = 0; i < 200 && live_pid(st, name) == pid; ++i) {
      timespec ts{0, 10 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
    if (live_pid(st, name) == pid) kill(pid, SIGKILL);
  }
  unlink(pid_path(st, name).c_str());
  unlink(hosts_path(st, name).c_str());
  unlink(servers_path(st, name).c_str());
}

}  // namespace ocikit::dns
