#pragma once
// ocikit::process: run another program (a sibling tool, git, ps, an OCI
// runtime) and wait for it. Everything the child needs (argv, environment,
// the exec error channel) is prepared before fork(), and the child makes
// only async-signal-safe calls until exec, so callers may be multithreaded.
// An exec that fails is reported to the parent through a close-on-exec pipe
// and thrown there ("exec git: No such file or directory"), not printed by
// the child.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace ocikit::process {

/// What the child's standard fds are: the parent's (inherit), /dev/null, or
/// a given fd (dup2'd; the caller keeps and closes its own copy).
inline constexpr int kInherit = -2;
inline constexpr int kDevNull = -1;

struct Spec {
  std::vector<std::string> argv{};  ///< argv[0] is the program: a path, or a name looked up in $PATH
  /// The child's environment; nullopt: this process's.
  std::optional<std::vector<std::string>> env{};
  int in = kDevNull;  ///< stdin
  int out = kInherit;  ///< stdout
  int err = kInherit;  ///< stderr
  /// Default signal dispositions for INT, TERM, HUP, PIPE and an empty signal
  /// mask in the child (for a parent that blocks or ignores signals).
  bool reset_signals = false;
  /// The program when it is not argv[0] (argv[0] is then only its name).
  std::string path{};
  /// Start a new session in the child with stdin (a terminal) as its
  /// controlling terminal: a window size set on that terminal's master sends
  /// it SIGWINCH, as a terminal emulator's does.
  bool controlling_tty = false;
};

/// Start the program. Returns its pid. Throws Errc::io when fork fails or
/// the program cannot be executed (not found, not executable).
pid_t spawn(const Spec& s);

/// Wait for `pid` (EINTR retried): its exit code, or 128 + the signal that
/// killed it.
int wait(pid_t pid);

/// spawn(), then wait().
int run(const Spec& s);

struct Output {
  int status = 0;  ///< as wait()
  std::string out;  ///< stdout, when captured
  std::string err;  ///< stderr, when captured
  bool timed_out = false;  ///< capture_bounded: killed after Bounds::timeout_ms
  bool too_large = false;  ///< capture_bounded: killed for writing more than Bounds::max_output
};

/// Run the program with stdout and/or stderr captured into memory (the
/// others as in `s`); both pipes are drained together, so a chatty stderr
/// cannot stall a child writing stdout.
Output capture(Spec s, bool out = true, bool err = true);

/// What capture_bounded gives the child and allows it.
struct Bounds {
  /// Written to the child's stdin before it starts (then end of file); at
  /// most what a pipe can hold (1 MiB), else Errc::usage.
  std::string input{};
  /// stdout and stderr together; the child is killed (SIGKILL) when it
  /// writes more, and Output::too_large is set. 0: no limit.
  size_t max_output = 0;
  /// The child is killed (SIGKILL) when it runs longer, and
  /// Output::timed_out is set. Negative: no limit.
  int timeout_ms = -1;
};

/// capture() of stdout and stderr for a program that is not trusted to be
/// quick or brief (a credential helper): stdin from Bounds::input, output
/// and run time bounded. Only the child itself is killed; a process it left
/// behind that keeps the pipes open is not waited for.
Output capture_bounded(Spec s, const Bounds& b);

}  // namespace ocikit::process
