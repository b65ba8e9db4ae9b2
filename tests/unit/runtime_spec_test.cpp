#include "common/runtime_spec.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/caps.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/seccomp.hpp"

#include "temp_dir.hpp"

using namespace ocikit;
using testing::TempDir;
using namespace ocikit::runtime_spec;
using oj = nlohmann::ordered_json;

namespace {

void put(const std::string& path, const std::string& data) {
  fs::mkdir_p(path.substr(0, path.rfind('/')));
  fs::write_file_atomic(path, data);
}

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "# a comment\n"
    "\n"
    "app:x:1000:1001:App:/home/app:/bin/sh\n"
    "broken:x:notanumber:1:::\n"
    "nohome:x:1002:1002\n";
const char* kGroup =
    "root:x:0:root\n"
    "wheel:x:10:root,app\n"
    "audio:x:29:app\n"
    "appgrp:x:1001:\n"
    "staff:x:50:\n";

struct Rootfs {
  TempDir dir;
  Rootfs() {
    put(dir.path + "/etc/passwd", kPasswd);
    put(dir.path + "/etc/group", kGroup);
  }
};

image::ImageConfig busybox_config() {
  image::ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  c.config.cmd = std::vector<std::string>{"sh"};
  c.config.env = {"PATH=/bin:/usr/bin", "FOO=image"};
  return c;
}

bool contains(const oj& arr, const std::string& v) { return std::find(arr.begin(), arr.end(), v) != arr.end(); }

std::string errmsg(const std::function<void()>& fn, Errc* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("runtime_spec: resolve_user cases") {
  Rootfs r;
  struct Case {
    const char* spec;
    uint32_t uid, gid;
    std::vector<uint32_t> groups;
    const char* home;
  };
  Case cases[] = {
      {"", 0, 0, {0, 10}, "/root"},  // root's passwd entry and its groups
      {"root", 0, 0, {0, 10}, "/root"},
      {"0", 0, 0, {0, 10}, "/root"},
      {"app", 1000, 1001, {10, 29}, "/home/app"},  // supplementary groups naming the user
      {"1000", 1000, 1001, {10, 29}, "/home/app"},  // a uid found in passwd counts as that user
      {"app:staff", 1000, 50, {}, "/home/app"},  // an explicit group: no supplementary groups
      {"app:29", 1000, 29, {}, "/home/app"},
      {"app:4242", 1000, 4242, {}, "/home/app"},  // a numeric gid missing from group is fine
      {"1000:wheel", 1000, 10, {}, "/home/app"},
      {"4000", 4000, 0, {}, "/"},  // a numeric uid missing from passwd: gid 0, home /
      {"4000:4001", 4000, 4001, {}, "/"},
      {"4000:audio", 4000, 29, {}, "/"},
      {"daemon", 1, 1, {}, "/usr/sbin"},
      {"nohome", 1002, 1002, {}, "/"},
  };
  for (auto& c : cases) {
    CAPTURE(c.spec);
    User u = resolve_user(r.dir.path, c.spec);
    CHECK(u.uid == c.uid);
    CHECK(u.gid == c.gid);
    CHECK(u.additional_gids == c.groups);
    CHECK(u.home == c.home);
  }
}

TEST_CASE("runtime_spec: resolve_user errors") {
  Rootfs r;
  Errc code{};
  CHECK(errmsg([&] { resolve_user(r.dir.path, "nobody"); }, &code) ==
        "unable to find user nobody: no matching entries in passwd file");
  CHECK(code == Errc::not_found);
  CHECK(errmsg([&] { resolve_user(r.dir.path, "broken"); }) ==
        "unable to find user broken: no matching entries in passwd file");
  CHECK(errmsg([&] { resolve_user(r.dir.path, "app:nogroup"); }, &code) ==
        "unable to find group nogroup: no matching entries in group file");
  CHECK(code == Errc::not_found);
  CHECK(errmsg([&] { resolve_user(r.dir.path, "4294967296"); }, &code) == "uid 4294967296 is out of range");
  CHECK(code == Errc::invalid);
  CHECK(errmsg([&] { resolve_user(r.dir.path, "0:2147483648"); }) == "gid 2147483648 is out of range");
  CHECK(errmsg([&] { resolve_user(r.dir.path + "/missing", "0"); }).rfind("open " + r.dir.path + "/missing", 0) == 0);
}

TEST_CASE("runtime_spec: resolve_user without passwd or group files") {
  TempDir d;
  User u = resolve_user(d.path, "");
  CHECK(u.uid == 0);
  CHECK(u.gid == 0);
  CHECK(u.additional_gids.empty());
  CHECK(u.home == "/");
  u = resolve_user(d.path, "123:456");
  CHECK(u.uid == 123);
  CHECK(u.gid == 456);
  CHECK(errmsg([&] { resolve_user(d.path, "app"); }) == "unable to find user app: no matching entries in passwd file");
  CHECK(errmsg([&] { resolve_user(d.path, "0:wheel"); }) ==
        "unable to find group wheel: no matching entries in group file");
}

TEST_CASE("runtime_spec: resolve_user stays inside the rootfs") {
  // A host-side passwd with a user the rootfs does not have.
  TempDir host;
  put(host.path + "/etc/passwd", "evil:x:4321:4321::/evil:/bin/sh\n");
  put(host.path + "/etc/group", "evilgrp:x:4321:evil\n");
  TempDir rootfs;
  fs::mkdir_p(rootfs.path + "/etc");
  // Absolute and ../-laden symlinks: followed as if rootfs were "/".
  REQUIRE(::symlink((host.path + "/etc/passwd").c_str(), (rootfs.path + "/etc/passwd").c_str()) == 0);
  REQUIRE(::symlink(("../../../../../../.." + host.path + "/etc/group").c_str(),
                    (rootfs.path + "/etc/group").c_str()) == 0);
  CHECK(errmsg([&] { resolve_user(rootfs.path, "evil"); }) ==
        "unable to find user evil: no matching entries in passwd file");
  CHECK(errmsg([&] { resolve_user(rootfs.path, "0:evilgrp"); }) ==
        "unable to find group evilgrp: no matching entries in group file");
  // The same path exists inside the rootfs: that one is read.
  put(rootfs.path + host.path + "/etc/passwd", "inside:x:77:78::/in:/bin/sh\n");
  User u = resolve_user(rootfs.path, "inside");
  CHECK(u.uid == 77);
  CHECK(u.gid == 78);
  CHECK(u.home == "/in");
}

TEST_CASE("runtime_spec: resolve_user refuses a FIFO passwd") {
  TempDir d;
  fs::mkdir_p(d.path + "/etc");
  REQUIRE(::mkfifo((d.path + "/etc/passwd").c_str(), 0644) == 0);
  Errc code{};
  CHECK(errmsg([&] { resolve_user(d.path, "root"); }, &code) == d.path + "/etc/passwd: not a regular file");
  CHECK(code == Errc::invalid);
}

TEST_CASE("runtime_spec: from_image process") {
  Rootfs r;
  auto cfg = busybox_config();
  cfg.config.entrypoint = std::vector<std::string>{"/entry", "-x"};
  cfg.config.cmd = std::vector<std::string>{"run", "me"};
  cfg.config.user = "app";
  cfg.config.working_dir = "/srv/app/";

  oj s = from_image(cfg, r.dir.path, "rootfs", {});
  CHECK(s["ociVersion"] == "1.0.2");
  const oj& p = s["process"];
  CHECK(p["args"] == oj({"/entry", "-x", "run", "me"}));
  CHECK(p["terminal"] == false);
  CHECK(p["cwd"] == "/srv/app");
  CHECK(p["user"] == oj({{"uid", 1000}, {"gid", 1001}, {"additionalGids", {10, 29}}}));
  CHECK(p["env"] == oj({"HOSTNAME=oci-run", "PATH=/bin:/usr/bin", "FOO=image", "HOME=/home/app"}));
  CHECK(p["noNewPrivileges"] == false);
  struct rlimit rl {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
  uint64_t nofile = rl.rlim_max < 1048576 ? rl.rlim_max : 1048576;
  CHECK(p["rlimits"] == oj({{{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}}}));
  oj want_caps = caps::docker_default();
  CHECK(p["capabilities"]["bounding"] == want_caps);
  CHECK(p["capabilities"]["effective"] == want_caps);
  CHECK(p["capabilities"]["permitted"] == want_caps);
  CHECK(s["root"] == oj({{"path", "rootfs"}, {"readonly", false}}));
  CHECK(s["hostname"] == "oci-run");
  CHECK(!s.contains("annotations"));

  // Table of args rules (docker's entrypoint/cmd merge).
  struct Case {
    std::optional<std::vector<std::string>> image_ep, image_cmd, opt_ep;
    std::vector<std::string> opt_cmd, want;
  };
  using V = std::vector<std::string>;
  Case cases[] = {
      {std::nullopt, V{"sh"}, std::nullopt, {}, {"sh"}},
      {std::nullopt, V{"sh"}, std::nullopt, {"echo", "hi"}, {"echo", "hi"}},
      {V{"/e"}, V{"a"}, std::nullopt, {"b"}, {"/e", "b"}},
      {V{"/e"}, V{"a"}, V{"/new"}, {}, {"/new"}},  // a new entrypoint drops the image's Cmd
      {V{"/e"}, V{"a"}, V{"/new"}, {"z"}, {"/new", "z"}},
      {V{"/e"}, V{"a"}, V{}, {}, {"a"}},  // an empty entrypoint resets it, Cmd stays
      {V{"/e"}, V{"a"}, V{}, {"ls"}, {"ls"}},
      {V{"/e"}, std::nullopt, std::nullopt, {}, {"/e"}},
  };
  for (auto& c : cases) {
    CAPTURE(c.want);
    auto cf = busybox_config();
    cf.config.entrypoint = c.image_ep;
    cf.config.cmd = c.image_cmd;
    Options o;
    o.entrypoint = c.opt_ep;
    o.cmd = c.opt_cmd;
    CHECK(from_image(cf, r.dir.path, "rootfs", o)["process"]["args"] == oj(c.want));
  }
}

TEST_CASE("runtime_spec: from_image with no command") {
  Rootfs r;
  auto cfg = busybox_config();
  cfg.config.cmd.reset();
  Errc code{};
  CHECK(errmsg([&] { from_image(cfg, r.dir.path, "rootfs", {}); }, &code) == "no command specified");
  CHECK(code == Errc::usage);
  cfg.config.entrypoint = std::vector<std::string>{"/e"};
  Options o;
  o.entrypoint = std::vector<std::string>{};
  CHECK(errmsg([&] { from_image(cfg, r.dir.path, "rootfs", o); }) == "no command specified");
}

TEST_CASE("runtime_spec: from_image options") {
  Rootfs r;
  auto cfg = busybox_config();
  cfg.config.user = "app";
  cfg.config.working_dir = "rel/dir";
  cfg.config.env = {"FOO=image", "HOME=/custom"};
  cfg.config.labels = {{"a", "1"}, {"b", "2"}};
  cfg.config.stop_signal = "SIGQUIT";
  ::setenv("OKT_RUNTIME_SPEC_FROM_CALLER", "caller", 1);
  ::unsetenv("OKT_RUNTIME_SPEC_UNSET");
  Options o;
  o.env = {"FOO=opt", "NEW=1", "OKT_RUNTIME_SPEC_FROM_CALLER", "OKT_RUNTIME_SPEC_UNSET"};
  o.workdir = "";
  o.user = "4000:audio";
  o.hostname = "box1";
  o.terminal = true;
  o.read_only = true;
  o.no_new_privileges = true;
  o.annotations = {{"b", "opt"}, {"c", "3"}};
  oj s = from_image(cfg, r.dir.path, "/abs/rootfs", o);
  const oj& p = s["process"];
  CHECK(p["terminal"] == true);
  CHECK(p["cwd"] == "/rel/dir");  // a relative WorkingDir is made absolute
  CHECK(p["user"] == oj({{"uid", 4000}, {"gid", 29}}));
  CHECK(p["env"] ==
        oj({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=box1", "FOO=opt",
            "HOME=/custom", "NEW=1", "OKT_RUNTIME_SPEC_FROM_CALLER=caller", "TERM=xterm"}));
  CHECK(p["noNewPrivileges"] == true);
  CHECK(s["root"] == oj({{"path", "/abs/rootfs"}, {"readonly", true}}));
  CHECK(s["hostname"] == "box1");
  CHECK(s["annotations"] ==
        oj({{"a", "1"}, {"b", "opt"}, {"c", "3"}, {"org.opencontainers.image.stopSignal", "SIGQUIT"}}));

  o.workdir = "/work//x/..";
  CHECK(from_image(cfg, r.dir.path, "rootfs", o)["process"]["cwd"] == "/work");
}

TEST_CASE("runtime_spec: from_image capabilities") {
  Rootfs r;
  auto cfg = busybox_config();
  auto caps_of = [&](std::vector<std::string> add, std::vector<std::string> drop) {
    Options o;
    o.cap_add = std::move(add);
    o.cap_drop = std::move(drop);
    return from_image(cfg, r.dir.path, "rootfs", o)["process"]["capabilities"]["bounding"];
  };
  oj c = caps_of({"NET_ADMIN", "cap_sys_time"}, {"CAP_CHOWN", "mknod"});
  CHECK(contains(c, "CAP_NET_ADMIN"));
  CHECK(contains(c, "CAP_SYS_TIME"));
  CHECK(!contains(c, "CAP_CHOWN"));
  CHECK(!contains(c, "CAP_MKNOD"));
  CHECK(c.size() == caps::docker_default().size());
  CHECK(caps_of({"NET_ADMIN"}, {"ALL"}) == oj({"CAP_NET_ADMIN"}));
  CHECK(caps_of({}, {"all"}) == oj::array());
  oj all = caps_of({"ALL"}, {"SYS_ADMIN"});
  CHECK(contains(all, "CAP_SYS_MODULE"));
  CHECK(!contains(all, "CAP_SYS_ADMIN"));
  CHECK(all.size() >= 37);
  Errc code{};
  CHECK(errmsg([&] { caps_of({"NET_FOO"}, {}); }, &code) == "unknown capability \"NET_FOO\"");
  CHECK(code == Errc::usage);
  CHECK(errmsg([&] { caps_of({}, {"BAR"}); }) == "unknown capability \"BAR\"");
}

TEST_CASE("runtime_spec: from_image mounts, namespaces, paths and seccomp") {
  Rootfs r;
  oj s = from_image(busybox_config(), r.dir.path, "rootfs", {});
  std::vector<std::string> dests;
  for (auto& m : s["mounts"]) dests.push_back(m["destination"]);
  CHECK(dests ==
        std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"});
  CHECK(contains(s["mounts"][5]["options"], "ro"));
  CHECK(contains(s["mounts"][6]["options"], "ro"));
  std::vector<std::string> ns;
  for (auto& n : s["linux"]["namespaces"]) ns.push_back(n["type"]);
  CHECK(ns == std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"});
  CHECK(contains(s["linux"]["maskedPaths"], "/proc/kcore"));
  CHECK(contains(s["linux"]["maskedPaths"], "/sys/firmware"));
  CHECK(s["linux"]["readonlyPaths"] == oj({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  CHECK(s["linux"]["seccomp"] == oj(seccomp::default_profile()));
  CHECK(s["linux"]["resources"]["devices"][0] == oj({{"allow", false}, {"access", "rwm"}}));
  // The default profile compiles (it is what runtimes will load).
  CHECK(!seccomp::compile(nlohmann::json::parse(s["linux"]["seccomp"].dump())).filter.empty());

  Options o;
  o.seccomp = "unconfined";
  oj u = from_image(busybox_config(), r.dir.path, "rootfs", o);
  CHECK(!u["linux"].contains("seccomp"));
  CHECK(u["linux"].contains("maskedPaths"));

  TempDir d;
  put(d.path + "/profile.json", R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]})");
  o.seccomp = d.path + "/profile.json";
  CHECK(from_image(busybox_config(), r.dir.path, "rootfs", o)["linux"]["seccomp"] ==
        oj({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", oj::array()}}));
  put(d.path + "/bad.json", "[1]");
  o.seccomp = d.path + "/bad.json";
  Errc code{};
  CHECK(errmsg([&] { from_image(busybox_config(), r.dir.path, "rootfs", o); }, &code) ==
        "seccomp profile " + d.path + "/bad.json: not a JSON object");
  CHECK(code == Errc::invalid);
  o.seccomp = d.path + "/missing.json";
  CHECK(errmsg([&] { from_image(busybox_config(), r.dir.path, "rootfs", o); }, &code)
            .rfind("seccomp profile " + d.path + "/missing.json: ", 0) == 0);
  CHECK(code == Errc::not_found);
}

TEST_CASE("runtime_spec: from_image privileged") {
  Rootfs r;
  Options o;
  o.privileged = true;
  o.cap_drop = {"CAP_CHOWN"};  // privileged wins, as docker
  oj s = from_image(busybox_config(), r.dir.path, "rootfs", o);
  oj caps = s["process"]["capabilities"]["bounding"];
  CHECK(contains(caps, "CAP_SYS_ADMIN"));
  CHECK(contains(caps, "CAP_CHOWN"));
  CHECK(static_cast<int>(caps.size()) <= caps::last_cap() + 1);
  CHECK(!s["linux"].contains("seccomp"));
  CHECK(!s["linux"].contains("maskedPaths"));
  CHECK(!s["linux"].contains("readonlyPaths"));
  CHECK(contains(s["mounts"][5]["options"], "rw"));
  CHECK(!contains(s["mounts"][5]["options"], "ro"));
  CHECK(s["linux"]["resources"]["devices"] == oj::parse(R"([{"allow":true,"access":"rwm"}])"));
}

TEST_CASE("runtime_spec: default_spec is runc's") {
  oj s = default_spec();
  CHECK(s["process"]["args"] == oj({"sh"}));
  CHECK(s["process"]["terminal"] == true);
  CHECK(s["root"] == oj({{"path", "rootfs"}, {"readonly", true}}));
  CHECK(s["process"]["capabilities"]["bounding"] == oj({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}));
  CHECK(s["mounts"].size() == 7);
  CHECK(!s["linux"].contains("uidMappings"));
  oj rl = default_spec(true);
  CHECK(rl["mounts"].size() == 6);
  CHECK(rl["linux"]["uidMappings"][0]["hostID"] == ::getuid());
  CHECK(rl["linux"]["namespaces"].back() == oj({{"type", "user"}}));
  CHECK(!rl["linux"].contains("resources"));
}
