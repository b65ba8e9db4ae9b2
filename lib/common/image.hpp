#pragma once
// ocikit::image: the OCI image-spec objects (descriptor, manifest, index,
// image config) and their Docker v2 schema 2 equivalents (manifest,
// manifest list, container config), parsed from JSON with validation and
// serialised back. Fields this code does not model are kept in `extra` and
// written back, so a parse/serialise round trip preserves them.
//
// Serialisation sorts object keys (nlohmann::json's std::map order), so it
// is deterministic but not byte-identical to the input: code that needs a
// digest of what it read must keep the original bytes.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.hpp"
#include "common/platform.hpp"

namespace ocikit::image {

/// Media types of the OCI image spec and of Docker's registry formats.
namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestV1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kDockerLayerForeignGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media

/// The annotation holding an image's name in an OCI layout's index.json.
inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

/// What a JSON document is.
enum class Kind { manifest, index, config, unknown };

/// How a layer blob is compressed.
enum class Compression { none, gzip, zstd };

/// True for the OCI index and Docker manifest list media types.
bool is_index_media_type(std::string_view mt);
/// True for the OCI and Docker v2 schema 2 manifest media types.
bool is_manifest_media_type(std::string_view mt);
/// True for the OCI and Docker image config media types.
bool is_config_media_type(std::string_view mt);
/// True for every OCI/Docker layer media type (plain, gzip, zstd, foreign,
/// non-distributable).
bool is_layer_media_type(std::string_view mt);
/// True for foreign / non-distributable layers (registries may not hold them).
bool is_nondistributable_media_type(std::string_view mt);
/// The compression a layer media type implies. Throws Errc::invalid
/// (`unsupported layer media type "x"`) for anything that is not a layer.
Compression layer_compression(std::string_view mt);
/// The layer media type for `c` (OCI or Docker flavour).
std::string_view layer_media_type(Compression c, bool docker = false);

/// Kind from a media type; when `mt` is empty or unknown and `content` is
/// given, guess from the JSON: "manifests" -> index, "config"+"layers" ->
/// manifest, "rootfs" or "architecture" -> config.
Kind detect_kind(std::string_view mt, std::string_view content = {});

/// A content descriptor.
struct Descriptor {
  std::string media_type;
  digest::Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<platform::Platform> platform;
  std::string artifact_type;
  std::optional<std::string> data;  ///< base64 text, as in the JSON
  nlohmann::json extra = nlohmann::json::object();  ///< unknown fields

  /// The ref.name annotation, "" when absent.
  std::string ref_name() const;
};

/// An image manifest (OCI, or Docker v2 schema 2 when media_type says so).
struct Manifest {
  int schema_version = 2;
  std::string media_type;  ///< "" allowed for OCI (the field is optional there)
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
  nlohmann::json extra = nlohmann::json::object();

  /// True for the Docker v2 schema 2 media type.
  bool is_docker() const { return media_type == media::kDockerManifest; }
};

/// An image index (OCI) or manifest list (Docker).
struct Index {
  int schema_version = 2;
  std::string media_type;
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
  nlohmann::json extra = nlohmann::json::object();
};

/// Docker's HEALTHCHECK settings (durations in nanoseconds).
struct Healthcheck {
  std::vector<std::string> test;
  int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;
  int retries = 0;
  nlohmann::json extra = nlohmann::json::object();
};

/// The execution parameters of an image config ("config" object).
struct ContainerConfig {
  std::string user;
  std::vector<std::string> env;
  std::optional<std::vector<std::string>> entrypoint;  ///< nullopt = unset, not []
  std::optional<std::vector<std::string>> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  ///< "80/tcp", sorted, unique
  std::vector<std::string> volumes;  ///< "/data", sorted, unique
  std::string stop_signal;
  std::optional<Healthcheck> healthcheck;
  std::vector<std::string> shell;
  std::vector<std::string> on_build;
  bool args_escaped = false;
  nlohmann::json extra = nlohmann::json::object();
};

/// One history entry.
struct History {
  std::string created, created_by, author, comment;
  bool empty_layer = false;
  nlohmann::json extra = nlohmann::json::object();
};

/// An image configuration (OCI config or Docker container image JSON).
struct ImageConfig {
  std::string created, author;
  std::string architecture, os, variant, os_version;
  std::vector<std::string> os_features;
  ContainerConfig config;
  std::string rootfs_type = "layers";
  std::vector<digest::Digest> diff_ids;
  std::vector<History> history;
  nlohmann::json extra = nlohmann::json::object();

  /// The platform this config describes.
  platform::Platform platform() const;
};

/// Parse JSON text; throws Errc::invalid "invalid <what>: <parse error>".
nlohmann::json parse_json(std::string_view text, std::string_view what);

/// Read a descriptor object. Requires mediaType, digest, size (>= 0).
/// Throws Errc::invalid "invalid descriptor: ..." naming the field.
Descriptor descriptor_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Descriptor& d);

/// Parse a manifest: schemaVersion 2, config descriptor, layers array; a
/// mediaType, when present, must be a manifest type. Throws Errc::invalid
/// "invalid manifest: ..." (bad JSON, missing fields, wrong types).
Manifest parse_manifest(std::string_view text);
Manifest manifest_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Manifest& m);

/// Parse an index / manifest list: schemaVersion 2, manifests array.
/// Throws Errc::invalid "invalid index: ...".
Index parse_index(std::string_view text);
Index index_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Index& i);

/// Parse an image config: architecture, os, rootfs {type "layers",
/// diff_ids} required. Throws Errc::invalid "invalid image config: ...".
ImageConfig parse_config(std::string_view text);
ImageConfig config_from_json(const nlohmann::json& j);
nlohmann::json to_json(const ImageConfig& c);

/// Serialise compactly (no whitespace, keys sorted).
std::string dump(const nlohmann::json& j);

}  // namespace ocikit::image
