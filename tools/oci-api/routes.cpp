// The endpoint table: method + path pattern -> handler. Paths are matched
// after the optional /vX.Y prefix; {name} segments of images may hold
// slashes (registry/repo), so those routes match on the suffix.
#include <regex>

#include "handlers.hpp"

namespace ocikit::api {

namespace {

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// "/containers/ID/VERB" -> {ID, VERB}; ID without slashes.
bool split2(const std::string& path, const std::string& prefix, std::string& id, std::string& verb) {
  if (!starts(path, prefix)) return false;
  std::string rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  id = rest.substr(0, slash);
  verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
  return !id.empty() && verb.find('/') == std::string::npos;
}

void not_found(Exchange& x) { x.error(404, "page not found"); }

}  // namespace

void route(Exchange& x) {
  const std::string& m = x.method;
  const std::string& p = x.path;
  bool get = m == "GET" || m == "HEAD", post = m == "POST", del = m == "DELETE";
  std::string id, verb;

  if (p == "/_ping") return get ? system_ping(x) : x.error(405, "method not allowed");
  if (p == "/version" && get) return system_version(x);
  if (p == "/info" && get) return system_info(x);
  if (p == "/events" && get) return system_events(x);
  if (p == "/system/df" && get) return system_df(x);
  if (p == "/build" && post) return image_build(x);

  if (p == "/containers/prune" && post) return container_prune(x);
  if (p == "/commit" && post) return container_commit(x);
  if (p == "/containers/json" && get) return container_list(x);
  if (p == "/containers/create" && post) return container_create(x);
  if (split2(p, "/containers/", id, verb)) {
    if (verb.empty() && del) return container_remove(x, id);
    if (verb == "json" && get) return container_inspect(x, id);
    if (verb == "start" && post) return container_start(x, id);
    if ((verb == "stop" || verb == "kill" || verb == "restart" || verb == "pause" || verb == "unpause") && post)
      return container_simple(x, id, verb);
    if (verb == "rename" && post) return container_rename(x, id);
    if (verb == "changes" && get) return container_changes(x, id);
    if (verb == "wait" && post) return container_wait(x, id);
    if (verb == "logs" && get) return container_logs(x, id);
    if (verb == "attach" && post) return container_attach(x, id);
    if (verb == "exec" && post) return exec_create(x, id);
    if (verb == "update" && post) return container_update(x, id);
    if (verb == "top" && get) return container_top(x, id);
    if (verb == "stats" && get) return container_stats(x, id);
    if (verb == "archive" && (get || m == "PUT")) return container_archive(x, id);
    if (verb == "export" && get) return container_export(x, id);
    if (verb == "resize" && post) return container_resize(x, id);
  }
  if (split2(p, "/exec/", id, verb)) {
    if (verb == "start" && post) return exec_start(x, id);
    if (verb == "json" && get) return exec_inspect(x, id);
    if (verb == "resize" && post) return exec_resize(x, id);
  }

  if (p == "/images/json" && get) return image_list(x);
  if (p == "/images/create" && post) return image_create(x);
  if (p == "/auth" && post) return system_auth(x);
  if (p == "/images/get" && get) return image_save(x, x.q_all("names"));
  if (p == "/images/load" && post) return image_load(x);
  if (p == "/images/prune" && post) return image_prune(x);
  if (p == "/images/search" && get) return image_search(x);
  if (p == "/volumes/prune" && post) return volume_prune(x);
  if (p == "/networks/prune" && post) return network_prune(x);
  if (starts(p, "/images/") && p.size() > 8) {
    std::string rest = p.substr(8);
    if (get && ends(rest, "/get") && rest.size() > 4) return image_save(x, {rest.substr(0, rest.size() - 4)});
    if (get && ends(rest, "/history") && rest.size() > 8) return image_history(x, rest.substr(0, rest.size() - 8));
    if (post && ends(rest, "/push") && rest.size() > 5) return image_push(x, rest.substr(0, rest.size() - 5));
    if (get && ends(rest, "/json") && rest.size() > 5) return image_inspect(x, rest.substr(0, rest.size() - 5));
    if (post && ends(rest, "/tag") && rest.size() > 4) return image_tag(x, rest.substr(0, rest.size() - 4));
    if (del) return image_remove(x, rest);
  }

  if (p == "/volumes" && get) return volume_list(x);
  if (p == "/volumes/create" && post) return volume_create(x);
  if (split2(p, "/volumes/", id, verb) && verb.empty()) {
    if (get) return volume_inspect(x, id);
    if (del) return volume_remove(x, id);
  }

  if (p == "/networks" && get) return network_list(x);
  if (p == "/networks/create" && post) return network_create(x);
  if (split2(p, "/networks/", id, verb)) {
    if (verb.empty() && get) return network_inspect(x, id);
    if (verb.empty() && del) return network_remove(x, id);
    if (verb == "connect" && post) return network_connect(x, id, true);
    if (verb == "disconnect" && post) return network_connect(x, id, false);
  }
  not_found(x);
}

}  // namespace ocikit::api
