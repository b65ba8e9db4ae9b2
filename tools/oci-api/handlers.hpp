#pragma once
// oci-api's endpoints (Docker Engine API v1.41), grouped by object. Each
// takes the Exchange whose path matched and the path's parameters.

#include <string>

#include "server.hpp"

namespace ocikit::api {

/// Route a request to its endpoint; unknown ones get 404 in docker's shape.
void route(Exchange& x);

// containers.cpp
void container_create(Exchange& x);
void container_list(Exchange& x);
void container_inspect(Exchange& x, const std::string& id);
void container_start(Exchange& x, const std::string& id);
void container_simple(Exchange& x, const std::string& id, const std::string& verb);  // stop, kill, restart, (un)pause
void container_rename(Exchange& x, const std::string& id);
void container_changes(Exchange& x, const std::string& id);
void container_wait(Exchange& x, const std::string& id);
void container_remove(Exchange& x, const std::string& id);
// containers_io.cpp
void container_logs(Exchange& x, const std::string& id);
void container_attach(Exchange& x, const std::string& id);
void exec_create(Exchange& x, const std::string& id);
void exec_start(Exchange& x, const std::string& exec_id);
void exec_inspect(Exchange& x, const std::string& exec_id);
void container_resize(Exchange& x, const std::string& id);  // ?h=ROWS&w=COLS
void exec_resize(Exchange& x, const std::string& exec_id);
/// The pending attach of a created container, started by `start` (true
/// when there was one and it now runs `oci-run start -a`).
bool start_pending_attach(const std::string& id);
// containers_ops.cpp
void container_update(Exchange& x, const std::string& id);
void container_top(Exchange& x, const std::string& id);
void container_stats(Exchange& x, const std::string& id);
void container_archive(Exchange& x, const std::string& id);  // HEAD, GET, PUT
void container_export(Exchange& x, const std::string& id);
void container_commit(Exchange& x);
void container_prune(Exchange& x);
/// True for PUT /containers/{id}/archive (its tar body is streamed).
bool archive_streams_body(const Exchange& x);
// build.cpp
/// True for the routes whose body is streamed (POST /build).
bool build_streams_body(const Exchange& x);
void image_build(Exchange& x);
// objects.cpp
void system_df(Exchange& x);
void system_ping(Exchange& x);
void system_version(Exchange& x);
void system_info(Exchange& x);
void system_events(Exchange& x);
void image_list(Exchange& x);
void image_inspect(Exchange& x, const std::string& name);
void image_tag(Exchange& x, const std::string& name);
void image_remove(Exchange& x, const std::string& name);
void volume_list(Exchange& x);
void volume_create(Exchange& x);
void volume_inspect(Exchange& x, const std::string& name);
void volume_remove(Exchange& x, const std::string& name);
void network_list(Exchange& x);
void network_inspect(Exchange& x, const std::string& name);
void network_create(Exchange& x);
void network_remove(Exchange& x, const std::string& name);
void network_connect(Exchange& x, const std::string& name, bool connect);

// images.cpp
/// True for the routes whose body is streamed (POST /build, POST
/// /images/load, PUT /containers/{id}/archive).
bool streams_body(const Exchange& x);
void image_create(Exchange& x);
void image_push(Exchange& x, const std::string& name);
void image_save(Exchange& x, const std::vector<std::string>& names);
void image_load(Exchange& x);
void image_history(Exchange& x, const std::string& name);
void image_prune(Exchange& x);
void image_search(Exchange& x);
void system_auth(Exchange& x);
void volume_prune(Exchange& x);
void network_prune(Exchange& x);

/// The container's inspect object (`oci-run inspect`); 404 when missing.
nlohmann::json inspect_container(const std::string& id);

}  // namespace ocikit::api
