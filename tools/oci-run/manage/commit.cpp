// `oci-run commit`: a managed container's changes (its overlay upper dir)
// as a new image in the store: the base image's layers plus one gzip layer
// written by layer::diff_upper (overlay whiteouts become .wh. entries), a
// config with the new diff_id, a history entry and the --change edits, and
// a manifest tagged with the given name.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/cgroup.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/reference.hpp"
#include "manage/manage.hpp"
#include "format.hpp"
#include "images.hpp"
#include "manage/record.hpp"
#include "state.hpp"

namespace ocikit::manage {

namespace {

// Freeze a running container's processes for the time of the diff (docker
// commit's --pause), so the layer is a consistent snapshot.
class Pause {
 public:
  Pause(const Globals& env, const Record& r) {
    if (live_status(r) != "running") return;
    try {
      auto st = run::load_state(r.runtime_root.empty() ? env.runtime_root : r.runtime_root, r.id);
      cg_ = cgroup::Manager::from_json(st.cgroup);
      if (cg_.frozen()) return;
      cg_.freeze();
      frozen_ = true;
    } catch (const Error& e) {
      log::warn(std::string("commit: cannot pause the container: ") + e.what());
    }
  }
  ~Pause() {
    if (!frozen_) return;
    try {
      cg_.thaw();
    } catch (const std::exception& e) {
      log::warn(std::string("commit: cannot resume the container: ") + e.what());
    }
  }
  Pause(const Pause&) = delete;
  Pause& operator=(const Pause&) = delete;

 private:
  cgroup::Manager cg_;
  bool frozen_ = false;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

// docker commit starts from the container's own config, not the image's:
// its environment (the image's plus -e, without what the runtime adds),
// its command (with an --entrypoint), working dir, labels and ports.
void merge_container_config(const StateDir& sd, const Record& r, image::ContainerConfig& c) {
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(fs::read_file(sd.bundle_dir(r.id) + "/config.json"));
  } catch (const std::exception&) {
    return;  // no bundle: the image's config stays
  }
  const auto& proc = spec.value("process", nlohmann::json::object());
  if (proc.contains("env") && proc["env"].is_array()) {
    auto has = [&](const std::string& key) {
      return std::any_of(c.env.begin(), c.env.end(), [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
    };
    std::vector<std::string> env;
    for (const auto& e : proc["env"]) {
      if (!e.is_string()) continue;
      std::string v = e.get<std::string>();
      std::string key = v.substr(0, v.find('='));
      // HOSTNAME and a tty's TERM come from the runtime, not the container's config.
      if ((key == "HOSTNAME" || (key == "TERM" && r.tty)) && !has(key)) continue;
      env.push_back(v);
    }
    c.env = env;
  }
  std::vector<std::string> args = proc.value("args", std::vector<std::string>{});
  if (args.size() >= 2 && args[0] == "/dev/init" && args[1] == "--") args.erase(args.begin(), args.begin() + 2);
  if (!args.empty()) {
    std::vector<std::string> ep = c.entrypoint.value_or(std::vector<std::string>{});
    if (args.size() >= ep.size() && std::equal(ep.begin(), ep.end(), args.begin())) {
      std::vector<std::string> cmd(args.begin() + static_cast<long>(ep.size()), args.end());
      if (!cmd.empty() || c.cmd) c.cmd = cmd;
    } else {
      c.entrypoint = std::vector<std::string>{args[0]};
      c.cmd = std::vector<std::string>(args.begin() + 1, args.end());
    }
  }
  if (std::string cwd = proc.value("cwd", ""); !cwd.empty() && !(cwd == "/" && c.working_dir.empty()))
    c.working_dir = cwd;
  for (const auto& [k, v] : r.labels) c.labels[k] = v;
  if (!r.user.empty()) c.user = r.user;
  // ExposedPorts: the image's, --expose and the published (-p) ports.
  std::set<std::string> ports(c.exposed_ports.begin(), c.exposed_ports.end());
  for (const auto& p : r.exposed) ports.insert(p);
  for (const auto& spec : r.ports) {
    try {
      for (const auto& m : net::parse_port_spec(spec))
        ports.insert(std::to_string(m.container_port) + "/" + (m.proto.empty() ? "tcp" : m.proto));
    } catch (const Error&) {
    }
  }
  c.exposed_ports.assign(ports.begin(), ports.end());
}

}  // namespace

int container_commit(const Globals& env, const CommitOptions& o) {
  StateDir sd(env.state_dir);
  Record r = sd.load(sd.find(o.container));
  if (r.image_digest.empty()) fail(Errc::failure, "commit: container " + r.id.substr(0, 12) + " has no image");
  std::string name;
  if (!o.repository.empty()) {
    auto ref = with_context("commit " + o.repository, [&] { return reference::parse(o.repository); });
    if (ref.digest) fail(Errc::invalid, "commit " + o.repository + ": a name cannot hold a digest");
    name = ref.str();
  }
  auto store = layout::Layout::open(env.store);
  auto [manifest, config] = read_image_by_digest(store, r.image_digest);
  merge_container_config(sd, r, config.config);
  for (auto& c : o.changes) apply_change(config.config, c);

  // Hold the store's gc lock from the first blob to the tag.
  layout::Layout::Lease lease(store);
  image::Descriptor layer_desc;
  digest::Digest diff_id;
  {
    std::optional<Pause> pause;
    if (o.pause) pause.emplace(env, r);
    // The layer goes to an unnamed temp file first: diff_upper writes an fd.
    std::string tmpdir = sd.container_dir(r.id);
    fs::UniqueFd tmp(open(tmpdir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!tmp) throw_errno("commit: temp file in " + tmpdir);
    auto diff = with_context("commit: diff " + sd.upper_dir(r.id),
                             [&] { return layer::diff_upper(sd.upper_dir(r.id), tmp.get()); });
    pause.reset();
    if (lseek(tmp.get(), 0, SEEK_SET) != 0) throw_errno("commit: rewind layer");
    auto w = store.begin_blob(std::string(image::layer_media_type(image::Compression::gzip, manifest.is_docker())));
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(tmp.get(), buf, sizeof buf)) > 0) w.write(buf, static_cast<size_t>(n));
    if (n < 0) throw_errno("commit: read layer");
    layer_desc = w.commit(diff.digest, static_cast<int64_t>(diff.size));
    diff_id = diff.diff_id;
  }

  std::string now = now_rfc3339_nanos();
  config.created = now;
  if (!o.author.empty()) config.author = o.author;
  config.diff_ids.push_back(diff_id);
  image::History h;
  h.created = now;
  h.created_by = join(r.command);
  h.author = o.author;
  h.comment = o.message;
  config.history.push_back(h);
  auto config_desc = store.put_json(
      image::to_json(config),
      manifest.is_docker() ? std::string(image::media::kDockerConfig) : std::string(image::media::kOciConfig));
  manifest.config = config_desc;
  manifest.layers.push_back(layer_desc);
  manifest.annotations.clear();
  auto mt = manifest.is_docker() ? std::string(image::media::kDockerManifest) : std::string(image::media::kOciManifest);
  manifest.media_type = mt;
  auto new_desc = store.put_json(image::to_json(manifest), mt);
  if (!name.empty()) {
    store.tag(name, new_desc);
  } else {
    // Untagged images are kept under their id, as a name the store can hold.
    store.tag("sha256:" + config_desc.digest.hex, new_desc);
  }
  std::cout << config_desc.digest.str() << "\n";
  return 0;
}

}  // namespace ocikit::manage
