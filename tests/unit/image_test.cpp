#include "common/image.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/error.hpp"
#include "error_of.hpp"

using namespace ocikit;
using nlohmann::json;

namespace {
const std::string kD1 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kD2 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

const char* kOciManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
             "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "size": 7023},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "size": 32654,
     "annotations": {"a": "b"}, "x-unknown-descriptor-field": [1, 2]},
    {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
     "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "size": 1,
     "urls": ["https://example.com/l"]}
  ],
  "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "size": 10},
  "annotations": {"com.example.key1": "value1"},
  "x-unknown-top": {"nested": true}
})";

const char* kDockerList = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "size": 7143,
     "platform": {"architecture": "ppc64le", "os": "linux"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "digest": "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "size": 7682,
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7", "features": ["sse4"]}}
  ]
})";

const char* kDockerConfig = R"({
  "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "author": "me",
  "docker_version": "20.10.7", "container": "abc",
  "config": {"Hostname": "", "User": "1000:1000", "Env": ["PATH=/usr/bin", "A=b"], "Cmd": ["/bin/sh"],
             "Entrypoint": null, "WorkingDir": "/app", "Labels": {"l": "v"}, "OnBuild": null,
             "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}}, "StopSignal": "SIGTERM",
             "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 3},
             "Shell": ["/bin/bash", "-c"], "ArgsEscaped": true},
  "rootfs": {"type": "layers", "diff_ids": ["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
  "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file", "x-h": 1},
              {"created_by": "ENV A=b", "empty_layer": true}]
})";

std::string err_of(auto&& fn) { return testing::error_of(fn, Errc::invalid); }
}  // namespace

TEST_CASE("image: media type helpers") {
  using image::Compression;
  CHECK(image::is_index_media_type(image::media::kOciIndex));
  CHECK(image::is_index_media_type(image::media::kDockerManifestList));
  CHECK_FALSE(image::is_index_media_type(image::media::kOciManifest));
  CHECK(image::layer_compression(image::media::kOciLayerGzip) == Compression::gzip);
  CHECK(image::layer_compression(image::media::kOciLayerZstd) == Compression::zstd);
  CHECK(image::layer_compression(image::media::kOciLayer) == Compression::none);
  CHECK(image::layer_compression(image::media::kDockerLayerGzip) == Compression::gzip);
  CHECK(image::layer_compression(image::media::kDockerLayerForeignGzip) == Compression::gzip);
  CHECK(image::layer_compression(image::media::kOciLayerNondistributableZstd) == Compression::zstd);
  CHECK(image::is_nondistributable_media_type(image::media::kDockerLayerForeignGzip));
  CHECK_FALSE(image::is_nondistributable_media_type(image::media::kOciLayerGzip));
  CHECK(image::layer_media_type(Compression::gzip, true) == image::media::kDockerLayerGzip);
  CHECK(image::layer_media_type(Compression::zstd) == image::media::kOciLayerZstd);
  CHECK(err_of([] { image::layer_compression("text/plain"); }) == "unsupported layer media type \"text/plain\"");

  using image::Kind;
  CHECK(image::detect_kind(image::media::kDockerManifest) == Kind::manifest);
  CHECK(image::detect_kind(image::media::kOciConfig) == Kind::config);
  CHECK(image::detect_kind("", kDockerList) == Kind::index);
  CHECK(image::detect_kind("", R"({"schemaVersion":2,"config":{},"layers":[]})") == Kind::manifest);
  CHECK(image::detect_kind("", R"({"architecture":"amd64"})") == Kind::config);
  CHECK(image::detect_kind("", "not json") == Kind::unknown);
  CHECK(image::detect_kind("") == Kind::unknown);
}

TEST_CASE("image: manifest parse and round trip keeps unknown fields") {
  auto m = image::parse_manifest(kOciManifest);
  CHECK(m.media_type == image::media::kOciManifest);
  CHECK_FALSE(m.is_docker());
  CHECK(m.config.digest.str() == kD1);
  CHECK(m.config.size == 7023);
  REQUIRE(m.layers.size() == 2);
  CHECK(m.layers[0].annotations.at("a") == "b");
  CHECK(m.layers[1].urls == std::vector<std::string>{"https://example.com/l"});
  REQUIRE(m.subject);
  CHECK(m.annotations.at("com.example.key1") == "value1");
  json out = image::to_json(m);
  CHECK(out == json::parse(kOciManifest));
  CHECK(image::to_json(image::parse_manifest(image::dump(out))) == out);
  auto d =
      image::parse_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                            R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
                            kD1 + R"(","size":1},"layers":[]})");
  CHECK(d.is_docker());
  CHECK(d.layers.empty());
}

TEST_CASE("image: index parse and round trip") {
  auto ix = image::parse_index(kDockerList);
  REQUIRE(ix.manifests.size() == 2);
  REQUIRE(ix.manifests[1].platform);
  CHECK(ix.manifests[1].platform->str() == "linux/arm/v7");
  CHECK(ix.manifests[0].digest.str() == kD1);
  // Unknown platform fields ("features") are not modelled by Platform; the
  // descriptor itself round-trips everything else.
  json out = image::to_json(ix);
  json want = json::parse(kDockerList);
  want["manifests"][1]["platform"].erase("features");
  CHECK(out == want);
  image::Descriptor desc;
  desc.media_type = image::media::kOciManifest;
  desc.digest = digest::parse(kD2);
  desc.size = 5;
  desc.annotations[std::string(image::kRefNameAnnotation)] = "v1";
  desc.data = "e30=";
  desc.artifact_type = "application/x";
  CHECK(desc.ref_name() == "v1");
  auto back = image::descriptor_from_json(image::to_json(desc));
  CHECK(image::to_json(back) == image::to_json(desc));
}

TEST_CASE("image: config parse and round trip") {
  auto c = image::parse_config(kDockerConfig);
  CHECK(c.architecture == "amd64");
  CHECK(c.platform().str() == "linux/amd64");
  CHECK(c.config.user == "1000:1000");
  CHECK(c.config.env.size() == 2);
  CHECK_FALSE(c.config.entrypoint);
  REQUIRE(c.config.cmd);
  CHECK(*c.config.cmd == std::vector<std::string>{"/bin/sh"});
  CHECK(c.config.exposed_ports == std::vector<std::string>{"53/udp", "80/tcp"});
  CHECK(c.config.volumes == std::vector<std::string>{"/data"});
  REQUIRE(c.config.healthcheck);
  CHECK(c.config.healthcheck->interval == 1000000000);
  CHECK(c.config.healthcheck->retries == 3);
  CHECK(c.config.args_escaped);
  CHECK(c.diff_ids.size() == 1);
  REQUIRE(c.history.size() == 2);
  CHECK(c.history[1].empty_layer);
  json out = image::to_json(c);
  json want = json::parse(kDockerConfig);
  // nulls are read as unset and not written back
  want["config"].erase("Entrypoint");
  want["config"].erase("OnBuild");
  CHECK(out == want);
  CHECK(out["docker_version"] == "20.10.7");
  CHECK(out["config"]["Hostname"] == "");
  CHECK(out["history"][0]["x-h"] == 1);
  // An empty Cmd is kept distinct from an unset one.
  c.config.cmd = std::vector<std::string>{};
  CHECK(image::to_json(c)["config"]["Cmd"] == json::array());
}

TEST_CASE("image: bad input gets clear invalid errors") {
  struct Row {
    std::string text, err;
  };
  const std::string cfg = R"("config":{"mediaType":"a","digest":")" + kD1 + R"(","size":1})";
  for (const Row& r : {
           Row{"",
               "invalid manifest: parse error at line 1, column 1: syntax error while parsing value - unexpected "
               "end of input; expected '[', '{', or a literal"},
           Row{"{",
               "invalid manifest: parse error at line 1, column 2: syntax error while parsing object key - unexpected "
               "end of input; expected string literal"},
           Row{"[]", "invalid manifest: must be an object"},
           Row{"{}", "invalid manifest: missing \"schemaVersion\""},
           Row{R"({"schemaVersion":"2"})", "invalid manifest: schemaVersion: must be an integer"},
           Row{R"({"schemaVersion":1})", "invalid manifest: schemaVersion: unsupported version 1 (want 2)"},
           Row{R"({"schemaVersion":2,"layers":[]})", "invalid manifest: missing \"config\""},
           Row{R"({"schemaVersion":2,)" + cfg + "}", "invalid manifest: missing \"layers\""},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":{}})", "invalid manifest: layers: must be an array"},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"a","size":1}]})",
               "invalid manifest: layers[0]: missing \"digest\""},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"a","digest":"sha256:12","size":1}]})",
               "invalid manifest: layers[0].digest: invalid digest \"sha256:12\": want 64 hex digits, got 2"},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"a","digest":")" + kD1 + R"(","size":-1}]})",
               "invalid manifest: layers[0].size: must not be negative"},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"a","digest":")" + kD1 +
                   R"(","size":"1"}]})",
               "invalid manifest: layers[0].size: must be an integer"},
           Row{R"({"schemaVersion":2,)" + cfg + R"(,"layers":[],"annotations":{"a":1}})",
               "invalid manifest: annotations: must be an object of strings"},
           Row{R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)" + cfg +
                   R"(,"layers":[]})",
               "invalid manifest: mediaType: \"application/vnd.oci.image.index.v1+json\" is not a manifest media type"},
           Row{R"({"schemaVersion":2,"config":{"mediaType":"a","digest":")" + kD1 +
                   R"(","size":1,"platform":{"os":"linux"}},"layers":[]})",
               "invalid manifest: config.platform: invalid platform: missing \"architecture\""},
       }) {
    CAPTURE(r.text);
    CHECK(err_of([&] { image::parse_manifest(r.text); }) == r.err);
  }
  for (const Row& r : {
           Row{R"({"schemaVersion":2})", "invalid index: missing \"manifests\""},
           Row{R"({"schemaVersion":2,"manifests":[1]})", "invalid index: manifests[0]: must be an object"},
           Row{R"({"schemaVersion":2,"mediaType":"x","manifests":[]})",
               "invalid index: mediaType: \"x\" is not an index media type"},
       }) {
    CAPTURE(r.text);
    CHECK(err_of([&] { image::parse_index(r.text); }) == r.err);
  }
  for (
      const Row& r : {
          Row{"nope",
              "invalid image config: parse error at line 1, column 2: syntax error while parsing value - invalid "
              "literal; last read: 'no'"},
          Row{R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})",
              "invalid image config: missing \"architecture\""},
          Row{R"({"architecture":"amd64","os":"linux"})", "invalid image config: missing \"rootfs\""},
          Row{R"({"architecture":"amd64","os":"linux","rootfs":{"type":"x","diff_ids":[]}})",
              "invalid image config: rootfs.type: must be \"layers\""},
          Row{R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["x"]}})",
              "invalid image config: rootfs.diff_ids[0]: invalid digest \"x\": missing algorithm"},
          Row{R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":"sh"}})",
              "invalid image config: config.Cmd: must be an array of strings"},
          Row{R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Healthcheck":{"Retries":"x"}}})",
              "invalid image config: config.Healthcheck.Retries: must be an integer"},
          Row{R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[{"empty_layer":1}]})",
              "invalid image config: history[0].empty_layer: must be a boolean"},
      }) {
    CAPTURE(r.text);
    CHECK(err_of([&] { image::parse_config(r.text); }) == r.err);
  }
  CHECK(err_of([] { image::descriptor_from_json(json::parse(R"({"digest":"x"})")); }) ==
        "invalid descriptor: missing \"mediaType\"");
}
