// The managed containers as the extra commands see them (manage/record.hpp).
#include "extra_cmds.hpp"
#include "manage/record.hpp"

namespace ocikit::manage {

std::vector<ContainerUse> container_uses(const Env& env) {
  std::vector<ContainerUse> out;
  for (auto& r : StateDir(env.state_dir).list()) out.push_back({r.id, r.name, r.image_digest});
  return out;
}

}  // namespace ocikit::manage
