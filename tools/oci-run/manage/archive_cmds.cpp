// docker's image archive commands: `save` and `load` (docker-archive,
// through lib/common/archive) and `import` (a filesystem tar as a one-layer
// image).
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <set>

#include "common/archive.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/layer.hpp"
#include "common/layout.hpp"
#include "common/platform.hpp"
#include "common/reference.hpp"
#include "format.hpp"
#include "images.hpp"
#include "manage/manage.hpp"

namespace ocikit::manage {

namespace {

// The name an image is shown under in docker's messages ("busybox:latest").
std::string familiar(const std::string& name) {
  auto [repo, tag] = split_name(name);
  return repo + ":" + tag;
}

}  // namespace

int image_save(const Globals& g, const std::vector<std::string>& keys, const std::string& output) {
  if (output.empty() && isatty(STDOUT_FILENO))
    fail(Errc::usage, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  auto store = layout::Layout::open(g.store);
  std::vector<archive::ArchiveImage> images;
  std::vector<Image> found;
  for (const auto& k : keys) {
    Image img = find_image(store, k);
    std::string name = matching_name(img, k);
    archive::ArchiveImage ai;
    ai.desc = img.manifest_desc;
    // As docker: a name keeps that name; an id keeps every name of the image.
    if (!name.empty()) ai.names = {name};
    else
      for (const auto& n : img.names)
        if (!is_id_name(n)) ai.names.push_back(n);
    // One archive entry per image: the names of a second key join the first.
    bool merged = false;
    for (auto& prev : images)
      if (prev.desc.digest == ai.desc.digest) {
        for (auto& n : ai.names)
          if (std::find(prev.names.begin(), prev.names.end(), n) == prev.names.end()) prev.names.push_back(n);
        merged = true;
      }
    if (!merged) {
      images.push_back(ai);
      found.push_back(img);
    }
  }
  {
    layout::Layout::Lease lease(store);
    if (output.empty()) {
      archive::export_docker_archive(store, images, "-");
    } else {
      // The library writes a file atomically itself.
      archive::export_docker_archive(store, images, output);
    }
  }
  for (size_t i = 0; i < found.size(); i++) {
    std::string name = images[i].names.empty() ? found[i].manifest.config.digest.str() : familiar(images[i].names[0]);
    events::emit({"image", "save", found[i].manifest.config.digest.str(), {{"name", name}}});
  }
  return 0;
}

int image_load(const Globals& g, const std::string& input, bool quiet) {
  (void)quiet;  // there is no progress output to silence
  std::string file = input.empty() ? "-" : input;
  if (file == "-" && isatty(STDIN_FILENO)) fail(Errc::usage, "requested load from stdin, but stdin is empty");
  // stdin is spooled to a temp file: the format is known only once the
  // names of its entries are.
  std::optional<fs::TempDir> spool;
  if (file == "-") {
    spool.emplace("ocikit-load");
    file = spool->path() + "/in.tar";
    fs::AtomicFile out(file);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0) out.write(buf, static_cast<size_t>(n));
    if (n < 0) throw_errno("load: read stdin");
    out.commit();
  }
  // docker-archive (manifest.json), or an OCI layout tar (index.json) as
  // docker 25 and podman's oci-archive write.
  bool oci = false;
  {
    auto tr = archive::TarReader::open(file);
    archive::Entry e;
    bool docker = false, index = false;
    while (tr.next(e)) {
      std::string p = e.path.rfind("./", 0) == 0 ? e.path.substr(2) : e.path;
      docker = docker || p == "manifest.json";
      index = index || p == "index.json";
    }
    oci = index && !docker;
  }
  auto store = layout::Layout::open_or_create(g.store);
  std::vector<archive::ArchiveImage> loaded;
  {
    layout::Layout::Lease lease(store);
    loaded = with_context("load", [&] {
      return oci ? archive::import_oci_archive(file, store, true) : archive::import_docker_archive(file, store, true);
    });
  }
  if (loaded.empty()) fail(Errc::invalid, "load: the archive holds no image");
  for (const auto& ai : loaded) {
    std::string id;
    try {
      auto md = platform_manifest(store, ai.desc);
      id = store.read_manifest(md).config.digest.str();
    } catch (const Error&) {
      id = ai.desc.digest.str();
    }
    if (ai.names.empty()) {
      // Unnamed: kept under its id, as commit keeps one.
      store.tag(id, ai.desc);
      std::cout << "Loaded image ID: " << id << "\n";
      events::emit({"image", "load", id, {}});
    }
    for (const auto& n : ai.names) {
      std::cout << "Loaded image: " << familiar(n) << "\n";
      events::emit({"image", "load", id, {{"name", familiar(n)}}});
    }
  }
  return 0;
}

int image_import(const Globals& g, const ImportOptions& o) {
  const std::string& src = o.source;
  if (src.rfind("http://", 0) == 0 || src.rfind("https://", 0) == 0)
    fail(Errc::usage, "import from a URL is not supported: download it first, then import the file");
  std::string name;
  if (!o.repository.empty()) {
    auto ref = with_context("import " + o.repository, [&] { return reference::parse(o.repository); });
    if (ref.digest) fail(Errc::invalid, "import " + o.repository + ": a name cannot hold a digest");
    name = ref.str();
  }
  image::ImageConfig config;
  for (const auto& c : o.changes) apply_change(config.config, c);
  if (src == "-" && isatty(STDIN_FILENO)) fail(Errc::usage, "import: refusing to read a tar from a terminal");
  fs::UniqueFd in;
  int fd = STDIN_FILENO;
  if (src != "-") {
    in = fs::UniqueFd(open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw_errno("import: open " + src);
    fd = in.get();
  }
  auto store = layout::Layout::open_or_create(g.store);
  std::optional<layout::Layout::Lease> lease(std::in_place, store);
  // The tar is stored as given (plain, gzip or zstd); it is checked to be a
  // tar on the way in and its diff_id computed from the stored blob.
  std::string head;
  char buf[1 << 16];
  auto w = store.begin_blob();
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    if (head.size() < 8) head.append(buf, std::min<size_t>(static_cast<size_t>(n), 8 - head.size()));
    w.write(buf, static_cast<size_t>(n));
  }
  if (n < 0) throw_errno("import: read " + src);
  if (head.empty()) fail(Errc::invalid, "import " + src + ": empty input");
  auto comp = archive::detect_compression(head);
  auto blob = w.commit();
  int64_t size = 0;
  digest::Digest did;
  try {
    {
      fs::UniqueFd bfd = store.open_blob(blob.digest);
      archive::TarReader tr(bfd.get(), src);
      archive::Entry e;
      size_t entries = 0;
      while (tr.next(e)) entries++;
      if (entries == 0) fail(Errc::invalid, "import " + src + ": not a tar archive (no entries)");
    }
    did = archive::diff_id(store, blob.digest, &size);
  } catch (const Error& e) {
    lease.reset();  // remove_blob takes the gc lock exclusively
    if (w.created()) store.remove_blob(blob.digest);
    throw;
  }
  blob.media_type = std::string(image::layer_media_type(comp, false));
  auto host = platform::host();
  config.architecture = host.architecture;
  config.os = host.os;
  config.variant = host.variant;
  config.created = now_rfc3339_nanos();
  config.diff_ids = {did};
  image::History h;
  h.created = config.created;
  h.created_by = "";
  h.comment = o.message.empty() ? "Imported from " + src : o.message;
  config.history = {h};
  auto config_desc = store.put_json(image::to_json(config), std::string(image::media::kOciConfig));
  image::Manifest m;
  m.media_type = std::string(image::media::kOciManifest);
  m.config = config_desc;
  m.layers = {blob};
  auto mdesc = store.put_json(image::to_json(m), std::string(image::media::kOciManifest));
  store.tag(name.empty() ? config_desc.digest.str() : name, mdesc);
  events::emit({"image", "import", config_desc.digest.str(), {{"name", name.empty() ? "" : familiar(name)}}});
  std::cout << config_desc.digest.str() << "\n";
  return 0;
}

}  // namespace ocikit::manage
