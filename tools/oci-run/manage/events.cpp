// `oci-run events` (docker's, over lib/common/events' journal) and the
// container events the management commands emit.
#include <iostream>
#include <set>

#include "common/error.hpp"
#include "common/events.hpp"
#include "common/log.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {

void container_event(const Record& r, const std::string& action, const std::map<std::string, std::string>& extra) {
  events::Event e;
  e.type = "container";
  e.action = action;
  e.id = r.id;
  e.attributes = r.labels;  // docker puts the labels among the attributes
  e.attributes["image"] = r.image;
  e.attributes["name"] = r.name;
  for (const auto& [k, v] : extra) e.attributes[k] = v;
  events::emit(std::move(e));
}

int print_events(const Globals& g, const std::string& since, const std::string& until,
                 const std::vector<std::string>& filters, const std::string& format) {
  int64_t now = events::now_nano();
  int64_t from = since.empty() ? now : events::parse_time(since, now);
  int64_t to = until.empty() ? 0 : events::parse_time(until, now);
  if (format != "" && format != "json" && format != "{{json .}}")
    fail(Errc::usage, "unknown --format \"" + format + "\" (want json, or nothing for text)");
  // docker's filters: the same key ORs, different keys AND.
  std::map<std::string, std::vector<std::string>> by_key;
  static const std::set<std::string> kKeys = {"type", "event", "container", "image", "label", "volume", "network"};
  for (const auto& f : filters) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) fail(Errc::usage, "bad format of filter (expected name=value): " + f);
    std::string k = f.substr(0, eq);
    if (!kKeys.count(k)) fail(Errc::usage, "invalid filter '" + k + "'");
    by_key[k].push_back(f.substr(eq + 1));
  }
  auto attr = [](const events::Event& e, const char* k) {
    auto it = e.attributes.find(k);
    return it == e.attributes.end() ? std::string() : it->second;
  };
  auto matches = [&](const events::Event& e) {
    for (const auto& [k, vals] : by_key) {
      bool any = false;
      for (const auto& v : vals) {
        if (k == "type") any = any || e.type == v;
        // "health_status" matches "health_status: healthy", as docker's.
        else if (k == "event") any = any || e.action == v || e.action.rfind(v + ":", 0) == 0;
        else if (k == "container")
          any = any || (e.type == "container" && (e.id.rfind(v, 0) == 0 || attr(e, "name") == v));
        else if (k == "image") any = any || (e.type == "image" ? e.id == v : attr(e, "image") == v);
        else if (k == "volume") any = any || (e.type == "volume" && e.id == v);
        else if (k == "network") any = any || (e.type == "network" && (e.id == v || attr(e, "name") == v));
        else if (k == "label") {
          auto eq = v.find('=');
          auto it = e.attributes.find(v.substr(0, eq));
          any = any || (it != e.attributes.end() && (eq == std::string::npos || it->second == v.substr(eq + 1)));
        }
      }
      if (!any) return false;
    }
    return true;
  };
  // Without --until it follows, as docker's; with an --until in the past it
  // prints what the journal holds and returns.
  bool follow = to == 0 || to > now;
  std::string path = events::path_in(g.state_dir.empty() ? default_state_dir() : g.state_dir);
  size_t bad = events::read(path, from, to, follow, [&](const events::Event& e) {
    if (!matches(e)) return true;
    std::cout << (format.empty() ? events::to_text(e) : events::to_json(e).dump()) << std::endl;
    return static_cast<bool>(std::cout);
  });
  if (bad) log::warn("events: skipped " + std::to_string(bad) + " malformed line(s) in " + path);
  return 0;
}

}  // namespace ocikit::manage
