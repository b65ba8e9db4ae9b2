#pragma once
// oci-run manage/monitor_protocol: how a client talks to a container's monitor. The
// monitor serves <container dir>/attach.sock (a unix stream socket); `run`
// without -d gets the first connection through a socketpair before the
// container starts, `attach` connects later. Both ways carry frames:
//
//   [type: 1 byte][length: 4 bytes, little endian][payload]
//
//   client -> monitor                     monitor -> client
//   kHello   {"stdin":b,"rows":r,"cols":c} kStdout / kStderr   output bytes
//   kStdin   bytes for the container       kStarted           the process runs
//   kStdinEof  (closes a piped stdin)      kExit    "CODE"    it is done (after cleanup)
//   kResize  {"rows":r,"cols":c}           kFailed  "CODE MESSAGE" it could not start
//   kSignal  "SIGNO" (--sig-proxy)
//
// A client that goes away (killed, detached with ctrl-p ctrl-q) leaves the
// container running under its monitor.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace ocikit::manage {

/// Frame types (see the table above).
enum class Frame : uint8_t {
  kStdout = 1,
  kStderr = 2,
  kStarted = 3,
  kExit = 4,
  kFailed = 5,
  kHello = 10,
  kStdin = 11,
  kStdinEof = 12,
  kResize = 13,
  kSignal = 14,
};

/// Write one frame (blocking). False when the peer is gone.
bool write_frame(int fd, Frame type, const std::string& payload);

/// Splits a byte stream into frames.
class FrameReader {
 public:
  /// Read what `fd` has (one read); false at EOF or on an error.
  bool fill(int fd);
  /// Append bytes read elsewhere.
  void feed(const char* p, size_t n) { buf_.append(p, n); }
  /// The next whole frame, if one has arrived.
  std::optional<std::pair<Frame, std::string>> next();

 private:
  std::string buf_;
};

/// Connect to the attach socket of the container dir `dir` (paths longer
/// than sun_path go through /proc/self/fd). Errc::io when nothing listens.
int connect_attach(const std::string& dir);
/// Listen on <dir>/attach.sock (replacing a stale one).
int listen_attach(const std::string& dir);

/// The detach sequence of `--detach-keys` ("ctrl-p,ctrl-q", "ctrl-a", "x"):
/// the bytes to watch for. Errc::usage for a bad spec.
std::string parse_detach_keys(const std::string& spec);

/// What an attached client does.
struct AttachOptions {
  bool stdin = false;  ///< send our stdin (-i, and not --no-stdin)
  bool tty = false;  ///< the container has a pty: raw terminal, detach keys
  bool sig_proxy = true;  ///< forward SIGINT, SIGTERM ... to the container (not with a tty)
  std::string detach_keys = "\x10\x11";  ///< ctrl-p ctrl-q
  bool wait_started = false;  ///< return once the container runs (run -d, start)
};

/// Talk to a monitor on `fd` (sends the hello first): copy output to our
/// stdout/stderr, our stdin and window size to it. Returns the container's
/// exit code (kExit), 0 when detached by the keys or, with wait_started,
/// once it runs. Throws the start failure (kFailed) as Errc::cmd_not_found
/// (127), cmd_cannot_run (126) or failure, and Errc::io when the monitor goes
/// away without a word.
int attach_session(int fd, const AttachOptions& o);

}  // namespace ocikit::manage
