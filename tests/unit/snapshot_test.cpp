#include "common/snapshot.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layout.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;

namespace {

bool is_root() { return ::geteuid() == 0; }

void put(const std::string& path, const std::string& data) {
  fs::mkdir_p(path.substr(0, path.rfind('/')));
  fs::write_file_atomic(path, data);
}

// A layer blob made from the overlay-style upper dir `upper`, stored in `l`.
struct Layer {
  image::Descriptor desc;
  digest::Digest diff_id;
};
Layer make_layer(layout::Layout& l, const std::string& upper) {
  std::string tmp = upper + ".tar.gz";
  fs::UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  REQUIRE(fd);
  auto r = layer::diff_upper(upper, fd.get());
  std::string data = fs::read_file(tmp);
  ::unlink(tmp.c_str());
  auto d = l.put_blob(data, std::string(image::media::kOciLayerGzip));
  CHECK(d.digest == r.digest);
  return {d, r.diff_id};
}

struct Image {
  image::Manifest manifest;
  image::ImageConfig config;
};
Image make_image(const std::vector<Layer>& layers) {
  Image img;
  img.config.architecture = "amd64";
  img.config.os = "linux";
  for (auto& l : layers) {
    img.manifest.layers.push_back(l.desc);
    img.config.diff_ids.push_back(l.diff_id);
  }
  return img;
}

}  // namespace

TEST_CASE("snapshot: chain ids follow the image spec") {
  auto a = digest::parse("sha256:" + std::string(64, 'a'));
  auto b = digest::parse("sha256:" + std::string(64, 'b'));
  CHECK(snapshot::chain_id({a}) == a);
  auto ab = digest::of(a.str() + " " + b.str());
  CHECK(snapshot::chain_id({a, b}) == ab);
  auto ids = snapshot::chain_ids({a, b, a});
  REQUIRE(ids.size() == 3);
  CHECK(ids[1] == ab);
  CHECK(ids[2] == digest::of(ab.str() + " " + a.str()));
  CHECK_THROWS_WITH_AS(snapshot::chain_id({}), "chain id of an empty layer list", Error);
}

TEST_CASE("snapshot: default dir is a sibling of the store") {
  CHECK(snapshot::default_dir("/var/lib/ocikit/store") == "/var/lib/ocikit/store.snapshots");
  CHECK(snapshot::default_dir("/x/store/") == "/x/store.snapshots");
}

TEST_CASE("snapshot: prepare extracts each layer once, in parallel, and gc removes unused ones") {
  TempDir t;
  auto l = layout::Layout::open_or_create(t.path + "/store");
  std::vector<Layer> layers;
  for (int i = 0; i < 4; ++i) {
    std::string up = t.path + "/up" + std::to_string(i);
    put(up + "/etc/file" + std::to_string(i), "layer " + std::to_string(i));
    put(up + "/common", "from " + std::to_string(i));
    layers.push_back(make_layer(l, up));
  }
  auto img = make_image(layers);
  auto store = snapshot::Store::open(snapshot::default_dir(l.path()));
  auto dirs = store.prepare(l, img.manifest, img.config, 3);
  REQUIRE(dirs.size() == 4);
  auto chains = snapshot::chain_ids(img.config.diff_ids);
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(dirs[i] == store.path(chains[i].hex));
    CHECK(fs::read_file(dirs[i] + "/etc/file" + std::to_string(i)) == "layer " + std::to_string(i));
    CHECK(fs::read_file(dirs[i] + "/common") == "from " + std::to_string(i));
  }
  CHECK(store.list().size() == 4);

  // Warm: nothing is extracted again (a marker file in a snapshot survives).
  put(dirs[0] + "/marker", "x");
  auto again = store.prepare(l, img.manifest, img.config);
  CHECK(again == dirs);
  CHECK(fs::exists(dirs[0] + "/marker"));

  // gc keeps the first two, removes the others, and stale temp dirs.
  fs::mkdir_p(store.dir() + "/.tmp-stale-abc");
  CHECK(store.gc({chains[0].hex, chains[1].hex}) == 2);
  CHECK(store.list() ==
        std::vector<std::string>{std::min(chains[0].hex, chains[1].hex), std::max(chains[0].hex, chains[1].hex)});
  CHECK_FALSE(fs::exists(store.dir() + "/.tmp-stale-abc"));
}

TEST_CASE("snapshot: gc keeps snapshots that a mounted rootfs uses") {
  if (!is_root()) return;
  TempDir t;
  // A comma and a space in the path: mountinfo escapes both.
  auto l = layout::Layout::open_or_create(t.path + "/my store,x");
  std::vector<Layer> layers;
  for (int i = 0; i < 3; ++i) {
    std::string up = t.path + "/up" + std::to_string(i);
    put(up + "/f" + std::to_string(i), std::to_string(i));
    layers.push_back(make_layer(l, up));
  }
  auto img = make_image(layers);
  auto store = snapshot::Store::open(snapshot::default_dir(l.path()));
  auto dirs = store.prepare(l, img.manifest, img.config);
  auto chains = snapshot::chain_ids(img.config.diff_ids);
  std::string up = t.path + "/upper", work = t.path + "/work", target = t.path + "/merged";
  fs::mkdir_p(up);
  fs::mkdir_p(work);
  fs::mkdir_p(target);
  // A bundle mounted on the two lower snapshots only.
  snapshot::mount_rootfs({dirs[0], dirs[1]}, up, work, target);
  CHECK(store.mounted() == std::set<std::string>{chains[0].hex, chains[1].hex});
  CHECK(store.gc({}) == 1);
  CHECK(fs::read_file(target + "/f1") == "1");
  CHECK(store.has(chains[0].hex));
  CHECK_FALSE(store.has(chains[2].hex));
  snapshot::unmount_rootfs(target);
  CHECK(store.mounted().empty());
  CHECK(store.gc({}) == 2);
  CHECK(store.list().empty());
}

TEST_CASE("snapshot: prepare refuses a wrong diff_id and leaves nothing") {
  TempDir t;
  auto l = layout::Layout::open_or_create(t.path + "/store");
  put(t.path + "/up0/a", "a");
  put(t.path + "/up1/b", "b");
  auto l0 = make_layer(l, t.path + "/up0");
  auto l1 = make_layer(l, t.path + "/up1");
  auto img = make_image({l0, l1});
  img.config.diff_ids[1] = l0.diff_id;  // wrong
  auto store = snapshot::Store::open(t.path + "/snaps");
  CHECK_THROWS_WITH_AS(
      store.prepare(l, img.manifest, img.config),
      ("layer " + l1.desc.digest.str() + ": diff_id mismatch: want " + l0.diff_id.str() + ", got " + l1.diff_id.str())
          .c_str(),
      Error);
  CHECK(store.list().empty());
  CHECK(fs::read_file(t.path + "/snaps/.lock").empty());

  auto short_img = make_image({l0});
  short_img.config.diff_ids.clear();
  CHECK_THROWS_WITH_AS(store.prepare(l, short_img.manifest, short_img.config), "image has 1 layers but 0 diff_ids",
                       Error);

  auto missing = make_image({l0});
  missing.manifest.layers[0].digest = digest::of("nothing");
  CHECK_THROWS_AS(store.prepare(l, missing.manifest, missing.config), Error);
  CHECK(store.list().empty());
}

TEST_CASE("snapshot: an image with no layers has no snapshots") {
  TempDir t;
  auto l = layout::Layout::open_or_create(t.path + "/store");
  auto img = make_image({});
  auto store = snapshot::Store::open(t.path + "/snaps");
  CHECK(store.prepare(l, img.manifest, img.config).empty());
}

TEST_CASE("snapshot: copy_merged applies whiteouts and opaque dirs") {
  if (!is_root()) return;
  TempDir t;
  std::string lo = t.path + "/lo", hi = t.path + "/hi", out = t.path + "/out";
  put(lo + "/keep", "k");
  put(lo + "/gone", "g");
  put(lo + "/d/old", "o");
  put(lo + "/over", "lower");
  REQUIRE(::symlink("keep", (lo + "/link").c_str()) == 0);
  fs::mkdir_p(hi + "/d");
  put(hi + "/d/new", "n");
  put(hi + "/over", "upper");
  REQUIRE(::setxattr((hi + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
  REQUIRE(::mknod((hi + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
  fs::mkdir_p(out);
  snapshot::copy_merged({lo, hi}, out);
  CHECK(fs::read_file(out + "/keep") == "k");
  CHECK(fs::read_file(out + "/over") == "upper");
  CHECK(fs::read_file(out + "/d/new") == "n");
  CHECK_FALSE(fs::exists(out + "/d/old"));
  CHECK_FALSE(fs::exists(out + "/gone"));
  CHECK(fs::read_file(out + "/link") == "k");
  char v[4];
  CHECK(::getxattr((out + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v) < 0);
}

TEST_CASE("snapshot: mount_rootfs stacks many layers with overlay") {
  if (!is_root()) return;
  TempDir t;
  // 200 lowers with long paths: far more than a page of lowerdir= options.
  std::vector<std::string> lowers;
  std::string base = t.path + "/" + std::string(60, 'l');
  for (int i = 0; i < 200; ++i) {
    std::string d = base + "/" + std::string(64, static_cast<char>('a' + i % 6)) + std::to_string(i);
    put(d + "/f" + std::to_string(i), std::to_string(i));
    put(d + "/top", std::to_string(i));
    lowers.push_back(d);
  }
  std::string up = t.path + "/upper", work = t.path + "/work", target = t.path + "/merged";
  fs::mkdir_p(up);
  fs::mkdir_p(work);
  fs::mkdir_p(target);
  snapshot::mount_rootfs(lowers, up, work, target);
  CHECK(fs::read_file(target + "/f0") == "0");
  CHECK(fs::read_file(target + "/f199") == "199");
  CHECK(fs::read_file(target + "/top") == "199");  // the highest layer wins
  put(target + "/written", "w");
  CHECK(fs::read_file(up + "/written") == "w");
  snapshot::unmount_rootfs(target);
  CHECK_FALSE(fs::exists(target + "/f0"));
  snapshot::unmount_rootfs(target);  // not mounted: nothing to do
}

TEST_CASE("snapshot: mount_rootfs with no layers binds the upper dir") {
  if (!is_root()) return;
  TempDir t;
  std::string up = t.path + "/upper", work = t.path + "/work", target = t.path + "/merged";
  fs::mkdir_p(up);
  fs::mkdir_p(work);
  fs::mkdir_p(target);
  snapshot::mount_rootfs({}, up, work, target);
  put(target + "/x", "x");
  CHECK(fs::read_file(up + "/x") == "x");
  snapshot::unmount_rootfs(target);
  CHECK_FALSE(fs::exists(target + "/x"));
}
