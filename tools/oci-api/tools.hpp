#pragma once
// How oci-api carries requests out: by running the ocikit tools as
// processes (oci-run's docker-style commands, oci-fetch, oci-net). oci-api
// keeps no state of its own beyond a request, except exec instances
// (docker keeps those in memory too).

#include <sys/types.h>

#include <functional>
#include <thread>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "server.hpp"

namespace ocikit::api {

/// Where the tools are, and the global flags oci-run gets.
struct Tools {
  std::string oci_run, oci_fetch, oci_net, oci_build, oci_push;
  std::vector<std::string> run_globals;  ///< e.g. --root DIR
};
/// The process-wide tool locations (set once by main).
Tools& tools();

/// A finished tool run.
struct Result {
  int status = 0;
  std::string out, err;
  /// The tool's one-line message: the last non-empty stderr line without "TOOL: error: ".
  std::string message() const;
};

/// Run a tool with bounded output and time; stdin from `input`.
Result run_tool(const std::vector<std::string>& argv, const std::string& input = "", int timeout_ms = 600000);
/// `oci-run GLOBALS ARGS...`.
Result run_oci(const std::vector<std::string>& args, const std::string& input = "", int timeout_ms = 600000);
/// The HTTP status of a failed tool run (404 for "no such ...", 409 for
/// conflicts, 400 for usage errors, else 500).
int status_of(const Result& r);
/// run_oci and throw ApiError (status_of) when it fails; its stdout.
std::string check_oci(const std::vector<std::string>& args, const std::string& input = "");

/// A tool running with pipes to oci-api.
struct Child {
  pid_t pid = -1;
  fs::UniqueFd in, out, err;
  fs::UniqueFd pty;  ///< the master of the terminal on its stdin (tty_stdin), else none
};
/// Start a tool with stdin (when `with_stdin`, else /dev/null), stdout and
/// stderr piped. With `tty_stdin` its stdin is a pseudo-terminal of ours
/// instead, in raw mode (bytes pass unchanged, nothing echoes) and its
/// controlling terminal: set_window on `pty` sends it SIGWINCH, and
/// oci-run's relay passes the size on to the container's pty; `in` (with
/// `with_stdin`) writes to that terminal. Its output stays on pipes.
Child spawn_piped(const std::vector<std::string>& argv, bool with_stdin, bool tty_stdin = false);
/// Set the window size of a child's terminal (`Child::pty`).
void set_window(int pty, unsigned rows, unsigned cols);
/// Kill a child (SIGKILL: the tools here are clients of the container's
/// monitor, the container is not affected) and reap it.
void kill_child(Child& c);
/// Reap a child that is finishing; its exit code.
int reap_child(Child& c);

/// How a child's output goes to the client.
enum class Framing {
  raw,  ///< stdout (and stderr) bytes as they come (tty)
  multiplexed,  ///< docker's 8-byte headers: stream (1 stdout, 2 stderr), 0, 0, 0, size (big-endian)
};

/// Copy the child's stdout/stderr to `write` until both end (then reap it and
/// return its exit code), or until `write` fails or `gone()` says the client
/// left (then kill it and return -1). Without stdout/stderr wanted, that
/// stream is read and dropped.
int pump_output(Child& c, Framing f, const std::function<bool(std::string_view)>& write,
                const std::function<bool()>& gone, bool want_stdout = true, bool want_stderr = true);

/// A hijacked connection's stdin: copy what the client sends (after
/// `leftover`) to the child's stdin on a thread; the child's stdin is closed
/// when the client half-closes. Returns the thread to join.
std::thread feed_stdin(Exchange& x, Child& c, std::string leftover);

/// A streamed request body (Exchange::read_body) into the child's stdin on
/// a thread; the child's stdin is closed at the body's end. A child that
/// stops reading (it failed early) ends the copy; the rest of the body is
/// dropped with the connection. A broken or stalled body sets `error`
/// (read once the thread is joined).
std::thread feed_body(Exchange& x, Child& c, std::string& error);

/// One docker stream frame.
std::string frame(int stream, std::string_view data);

}  // namespace ocikit::api
