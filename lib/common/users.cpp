// ocikit::users: docker USER strings resolved in a root filesystem (see the header).
#include "common/users.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace ocikit::users {

namespace {

constexpr size_t kMaxDbSize = 16 << 20;  // /etc/passwd or /etc/group larger than this is refused

// One line of /etc/passwd or /etc/group split on ':'.
std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) return out;
    start = p + 1;
  }
}

// A decimal id in [0, 2^31-1] (runc's range), nullopt when `s` is not a number.
std::optional<uint32_t> parse_id(std::string_view s, std::string_view what) {
  if (s.empty() || s.size() > 20 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  unsigned long long v = std::strtoull(std::string(s).c_str(), nullptr, 10);
  if (v > 0x7fffffffULL) fail(Errc::invalid, std::string(what) + " " + std::string(s) + " is out of range");
  return static_cast<uint32_t>(v);
}

// Read <rootfs>/<rel> without leaving the rootfs; "" when it does not exist.
std::string read_in_root(const std::string& rootfs, const char* rel) {
  fs::UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("open " + rootfs);
  fs::UniqueFd fd;
  try {
    fd = fs::open_in_root(root.get(), rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  } catch (const Error& e) {
    if (e.code() == Errc::not_found) return "";
    throw;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + rootfs + rel);
  // A FIFO or device would block or never end: only regular files are read.
  if (!S_ISREG(st.st_mode)) fail(Errc::invalid, rootfs + rel + ": not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxDbSize) fail(Errc::invalid, rootfs + rel + ": file too large");
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read " + rootfs + rel);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Calls fn(fields) for every non-empty, non-comment line.
template <class F>
void for_each_line(const std::string& text, F&& fn) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    fn(split(line, ':'));
  }
}

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
  std::vector<PasswdEntry> out;
  for_each_line(text, [&](const std::vector<std::string>& f) {
    // name:password:uid:gid:gecos:home:shell; malformed ids skip the line.
    if (f.size() < 4) return;
    PasswdEntry e;
    e.name = f[0];
    try {
      auto uid = parse_id(f[2], "uid");
      auto gid = parse_id(f[3], "gid");
      if (!uid || !gid) return;
      e.uid = *uid;
      e.gid = *gid;
    } catch (const Error&) {
      return;
    }
    if (f.size() > 5) e.home = f[5];
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
  std::vector<GroupEntry> out;
  for_each_line(text, [&](const std::vector<std::string>& f) {
    // name:password:gid:member,member
    if (f.size() < 3) return;
    GroupEntry e;
    e.name = f[0];
    try {
      auto gid = parse_id(f[2], "gid");
      if (!gid) return;
      e.gid = *gid;
    } catch (const Error&) {
      return;
    }
    if (f.size() > 3 && !f[3].empty())
      for (auto& m : split(f[3], ','))
        if (!m.empty()) e.members.push_back(m);
    out.push_back(std::move(e));
  });
  return out;
}
}  // namespace

User resolve(const std::string& rootfs, const std::string& spec) {
  std::string user_arg = spec, group_arg;
  if (auto p = spec.find(':'); p != std::string::npos) {
    user_arg = spec.substr(0, p);
    group_arg = spec.substr(p + 1);
  }
  auto uid_arg = parse_id(user_arg, "uid");
  auto gid_arg = parse_id(group_arg, "gid");

  User u;
  std::string name;
  bool matched = false;
  auto passwd = parse_passwd(read_in_root(rootfs, "/etc/passwd"));
  for (auto& e : passwd) {
    bool hit = user_arg.empty() ? e.uid == 0 : uid_arg ? e.uid == *uid_arg : e.name == user_arg;
    if (!hit) continue;
    u.uid = e.uid;
    u.gid = e.gid;
    if (!e.home.empty()) u.home = e.home;
    name = e.name;
    matched = true;
    break;
  }
  if (!matched) {
    if (!user_arg.empty() && !uid_arg)
      fail(Errc::not_found, "unable to find user " + user_arg + ": no matching entries in passwd file");
    if (uid_arg) u.uid = *uid_arg;
  }

  if (group_arg.empty() && !matched) return u;
  auto groups = parse_group(read_in_root(rootfs, "/etc/group"));
  if (!group_arg.empty()) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const GroupEntry& g) { return gid_arg ? g.gid == *gid_arg : g.name == group_arg; });
    if (it != groups.end()) u.gid = it->gid;
    else if (gid_arg) u.gid = *gid_arg;
    else fail(Errc::not_found, "unable to find group " + group_arg + ": no matching entries in group file");
    return u;
  }
  for (auto& g : groups)
    if (std::find(g.members.begin(), g.members.end(), name) != g.members.end() &&
        std::find(u.additional_gids.begin(), u.additional_gids.end(), g.gid) == u.additional_gids.end())
      u.additional_gids.push_back(g.gid);
  return u;
}

}  // namespace ocikit::users
