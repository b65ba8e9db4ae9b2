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

#include "rootfs_fixture.hpp"
#include "temp_dir.hpp"
#include "error_of.hpp"

using namespace ocikit;
using namespace ocikit::testing;
using namespace ocikit::runtime_spec;
using oj = nlohmann::ordered_json;

namespace {

image::ImageConfig busybox_config() {
  image::ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  c.config.cmd = std::vector<std::string>{"sh"};
  c.config.env = {"PATH=/bin:/usr/bin", "FOO=image"};
  return c;
}

bool contains(const oj& arr, const std::string& v) { return std::find(arr.begin(), arr.end(), v) != arr.end(); }


}  // namespace

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
  CHECK(error_of([&] { from_image(cfg, r.dir.path, "rootfs", {}); }, &code) == "no command specified");
  CHECK(code == Errc::usage);
  cfg.config.entrypoint = std::vector<std::string>{"/e"};
  Options o;
  o.entrypoint = std::vector<std::string>{};
  CHECK(error_of([&] { from_image(cfg, r.dir.path, "rootfs", o); }) == "no command specified");
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
  CHECK(error_of([&] { caps_of({"NET_FOO"}, {}); }, &code) == "unknown capability \"NET_FOO\"");
  CHECK(code == Errc::usage);
  CHECK(error_of([&] { caps_of({}, {"BAR"}); }) == "unknown capability \"BAR\"");
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
  CHECK(error_of([&] { from_image(busybox_config(), r.dir.path, "rootfs", o); }, &code) ==
        "seccomp profile " + d.path + "/bad.json: not a JSON object");
  CHECK(code == Errc::invalid);
  o.seccomp = d.path + "/missing.json";
  CHECK(error_of([&] { from_image(busybox_config(), r.dir.path, "rootfs", o); }, &code)
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

TEST_CASE("runtime_spec: from_image with the caller's mounts, init, resources, rlimits and network") {
  Rootfs r;
  Options o;
  o.mounts.push_back({{"destination", "/data"}, {"type", "bind"}, {"source", "/srv"}, {"options", {"rbind", "ro"}}});
  o.init = "/usr/libexec/oci-run-init";
  o.resources = {{"memory", {{"limit", 1048576}}}, {"pids", {{"limit", 10}}}};
  o.rlimits = {{{"type", "RLIMIT_NOFILE"}, {"soft", 5}, {"hard", 6}}, {{"type", "RLIMIT_NPROC"}, {"soft", 7}, {"hard", 7}}};
  o.network = "net1";
  o.net_tool = "/usr/bin/oci-net";
  o.net_args = {"--name", "web", "-p", "8080:80"};
  oj s = from_image(busybox_config(), r.dir.path, "rootfs", o);
  const oj& m = s["mounts"];
  REQUIRE(m.size() == 9);
  CHECK(m[7]["destination"] == "/data");
  CHECK(m[8] == oj({{"destination", "/dev/init"}, {"type", "bind"}, {"source", "/usr/libexec/oci-run-init"},
                    {"options", {"bind", "ro"}}}));
  CHECK(s["process"]["args"] == oj({"/dev/init", "--", "sh"}));
  CHECK(s["linux"]["resources"]["memory"]["limit"] == 1048576);
  CHECK(s["linux"]["resources"]["pids"]["limit"] == 10);
  CHECK(s["linux"]["resources"].contains("devices"));
  const oj& rl = s["process"]["rlimits"];
  REQUIRE(rl.size() == 2);
  CHECK(rl[0] == oj({{"type", "RLIMIT_NOFILE"}, {"hard", 6}, {"soft", 5}}));
  CHECK(rl[1]["type"] == "RLIMIT_NPROC");
  for (const char* stage : {"createRuntime", "poststop"}) {
    CAPTURE(stage);
    REQUIRE(s["hooks"][stage].size() == 1);
    const oj& h = s["hooks"][stage][0];
    CHECK(h["path"] == "/usr/bin/oci-net");
    CHECK(h["args"] == oj({"oci-net", "hook", stage, "--network", "net1", "--name", "web", "-p", "8080:80"}));
  }
  bool has_netns = false;
  for (const auto& n : s["linux"]["namespaces"]) has_netns = has_netns || n["type"] == "network";
  CHECK(has_netns);

  Options host;
  host.network = "host";
  oj h = from_image(busybox_config(), r.dir.path, "rootfs", host);
  for (const auto& n : h["linux"]["namespaces"]) CHECK(n["type"] != "network");
  CHECK_FALSE(h.contains("hooks"));
  Options none;
  none.network = "none";
  oj n = from_image(busybox_config(), r.dir.path, "rootfs", none);
  CHECK(n["linux"]["namespaces"].size() == 6);
  CHECK_FALSE(n.contains("hooks"));
}
