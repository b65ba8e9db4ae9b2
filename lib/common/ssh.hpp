#pragma once
// ocikit::ssh: another host reached through ssh, as docker's `-H ssh://`.
// An address ssh://[user@]host[:port][/path] is parsed strictly (it ends up
// on ssh's command line: nothing in it may read as an option), and a
// command for the other side becomes one argv for ssh, its words
// shell-quoted, since sshd hands the joined line to the user's shell.
//
// The ssh program is $OCIKIT_SSH_COMMAND (words split on blanks, e.g.
// "ssh -F /path/config"; default "ssh"), with $OCIKIT_SSH_CONFIG as -F
// when set. A connect timeout (-o ConnectTimeout=10) comes after the
// command's own words, so that a user's -o ConnectTimeout wins.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocikit::ssh {

/// A parsed ssh:// address.
struct Address {
  std::string user;  ///< "" when not given (ssh's default)
  std::string host;  ///< a name, an IPv4 address, or an IPv6 address without brackets
  int port = 0;  ///< 0 when not given (22, or the ssh config's)
  std::string path;  ///< what follows the first '/' after the authority, "" when none

  /// "[user@]host" as ssh takes it (IPv6 unbracketed).
  std::string destination() const;
  /// "ssh://[user@]host[:port]" (no path).
  std::string str() const;
};

/// True when `s` starts with "ssh://".
bool is_ssh_url(std::string_view s);

/// Parse "ssh://[user@]host[:port][/path]". Errc::usage "invalid ssh
/// address "S": WHY" for anything else: an empty or dash-led host or user,
/// characters outside [A-Za-z0-9._-] in a user or a host name, a port
/// outside 1-65535, a path with "..", control characters or more than
/// 255 characters.
Address parse_url(std::string_view s);

/// `word` quoted for a POSIX shell: as is when it only holds
/// [A-Za-z0-9_./:=@%+,-] (and is not empty), else in single quotes
/// ('\'' for a quote).
std::string shell_quote(std::string_view word);

/// Options of one ssh invocation.
struct Options {
  bool tty = false;  ///< -t (a pty on the other side) rather than -T
  bool batch = false;  ///< -o BatchMode=yes: no password or passphrase prompt
};

/// The argv that runs `remote` (program and arguments) on `a` through ssh:
/// $OCIKIT_SSH_COMMAND words, [-F $OCIKIT_SSH_CONFIG], -o ConnectTimeout=10,
/// [-o BatchMode=yes], -t|-T, [-p PORT], [-l USER], "--", HOST, then the
/// quoted words of `remote` as one line.
std::vector<std::string> command(const Address& a, const std::vector<std::string>& remote, const Options& o = {});

/// A session token: what names one `-H ssh://` line on the other host, so
/// that a second ssh can send a signal to it (oci-run's remote.cpp). 32
/// lowercase hex characters.
inline constexpr size_t kSessionTokenSize = 32;

/// A new session token from getrandom(2).
std::string new_session_token();

/// True when `s` is exactly kSessionTokenSize characters of [0-9a-f]
/// (so that it is safe as a file name).
bool is_session_token(std::string_view s);

}  // namespace ocikit::ssh
