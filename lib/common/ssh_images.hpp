#pragma once
// ocikit::ssh_images: an image copied between two stores over one byte
// stream in each direction (ssh's stdin/stdout), sending only the blobs the
// receiving store lacks. oci-push IMAGE ssh://HOST/NAME runs
// `oci-fetch --receive-stdio NAME` there; oci-fetch ssh://HOST/NAME runs
// `oci-push --send-stdio NAME` there. The exchange:
//
//   sender -> receiver  one JSON line: {"ocikit-images": 1, "top": DESCRIPTOR,
//                       "blobs": [{"digest", "size"}...]}  (every blob of the
//                       image, children before parents, top last)
//   receiver -> sender  one JSON line: {"want": [DIGEST...]} (those it lacks)
//   sender -> receiver  the wanted blobs' bytes, in that order, each exactly
//                       its size
//
// The receiver trusts nothing it reads: the lines are bounded, each blob is
// written through the store's BlobWriter against its digest and size (a
// temp file, linked only when verified), and the image is walked again in
// the receiving store before it is tagged, so a cut or lying sender leaves
// no name and no unverified blob (only verified blobs that gc removes).

#include <functional>
#include <string>
#include <vector>

#include "common/image.hpp"
#include "common/layout.hpp"
#include "common/ssh.hpp"

namespace ocikit::ssh_images {

/// Every blob of `top` in `l` (an index's manifests, each manifest's config
/// and layers; a layer with urls that `l` lacks is left out), children
/// before parents, `top` last, each once. Throws when one is missing.
std::vector<image::Descriptor> image_blobs(const layout::Layout& l, const image::Descriptor& top);

/// The sender's side: returns how many blobs were sent.
size_t send_image(const layout::Layout& l, const image::Descriptor& top, int in_fd, int out_fd);

/// The receiver's side: receive into `l` and tag it `name`; returns the
/// image's top descriptor. `sent` gets how many blobs came.
image::Descriptor receive_image(layout::Layout& l, const std::string& name, int in_fd, int out_fd,
                                size_t* sent = nullptr);

/// Run `remote` (the other tool and its words) on the host of `a` through
/// ssh, hand `talk` the read end of its stdout and the write end of its
/// stdin, close both, and wait for it. A failure of `talk`, of ssh or of the
/// remote program is one Error: "WHAT: ...", naming which.
void converse(const ssh::Address& a, const std::vector<std::string>& remote, const std::string& what,
              const std::function<void(int from_fd, int to_fd)>& talk);

}  // namespace ocikit::ssh_images
