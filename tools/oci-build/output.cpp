// oci-build --output (see output.hpp).
#include "output.hpp"

#include <unistd.h>

#include "common/archive.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::build {
using reference::Transport;

OutputSpec parse_output(const std::string& s) {
  const std::string usage =
      "--output " + s + ": must be oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG] or -";
  if (s == "-") return OutputSpec{Transport::oci_archive, "-", ""};
  if (s.rfind("oci:", 0) != 0 && s.rfind("oci-archive:", 0) != 0 && s.rfind("docker-archive:", 0) != 0)
    fail(Errc::usage, usage);
  reference::ImageRef r;
  try {
    r = reference::parse_image_ref(s);
  } catch (const Error& e) {
    fail(Errc::usage, "--output " + s + ": " + e.what());
  }
  if (r.path.empty()) fail(Errc::usage, usage);
  if (r.transport == Transport::docker_archive && !r.tag.empty()) r.tag = reference::parse(r.tag).str();
  return OutputSpec{r.transport, r.path, r.tag};
}

bool output_is_stdout(const OutputSpec& o) { return o.transport != Transport::oci && o.path == "-"; }

void write_output(const layout::Layout& store, const image::Descriptor& manifest, const std::vector<std::string>& tags,
                  const OutputSpec& o) {
  image::Descriptor top = manifest;
  top.annotations.clear();
  if (o.transport == Transport::oci) {
    auto dst = layout::Layout::open_or_create(o.path);
    layout::Layout::Lease lease(dst);
    layout::copy_image(store, dst, top);
    dst.tag(o.tag.empty() ? "latest" : o.tag, top);
    return;
  }
  archive::ArchiveImage img{o.tag.empty() ? tags : std::vector<std::string>{o.tag}, top};
  if (o.transport == Transport::oci_archive) {
    // One named index entry, so that readers (oci-push -) need no :TAG to pick it.
    if (img.names.size() > 1) img.names.resize(1);
    if (img.names.empty()) img.names.push_back("latest");
    archive::export_oci_archive(store, {img}, o.path);
  } else {
    archive::export_docker_archive(store, {img}, o.path);
  }
}

}  // namespace ocikit::build
