#include "common/error.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>

namespace ocikit {

Error::Error(Errc code, std::string msg, int err) : code_(code), errno_(err), what_(std::move(msg)) {
  if (err != 0) {
    what_ += ": ";
    what_ += std::strerror(err);
  }
}

void Error::prefix(std::string_view ctx) {
  if (ctx.empty()) return;
  std::string s(ctx);
  s += ": ";
  s += what_;
  what_ = std::move(s);
}

void throw_errno(std::string what) { throw Error(Errc::io, std::move(what), errno); }
void throw_errno(std::string what, int err) { throw Error(Errc::io, std::move(what), err); }
void fail(Errc code, std::string msg) { throw Error(code, std::move(msg)); }
void fail(std::string msg) { throw Error(Errc::failure, std::move(msg)); }

int exit_code_for(Errc code) noexcept {
  switch (code) {
    case Errc::usage: return 2;
    case Errc::cmd_cannot_run: return 126;
    case Errc::cmd_not_found: return 127;
    default: return 1;
  }
}

Error current_exception_as_error() {
  try {
    throw;
  } catch (const Error& e) {
    return e;
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's messages start with "[json.exception.type_error.302] ";
    // keep the human part only.
    std::string m = e.what();
    if (auto p = m.find("] "); m.rfind("[json.exception", 0) == 0 && p != std::string::npos) m = m.substr(p + 2);
    return Error(Errc::invalid, "invalid JSON: " + m);
  } catch (const std::filesystem::filesystem_error& e) {
    std::string m = e.code().message();
    if (!e.path1().empty()) m = e.path1().string() + ": " + m;
    return Error(Errc::io, m);
  } catch (const std::bad_alloc&) {
    return Error(Errc::failure, "out of memory");
  } catch (const std::exception& e) {
    return Error(Errc::failure, e.what());
  } catch (...) {
    return Error(Errc::failure, "unknown error");
  }
}

}  // namespace ocikit
