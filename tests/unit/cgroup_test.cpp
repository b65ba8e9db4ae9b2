#include "common/cgroup.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/fs.hpp"

using namespace ocikit;
using nlohmann::json;

namespace {

std::string rand_name() {
  std::random_device rd;
  return "ocikit-test-cgroupsec-" + std::to_string(rd() % 1000000000);
}

bool have_root() { return geteuid() == 0 && fs::exists("/sys/fs/cgroup"); }

// A forked child that waits for a byte on a pipe, then runs `fn` and exits
// with its result. Killed and reaped on destruction.
struct Child {
  pid_t pid = -1;
  int go[2] = {-1, -1};
  template <class F>
  explicit Child(F fn) {
    REQUIRE(pipe(go) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      char c;
      if (read(go[0], &c, 1) != 1) _exit(99);
      _exit(fn());
    }
    close(go[0]);
  }
  void start() { REQUIRE(write(go[1], "x", 1) == 1); }
  int wait_exit() {
    int st = 0;
    waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  ~Child() {
    if (go[1] >= 0) close(go[1]);
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Removes the cgroup even when a check fails.
struct Guard {
  cgroup::Manager& m;
  ~Guard() {
    try {
      m.destroy();
    } catch (...) {
    }
  }
};

std::string rd(const std::string& dir, const std::string& f) {
  std::string s = fs::read_file(dir + "/" + f);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

cgroup::Hierarchies v2_layout() {
  cgroup::Hierarchies l = cgroup::detect_hierarchies();
  l.mode = cgroup::Mode::v2;
  l.v1.clear();
  return l;
}

}  // namespace

TEST_CASE("cgroup: resolve_path") {
  CHECK(cgroup::resolve_path("", "abc") == "/ocikit/abc");
  CHECK(cgroup::resolve_path("/a//b/", "x") == "/a/b");
  CHECK(cgroup::resolve_path("rel/x", "x") == "rel/x");
  CHECK(cgroup::resolve_path("system.slice:docker:abc", "x") == "/system.slice/docker-abc.scope");
  CHECK(cgroup::resolve_path("a-b.slice:pfx:n", "x") == "/a.slice/a-b.slice/pfx-n.scope");
  CHECK_THROWS_WITH(cgroup::resolve_path("/../../etc", "x"), "cgroupsPath \"/../../etc\" escapes the cgroup root");
  CHECK_THROWS_WITH(cgroup::resolve_path("bad:x:y", "x"), "invalid systemd slice \"bad\"");
  CHECK_THROWS_WITH(cgroup::resolve_path("", "a/b"), "invalid container id for a cgroup path: \"a/b\"");
}

TEST_CASE("cgroup: detect the host layout") {
  auto l = cgroup::detect_hierarchies();
  if (fs::exists("/sys/fs/cgroup/memory/cgroup.procs") && fs::exists("/sys/fs/cgroup/unified/cgroup.procs")) {
    CHECK(l.mode == cgroup::Mode::hybrid);
    CHECK(l.v1.at("memory") == "/sys/fs/cgroup/memory");
    CHECK(l.unified == "/sys/fs/cgroup/unified");
  }
  CHECK(cgroup::detect_mode() == l.mode);
}

TEST_CASE("cgroup: v1/hybrid limits, pids.limit blocks forks, stats, destroy") {
  if (!have_root() || cgroup::detect_mode() == cgroup::Mode::v2) return;
  std::string name = rand_name();
  auto m = cgroup::Manager::create("/" + name, "x");
  Guard g{m};
  auto saved = cgroup::Manager::from_json(json::parse(m.to_json().dump()));
  CHECK(saved.to_json() == m.to_json());

  Child c([] {
    // Burn a little CPU and memory so stats are non-zero, then try to fork.
    volatile uint64_t x = 0;
    for (int i = 0; i < 20000000; ++i) x = x + i;
    std::vector<char> mem(4 << 20, 1);
    pid_t p = fork();
    if (p == 0) _exit(0);
    if (p > 0) {
      waitpid(p, nullptr, 0);
      return 0;
    }
    return errno == EAGAIN ? 42 : 43;
  });
  m.apply(c.pid);
  m.set(json::parse(R"({"memory":{"limit":67108864,"reservation":33554432,"swappiness":10,"swap":134217728},
                         "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"},
                         "pids":{"limit":1}})"));
  std::string mem = m.v1_dir("memory");
  CHECK(mem == "/sys/fs/cgroup/memory/" + name);
  CHECK(rd(mem, "memory.limit_in_bytes") == "67108864");
  CHECK(rd(mem, "memory.soft_limit_in_bytes") == "33554432");
  CHECK(rd(mem, "memory.swappiness") == "10");
  if (fs::exists(mem + "/memory.memsw.limit_in_bytes")) CHECK(rd(mem, "memory.memsw.limit_in_bytes") == "134217728");
  CHECK(rd(m.v1_dir("cpuset"), "cpuset.cpus") == "0");
  CHECK(rd(m.v1_dir("cpu"), "cpu.shares") == "512");
  CHECK(rd(m.v1_dir("cpu"), "cpu.cfs_quota_us") == "50000");
  CHECK(rd(m.v1_dir("pids"), "pids.max") == "1");
  CHECK(rd(mem, "cgroup.procs") == std::to_string(c.pid));
  CHECK(m.pids() == std::vector<pid_t>{c.pid});
  CHECK(fs::exists(m.unified_dir() + "/cgroup.procs"));
  c.start();
  CHECK(c.wait_exit() == 42);  // fork refused with EAGAIN

  auto s = m.stats();
  CAPTURE(s.dump());
  CHECK(s["cpu"]["usage"]["total"].get<uint64_t>() > 0);
  CHECK(s["memory"]["usage"]["limit"].get<uint64_t>() == 67108864);
  CHECK(s["memory"]["usage"]["max"].get<uint64_t>() > 0);
  CHECK(s["pids"]["limit"].get<uint64_t>() == 1);

  // Fields the host cannot honour are errors, not silently ignored.
  CHECK_THROWS_WITH(m.set(json::parse(R"({"network":{"classID":5}})")),
                    "cannot set network.classID: the net_cls controller is not mounted");
  CHECK_THROWS_WITH(m.set(json::parse(R"({"memory":{"limit":"x"}})")), "memory.limit: expected an integer, got \"x\"");
  m.destroy();
  CHECK_FALSE(fs::exists(mem));
  CHECK_FALSE(fs::exists(m.unified_dir()));
}

TEST_CASE("cgroup: v1 devices and freezer") {
  if (!have_root() || cgroup::detect_mode() == cgroup::Mode::v2) return;
  auto m = cgroup::Manager::create("/" + rand_name(), "x");
  Guard g{m};
  auto* counter = static_cast<std::atomic<uint64_t>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  REQUIRE(counter != MAP_FAILED);
  Child c([counter] {
    int ok = open("/dev/null", O_RDONLY) >= 0;
    int denied = open("/dev/zero", O_RDONLY) < 0 && errno == EPERM;
    counter[1].store(ok && denied ? 1 : 2);
    counter->store(1);
    for (;;) counter->fetch_add(1);
    return 0;
  });
  m.apply(c.pid);
  m.set(json::parse(
      R"({"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]})"));
  CHECK(rd(m.v1_dir("devices"), "devices.list") == "c 1:3 rw");
  c.start();
  for (int i = 0; i < 500 && counter->load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(counter[1].load() == 1);  // /dev/null allowed, /dev/zero denied
  m.freeze();
  CHECK(m.frozen());
  uint64_t a = counter->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(counter->load() == a);
  m.thaw();
  CHECK_FALSE(m.frozen());
  for (int i = 0; i < 500 && counter->load() == a; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(counter->load() != a);
  m.kill_all(SIGKILL);
  CHECK(c.wait_exit() == 128 + SIGKILL);
  m.destroy();
  munmap(counter, 4096);
}

TEST_CASE("cgroup: v2 code path on the unified hierarchy (freeze, kill, eBPF devices, errors)") {
  if (!have_root()) return;
  auto layout = v2_layout();
  if (layout.unified.empty()) return;
  auto m = cgroup::Manager::create("/" + rand_name(), "x", layout);
  Guard g{m};
  CHECK(m.mode() == cgroup::Mode::v2);
  CHECK(m.v1_dir("memory").empty());
  auto* counter = static_cast<std::atomic<uint64_t>*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  REQUIRE(counter != MAP_FAILED);
  Child c([counter] {
    int ok = open("/dev/null", O_RDONLY) >= 0;
    int denied = open("/dev/zero", O_RDONLY) < 0 && errno == EPERM;
    counter[1].store(ok && denied ? 1 : 2);
    counter->store(1);
    for (;;) counter->fetch_add(1);
    return 0;
  });
  m.apply(c.pid);
  m.set(json::parse(
      R"({"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]})"));
  // A second set replaces the program rather than stacking another one.
  m.set(json::parse(
      R"({"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]})"));
  c.start();
  for (int i = 0; i < 500 && counter->load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(counter[1].load() == 1);
  CHECK(m.pids() == std::vector<pid_t>{c.pid});
  m.freeze();
  CHECK(m.frozen());
  CHECK(rd(m.unified_dir(), "cgroup.freeze") == "1");
  uint64_t a = counter->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(counter->load() == a);
  m.thaw();
  for (int i = 0; i < 500 && counter->load() == a; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(counter->load() != a);
  auto s = m.stats();
  CAPTURE(s.dump());
  CHECK(s["cpu"]["usage"]["total"].get<uint64_t>() > 0);
  // Only controllers enabled in the unified hierarchy can be set.
  if (!fs::exists(m.unified_dir() + "/memory.max"))
    CHECK_THROWS_WITH(
        m.set(json::parse(R"({"memory":{"limit":1048576}})")),
        ("cannot set memory.limit: " + m.unified_dir() + "/memory.max does not exist (controller not available)")
            .c_str());
  CHECK_THROWS_WITH(m.set(json::parse(R"({"memory":{"kernel":1048576}})")),
                    "cannot set memory.kernel: kernel memory limits do not exist on cgroup v2");
  CHECK_THROWS_WITH(m.set(json::parse(R"({"cpu":{"realtimeRuntime":1000}})")),
                    "cannot set cpu.realtimeRuntime: realtime scheduling limits do not exist on cgroup v2");
  CHECK_THROWS_WITH(m.set(json::parse(R"({"devices":[{"allow":true,"type":"x"}]})")),
                    "devices: invalid device type \"x\"");
  for (auto& sz : std::vector<std::string>{"2MB"})
    if (fs::exists(m.unified_dir() + "/hugetlb." + sz + ".max")) {
      m.set(json::parse(R"({"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]})"));
      CHECK(rd(m.unified_dir(), "hugetlb.2MB.max") == "4194304");
    }
  m.kill_all(SIGKILL);
  CHECK(c.wait_exit() == 128 + SIGKILL);
  std::string dir = m.unified_dir();
  m.destroy();
  CHECK_FALSE(fs::exists(dir));
  munmap(counter, 4096);
}

TEST_CASE("cgroup: create maps systemd and relative paths onto every hierarchy") {
  cgroup::Hierarchies l;
  l.mode = cgroup::Mode::hybrid;
  l.v1 = {{"memory", "/sys/fs/cgroup/memory"}, {"cpu", "/sys/fs/cgroup/cpu"}};
  l.unified = "/sys/fs/cgroup/unified";
  auto m = cgroup::Manager::create("machine.slice:okt:c1", "c1", l);
  CHECK(m.path() == "/machine.slice/okt-c1.scope");
  CHECK(m.v1_dir("memory") == "/sys/fs/cgroup/memory/machine.slice/okt-c1.scope");
  CHECK(m.unified_dir() == "/sys/fs/cgroup/unified/machine.slice/okt-c1.scope");
  CHECK(m.v1_dir("pids").empty());
  auto r = cgroup::Manager::create("sub/c2", "c2", l);
  CHECK(r.path() == "sub/c2");
  CHECK(r.v1_dir("cpu").size() > std::string("/sys/fs/cgroup/cpu/sub/c2").size() - 1);
  CHECK(r.v1_dir("cpu").ends_with("/sub/c2"));
  CHECK_THROWS_WITH(cgroup::Manager::from_json(json::parse(R"({"mode":"v3","path":"/x"})")),
                    "cgroup state: unknown mode \"v3\"");
}

TEST_CASE("cgroup: a hybrid host's cgroup2 controllers are enabled only for the resource that needs them") {
  // A fake hierarchy in a temp dir: regular files stand in for the control files.
  char tmpl[] = "/tmp/okt-rt3-cg-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string root = tmpl;
  struct Rm {
    std::string d;
    ~Rm() { fs::remove_all(d); }
  } rm{root};
  fs::mkdir_p(root + "/v2", 0755);
  fs::mkdir_p(root + "/mem", 0755);
  fs::write_file_atomic(root + "/v2/cgroup.procs", "", 0644);
  fs::write_file_atomic(root + "/v2/cgroup.controllers", "hugetlb\n", 0644);
  fs::write_file_atomic(root + "/v2/cgroup.subtree_control", "\n", 0644);
  fs::write_file_atomic(root + "/mem/cgroup.procs", "", 0644);
  cgroup::Hierarchies l;
  l.mode = cgroup::Mode::hybrid;
  l.v1["memory"] = root + "/mem";
  l.unified = root + "/v2";
  auto m = cgroup::Manager::create("/okt/c1", "c1", l);
  m.apply(0);
  CHECK(fs::read_file(root + "/v2/cgroup.subtree_control") == "\n");  // apply changed nothing
  fs::write_file_atomic(root + "/v2/okt/cgroup.subtree_control", "\n", 0644);
  m.set(json::parse(R"({"memory": null})"));
  CHECK_FALSE(m.to_json().contains("enabled"));
  fs::write_file_atomic(root + "/v2/okt/c1/hugetlb.2MB.max", "max\n", 0644);
  m.set(json::parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})"));
  CHECK(fs::read_file(root + "/v2/okt/c1/hugetlb.2MB.max") == "4194304");
  CHECK(fs::read_file(root + "/v2/cgroup.subtree_control") == "+hugetlb");
  CHECK(fs::read_file(root + "/v2/okt/cgroup.subtree_control") == "+hugetlb");
  json enabled = m.to_json()["enabled"];
  CHECK(enabled == json::parse("[[\"" + root + "/v2\", \"hugetlb\"], [\"" + root + "/v2/okt\", \"hugetlb\"]]"));
  // Saved and restored with the state, so delete can undo exactly these.
  CHECK(cgroup::Manager::from_json(m.to_json()).to_json() == m.to_json());
  // A controller the hierarchy does not have is a clear error.
  cgroup::Hierarchies l2 = l;
  l2.v1.clear();
  auto m3 = cgroup::Manager::create("/okt/c3", "c3", l2);
  m3.apply(0);
  CHECK_THROWS_WITH(m3.set(json::parse(R"({"pids": {"limit": 5}})")),
                    ("cannot set pids.limit: the cgroup2 hierarchy at " + root + "/v2 has no pids controller").c_str());
}
