#pragma once
// oci-run-manage's one CLI (cli.cpp): the global options and every
// docker-style command in one CLI11 app. The image store's commands are
// declared in cli_store.cpp.
#include <CLI/CLI.hpp>
#include <functional>
#include <optional>

#include "manage/manage.hpp"

namespace ocikit::manage {

/// Declare images, image, rmi, tag, history, volume and system on `app`;
/// the returned function runs the one parsed (nullopt: none of them).
std::function<std::optional<int>()> add_store_commands(CLI::App& app, const Globals& g);

}  // namespace ocikit::manage
