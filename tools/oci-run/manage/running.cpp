// A running managed container's record, cgroup and init (manage.hpp), for
// `top` and `stats`.
#include "common/error.hpp"
#include "manage/manage.hpp"
#include "state.hpp"

namespace ocikit::manage {

Running running_container(const Globals& env, const std::string& key) {
  StateDir sd(env.state_dir);
  Record r = sd.load(sd.find(key));
  if (live_status(r) != "running" || r.pid <= 0) fail(Errc::failure, "container " + key + " is not running");
  auto st = run::load_state(r.runtime_root.empty() ? env.runtime_root : r.runtime_root, r.id);
  return {r, cgroup::Manager::from_json(st.cgroup), st.pid};
}

}  // namespace ocikit::manage
