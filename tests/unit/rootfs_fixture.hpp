// A root filesystem with /etc/passwd and /etc/group, for the unit tests of
// users::resolve and runtime_spec::from_image.
#pragma once

#include <string>

#include "common/fs.hpp"
#include "temp_dir.hpp"

namespace ocikit::testing {

inline void put(const std::string& path, const std::string& data) {
  fs::mkdir_p(path.substr(0, path.rfind('/')));
  fs::write_file_atomic(path, data);
}

inline const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "# a comment\n"
    "\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n"
    "broken:x:notanumber:1:::\n"
    "nohome:x:1002:1002\n";
inline const char* kGroup =
    "root:x:0:root\n"
    "wheel:x:10:root,app\n"
    "audio:x:29:app\n"
    "appgrp:x:1001:\n"
    "staff:x:50:\n";

/// A TempDir holding kPasswd and kGroup under etc/.
struct Rootfs {
  TempDir dir;
  Rootfs() {
    put(dir.path + "/etc/passwd", kPasswd);
    put(dir.path + "/etc/group", kGroup);
  }
};

}  // namespace ocikit::testing
