#pragma once
// ocikit::Error: the one exception type library code throws.
//
// An error carries a category (which decides the exit code), an optional
// errno and a one-line message. Context is added while it travels up with
// with_context(), so that main prints e.g.
//   oci-fetch: error: unpack layer sha256:ab..: open etc/passwd: Permission denied

#include <exception>
#include <string>
#include <string_view>
#include <utility>

namespace ocikit {

/// What kind of failure an Error is; main maps it to an exit code.
enum class Errc {
  failure,  ///< the operation failed (exit 1)
  usage,  ///< bad command line (exit 2)
  invalid,  ///< malformed input: JSON, reference, tar, Dockerfile (exit 1)
  not_found,  ///< a named thing does not exist (exit 1)
  exists,  ///< a named thing already exists (exit 1)
  unauthorized,  ///< credentials missing or refused (exit 1)
  io,  ///< a system call failed; errno says why (exit 1)
  cmd_cannot_run,  ///< oci-run: the command cannot be run (exit 126)
  cmd_not_found,  ///< oci-run: the command was not found (exit 127)
};

/// The exception thrown by library code and caught once, in main.
class Error : public std::exception {
 public:
  /// An error of category `code` with message `msg` (lowercase, no period).
  Error(Errc code, std::string msg, int err = 0);

  /// The category.
  Errc code() const noexcept { return code_; }
  /// The errno behind the error, 0 when there is none.
  int sys_errno() const noexcept { return errno_; }
  /// The full one-line message, with the strerror() text when errno is set.
  const char* what() const noexcept override { return what_.c_str(); }
  /// Prepend "ctx: " to the message (context added by a caller).
  void prefix(std::string_view ctx);

 private:
  Errc code_;
  int errno_;
  std::string what_;
};

/// Throw an Errc::io error for the current errno: "<what>: <strerror>".
[[noreturn]] void throw_errno(std::string what);
/// Throw an Errc::io error for errno `err`.
[[noreturn]] void throw_errno(std::string what, int err);
/// Throw an error of `code` with `msg`.
[[noreturn]] void fail(Errc code, std::string msg);
/// Throw an Errc::failure error with `msg`.
[[noreturn]] void fail(std::string msg);

/// The exit code a tool returns for an error of category `code`.
int exit_code_for(Errc code) noexcept;

/// Run fn(); if it throws an Error (or a std::exception), rethrow it as an
/// Error whose message starts with "ctx: ". Other library exceptions
/// (nlohmann::json, std::filesystem) become Errc::invalid / Errc::io.
template <class F>
decltype(auto) with_context(std::string_view ctx, F&& fn);

/// Convert the exception in flight into an Error (used by with_context and main).
Error current_exception_as_error();

template <class F>
decltype(auto) with_context(std::string_view ctx, F&& fn) {
  try {
    return std::forward<F>(fn)();
  } catch (...) {
    Error e = current_exception_as_error();
    e.prefix(ctx);
    throw e;
  }
}

/// True when `f()` returns without throwing an ocikit::Error (for the
/// is_valid() of a parse()).
template <class F>
bool no_error(F&& f) {
  try {
    f();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace ocikit
