// oci-fetch: registry (or layout) to layout copies.
#include "fetch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <iostream>
#include <mutex>
#include <optional>

#include "common/archive.hpp"
#include "common/auth.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/fs.hpp"
#include "common/http.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/log.hpp"
#include "common/platform.hpp"
#include "common/policy.hpp"
#include "common/progress.hpp"
#include "common/reference.hpp"
#include "common/registry.hpp"
#include "common/signature.hpp"
#include "common/process.hpp"
#include "common/ssh.hpp"
#include "common/ssh_images.hpp"
#include "common/transfer.hpp"

namespace ocikit::fetch {
namespace {

using reference::Transport;

struct Dest {
  layout::Layout layout;
  std::string name;  // the name the image gets
  reference::ImageRef archive;  // set for archive destinations (exported at the end)
  std::unique_ptr<fs::TempDir> temp;  // archive destinations: the layout exported at the end
};

// Tag, and for an archive destination write the archive.
void finish_dest(Dest& d, const image::Descriptor& tagged) {
  d.layout.tag(d.name, tagged);
  if (d.archive.transport == Transport::oci_archive) {
    archive::export_oci_archive(d.layout, {archive::ArchiveImage{{d.name}, tagged}}, d.archive.path);
  } else if (d.archive.transport == Transport::docker_archive) {
    archive::export_docker_archive(d.layout, {archive::ArchiveImage{{d.name}, tagged}}, d.archive.path);
  }
}

Dest open_dest(const Options& o, const std::string& default_name) {
  if (o.dest.empty()) {
    std::string dir = o.store.empty() ? layout::default_store_path() : o.store;
    return Dest{layout::Layout::open_or_create(dir), default_name, {}, nullptr};
  }
  reference::ImageRef d =
      o.dest == "-" ? reference::parse_image_ref("oci-archive:-") : reference::parse_image_ref(o.dest);
  if (d.transport == Transport::oci_archive || d.transport == Transport::docker_archive) {
    auto temp = std::make_unique<fs::TempDir>("oci-fetch");
    layout::Layout l = layout::Layout::open_or_create(temp->path());
    std::string name = !d.tag.empty() ? d.tag : default_name;
    if (d.transport == Transport::docker_archive && !d.tag.empty()) name = reference::parse(d.tag).str();
    return Dest{l, name, d, std::move(temp)};
  }
  if (d.transport != Transport::oci)
    fail(Errc::usage, "destination " + o.dest + ": must be oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or -");
  std::string name = d.tag;
  if (name.empty()) {
    auto c = default_name.rfind(':');
    auto at = default_name.find('@');
    name = at != std::string::npos ? "latest" : c != std::string::npos ? default_name.substr(c + 1) : "latest";
  }
  return Dest{layout::Layout::open_or_create(d.path), name, {}, nullptr};
}

void print_result(const Options& o, const image::Descriptor& d) {
  if (o.format == "json") {
    std::cout << image::to_json(d).dump(2) << "\n";
  } else {
    std::cout << d.digest.str() << "\n";
  }
}

// ssh://[user@]host[:port]/NAME: the other host's oci-push sends it
// (ssh_images.hpp), only the blobs this store lacks.
int fetch_ssh(const Options& o) {
  ssh::Address a = ssh::parse_url(o.src);
  if (a.path.empty()) fail(Errc::usage, "source " + o.src + ": the image is missing (ssh://HOST/NAME)");
  std::string name = reference::parse(a.path).str();
  Dest dest = open_dest(o, name);
  image::Descriptor top;
  ssh_images::converse(a, {"oci-push", "--send-stdio", a.path}, "fetch from " + a.str(), [&](int from, int to) {
    layout::Layout::Lease lease(dest.layout);
    top = ssh_images::receive_image(dest.layout, dest.name, from, to);
  });
  finish_dest(dest, top);
  events::emit({"image", "pull", name, {{"name", name}}});
  if (o.dest != "-") print_result(o, top);
  return 0;
}

}  // namespace

int run(const Options& o) {
  if (o.receive_stdio) {
    layout::Layout l = layout::Layout::open_or_create(o.store.empty() ? layout::default_store_path() : o.store);
    std::string name = reference::parse(o.src).str();
    signal(SIGPIPE, SIG_IGN);
    ssh_images::receive_image(l, name, 0, 1);
    events::emit({"image", "pull", name, {{"name", name}}});
    return 0;
  }
  if (ssh::is_ssh_url(o.src)) return fetch_ssh(o);
  if (o.jobs < 1) fail(Errc::usage, "--jobs must be at least 1");
  if (o.format != "text" && o.format != "json") fail(Errc::usage, "--format must be text or json");
  if (o.progress != "auto" && o.progress != "json") fail(Errc::usage, "--progress must be auto or json");
  reference::ImageRef src = reference::parse_image_ref(o.src);

  if (o.verify_only && src.transport != Transport::docker)
    fail(Errc::usage, "--verify-only needs a docker:// source (policies are evaluated for registry images)");
  if (src.transport != Transport::docker) {
    archive::LocalImage from(src, o.src, o.store);
    std::string name = from.name();
    image::Descriptor top = from.top();
    top.annotations.clear();
    Dest dest = open_dest(o, src.transport == Transport::store ? src.ref.str() : name);
    layout::Layout::Lease lease(dest.layout);
    layout::copy_image(from.layout(), dest.layout, top);
    finish_dest(dest, top);
    if (o.dest != "-") print_result(o, top);
    return 0;
  }

  const reference::Reference& ref = src.ref;
  auth::Credentials creds = auth::select_credentials(o.creds, o.authfile, ref.domain);
  http::CurlTransport transport(http::TlsOptions{o.tls_verify, o.cert_dir});
  registry::Client client(ref.domain, transport, creds);
  // The trust policy, evaluated on the top manifest before anything is
  // fetched or stored; signatures are looked up only when it needs them.
  policy::Policy pol = policy::load(o.policy);
  auto check = [&](const registry::Manifest& m) {
    policy::check(pol, ref, m.digest, [&] { return signature::read_attached(client, ref.path, m.digest); });
  };
  std::string want = ref.digest ? ref.digest->str() : ref.tag;
  if (o.verify_only) {
    registry::Manifest m = client.get_manifest(ref.path, want);
    check(m);
    std::cout << m.digest << "\n";
    return 0;
  }

  // The destination is opened only once the policy accepted the image: a
  // rejected pull leaves nothing behind, not even an empty layout.
  std::optional<Dest> dest;
  std::optional<layout::Layout::Lease> lease;  // holds off gc between writing blobs and tagging them
  transfer::PullOptions po;
  std::string signed_digest;  // the top manifest's, whose signatures an oci: copy keeps
  po.check_top = [&](const registry::Manifest& m) {
    check(m);
    signed_digest = m.digest;
    dest.emplace(open_dest(o, ref.str()));
    lease.emplace(dest->layout);
  };
  if (!o.platform.empty()) po.platform = platform::parse(o.platform);
  po.all_platforms = o.all_platforms;
  po.jobs = o.jobs;
  std::optional<progress::Bars> bars;
  if (o.progress == "json") bars.emplace(progress::Bars::JsonLines{});
  else bars.emplace();
  po.bars = &*bars;
  blobloc::BlobLocations locations(blobloc::default_path());
  po.locations = &locations;

  transfer::PullTarget target;
  target.has_blob = [&](const image::Descriptor& d) { return dest->layout.has_blob(d.digest); };
  target.write_blob = [&](const image::Descriptor& d, const std::function<void(const http::Sink&)>& fill) {
    layout::BlobWriter w = dest->layout.begin_blob(d.media_type, d.digest.algorithm);
    fill([&](const char* p, size_t n) { w.write(p, n); });
    w.commit(d.digest, d.size);  // verifies digest and size before the blob is visible
  };
  target.verifies = true;
  image::Descriptor top = transfer::pull_image(client, ref.path, want, target, po);
  image::Descriptor tagged = top;
  // Remember where it came from, so oci-push can mount instead of upload.
  tagged.annotations["io.ocikit.source.repository"] = ref.repository();
  finish_dest(*dest, tagged);
  // An oci:DIR copy keeps the signatures beside the image, as the registry
  // does ("sha256-<hex>.sig"), so that oci-push carries them on. They only
  // apply when the stored image is the signed manifest (not one platform
  // picked from a signed index).
  if (!o.dest.empty() && dest->archive.transport != Transport::oci_archive &&
      dest->archive.transport != Transport::docker_archive && !o.remove_signatures) {
    std::vector<signature::Attached> sigs = signature::read_attached(client, ref.path, signed_digest);
    if (!sigs.empty() && top.digest.str() == signed_digest)
      signature::store_in_layout(dest->layout, signed_digest, sigs);
    else if (!sigs.empty())
      log::warn("signatures of " + signed_digest + " not copied: only one platform of the signed index was");
  }
  events::emit({"image", "pull", ref.str(), {{"name", ref.str()}}});
  if (o.dest != "-") print_result(o, top);
  return 0;
}

}  // namespace ocikit::fetch
