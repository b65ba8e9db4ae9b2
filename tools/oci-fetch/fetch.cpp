// oci-fetch: registry (or layout) to layout copies.
#include "fetch.hpp"

#include <cstdio>
#include <iostream>
#include <mutex>

#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/http.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/progress.hpp"
#include "common/reference.hpp"
#include "common/registry.hpp"
#include "common/transfer.hpp"

namespace ocikit::fetch {
namespace {

using reference::Transport;

// Copy one blob between layouts unless the destination has it.
void copy_blob(const layout::Layout& from, layout::Layout& to, const image::Descriptor& d) {
  if (to.has_blob(d.digest)) return;
  fs::UniqueFd fd = from.open_blob(d.digest);
  layout::BlobWriter w = to.begin_blob(d.media_type, d.digest.algorithm);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) throw_errno("read blob " + d.digest.str());
    if (n == 0) break;
    w.write(buf.data(), static_cast<size_t>(n));
  }
  w.commit(d.digest, d.size);
}

// Copy an image (manifest or index, with everything below) between layouts.
void copy_image(const layout::Layout& from, layout::Layout& to, const image::Descriptor& top) {
  if (image::is_index_media_type(top.media_type)) {
    for (const auto& m : from.read_index(top).manifests) copy_image(from, to, m);
  } else {
    image::Manifest man = from.read_manifest(top);
    copy_blob(from, to, man.config);
    for (const auto& l : man.layers)
      if (from.has_blob(l.digest)) copy_blob(from, to, l);
  }
  copy_blob(from, to, top);
}

struct Dest {
  layout::Layout layout;
  std::string name;  // the name the image gets
};

Dest open_dest(const Options& o, const std::string& default_name) {
  if (o.dest.empty()) {
    std::string dir = o.store.empty() ? layout::default_store_path() : o.store;
    return Dest{layout::Layout::open_or_create(dir), default_name};
  }
  reference::ImageRef d = reference::parse_image_ref(o.dest);
  if (d.transport != Transport::oci)
    fail(Errc::usage, "destination " + o.dest + ": only the store and oci:DIR[:TAG] are supported yet");
  std::string name = d.tag;
  if (name.empty()) {
    auto c = default_name.rfind(':');
    auto at = default_name.find('@');
    name = at != std::string::npos ? "latest" : c != std::string::npos ? default_name.substr(c + 1) : "latest";
  }
  return Dest{layout::Layout::open_or_create(d.path), name};
}

void print_result(const Options& o, const image::Descriptor& d) {
  if (o.format == "json") {
    std::cout << image::to_json(d).dump(2) << "\n";
  } else {
    std::cout << d.digest.str() << "\n";
  }
}

}  // namespace

int run(const Options& o) {
  if (o.jobs < 1) fail(Errc::usage, "--jobs must be at least 1");
  if (o.format != "text" && o.format != "json") fail(Errc::usage, "--format must be text or json");
  reference::ImageRef src = reference::parse_image_ref(o.src);

  if (src.transport == Transport::oci || src.transport == Transport::store) {
    layout::Layout from = src.transport == Transport::oci
                              ? layout::Layout::open(src.path)
                              : layout::Layout::open(o.store.empty() ? layout::default_store_path() : o.store);
    std::string name = src.transport == Transport::oci ? (src.tag.empty() ? "latest" : src.tag) : src.ref.str();
    image::Descriptor top = from.resolve_or_throw(name);
    top.annotations.clear();
    Dest dest = open_dest(o, src.transport == Transport::oci ? name : src.ref.str());
    layout::Layout::Lease lease(dest.layout);
    copy_image(from, dest.layout, top);
    dest.layout.tag(dest.name, top);
    print_result(o, top);
    return 0;
  }
  if (src.transport != Transport::docker)
    fail(Errc::usage, "source " + o.src + ": " + std::string(reference::transport_name(src.transport)) +
                          " sources are not supported yet");

  const reference::Reference& ref = src.ref;
  auth::Credentials creds = o.creds.empty() ? auth::find_credentials(ref.domain) : auth::parse_creds_flag(o.creds);
  http::CurlTransport transport(http::TlsOptions{o.tls_verify, o.cert_dir});
  registry::Client client(ref.domain, transport, creds);

  transfer::PullOptions po;
  if (!o.platform.empty()) po.platform = platform::parse(o.platform);
  po.all_platforms = o.all_platforms;
  po.jobs = o.jobs;
  progress::Bars bars;
  po.bars = &bars;

  Dest dest = open_dest(o, ref.str());
  // Hold off gc between writing blobs and tagging them.
  layout::Layout::Lease lease(dest.layout);
  std::mutex log_mu;
  transfer::PullTarget target;
  target.has_blob = [&](const image::Descriptor& d) { return dest.layout.has_blob(d.digest); };
  target.write_blob = [&](const image::Descriptor& d, const std::function<void(const http::Sink&)>& fill) {
    layout::BlobWriter w = dest.layout.begin_blob(d.media_type, d.digest.algorithm);
    fill([&](const char* p, size_t n) { w.write(p, n); });
    w.commit(d.digest, d.size);
  };
  std::string want = ref.digest ? ref.digest->str() : ref.tag;
  image::Descriptor top = transfer::pull_image(client, ref.path, want, target, po);
  image::Descriptor tagged = top;
  // Remember where it came from, so oci-push can mount instead of upload.
  tagged.annotations["io.ocikit.source.repository"] = ref.repository();
  dest.layout.tag(dest.name, tagged);
  print_result(o, top);
  return 0;
}

}  // namespace ocikit::fetch
