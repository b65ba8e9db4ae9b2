// The managed containers as the extra commands see them (record.json).
#include <dirent.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "extra_cmds.hpp"

namespace ocikit::manage {

std::vector<ContainerUse> container_uses(const Env& env) {
  std::vector<ContainerUse> out;
  std::string dir = env.state_dir + "/containers";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string id = e->d_name;
    if (id.empty() || id[0] == '.') continue;
    try {
      auto j = nlohmann::json::parse(fs::read_file(dir + "/" + id + "/record.json"));
      out.push_back({id, j.value("name", ""), j.value("image_digest", "")});
    } catch (const std::exception&) {
      // a record being created or removed
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

}  // namespace ocikit::manage
