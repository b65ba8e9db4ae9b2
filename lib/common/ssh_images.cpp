// ocikit::ssh_images (ssh_images.hpp).
#include "common/ssh_images.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/process.hpp"

namespace ocikit::ssh_images {

namespace {

constexpr size_t kMaxLine = 16u << 20;  // 16 MiB: ~100k blob entries
constexpr size_t kMaxBlobs = 100000;

void walk(const layout::Layout& l, const image::Descriptor& d, std::vector<image::Descriptor>& out,
          std::set<std::string>& seen) {
  if (seen.count(d.digest.str())) return;
  if (image::is_index_media_type(d.media_type)) {
    for (const auto& m : l.read_index(d).manifests) walk(l, m, out, seen);
  } else if (image::is_manifest_media_type(d.media_type)) {
    image::Manifest man = l.read_manifest(d);
    walk(l, man.config, out, seen);
    for (const auto& layer : man.layers) {
      if (!layer.urls.empty() && !l.has_blob(layer.digest)) continue;
      walk(l, layer, out, seen);
    }
  } else if (!l.has_blob(d.digest)) {
    fail(Errc::not_found, "blob " + d.digest.str() + " is missing");
  }
  seen.insert(d.digest.str());
  out.push_back(d);
}

// One line from `fd`, at most kMaxLine bytes (read a byte at a time: the
// blob bytes follow it on the same stream).
std::string read_line(int fd, const char* what) {
  std::string s;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(std::string("read ") + what);
    if (n == 0) fail(Errc::io, std::string("read ") + what + ": the other side closed the connection");
    if (c == '\n') return s;
    if (s.size() >= kMaxLine) fail(Errc::invalid, std::string(what) + ": line too long");
    s += c;
  }
}

void write_line(int fd, const nlohmann::json& j) {
  std::string s = j.dump() + "\n";
  fs::write_all(fd, s.data(), s.size());
}

}  // namespace

std::vector<image::Descriptor> image_blobs(const layout::Layout& l, const image::Descriptor& top) {
  std::vector<image::Descriptor> out;
  std::set<std::string> seen;
  walk(l, top, out, seen);
  return out;
}

size_t send_image(const layout::Layout& l, const image::Descriptor& top, int in_fd, int out_fd) {
  auto blobs = image_blobs(l, top);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& b : blobs) list.push_back({{"digest", b.digest.str()}, {"size", b.size}});
  image::Descriptor t = top;
  t.annotations.clear();
  write_line(out_fd, {{"ocikit-images", 1}, {"top", image::to_json(t)}, {"blobs", list}});
  nlohmann::json want;
  try {
    want = nlohmann::json::parse(read_line(in_fd, "the receiver's answer")).at("want");
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid, std::string("the receiver's answer: ") + e.what());
  }
  if (!want.is_array() || want.size() > blobs.size()) fail(Errc::invalid, "the receiver's answer: bad want list");
  log::info("ssh: sending " + std::to_string(want.size()) + " of " + std::to_string(blobs.size()) + " blobs");
  for (const auto& w : want) {
    if (!w.is_string()) fail(Errc::invalid, "the receiver's answer: bad digest");
    std::string dg = w.get<std::string>();
    const image::Descriptor* b = nullptr;
    for (const auto& x : blobs)
      if (x.digest.str() == dg) b = &x;
    if (!b) fail(Errc::invalid, "the receiver wants " + dg.substr(0, 80) + ", which is not in the image");
    fs::UniqueFd fd = l.open_blob(b->digest);
    char buf[65536];
    int64_t left = b->size;
    off_t off = 0;
    while (left > 0) {
      ssize_t n = pread(fd.get(), buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)), off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(Errc::io, "read blob " + dg + ": short");
      fs::write_all(out_fd, buf, static_cast<size_t>(n));
      left -= n;
      off += n;
    }
  }
  return want.size();
}

image::Descriptor receive_image(layout::Layout& l, const std::string& name, int in_fd, int out_fd, size_t* sent) {
  image::Descriptor top;
  std::vector<image::Descriptor> blobs;
  try {
    auto j = nlohmann::json::parse(read_line(in_fd, "the image list"));
    if (j.value("ocikit-images", 0) != 1) fail(Errc::invalid, "the image list: not an ocikit image stream");
    top = image::descriptor_from_json(j.at("top"));
    const auto& list = j.at("blobs");
    if (!list.is_array() || list.empty() || list.size() > kMaxBlobs) fail(Errc::invalid, "the image list: bad blobs");
    for (const auto& b : list) {
      image::Descriptor d;
      d.digest = digest::parse(b.at("digest").get<std::string>());
      d.size = b.at("size").get<int64_t>();
      if (d.size < 0) fail(Errc::invalid, "the image list: negative size");
      blobs.push_back(d);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid, std::string("the image list: ") + e.what());
  }
  if (!image::is_index_media_type(top.media_type) && !image::is_manifest_media_type(top.media_type))
    fail(Errc::invalid, "the image list: the top is neither a manifest nor an index");
  bool top_listed = false;
  for (const auto& b : blobs)
    if (b.digest == top.digest && b.size == top.size) top_listed = true;
  if (!top_listed) fail(Errc::invalid, "the image list: the top is not among the blobs");
  layout::Layout::Lease lease(l);
  std::vector<const image::Descriptor*> want;
  std::set<std::string> asked;
  nlohmann::json want_json = nlohmann::json::array();
  for (const auto& b : blobs)
    if (!l.has_blob(b.digest) && asked.insert(b.digest.str()).second) {
      want.push_back(&b);
      want_json.push_back(b.digest.str());
    }
  write_line(out_fd, {{"want", want_json}});
  log::info("ssh: receiving " + std::to_string(want.size()) + " of " + std::to_string(blobs.size()) + " blobs");
  for (const auto* b : want) {
    layout::BlobWriter w = l.begin_blob("application/octet-stream", b->digest.algorithm);
    char buf[65536];
    int64_t left = b->size;
    while (left > 0) {
      ssize_t n = read(in_fd, buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("read blob " + b->digest.str());
      if (n == 0) fail(Errc::io, "read blob " + b->digest.str() + ": the other side closed the connection");
      w.write(buf, static_cast<size_t>(n));
      left -= n;
    }
    w.commit(b->digest, b->size);  // verified before it is visible
  }
  // Whole in this store (its own, verified content) before it gets a name.
  image_blobs(l, top);
  l.tag(name, top);
  if (sent) *sent = want.size();
  return top;
}

void converse(const ssh::Address& a, const std::vector<std::string>& remote, const std::string& what,
              const std::function<void(int from_fd, int to_fd)>& talk) {
  auto argv = ssh::command(a, remote, {false, false});
  int to[2], from[2];
  if (pipe2(to, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd to_r(to[0]), to_w(to[1]);
  if (pipe2(from, O_CLOEXEC) != 0) throw_errno("pipe");
  fs::UniqueFd from_r(from[0]), from_w(from[1]);
  process::Spec sp;
  sp.argv = argv;
  sp.in = to_r.get();
  sp.out = from_w.get();
  pid_t pid = process::spawn(sp);
  to_r.reset();
  from_w.reset();
  signal(SIGPIPE, SIG_IGN);  // a remote end that quits is an error of talk, not a signal
  std::string err;
  try {
    talk(from_r.get(), to_w.get());
  } catch (const Error& e) {
    err = e.what();
  }
  to_w.reset();
  from_r.reset();
  int status = process::wait(pid);
  if (status != 0)
    fail(what + ": " + (status == 255 ? std::string("ssh failed") : "the remote " + remote.at(0) + " failed") +
         " (status " + std::to_string(status) + ")");
  if (!err.empty()) fail(what + ": " + err);
}

}  // namespace ocikit::ssh_images
