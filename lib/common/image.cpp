#include "common/image.hpp"

#include <algorithm>
#include <initializer_list>

#include "common/error.hpp"

namespace ocikit::image {

using nlohmann::json;

namespace {

// Field validation errors name the JSON path; the top-level parser prefixes
// "invalid manifest: " (or index / image config).
[[noreturn]] void bad_field(const std::string& path, const std::string& why) {
  fail(Errc::invalid, path.empty() ? why : path + ": " + why);
}

std::string sub(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Reads typed fields of one JSON object and remembers which keys it used,
// so the rest can be kept as `extra`.
class Fields {
 public:
  Fields(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j.is_object()) bad_field(path_, "must be an object");
  }
  const json* find(std::string_view key) {
    used_.emplace_back(key);
    auto it = j_.find(std::string(key));
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const json& need(std::string_view key) {
    const json* v = find(key);
    if (!v) bad_field(path_, "missing \"" + std::string(key) + "\"");
    return *v;
  }
  std::string str(std::string_view key, bool required = false) {
    const json* v = required ? &need(key) : find(key);
    if (!v) return {};
    if (!v->is_string()) bad_field(sub(path_, key), "must be a string");
    return v->get<std::string>();
  }
  int64_t integer(std::string_view key, bool required = false) {
    const json* v = required ? &need(key) : find(key);
    if (!v) return 0;
    if (!v->is_number_integer()) bad_field(sub(path_, key), "must be an integer");
    return v->get<int64_t>();
  }
  bool boolean(std::string_view key) {
    const json* v = find(key);
    if (!v) return false;
    if (!v->is_boolean()) bad_field(sub(path_, key), "must be a boolean");
    return v->get<bool>();
  }
  std::optional<std::vector<std::string>> opt_strings(std::string_view key) {
    const json* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_array()) bad_field(sub(path_, key), "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *v) {
      if (!e.is_string()) bad_field(sub(path_, key), "must be an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<std::string> strings(std::string_view key) {
    return opt_strings(key).value_or(std::vector<std::string>{});
  }
  std::map<std::string, std::string> string_map(std::string_view key) {
    const json* v = find(key);
    std::map<std::string, std::string> out;
    if (!v) return out;
    if (!v->is_object()) bad_field(sub(path_, key), "must be an object of strings");
    for (const auto& [k, val] : v->items()) {
      if (!val.is_string()) bad_field(sub(path_, key), "must be an object of strings");
      out[k] = val.get<std::string>();
    }
    return out;
  }
  // {"80/tcp": {}, ...} as Docker writes ExposedPorts and Volumes.
  std::vector<std::string> key_set(std::string_view key) {
    const json* v = find(key);
    std::vector<std::string> out;
    if (!v) return out;
    if (!v->is_object()) bad_field(sub(path_, key), "must be an object");
    for (const auto& [k, val] : v->items()) out.push_back(k);
    return out;
  }
  const std::string& path() const { return path_; }
  json rest() const {
    json out = json::object();
    for (const auto& [k, v] : j_.items())
      if (std::find(used_.begin(), used_.end(), k) == used_.end()) out[k] = v;
    return out;
  }

 private:
  const json& j_;
  std::string path_;
  std::vector<std::string> used_;
};

digest::Digest read_digest(Fields& f) {
  std::string s = f.str("digest", true);
  try {
    return digest::parse(s);
  } catch (Error& e) {
    bad_field(sub(f.path(), "digest"), e.what());
  }
}

Descriptor read_descriptor(const json& j, const std::string& path) {
  Fields f(j, path);
  Descriptor d;
  d.media_type = f.str("mediaType", true);
  d.digest = read_digest(f);
  d.size = f.integer("size", true);
  if (d.size < 0) bad_field(sub(path, "size"), "must not be negative");
  d.urls = f.strings("urls");
  d.annotations = f.string_map("annotations");
  if (const json* p = f.find("platform")) {
    try {
      d.platform = platform::from_json(*p);
    } catch (Error& e) {
      bad_field(sub(path, "platform"), e.what());
    }
  }
  d.artifact_type = f.str("artifactType");
  if (f.find("data")) d.data = f.str("data");
  d.extra = f.rest();
  return d;
}

std::vector<Descriptor> read_descriptors(Fields& f, std::string_view key, bool required) {
  const json* v = required ? &f.need(key) : f.find(key);
  std::vector<Descriptor> out;
  if (!v) return out;
  if (!v->is_array()) bad_field(sub(f.path(), key), "must be an array");
  for (size_t i = 0; i < v->size(); ++i)
    out.push_back(read_descriptor((*v)[i], sub(f.path(), key) + "[" + std::to_string(i) + "]"));
  return out;
}

void put_common(json& j, const std::string& media_type, const std::string& artifact_type,
                const std::map<std::string, std::string>& annotations) {
  if (!media_type.empty()) j["mediaType"] = media_type;
  if (!artifact_type.empty()) j["artifactType"] = artifact_type;
  if (!annotations.empty()) j["annotations"] = annotations;
}

json with_extra(const json& extra, json j) {
  for (const auto& [k, v] : extra.items())
    if (!j.contains(k)) j[k] = v;
  return j;
}

// Run a parser, turning its field errors into "invalid <what>: ...".
template <class F>
auto parse_as(std::string_view what, F&& fn) {
  try {
    return fn();
  } catch (...) {
    Error e = current_exception_as_error();
    if (e.code() != Errc::invalid) throw e;
    fail(Errc::invalid, "invalid " + std::string(what) + ": " + e.what());
  }
}

bool in(std::string_view mt, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), mt) != set.end();
}

int read_schema_version(Fields& f) {
  int64_t v = f.integer("schemaVersion", true);
  if (v != 2) bad_field("schemaVersion", "unsupported version " + std::to_string(v) + " (want 2)");
  return 2;
}

}  // namespace

bool is_index_media_type(std::string_view mt) { return in(mt, {media::kOciIndex, media::kDockerManifestList}); }
bool is_manifest_media_type(std::string_view mt) { return in(mt, {media::kOciManifest, media::kDockerManifest}); }
bool is_config_media_type(std::string_view mt) { return in(mt, {media::kOciConfig, media::kDockerConfig}); }
bool is_nondistributable_media_type(std::string_view mt) {
  return in(mt,
            {media::kOciLayerNondistributable, media::kOciLayerNondistributableGzip,
             media::kOciLayerNondistributableZstd, media::kDockerLayerForeignGzip});
}
bool is_layer_media_type(std::string_view mt) {
  return is_nondistributable_media_type(mt) ||
      in(mt,
         {media::kOciLayer, media::kOciLayerGzip, media::kOciLayerZstd, media::kDockerLayer, media::kDockerLayerGzip,
          media::kDockerLayerZstd});
}

Compression layer_compression(std::string_view mt) {
  if (in(mt, {media::kOciLayer, media::kOciLayerNondistributable, media::kDockerLayer})) return Compression::none;
  if (in(mt,
         {media::kOciLayerGzip, media::kOciLayerNondistributableGzip, media::kDockerLayerGzip,
          media::kDockerLayerForeignGzip}))
    return Compression::gzip;
  if (in(mt, {media::kOciLayerZstd, media::kOciLayerNondistributableZstd, media::kDockerLayerZstd}))
    return Compression::zstd;
  fail(Errc::invalid, "unsupported layer media type \"" + std::string(mt) + "\"");
}

std::string_view layer_media_type(Compression c, bool docker) {
  switch (c) {
    case Compression::none: return docker ? media::kDockerLayer : media::kOciLayer;
    case Compression::gzip: return docker ? media::kDockerLayerGzip : media::kOciLayerGzip;
    case Compression::zstd: return docker ? media::kDockerLayerZstd : media::kOciLayerZstd;
  }
  return media::kOciLayer;
}

Kind detect_kind(std::string_view mt, std::string_view content) {
  if (is_index_media_type(mt)) return Kind::index;
  if (is_manifest_media_type(mt)) return Kind::manifest;
  if (is_config_media_type(mt)) return Kind::config;
  if (content.empty()) return Kind::unknown;
  json j = json::parse(content.begin(), content.end(), nullptr, false);
  if (!j.is_object()) return Kind::unknown;
  if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) {
    std::string inner = it->get<std::string>();
    if (is_index_media_type(inner)) return Kind::index;
    if (is_manifest_media_type(inner)) return Kind::manifest;
  }
  if (j.contains("manifests")) return Kind::index;
  if (j.contains("config") && j.contains("layers")) return Kind::manifest;
  if (j.contains("rootfs") || j.contains("architecture")) return Kind::config;
  return Kind::unknown;
}

std::string Descriptor::ref_name() const {
  auto it = annotations.find(std::string(kRefNameAnnotation));
  return it == annotations.end() ? std::string() : it->second;
}

json parse_json(std::string_view text, std::string_view what) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    std::string m = e.what();
    if (auto p = m.find("] "); p != std::string::npos) m = m.substr(p + 2);
    fail(Errc::invalid, "invalid " + std::string(what) + ": " + m);
  }
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::strict); }

Descriptor descriptor_from_json(const json& j) {
  return parse_as("descriptor", [&] { return read_descriptor(j, ""); });
}

json to_json(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platform::to_json(*d.platform);
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  if (d.data) j["data"] = *d.data;
  return with_extra(d.extra, std::move(j));
}

Manifest manifest_from_json(const json& j) {
  return parse_as("manifest", [&] {
    Fields f(j, "");
    Manifest m;
    m.schema_version = read_schema_version(f);
    m.media_type = f.str("mediaType");
    if (!m.media_type.empty() && !is_manifest_media_type(m.media_type))
      bad_field("mediaType", "\"" + m.media_type + "\" is not a manifest media type");
    m.artifact_type = f.str("artifactType");
    m.config = read_descriptor(f.need("config"), "config");
    m.layers = read_descriptors(f, "layers", true);
    if (const json* s = f.find("subject")) m.subject = read_descriptor(*s, "subject");
    m.annotations = f.string_map("annotations");
    m.extra = f.rest();
    return m;
  });
}

Manifest parse_manifest(std::string_view text) { return manifest_from_json(parse_json(text, "manifest")); }

json to_json(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = m.schema_version;
  put_common(j, m.media_type, m.artifact_type, m.annotations);
  j["config"] = to_json(m.config);
  j["layers"] = json::array();
  for (const auto& l : m.layers) j["layers"].push_back(to_json(l));
  if (m.subject) j["subject"] = to_json(*m.subject);
  return with_extra(m.extra, std::move(j));
}

Index index_from_json(const json& j) {
  return parse_as("index", [&] {
    Fields f(j, "");
    Index ix;
    ix.schema_version = read_schema_version(f);
    ix.media_type = f.str("mediaType");
    if (!ix.media_type.empty() && !is_index_media_type(ix.media_type))
      bad_field("mediaType", "\"" + ix.media_type + "\" is not an index media type");
    ix.artifact_type = f.str("artifactType");
    ix.manifests = read_descriptors(f, "manifests", true);
    if (const json* s = f.find("subject")) ix.subject = read_descriptor(*s, "subject");
    ix.annotations = f.string_map("annotations");
    ix.extra = f.rest();
    return ix;
  });
}

Index parse_index(std::string_view text) { return index_from_json(parse_json(text, "index")); }

json to_json(const Index& ix) {
  json j = json::object();
  j["schemaVersion"] = ix.schema_version;
  put_common(j, ix.media_type, ix.artifact_type, ix.annotations);
  j["manifests"] = json::array();
  for (const auto& m : ix.manifests) j["manifests"].push_back(to_json(m));
  if (ix.subject) j["subject"] = to_json(*ix.subject);
  return with_extra(ix.extra, std::move(j));
}

platform::Platform ImageConfig::platform() const {
  return platform::Platform{os, architecture, variant, os_version, os_features};
}

namespace {

Healthcheck read_healthcheck(const json& j, const std::string& path) {
  Fields f(j, path);
  Healthcheck h;
  h.test = f.strings("Test");
  h.interval = f.integer("Interval");
  h.timeout = f.integer("Timeout");
  h.start_period = f.integer("StartPeriod");
  h.start_interval = f.integer("StartInterval");
  h.retries = static_cast<int>(f.integer("Retries"));
  h.extra = f.rest();
  return h;
}

json key_set_json(const std::vector<std::string>& keys) {
  json j = json::object();
  for (const auto& k : keys) j[k] = json::object();
  return j;
}

ContainerConfig read_container_config(const json& j) {
  Fields f(j, "config");
  ContainerConfig c;
  c.user = f.str("User");
  c.env = f.strings("Env");
  c.entrypoint = f.opt_strings("Entrypoint");
  c.cmd = f.opt_strings("Cmd");
  c.working_dir = f.str("WorkingDir");
  c.labels = f.string_map("Labels");
  c.exposed_ports = f.key_set("ExposedPorts");
  c.volumes = f.key_set("Volumes");
  c.stop_signal = f.str("StopSignal");
  if (const json* h = f.find("Healthcheck")) c.healthcheck = read_healthcheck(*h, "config.Healthcheck");
  c.shell = f.strings("Shell");
  c.on_build = f.strings("OnBuild");
  c.args_escaped = f.boolean("ArgsEscaped");
  c.extra = f.rest();
  return c;
}

json container_config_json(const ContainerConfig& c) {
  json j = json::object();
  if (!c.user.empty()) j["User"] = c.user;
  if (!c.env.empty()) j["Env"] = c.env;
  if (c.entrypoint) j["Entrypoint"] = *c.entrypoint;
  if (c.cmd) j["Cmd"] = *c.cmd;
  if (!c.working_dir.empty()) j["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) j["Labels"] = c.labels;
  if (!c.exposed_ports.empty()) j["ExposedPorts"] = key_set_json(c.exposed_ports);
  if (!c.volumes.empty()) j["Volumes"] = key_set_json(c.volumes);
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.healthcheck) {
    const Healthcheck& h = *c.healthcheck;
    json hj = json::object();
    hj["Test"] = h.test;
    if (h.interval) hj["Interval"] = h.interval;
    if (h.timeout) hj["Timeout"] = h.timeout;
    if (h.start_period) hj["StartPeriod"] = h.start_period;
    if (h.start_interval) hj["StartInterval"] = h.start_interval;
    if (h.retries) hj["Retries"] = h.retries;
    j["Healthcheck"] = with_extra(h.extra, std::move(hj));
  }
  if (!c.shell.empty()) j["Shell"] = c.shell;
  if (!c.on_build.empty()) j["OnBuild"] = c.on_build;
  if (c.args_escaped) j["ArgsEscaped"] = true;
  return with_extra(c.extra, std::move(j));
}

}  // namespace

ImageConfig config_from_json(const json& j) {
  return parse_as("image config", [&] {
    Fields f(j, "");
    ImageConfig c;
    c.created = f.str("created");
    c.author = f.str("author");
    c.architecture = f.str("architecture", true);
    c.os = f.str("os", true);
    c.variant = f.str("variant");
    c.os_version = f.str("os.version");
    c.os_features = f.strings("os.features");
    if (const json* cc = f.find("config")) c.config = read_container_config(*cc);
    Fields rf(f.need("rootfs"), "rootfs");
    c.rootfs_type = rf.str("type", true);
    if (c.rootfs_type != "layers") bad_field("rootfs.type", "must be \"layers\"");
    const json& ids = rf.need("diff_ids");
    if (!ids.is_array()) bad_field("rootfs.diff_ids", "must be an array");
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string p = "rootfs.diff_ids[" + std::to_string(i) + "]";
      if (!ids[i].is_string()) bad_field(p, "must be a string");
      try {
        c.diff_ids.push_back(digest::parse(ids[i].get<std::string>()));
      } catch (Error& e) {
        bad_field(p, e.what());
      }
    }
    if (const json* h = f.find("history")) {
      if (!h->is_array()) bad_field("history", "must be an array");
      for (size_t i = 0; i < h->size(); ++i) {
        Fields hf((*h)[i], "history[" + std::to_string(i) + "]");
        History e;
        e.created = hf.str("created");
        e.created_by = hf.str("created_by");
        e.author = hf.str("author");
        e.comment = hf.str("comment");
        e.empty_layer = hf.boolean("empty_layer");
        e.extra = hf.rest();
        c.history.push_back(std::move(e));
      }
    }
    c.extra = f.rest();
    return c;
  });
}

ImageConfig parse_config(std::string_view text) { return config_from_json(parse_json(text, "image config")); }

json to_json(const ImageConfig& c) {
  json j = json::object();
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.variant.empty()) j["variant"] = c.variant;
  if (!c.os_version.empty()) j["os.version"] = c.os_version;
  if (!c.os_features.empty()) j["os.features"] = c.os_features;
  j["config"] = container_config_json(c.config);
  json ids = json::array();
  for (const auto& d : c.diff_ids) ids.push_back(d.str());
  j["rootfs"] = {{"type", c.rootfs_type}, {"diff_ids", ids}};
  if (!c.history.empty()) {
    json h = json::array();
    for (const auto& e : c.history) {
      json hj = json::object();
      if (!e.created.empty()) hj["created"] = e.created;
      if (!e.created_by.empty()) hj["created_by"] = e.created_by;
      if (!e.author.empty()) hj["author"] = e.author;
      if (!e.comment.empty()) hj["comment"] = e.comment;
      if (e.empty_layer) hj["empty_layer"] = true;
      h.push_back(with_extra(e.extra, std::move(hj)));
    }
    j["history"] = h;
  }
  return with_extra(c.extra, std::move(j));
}

}  // namespace ocikit::image
