#include "common/transfer.hpp"
#include "error_of.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>

#include <atomic>
#include <map>

#include "common/digest.hpp"
#include "common/error.hpp"
#include "fake_transport.hpp"
#include "temp_dir.hpp"

using namespace ocikit;
using testing::FakeTransport;
using testing::resp;

TEST_CASE("transfer: parallel_for runs every index and rethrows the first error") {
  std::atomic<int> sum{0};
  transfer::parallel_for(100, 4, [&](size_t i) { sum += static_cast<int>(i); });
  CHECK(sum == 4950);
  CHECK_THROWS_WITH(transfer::parallel_for(10, 3,
                                           [&](size_t i) {
                                             if (i == 5) fail("boom");
                                           }),
                    "boom");
  transfer::parallel_for(0, 4, [&](size_t) { FAIL("called"); });
}

TEST_CASE("transfer: pull picks the platform from an index, skips present blobs, stores manifests last") {
  std::map<std::string, std::pair<std::string, std::string>> served;  // digest -> (media type, body)
  auto add = [&](std::string mt, std::string body) {
    std::string d = digest::of(body).str();
    served[d] = {mt, body};
    return std::make_pair(d, body.size());
  };
  auto [cfg_d, cfg_n] = add("application/octet-stream", R"({"architecture":"arm64","os":"linux"})");
  auto [lay_d, lay_n] = add("application/octet-stream", std::string(5000, 'L'));
  auto [old_d, old_n] = add("application/octet-stream", "already-here");
  std::string man =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cfg_d + R"(","size":)" + std::to_string(cfg_n) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + lay_d + R"(","size":)" +
      std::to_string(lay_n) + R"(},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + old_d +
      R"(","size":)" + std::to_string(old_n) + "}]}";
  auto [man_d, man_n] = add("application/vnd.oci.image.manifest.v1+json", man);
  std::string idx =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      digest::of("other").str() +
      R"(","size":5,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      man_d + R"(","size":)" + std::to_string(man_n) +
      R"(,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]})";
  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    if (r.url.ends_with("/manifests/v1"))
      return resp(200, idx, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}});
    auto slash = r.url.rfind('/');
    auto it = served.find(r.url.substr(slash + 1));
    if (it == served.end()) return resp(404);
    return resp(200, it->second.second, {{"Content-Type", it->second.first}});
  };
  registry::Options ro;
  ro.retry = {2, 1, 1};
  registry::Client c("127.0.0.1:5000", t, {}, ro);

  std::map<std::string, std::string> stored;
  std::vector<std::string> order;
  std::mutex mu;
  transfer::PullTarget target;
  target.has_blob = [&](const image::Descriptor& d) { return d.digest.str() == old_d || stored.count(d.digest.str()); };
  target.write_blob = [&](const image::Descriptor& d, const std::function<void(const http::Sink&)>& fill) {
    std::string buf;
    fill([&](const char* p, size_t n) { buf.append(p, n); });
    std::lock_guard lk(mu);
    stored[d.digest.str()] = buf;
    order.push_back(d.digest.str());
  };
  transfer::PullOptions o;
  o.platform = platform::parse("linux/arm64");
  image::Descriptor got = transfer::pull_image(c, "a/b", "v1", target, o);
  CHECK(got.digest.str() == man_d);
  CHECK(got.platform->architecture == "arm64");
  CHECK(stored.size() == 3);  // config, one layer, the manifest; not the present blob
  CHECK(stored[lay_d] == std::string(5000, 'L'));
  CHECK(order.back() == man_d);

  o.platform = platform::parse("linux/s390x");
  try {
    transfer::pull_image(c, "a/b", "v1", target, o);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
    CHECK(std::string(e.what()).ends_with(
        "no image for platform linux/s390x (the index has: linux/amd64, linux/arm64/v8)"));
  }

  // check_top sees the top manifest (the index, as served for the tag)
  // before anything is fetched; when it throws, nothing is stored.
  stored.clear();
  order.clear();
  std::string seen;
  o.platform = platform::parse("linux/arm64");
  o.check_top = [&](const registry::Manifest& m) {
    seen = m.digest;
    fail(Errc::unauthorized, "rejected by policy");
  };
  CHECK(testing::error_of([&] { transfer::pull_image(c, "a/b", "v1", target, o); }, Errc::unauthorized) ==
        "rejected by policy");
  CHECK(seen == digest::of(idx).str());
  CHECK(stored.empty());
}

TEST_CASE("transfer: blob locations: a pull records its blobs, a push mounts from them and records its own") {
  testing::TempDir tmp;
  blobloc::BlobLocations locations(tmp.path + "/blob-locations");
  std::string cfg = R"({"architecture":"amd64","os":"linux"})", layer(3000, 'L');
  std::string cfg_d = digest::of(cfg).str(), lay_d = digest::of(layer).str();
  std::string man =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cfg_d + R"(","size":)" + std::to_string(cfg.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + lay_d + R"(","size":)" +
      std::to_string(layer.size()) + "}]}";
  std::string man_d = digest::of(man).str();

  FakeTransport t;
  t.handler = [&](const http::Request& r) {
    if (r.url.ends_with("/manifests/v1") && r.method == "GET")
      return resp(200, man, {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}});
    if (r.url.ends_with("/blobs/" + cfg_d) && r.method == "GET") return resp(200, cfg);
    if (r.url.ends_with("/blobs/" + lay_d) && r.method == "GET") return resp(200, layer);
    if (r.method == "HEAD") return resp(404);
    // Mounts succeed from lib/base only; any other upload is opened and accepted.
    if (r.method == "POST" && r.url.find("from=lib%2Fbase") == std::string::npos &&
        r.url.find("from=lib/base") == std::string::npos)
      return resp(202, "", {{"Location", "/v2/team/app/blobs/uploads/u1"}});
    if (r.method == "POST") return resp(201);
    if (r.method == "PUT" && r.url.find("/manifests/") != std::string::npos)
      return resp(201, "", {{"Docker-Content-Digest", man_d}});
    if (r.method == "PUT") return resp(201);
    return resp(500);
  };
  registry::Options ro;
  ro.retry = {2, 1, 1};
  registry::Client c("reg:5000", t, {}, ro);

  transfer::PullTarget target;
  std::map<std::string, std::string> stored;
  std::mutex mu;
  target.has_blob = [&](const image::Descriptor& d) {
    std::lock_guard lk(mu);
    return stored.count(d.digest.str()) > 0;
  };
  target.write_blob = [&](const image::Descriptor& d, const std::function<void(const http::Sink&)>& fill) {
    std::string buf;
    fill([&](const char* p, size_t n) { buf.append(p, n); });
    std::lock_guard lk(mu);
    stored[d.digest.str()] = buf;
  };
  transfer::PullOptions po;
  po.locations = &locations;
  transfer::pull_image(c, "lib/base", "v1", target, po);
  CHECK(locations.repositories("reg:5000", lay_d) == std::vector<std::string>{"lib/base"});
  CHECK(locations.repositories("reg:5000", cfg_d) == std::vector<std::string>{"lib/base"});
  CHECK(locations.repositories("reg:5000", man_d).empty());  // manifests are not mounted

  t.seen.clear();
  transfer::PushSource src;
  src.read_blob = [&](const image::Descriptor& d) {
    return stored.count(d.digest.str()) ? stored[d.digest.str()] : man;
  };
  src.open_blob = [&](const image::Descriptor&) { return fs::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); };
  transfer::PushOptions pu;
  pu.locations = &locations;
  image::Descriptor top;
  top.media_type = "application/vnd.oci.image.manifest.v1+json";
  top.digest = digest::parse(man_d);
  top.size = static_cast<int64_t>(man.size());
  CHECK(transfer::push_image(c, "team/app", "v1", top, src, pu) == man_d);
  int mounts = 0;
  for (const auto& r : t.seen) {
    if (r.method == "POST") {
      CHECK(r.url.find("mount=") != std::string::npos);
      ++mounts;
    }
    CHECK(r.url.find("/blobs/uploads/u1") == std::string::npos);  // nothing uploaded
  }
  CHECK(mounts == 2);
  CHECK(locations.repositories("reg:5000", lay_d) == std::vector<std::string>{"team/app", "lib/base"});
}
