#pragma once
// oci-run manage/relay: run one runtime command (`oci-run run ...`,
// `oci-run exec ...`) as a child process that owns the container's stdio,
// and relay its output: into the docker json-file log and, when attached,
// to the caller's terminal. With a tty the container's pty master arrives
// on a console socket (the runtime's --console-socket) and is relayed both
// ways.

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace ocikit::manage {

/// Where a relayed process's streams go.
struct RelayTarget {
  int log_fd = -1;      ///< json-file log (appended), -1: none
  int out_fd = -1;      ///< attached stdout, -1: none
  int err_fd = -1;      ///< attached stderr, -1: none
  int in_fd = -1;       ///< attached stdin (-i), -1: /dev/null
  bool tty = false;     ///< the process gets a pty (console socket)
  bool raw_terminal = false;  ///< put in_fd's terminal into raw mode while relaying (-it)
};

/// One docker json-file log line: {"log":text,"stream":s,"time":RFC3339Nano}\n.
std::string json_log_line(const std::string& text, const std::string& stream, const std::string& time);

/// Run `make_argv(console_socket)` (console_socket is "" without a tty) as a
/// child: its stdout/stderr are pipes relayed to `t`; its stdin is in_fd
/// (non-tty) or /dev/null. `on_spawn(pid)` is called once it runs. SIGINT,
/// SIGTERM and SIGHUP received meanwhile are forwarded to it. Returns its
/// exit status (128+signal when killed). Throws Errc::io when it cannot start.
int spawn_and_relay(const std::string& exe,
                    const std::function<std::vector<std::string>(const std::string&)>& make_argv,
                    const RelayTarget& t, const std::function<void(pid_t)>& on_spawn = {});

}  // namespace ocikit::manage
