// create, start and run: the parent side of the sync protocol (sync.hpp).
#include "container.hpp"
#include "router.hpp"

#include <elf.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "exe_seal.hpp"
#include "plan.hpp"
#include "state.hpp"
#include "terminal.hpp"

extern char** environ;

namespace ocikit::run {
namespace {

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

std::string abs_path(const std::string& p) {
  if (!p.empty() && p[0] == '/') return fs::clean_path(p);
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) throw_errno("getcwd");
  return fs::clean_path(std::string(cwd) + "/" + p);
}

// A unix socket address for `path`; long paths go through /proc/self/fd of
// their directory so that sun_path's 108 bytes never limit --root.
struct UnixAddr {
  sockaddr_un sa{};
  fs::UniqueFd dirfd;
  explicit UnixAddr(const std::string& path) {
    sa.sun_family = AF_UNIX;
    std::string p = path;
    if (p.size() >= sizeof sa.sun_path) {
      auto slash = p.rfind('/');
      dirfd.reset(open(p.substr(0, slash).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dirfd) throw_errno("open " + p.substr(0, slash));
      p = "/proc/self/fd/" + std::to_string(dirfd.get()) + p.substr(slash);
      if (p.size() >= sizeof sa.sun_path) fail(Errc::invalid, "socket path too long: " + path);
    }
    memcpy(sa.sun_path, p.c_str(), p.size() + 1);
  }
};

int connect_unix(const std::string& path) {
  UnixAddr a(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&a.sa), sizeof a.sa) != 0) {
    int e = errno;
    close(fd);
    throw_errno("connect to " + path, e);
  }
  return fd;
}

// The cgroup device rules a container gets: the spec's own rules, then (as
// runc's specconv does) allow rules for the default devices oci-run creates
// in /dev and for every linux.devices entry. Without them a deny-all spec
// rule would forbid the mknod of /dev/null during rootfs set-up.
nlohmann::json effective_resources(const Spec& s) {
  nlohmann::json r = s.resources.is_object() ? s.resources : nlohmann::json::object();
  nlohmann::json rules = r.contains("devices") && r["devices"].is_array() ? r["devices"] : nlohmann::json::array();
  auto allow = [&](const char* type, int64_t major, int64_t minor, const char* access) {
    nlohmann::json d = {{"allow", true}, {"type", type}, {"access", access}};
    if (major >= 0) d["major"] = major;
    if (minor >= 0) d["minor"] = minor;
    rules.push_back(std::move(d));
  };
  allow("c", -1, -1, "m");  // mknod of any char device (not its use)
  allow("b", -1, -1, "m");  // mknod of any block device
  allow("c", 1, 3, "rwm");  // /dev/null
  allow("c", 1, 5, "rwm");  // /dev/zero
  allow("c", 1, 7, "rwm");  // /dev/full
  allow("c", 1, 8, "rwm");  // /dev/random
  allow("c", 1, 9, "rwm");  // /dev/urandom
  allow("c", 5, 0, "rwm");  // /dev/tty
  allow("c", 5, 1, "rwm");  // /dev/console
  allow("c", 5, 2, "rwm");  // /dev/ptmx
  allow("c", 136, -1, "rwm");  // /dev/pts/*
  for (const auto& d : s.devices) {
    if (d.type != 'c' && d.type != 'b' && d.type != 'u') continue;
    allow(d.type == 'b' ? "b" : "c", d.major, d.minor, "rwm");
  }
  r["devices"] = std::move(rules);
  return r;
}

void write_id_map(pid_t pid, const char* file, const std::vector<IdMap>& maps) {
  std::string text;
  for (auto& m : maps)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + path);
  ssize_t w = write(fd, text.data(), text.size());
  int e = errno;
  close(fd);
  if (w != static_cast<ssize_t>(text.size())) throw_errno("write " + std::string(file), e);
}

// Everything a half-created container leaves behind, undone unless released.
struct Cleanup {
  pid_t pid = 0;
  std::string dir;
  sec::CgroupManager* cg = nullptr;
  bool armed = true;
  ~Cleanup() {
    if (!armed) return;
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (cg) {
      try {
        cg->destroy();
      } catch (...) {
      }
    }
    if (!dir.empty()) {
      try {
        fs::remove_all(dir);
      } catch (...) {
      }
    }
  }
};

struct Created {
  pid_t pid = 0;
  int sync = -1;
  State state;
  Spec spec;
  std::string dir;
  fs::UniqueFd console_recv;  ///< run -t without --console-socket: where the pty master arrives
  fs::UniqueFd master;  ///< that pty master, relayed to our stdio
};

// create and run share everything up to kReady.
Created do_create(const CreateOptions& o, bool run_mode, Cleanup& cleanup) {
  Created c;
  std::string bundle = abs_path(o.bundle);
  std::string config_text = fs::read_file(bundle + "/config.json");
  c.spec = parse_spec(config_text, bundle);
  validate_spec(c.spec);
  const Spec& s = c.spec;
  if (!s.has_process && run_mode) fail(Errc::invalid, "config.json: process: missing (run needs a process)");
  // As runc: a terminal without a console socket is relayed by `run` in the
  // foreground, and nobody could read it after create or run -d returns.
  bool relay_tty = s.process.terminal && o.console_socket.empty();
  if (relay_tty && (!run_mode || o.detach))
    fail(Errc::usage, "cannot allocate tty if oci-run will detach without setting console socket");
  if (!s.process.terminal && !o.console_socket.empty())
    fail(Errc::usage, "--console-socket is set but process.terminal is false");
  struct stat st;
  if (stat(s.root_path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail(Errc::invalid, "rootfs " + s.root_path + " is not a directory");

  PlanStore store;
  store.plan.preserve_fds = o.preserve_fds;
  store.set_rootfs(s, o.no_pivot);
  store.set_process(s.process, s.seccomp);
  protect_binary(store.plan.caps.bounding);
  store.plan.wait_start = true;
  store.plan.new_keyring = !o.no_new_keyring;

  fs::mkdir_p(o.root, 0700);
  c.dir = container_dir(o.root, o.id);
  if (mkdir(c.dir.c_str(), 0700) != 0) {
    if (errno == EEXIST) fail(Errc::exists, "container " + o.id + " already exists");
    throw_errno("mkdir " + c.dir);
  }
  cleanup.dir = c.dir;

  fs::UniqueFd listen_fd;
  if (!run_mode) {
    UnixAddr a(c.dir + "/start.sock");
    listen_fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listen_fd) throw_errno("socket");
    if (bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&a.sa), sizeof a.sa) != 0) throw_errno("bind start socket");
    if (listen(listen_fd.get(), 4) != 0) throw_errno("listen on start socket");
    store.plan.start_listen_fd = listen_fd.get();
  }
  fs::UniqueFd console;
  if (!o.console_socket.empty()) {
    console.reset(connect_unix(o.console_socket));
    store.plan.console_fd = console.get();
  } else if (relay_tty) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
    c.console_recv.reset(sv[0]);
    console.reset(sv[1]);
    store.plan.console_fd = console.get();
  }

  // Namespaces: new ones go to clone; joined ones are opened here and
  // entered by the child (user first). pid and time apply to children, so
  // the parent enters those itself right before clone.
  unsigned long flags = 0;
  std::vector<fs::UniqueFd> join;
  fs::UniqueFd pid_join, time_join, time_orig;
  for (auto& n : s.namespaces) {
    if (n.path.empty()) {
      // CLONE_NEWTIME does not fit clone(2)'s flags (it is CSIGNAL's
      // bit): the parent unshares it below, for its next child only.
      // Nor does CLONE_NEWCGROUP go to clone(2): the namespace's root is the
      // creator's cgroup, so the child unshares it only once the parent has
      // moved it into the container's cgroup (as runc does); the container
      // then sees its own cgroup as "/".
      if (n.flag == CLONE_NEWCGROUP) store.plan.new_cgroupns = true;
      else if (n.flag != CLONE_NEWTIME) flags |= static_cast<unsigned long>(n.flag);
      continue;
    }
    fs::UniqueFd fd(open(n.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open namespace " + n.path);
    // The path must name a namespace of the type it is listed as.
    int type = ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) throw Error(Errc::invalid, "linux.namespaces: " + n.path + " is not a namespace", errno);
    if (type != n.flag) fail(Errc::invalid, "linux.namespaces: " + n.path + " is not a " + n.type + " namespace");
    if (n.flag == CLONE_NEWPID) pid_join = std::move(fd);
    else if (n.flag == CLONE_NEWTIME) time_join = std::move(fd);
    else if (n.flag == CLONE_NEWUSER) join.insert(join.begin(), std::move(fd));
    else join.push_back(std::move(fd));
  }
  for (auto& f : join) store.plan.join_fds[store.plan.n_join++] = f.get();
  store.plan.userns = (flags & CLONE_NEWUSER) != 0;
  store.plan.lo_up = (flags & CLONE_NEWNET) != 0;
  if (pid_join && setns(pid_join.get(), CLONE_NEWPID) != 0) throw_errno("join pid namespace");
  auto tns = s.find_namespace(CLONE_NEWTIME);
  if (tns) {
    time_orig.reset(open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
    if (!time_orig) throw_errno("open /proc/self/ns/time_for_children");
    if (time_join) {
      if (setns(time_join.get(), CLONE_NEWTIME) != 0) throw_errno("join time namespace");
    } else {
      if (unshare(CLONE_NEWTIME) != 0) throw_errno("unshare time namespace");
      // Offsets can only be written before the first process enters.
      std::string offs;
      for (auto& [clock, v] : s.time_offsets)
        offs += clock + " " + std::to_string(v.first) + " " + std::to_string(v.second) + "\n";
      if (!offs.empty()) {
        int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, offs.data(), offs.size()) != static_cast<ssize_t>(offs.size())) {
          int e = errno;
          if (fd >= 0) close(fd);
          throw_errno("write time namespace offsets", e);
        }
        close(fd);
      }
    }
  }

  int sync_fd = -1;
  c.pid = spawn_child(store, flags, &sync_fd);
  c.sync = sync_fd;
  cleanup.pid = c.pid;
  // Hooks and later children of this process stay in the host's time namespace.
  if (time_orig && setns(time_orig.get(), CLONE_NEWTIME) != 0) throw_errno("restore time namespace");
  for (auto& f : join) f.reset();
  listen_fd.reset();
  console.reset();

  if (store.plan.userns) {
    write_id_map(c.pid, "uid_map", s.uid_mappings);
    write_id_map(c.pid, "gid_map", s.gid_mappings);
  }
  static sec::CgroupManager cg;  // outlives cleanup's pointer
  cg = sec::CgroupManager::create(s.cgroups_path, o.id);
  cleanup.cg = &cg;
  cg.apply(c.pid);
  cg.set(effective_resources(s));
  std::string cgroup_text;
  try {
    cgroup_text = fs::read_file("/proc/" + std::to_string(c.pid) + "/cgroup");
  } catch (const Error&) {
  }
  send_sync(c.sync, SyncType::kGo, &cgroup_text);

  State& state = c.state;
  state.id = o.id;
  state.pid = c.pid;
  state.bundle = bundle;
  state.rootfs = s.root_path;
  state.annotations = s.annotations;
  state.config = nlohmann::json::parse(config_text);
  state.cgroup = cg.to_json();
  state.cgroup_applied = true;
  for (;;) {
    SyncType t = recv_sync(c.sync);
    if (t == SyncType::kHooks) {
      // "created", as crun reports it (the runtime-tools suite checks it).
      std::string hs = hook_state(state, "created");
      run_parent_hooks(s.hooks.prestart, hs, "prestart", true);
      run_parent_hooks(s.hooks.create_runtime, hs, "createRuntime", true);
      send_sync(c.sync, SyncType::kHooksDone, &hs);
    } else if (t == SyncType::kReady) {
      break;
    } else {
      fail("container init exited before it was ready");
    }
  }
  if (c.console_recv) {
    c.master.reset(recv_fd(c.console_recv.get()));
    c.console_recv.reset();
    copy_window_size(c.master.get());
  }
  state.start_time = process_start_time(c.pid);
  state.created = log::now_rfc3339();
  save_state(c.dir, state);
  if (!o.pid_file.empty()) fs::write_file_atomic(abs_path(o.pid_file), std::to_string(c.pid), 0644);
  return c;
}

pid_t g_forward_pid = 0;
void forward_signal(int sig) {
  if (g_forward_pid > 0) kill(g_forward_pid, sig);
}

}  // namespace

namespace {
off_t loaded_size(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) throw_errno("stat /proc/self/exe");
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
    return st.st_size;
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  ssize_t want = static_cast<ssize_t>(ph.size() * sizeof(Elf64_Phdr));
  if (pread(fd, ph.data(), static_cast<size_t>(want), static_cast<off_t>(eh.e_phoff)) != want) return st.st_size;
  uint64_t end = eh.e_phoff + static_cast<uint64_t>(want);
  for (auto& p : ph) end = std::max<uint64_t>(end, p.p_offset + p.p_filesz);
  return std::min<off_t>(st.st_size, static_cast<off_t>(end));
}
}  // namespace

namespace {
char** g_argv = nullptr;
bool g_sealed = false;  // checked: running from the sealed copy

// exe_seal.hpp's system call: syscall(2), with -errno for errors.
long sys(long n, long a, long b, long c, long d, long e) {
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}

void reexec_sealed(char** argv) {
  // Already running from a protected view? Then /proc/self/exe cannot be
  // written through by anything in a container.
  fs::UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) throw_errno("open /proc/self/exe");
  if (seal::is_protected(sys, self.get())) {
    g_sealed = true;
    return;
  }
  // Only runtime commands get here: the re-executed binary must not route
  // the command line to oci-run-manage again (main.cpp reads and clears this
  // variable).
  setenv(kRouteEnv, route_name(Route::runtime), 1);
  // Copy only what execve maps: up to the end of the last segment named in
  // the program headers. Debug sections and the section table trail the
  // file (tens of MB in a debug build) and nothing at run time reads them.
  long r = seal::reexec(sys, self.get(), static_cast<long>(loaded_size(self.get())), argv, environ);
  throw_errno("re-execute oci-run from a protected copy", static_cast<int>(-r));
}
}  // namespace

void ensure_sealed_binary(char** argv) {
  g_argv = argv;
  reexec_sealed(argv);
}

void protect_binary(uint64_t /*bounding*/) {
  // Always the sealed copy. Being non-dumpable is not enough, whatever the
  // container's capabilities: the runtime's last execve inside the container
  // can itself run this binary (args[0] "/proc/self/exe", or a script whose
  // "#!" line names it); that new process is dumpable, and the container
  // could reopen its exe for writing once it exits (CVE-2019-5736).
  if (g_sealed) return;
  if (!g_argv) fail("protect the oci-run binary: no argv to re-execute with");
  reexec_sealed(g_argv);
}

void create_container(const CreateOptions& o) {
  Cleanup cleanup;
  Created c = do_create(o, false, cleanup);
  close(c.sync);
  cleanup.armed = false;
}

void start_container(const std::string& root, const std::string& id) {
  std::string dir = container_dir(root, id);
  State s = load_state(root, id);
  std::string status = status_of(dir, s);
  if (status != "created") fail("cannot start container " + id + ": it is " + status);
  fs::UniqueFd conn(connect_unix(dir + "/start.sock"));
  // Gone before the exec, so `state` never reports "created" for a running container.
  unlink((dir + "/start.sock").c_str());
  std::string msg = "s" + hook_state(s, "running");
  if (send(conn.get(), msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size()))
    throw_errno("signal container " + id + " to start");
  if (recv_sync(conn.get()) != SyncType{}) fail("unexpected message from container " + id);
  Spec spec = parse_spec(s.config, s.bundle);
  run_parent_hooks(spec.hooks.poststart, hook_state(s, "running"), "poststart", false);
}

int run_container(const CreateOptions& o) {
  Cleanup cleanup;
  Created c = do_create(o, true, cleanup);
  // Forward the usual job-control and termination signals to the container.
  g_forward_pid = c.pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaction(sig, &sa, nullptr);
  std::string hs = hook_state(c.state, "running");
  send_sync(c.sync, SyncType::kStart, &hs);
  if (recv_sync(c.sync) != SyncType{}) fail("unexpected message from container " + o.id);
  close(c.sync);
  cleanup.armed = false;
  run_parent_hooks(c.spec.hooks.poststart, hs, "poststart", false);
  if (o.detach) return 0;
  if (c.master) {
    fs::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, c.pid, 0)));
    if (!pidfd) throw_errno("pidfd_open");
    relay_pty(c.master.get(), pidfd.get());
  }
  int st = 0;
  while (waitpid(c.pid, &st, 0) < 0) {
    if (errno != EINTR) throw_errno("wait for container " + o.id);
  }
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (!o.keep) remove_container(c.dir, c.state, &c.spec, true);
  return code;
}

}  // namespace ocikit::run
