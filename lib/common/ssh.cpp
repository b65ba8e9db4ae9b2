// ocikit::ssh (ssh.hpp).
#include "common/ssh.hpp"

#include <sys/random.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/error.hpp"

namespace ocikit::ssh {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_';
}

[[noreturn]] void bad(std::string_view s, const std::string& why) {
  fail(Errc::usage, "invalid ssh address \"" + std::string(s.substr(0, 300)) + "\": " + why);
}

}  // namespace

bool is_ssh_url(std::string_view s) { return s.starts_with("ssh://"); }

std::string Address::destination() const { return user.empty() ? host : user + "@" + host; }

std::string Address::str() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string s = "ssh://" + (user.empty() ? "" : user + "@") + h;
  if (port) s += ":" + std::to_string(port);
  return s;
}

Address parse_url(std::string_view s) {
  if (!is_ssh_url(s)) bad(s, "it must start with ssh://");
  if (s.size() > 1024) bad(s, "too long");
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ') bad(s, "control characters or blanks");
  std::string_view rest = s.substr(6);
  Address a;
  auto slash = rest.find('/');
  std::string_view auth = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    a.path = std::string(rest.substr(slash + 1));
    if (a.path.size() > 255) bad(s, "the path is too long");
    if (a.path.find("..") != std::string::npos) bad(s, "the path holds \"..\"");
  }
  if (auto at = auth.rfind('@'); at != std::string_view::npos) {
    a.user = std::string(auth.substr(0, at));
    auth = auth.substr(at + 1);
    if (a.user.empty()) bad(s, "empty user");
    if (a.user[0] == '-') bad(s, "a user may not start with '-'");
    for (char c : a.user)
      if (!name_char(c)) bad(s, "the user may only hold letters, digits, '.', '_' and '-'");
  }
  std::string_view port;
  if (!auth.empty() && auth[0] == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) bad(s, "unclosed '['");
    a.host = std::string(auth.substr(1, close - 1));
    for (char c : a.host)
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) bad(s, "bad IPv6 address");
    auth = auth.substr(close + 1);
    if (!auth.empty() && auth[0] != ':') bad(s, "junk after ']'");
    if (!auth.empty()) port = auth.substr(1);
    if (a.host.empty()) bad(s, "empty host");
  } else {
    auto colon = auth.find(':');
    a.host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) port = auth.substr(colon + 1);
    if (a.host.empty()) bad(s, "empty host");
    if (a.host[0] == '-') bad(s, "a host may not start with '-'");
    for (char c : a.host)
      if (!name_char(c)) bad(s, "the host may only hold letters, digits, '.', '_' and '-'");
  }
  if (a.host.size() > 253) bad(s, "the host name is too long");
  if (!port.empty() || (auth.size() && auth.back() == ':')) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
      bad(s, "bad port");
    a.port = std::stoi(std::string(port));
    if (a.port < 1 || a.port > 65535) bad(s, "bad port");
  }
  return a;
}

std::string shell_quote(std::string_view w) {
  if (!w.empty() &&
      w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-") ==
          std::string_view::npos)
    return std::string(w);
  std::string q = "'";
  for (char c : w) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

std::vector<std::string> command(const Address& a, const std::vector<std::string>& remote, const Options& o) {
  std::vector<std::string> argv;
  const char* cmd = std::getenv("OCIKIT_SSH_COMMAND");
  std::string words = cmd && *cmd ? cmd : "ssh";
  size_t i = 0;
  while (i < words.size()) {
    auto start = words.find_first_not_of(" \t", i);
    if (start == std::string::npos) break;
    auto end = words.find_first_of(" \t", start);
    argv.push_back(words.substr(start, end == std::string::npos ? std::string::npos : end - start));
    i = end == std::string::npos ? words.size() : end;
  }
  if (const char* cfg = std::getenv("OCIKIT_SSH_CONFIG"); cfg && *cfg) argv.insert(argv.end(), {"-F", cfg});
  argv.insert(argv.end(), {"-o", "ConnectTimeout=10"});
  if (o.batch) argv.insert(argv.end(), {"-o", "BatchMode=yes"});
  argv.push_back(o.tty ? "-t" : "-T");
  if (a.port) argv.insert(argv.end(), {"-p", std::to_string(a.port)});
  if (!a.user.empty()) argv.insert(argv.end(), {"-l", a.user});
  argv.push_back("--");
  argv.push_back(a.host);
  std::string line;
  for (const auto& w : remote) line += (line.empty() ? "" : " ") + shell_quote(w);
  argv.push_back(line);
  return argv;
}

std::string new_session_token() {
  unsigned char b[kSessionTokenSize / 2];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t r = getrandom(b + got, sizeof b - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    got += static_cast<size_t>(r);
  }
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) s += hex[c >> 4], s += hex[c & 15];
  return s;
}

bool is_session_token(std::string_view s) {
  if (s.size() != kSessionTokenSize) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace ocikit::ssh
