#include "common/cli.hpp"

#include <cstdio>
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

}  // namespace ocikit::cli
