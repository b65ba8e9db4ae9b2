#include "common/cli.hpp"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "ocikit_config.h"

namespace ocikit::cli {

std::string version_text(std::string_view tool) {
  std::string s(tool);
  s += " version " OCIKIT_VERSION "\nspec: 1.2.0";
  return s;
}

void add_log_flags(CLI::App& app, LogOptions& o, bool runc_style) {
  app.set_version_flag("-v,--version", version_text(log::tool()));
  app.add_option("--log-level", o.level, "log level: debug, info, warn, error")->capture_default_str();
  app.add_flag("--debug", o.debug, "enable debug logging");
  if (runc_style) {
    app.add_option("--log", o.file, "write logs to FILE instead of stderr");
    app.add_option("--log-format", o.format, "log format: text or json")->capture_default_str();
  }
}

void apply_log_flags(const LogOptions& o) {
  log::set_level(o.debug ? log::Level::debug : log::parse_level(o.level));
  log::Format f = log::parse_format(o.format);
  if (!o.file.empty()) log::set_file(o.file, f);
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << app.version() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", log::tool().c_str(), e.what());
    return 2;
  }
}

int run_main(std::string_view tool, const std::function<int()>& body, int failure_code) {
  log::set_tool(tool);
  try {
    return body();
  } catch (...) {
    Error e = current_exception_as_error();
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", std::string(tool).c_str(), e.what());
    int rc = exit_code_for(e.code());
    return rc == 1 ? failure_code : rc;
  }
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/'));
}

const char* getenv_compat(const char* name, std::initializer_list<const char*> old_names) {
  if (const char* e = std::getenv(name); e && *e) return e;
  for (const char* o : old_names)
    if (const char* e = std::getenv(o); e && *e) {
      log::warn(std::string("$") + o + " is deprecated: set $" + name + " instead");
      return e;
    }
  return nullptr;
}

std::string find_tool(std::string_view name, const std::string& dir, const char* env_var,
                      std::initializer_list<const char*> old_names) {
  if (const char* e = getenv_compat(env_var, old_names)) return e;
  std::string n(name);
  if (!dir.empty())
    for (const std::string& c : {dir + "/" + n, dir + "/../" + n + "/" + n})
      if (::access(c.c_str(), X_OK) == 0) return c;
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t a = 0; a <= p.size();) {
    size_t b = p.find(':', a);
    if (b == std::string::npos) b = p.size();
    std::string d = p.substr(a, b - a);
    if (!d.empty() && ::access((d + "/" + n).c_str(), X_OK) == 0) return d + "/" + n;
    a = b + 1;
  }
  fail(Errc::not_found, n + " not found (set $" + env_var + " or put it in $PATH)");
}

}  // namespace ocikit::cli
