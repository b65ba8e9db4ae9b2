// oci-push: layout to registry.
#include "push.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>
#include <sys/stat.h>

#include "common/archive.hpp"
#include "common/auth.hpp"
#include "common/fs.hpp"
#include "common/error.hpp"
#include "common/events.hpp"
#include "common/http.hpp"
#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/progress.hpp"
#include "common/reference.hpp"
#include "common/registry.hpp"
#include "common/signature.hpp"
#include "common/process.hpp"
#include "common/ssh.hpp"
#include "common/ssh_images.hpp"
#include "common/transfer.hpp"

namespace ocikit::push {
namespace {

using reference::Transport;

// Repositories of `host` the store already names: blobs pulled from them
// can be mounted rather than uploaded (the source repository recorded by
// oci-fetch first).
std::vector<std::string> mount_candidates(const layout::Layout& l, const image::Descriptor& top,
                                          const std::string& host) {
  std::vector<std::string> out;
  auto add_repo = [&](const std::string& full) {
    if (!full.starts_with(host + "/")) return;
    std::string repo = full.substr(host.size() + 1);
    if (std::find(out.begin(), out.end(), repo) == out.end()) out.push_back(repo);
  };
  if (auto it = top.annotations.find("io.ocikit.source.repository"); it != top.annotations.end()) add_repo(it->second);
  for (const auto& e : l.list()) {
    if (e.digest != top.digest) continue;
    if (auto it = e.annotations.find("io.ocikit.source.repository"); it != e.annotations.end()) add_repo(it->second);
    std::string name = e.ref_name();
    if (!reference::is_valid(name)) continue;
    add_repo(reference::parse(name).repository());
  }
  return out;
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::not_found, what + " " + path + ": cannot open");
  std::string s(64 << 10, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  return s;
}

// The key, decrypted before anything is pushed (a wrong passphrase should
// not leave an unsigned image behind).
signature::Key load_signing_key(const SignOptions& s) {
  std::string pem = read_file(s.key, "private key");
  std::string pass = signature::read_passphrase(s.passphrase_file, "Passphrase for key " + s.key + ": ", false);
  return with_context("private key " + s.key, [&] { return signature::load_private_key(pem, pass); });
}

// Attach a signature of `digest` (in `ref`'s repository) claiming `identity`.
void sign_pushed(registry::Client& c, const reference::Reference& ref, const std::string& digest,
                 const signature::Key& key, const std::string& identity) {
  std::string claimed = identity;
  if (claimed.empty()) claimed = ref.digest ? ref.repository() + "@" + ref.digest->str() : ref.str();
  else claimed = with_context("--sign-identity", [&] { return reference::parse_no_default_tag(identity).str(); });
  std::string payload = signature::make_payload(claimed, digest, "ocikit", static_cast<int64_t>(std::time(nullptr)));
  signature::Attached a{payload, signature::sign(key, payload)};
  with_context("sign " + ref.repository() + "@" + digest,
               [&] { signature::attach(c, ref.path, digest, a); });
}

}  // namespace

int run_generate_key(const std::string& prefix, const std::string& passphrase_file) {
  std::string priv = prefix + ".private", pub = prefix + ".pub";
  struct stat st{};
  for (const auto& f : {priv, pub})
    if (lstat(f.c_str(), &st) == 0) fail(Errc::exists, f + ": already exists (refusing to overwrite)");
  std::string pass = signature::read_passphrase(passphrase_file, "Passphrase for the new key: ", true);
  signature::KeyPair kp = signature::generate_key_pair(pass);
  fs::write_file_atomic(priv, kp.private_pem, 0600);
  fs::write_file_atomic(pub, kp.public_pem, 0644);
  std::cout << "Key written to \"" << priv << "\" and \"" << pub << "\"\n";
  return 0;
}

int run_sign(const Options& o) {
  reference::ImageRef dst = reference::parse_image_ref(o.dest);
  if (dst.transport != Transport::docker) fail(Errc::usage, "image " + o.dest + ": must be docker://HOST/REPO[:TAG]");
  signature::Key key = load_signing_key(o.sign);
  const reference::Reference& ref = dst.ref;
  auth::Credentials creds = auth::select_credentials(o.creds, o.authfile, ref.domain);
  http::CurlTransport transport(http::TlsOptions{o.tls_verify, o.cert_dir});
  registry::Options ro;
  ro.push = true;
  registry::Client client(ref.domain, transport, creds, ro);
  registry::Manifest m = client.get_manifest(ref.path, ref.digest ? ref.digest->str() : ref.tag);
  sign_pushed(client, ref, m.digest, key, o.sign.identity);
  std::cout << m.digest << "\n";
  return 0;
}

namespace {

// IMAGE to ssh://[user@]host[:port][/NAME]: the other host's oci-fetch
// receives it (ssh_images.hpp), only the blobs its store lacks.
int push_ssh(const Options& o) {
  ssh::Address a = ssh::parse_url(o.dest);
  reference::ImageRef src = reference::parse_image_ref(o.src);
  archive::LocalImage local(src, o.src, o.store);
  std::string name = a.path.empty() ? (src.transport == Transport::store ? src.ref.str() : local.name()) : a.path;
  ssh_images::converse(a, {"oci-fetch", "--receive-stdio", name}, "push to " + a.str(),
                       [&](int from, int to) { ssh_images::send_image(local.layout(), local.top(), from, to); });
  image::Descriptor top = local.top();
  events::emit({"image", "push", name, {{"name", name}}});
  std::cout << top.digest.str() << "\n";
  return 0;
}

}  // namespace

int run(const Options& o) {
  if (o.send_stdio) {
    reference::ImageRef src = reference::parse_image_ref(o.src);
    archive::LocalImage local(src, o.src, o.store);
    signal(SIGPIPE, SIG_IGN);
    ssh_images::send_image(local.layout(), local.top(), 0, 1);
    return 0;
  }
  if (ssh::is_ssh_url(o.dest)) return push_ssh(o);
  if (o.jobs < 1) fail(Errc::usage, "--jobs must be at least 1");
  if (o.format != "text" && o.format != "json") fail(Errc::usage, "--format must be text or json");
  if (o.progress != "auto" && o.progress != "json") fail(Errc::usage, "--progress must be auto or json");
  reference::ImageRef dst = reference::parse_image_ref(o.dest);
  if (dst.transport != Transport::docker)
    fail(Errc::usage, "destination " + o.dest + ": destination must be docker://HOST/REPO[:TAG]");
  reference::ImageRef src = reference::parse_image_ref(o.src == "-" ? "oci-archive:-" : o.src);

  std::optional<signature::Key> key;
  if (!o.sign.key.empty()) key = load_signing_key(o.sign);
  archive::LocalImage local(src, o.src, o.store);
  layout::Layout* from = &local.layout();
  image::Descriptor top = local.top();

  const reference::Reference& ref = dst.ref;
  auth::Credentials creds = auth::select_credentials(o.creds, o.authfile, ref.domain);
  http::CurlTransport transport(http::TlsOptions{o.tls_verify, o.cert_dir});
  registry::Options ro;
  ro.push = true;
  registry::Client client(ref.domain, transport, creds, ro);

  transfer::PushOptions po;
  po.jobs = o.jobs;
  po.mount_from = o.mount_from;
  for (auto& r : mount_candidates(*from, top, ref.domain))
    if (r != ref.path && std::find(po.mount_from.begin(), po.mount_from.end(), r) == po.mount_from.end())
      po.mount_from.push_back(r);
  std::optional<progress::Bars> bars;
  if (o.progress == "json") bars.emplace(progress::Bars::JsonLines{});
  else bars.emplace();
  po.bars = &*bars;
  blobloc::BlobLocations locations(blobloc::default_path());
  po.locations = &locations;
  transfer::PushSource ps;
  ps.read_blob = [&](const image::Descriptor& d) { return from->read_blob(d); };
  ps.open_blob = [&](const image::Descriptor& d) { return from->open_blob(d.digest); };
  std::string tag = ref.digest ? "" : ref.tag;
  std::string pushed = transfer::push_image(client, ref.path, tag, top, ps, po);
  if (ref.digest && ref.digest->str() != pushed)
    fail(Errc::invalid, "destination " + o.dest + ": the image's digest is " + pushed);
  // Signatures kept beside the image in the source layout (oci-fetch to
  // oci:DIR keeps them) go along, as skopeo copy does.
  if (!o.remove_signatures) {
    std::vector<signature::Attached> kept = signature::load_from_layout(*from, pushed);
    if (!kept.empty())
      with_context("copy signatures of " + pushed, [&] { signature::attach_all(client, ref.path, pushed, kept); });
  }
  if (key) sign_pushed(client, ref, pushed, *key, o.sign.identity);
  events::emit({"image", "push", ref.str(), {{"name", ref.str()}}});
  if (o.format == "json") {
    image::Descriptor d = top;
    d.annotations.clear();
    std::cout << image::to_json(d).dump(2) << "\n";
  } else {
    std::cout << pushed << "\n";
  }
  return 0;
}

}  // namespace ocikit::push
