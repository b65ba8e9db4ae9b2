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

#include "common/fs.hpp"
#include "manage/monitor_protocol.hpp"

namespace ocikit::manage {

/// A window size as a client sends it (rows, cols; 0 when none yet).
struct WindowSize {
  unsigned short rows = 0, cols = 0;
};

/// A client attached to a monitor (monitor_protocol.hpp), kept across restarts.
struct AttachClient {
  fs::UniqueFd fd;
  FrameReader reader;
  bool want_stdin = false;  ///< its hello asked for stdin
};

/// Where a relayed process's streams go.
struct RelayTarget {
  int log_fd = -1;  ///< json-file log (appended), -1: none
  int out_fd = -1;  ///< attached stdout, -1: none
  int err_fd = -1;  ///< attached stderr, -1: none
  int in_fd = -1;  ///< attached stdin (-i), -1: /dev/null
  bool tty = false;  ///< the process gets a pty (console socket)
  bool raw_terminal = false;  ///< put in_fd's terminal into raw mode while relaying (-it)
  // The monitor's side (monitor_protocol.hpp):
  bool stdin_pipe = false;  ///< the process's stdin is a pipe fed by the clients' kStdin (-i)
  int listen_fd = -1;  ///< accept attach clients on this socket
  std::vector<AttachClient>* clients = nullptr;  ///< output frames go to these; their input comes back
  WindowSize* window = nullptr;  ///< the last window size a client sent (applied to the pty)
  /// Hold the output back until the runtime writes this file (after the
  /// process was found, just before it starts): what comes before is the
  /// runtime's own start failure, not the container's.
  std::string pid_file;
  std::function<void(pid_t)> on_started;  ///< the pid file appeared (its pid)
};

/// What happened to a relayed runtime command.
struct RelayResult {
  int status = 0;  ///< exit code (128+signal when killed)
  bool started = false;  ///< the pid file appeared (always true without one)
  std::string early_output;  ///< what it wrote before starting (its error), when not started
};

/// One docker json-file log line: {"log":text,"stream":s,"time":RFC3339Nano}\n.
std::string json_log_line(const std::string& text, const std::string& stream, const std::string& time);

/// Run `make_argv(console_socket)` (console_socket is "" without a tty) as a
/// child: its stdout/stderr are pipes relayed to `t`; its stdin is in_fd
/// (non-tty) or /dev/null. `on_spawn(pid)` is called once it runs. SIGINT,
/// SIGTERM and SIGHUP received meanwhile are forwarded to it. Returns its
/// exit status (128+signal when killed). Throws Errc::io when it cannot start.
int spawn_and_relay(const std::string& exe,
                    const std::function<std::vector<std::string>(const std::string&)>& make_argv, const RelayTarget& t,
                    const std::function<void(pid_t)>& on_spawn = {});
/// spawn_and_relay with the monitor's details (pid_file, clients).
RelayResult relay_process(const std::string& exe,
                          const std::function<std::vector<std::string>(const std::string&)>& make_argv,
                          const RelayTarget& t, const std::function<void(pid_t)>& on_spawn = {});
/// Apply a client frame's window size {"rows","cols"} to `w` (and `pty_fd` when >= 0);
/// a frame without one (or a malformed one) changes nothing.
void apply_window(const std::string& json, WindowSize& w, int pty_fd);

}  // namespace ocikit::manage
