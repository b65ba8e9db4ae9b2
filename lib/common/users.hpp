#pragma once
// ocikit::users: the process user of a container, resolved the way docker
// and runc do from a docker USER string and the image's own /etc/passwd and
// /etc/group (read inside the root filesystem, bounded). Used by
// runtime_spec (config.json's process.user) and by `oci-run exec --user`.

#include <cstdint>
#include <string>
#include <vector>

namespace ocikit::users {

/// A resolved process user.
struct User {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;  ///< supplementary groups from /etc/group
  std::string home = "/";  ///< the passwd entry's home, "/" when there is none
};

/// Resolve a docker USER string inside the root filesystem `rootfs`:
/// "" (root), "name", "uid", "name:group", "uid:gid", "name:gid", "uid:group".
/// Names are looked up in <rootfs>/etc/passwd and <rootfs>/etc/group, opened
/// with fs::open_in_root so symlinks cannot lead outside the rootfs (a
/// missing file counts as empty). A numeric uid missing from passwd is fine
/// (gid 0, home "/"). Without an explicit group, the passwd entry's gid is
/// used and the groups of /etc/group listing the user's name are the
/// supplementary groups (as runc's GetExecUser). Errors: an unknown name is
/// Errc::not_found "unable to find user NAME: no matching entries in passwd
/// file" (groups: "unable to find group NAME: no matching entries in group
/// file"); a number out of range (> 2^31-1) is Errc::invalid.
User resolve(const std::string& rootfs, const std::string& user);

}  // namespace ocikit::users
