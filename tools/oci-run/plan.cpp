#include "plan.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"

namespace ocikit::run {
namespace {

std::string rel(const std::string& abs) {
  std::string r = abs;
  while (!r.empty() && r[0] == '/') r.erase(0, 1);
  return r.empty() ? "." : r;
}

// Move `fd` to a descriptor >= min (close-on-exec), so that preserved fds
// 3..3+n-1 and the container's stdio never collide with internal ones.
int fd_above(int fd, int min) {
  if (fd >= min) return fd;
  int n = fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (n < 0) throw_errno("dup fd");
  close(fd);
  return n;
}

struct DefaultDev {
  const char* path;
  unsigned major, minor;
};
constexpr DefaultDev kDefaultDevices[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                                          {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

// runc's checkProcMount: a destination that resolves into /proc (through
// a link in the image too) is refused unless it is procfs on /proc itself,
// one of the files lxcfs-style tools cover, or a bind of something on procfs.
void check_proc_mount(const Mount& m, const std::string& dest) {
  if (dest != "proc" && dest.rfind("proc/", 0) != 0) return;
  if (dest == "proc" && m.type == "proc") return;
  static const char* const kAllowed[] = {
      "proc/cpuinfo", "proc/diskstats", "proc/meminfo",  "proc/stat",    "proc/swaps",
      "proc/uptime",  "proc/loadavg",   "proc/slabinfo", "proc/net/dev", "proc/sys/kernel/ns_last_pid"};
  for (const char* a : kAllowed)
    if (dest == a) return;
  struct statfs sf;
  if (m.bind() && ::statfs(m.source.c_str(), &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) return;
  fail(Errc::invalid,
       "mount " + m.destination + ": destination /" + dest +
           " is inside /proc, which only procfs itself may be mounted on");
}

}  // namespace

PlanStore::PlanStore() : state_buf_(65536), cgroup_buf_(16384) {
  plan.state_buf = state_buf_.data();
  plan.state_cap = state_buf_.size();
  plan.cgroup_buf = cgroup_buf_.data();
  plan.cgroup_cap = cgroup_buf_.size();
}

const char* PlanStore::str(const std::string& s) {
  strs_.push_back(s);
  return strs_.back().c_str();
}

char* const* PlanStore::vec(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(const_cast<char*>(str(s)));
  out.push_back(nullptr);
  vecs_.push_back(std::move(out));
  return vecs_.back().data();
}

void PlanStore::hooks(const std::vector<Hook>& in, std::vector<ChildHook>& out) {
  for (auto& h : in) {
    ChildHook c;
    c.path = str(h.path);
    c.argv = vec(h.args.empty() ? std::vector<std::string>{h.path} : h.args);
    c.envp = vec(h.env);
    c.timeout = h.timeout;
    out.push_back(c);
  }
}

void PlanStore::set_rootfs(const Spec& s, bool no_pivot) {
  plan.rootfs = str(s.root_path);
  root_path_ = s.root_path;
  plan.rootfs_propagation = s.rootfs_propagation;
  plan.readonly_root = s.root_readonly;
  plan.no_pivot = no_pivot;
  plan.no_mntns = s.find_namespace(CLONE_NEWNS) == nullptr;
  bool dev_mounted = false;
  mounts_.reserve(s.mounts.size());
  for (auto& m : s.mounts) {
    ChildMount c;
    // Symlinks in the destination are resolved here as if the rootfs were
    // "/" (a link to /tmp/x means <rootfs>/tmp/x); the child opens the
    // result with RESOLVE_IN_ROOT again, so a path changed since cannot
    // escape either.
    std::string joined = fs::secure_join(s.root_path, m.destination);
    std::string dest = rel(joined.substr(s.root_path.size()));
    check_proc_mount(m, dest);
    c.dest = str(dest);
    c.source = m.source.empty() ? nullptr : str(m.source);
    c.type = m.bind() ? nullptr : str(m.type);
    c.data = m.data.empty() ? nullptr : str(m.data);
    c.flags = m.flags;
    c.clear = m.clear;
    props_.push_back(m.propagation);
    c.propagation = props_.back().data();
    c.n_propagation = static_cast<int>(m.propagation.size());
    c.cgroup = m.type == "cgroup" || m.type == "cgroup2";
    c.tmpcopyup = m.tmpcopyup && m.type == "tmpfs";
    c.rec_set = m.rec_set;
    c.rec_clr = m.rec_clr;
    if (m.destination == "/dev") dev_mounted = true;
    mounts_.push_back(c);
  }
  plan.mounts = mounts_.data();
  plan.n_mounts = static_cast<int>(mounts_.size());
  plan.dev_tmpfs = dev_mounted;
  auto add_dev = [&](const std::string& path, char type, int64_t maj, int64_t min, mode_t mode, uid_t uid, gid_t gid) {
    ChildDevice d;
    d.path = str(rel(path));
    d.host = str(path);
    mode_t t = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
    d.mode = t | (mode & 07777);
    d.dev = makedev(static_cast<unsigned>(maj), static_cast<unsigned>(min));
    d.uid = uid;
    d.gid = gid;
    devices_.push_back(d);
  };
  if (dev_mounted)
    for (auto& d : kDefaultDevices)
      if (std::none_of(s.devices.begin(), s.devices.end(), [&](const Device& x) { return x.path == d.path; }))
        add_dev(d.path, 'c', d.major, d.minor, 0666, 0, 0);
  for (auto& d : s.devices) add_dev(d.path, d.type, d.major, d.minor, d.mode, d.uid, d.gid);
  plan.devices = devices_.data();
  plan.n_devices = static_cast<int>(devices_.size());
  for (auto& p : s.masked_paths) masked_.push_back(str(p));
  for (auto& p : s.readonly_paths) readonly_.push_back(str(p));
  plan.masked = masked_.data();
  plan.n_masked = static_cast<int>(masked_.size());
  plan.readonly = readonly_.data();
  plan.n_readonly = static_cast<int>(readonly_.size());
  for (auto& [k, v] : s.sysctl) {
    std::string p = "/proc/sys/" + k;
    std::replace(p.begin() + 10, p.end(), '.', '/');
    sysctl_paths_.push_back(str(p));
    sysctl_values_.push_back(str(v));
  }
  plan.sysctl_paths = sysctl_paths_.data();
  plan.sysctl_values = sysctl_values_.data();
  plan.n_sysctl = static_cast<int>(sysctl_paths_.size());
  hooks(s.hooks.create_container, create_container_);
  hooks(s.hooks.start_container, start_container_);
  plan.create_container = create_container_.data();
  plan.n_create_container = static_cast<int>(create_container_.size());
  plan.start_container = start_container_.data();
  plan.n_start_container = static_cast<int>(start_container_.size());
  if (!s.hostname.empty()) plan.hostname = str(s.hostname);
  if (!s.domainname.empty()) plan.domainname = str(s.domainname);
  if (s.personality) plan.personality = static_cast<long>(*s.personality);
}

void PlanStore::set_process(const Process& p, const nlohmann::json& linux_seccomp) {
  plan.terminal = p.terminal;
  plan.rows = static_cast<unsigned short>(p.console_height);
  plan.cols = static_cast<unsigned short>(p.console_width);
  plan.uid = p.uid;
  plan.gid = p.gid;
  groups_ = p.additional_gids;
  plan.groups = groups_.data();
  plan.n_groups = static_cast<int>(groups_.size());
  plan.umask = p.umask ? static_cast<int>(*p.umask) : 022;
  plan.cwd = str(p.cwd);
  // The working directory create makes when it is missing: resolved as if
  // the rootfs were "/" (a link to /x means <rootfs>/x), as mount
  // destinations are; the child makes it with RESOLVE_IN_ROOT again.
  if (!root_path_.empty() && p.cwd != "/") {
    std::string joined = fs::secure_join(root_path_, p.cwd);
    plan.cwd_make = str(rel(joined.substr(root_path_.size())));
  }
  plan.argv = vec(p.args);
  plan.envp = vec(p.env);
  for (auto& e : p.env)
    if (e.rfind("PATH=", 0) == 0) plan.path_env = str(e.substr(5));
  for (auto& r : p.rlimits) rlimits_.push_back({r.resource, r.soft, r.hard});
  plan.rlimits = rlimits_.data();
  plan.n_rlimits = static_cast<int>(rlimits_.size());
  plan.no_new_privileges = p.no_new_privileges;
  if (p.oom_score_adj) {
    plan.set_oom = true;
    plan.oom_score_adj = *p.oom_score_adj;
  }
  // A spec without capabilities gets none (runc does the same).
  plan.set_caps = true;
  plan.caps = sec::parse_caps(p.capabilities);
  seccomp_ = sec::compile_seccomp(linux_seccomp);
  plan.seccomp = &seccomp_;
  if (p.scheduler) {
    plan.set_sched = true;
    plan.sched.policy = p.scheduler->policy;
    plan.sched.flags = p.scheduler->flags;
    plan.sched.nice = p.scheduler->nice;
    plan.sched.priority = p.scheduler->priority;
    plan.sched.runtime = p.scheduler->runtime;
    plan.sched.deadline = p.scheduler->deadline;
    plan.sched.period = p.scheduler->period;
  }
  // IOPRIO_PRIO_VALUE(class, data): the class in the top bits (linux/ioprio.h).
  if (p.io_priority) plan.ioprio = (p.io_priority->io_class << 13) | p.io_priority->priority;
}

pid_t spawn_child(PlanStore& store, unsigned long flags, int* sync) {
  ChildPlan& p = store.plan;
  int min = 3 + p.preserve_fds + 8;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  sv[0] = fd_above(sv[0], min);
  sv[1] = fd_above(sv[1], min);
  if (p.console_fd >= 0) p.console_fd = fd_above(p.console_fd, min);
  if (p.start_listen_fd >= 0) p.start_listen_fd = fd_above(p.start_listen_fd, min);
  for (int i = 0; i < p.n_join; i++) p.join_fds[i] = fd_above(p.join_fds[i], min);
  p.sync_fd = sv[1];
  long pid = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    throw_errno("clone", e);
  }
  if (pid == 0) {
    close(sv[0]);
    run_child(p);
  }
  close(sv[1]);
  *sync = sv[0];
  return static_cast<pid_t>(pid);
}

void send_sync(int fd, SyncType t, const std::string* blob) {
  SyncMsg m;
  m.type = t;
  if (send(fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m)) throw_errno("sync with container init");
  if (blob) {
    std::string b = blob->empty() ? std::string("\n") : *blob;
    if (send(fd, b.data(), b.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(b.size()))
      throw_errno("sync with container init");
  }
}

SyncType recv_sync(int fd) {
  SyncMsg m;
  ssize_t n;
  while ((n = recv(fd, &m, sizeof m, 0)) < 0 && errno == EINTR) {
  }
  if (n == 0) return SyncType{};
  if (n != static_cast<ssize_t>(sizeof m)) throw_errno("read from container init");
  if (m.type == SyncType::kError) {
    m.text[sizeof m.text - 1] = 0;
    Errc c = m.kind == SyncErrKind::kNotFound ? Errc::cmd_not_found
        : m.kind == SyncErrKind::kCannotRun   ? Errc::cmd_cannot_run
                                              : Errc::io;
    throw Error(c, m.text, m.err);
  }
  return m.type;
}

void run_parent_hooks(const std::vector<Hook>& hooks, const std::string& state, const std::string& phase, bool fatal) {
  for (auto& h : hooks) {
    PlanStore tmp;
    std::vector<ChildHook> one;
    ChildHook c;
    c.path = h.path.c_str();
    c.argv = tmp.vec(h.args.empty() ? std::vector<std::string>{h.path} : h.args);
    c.envp = tmp.vec(h.env);
    c.timeout = h.timeout;
    char err[512];
    if (run_hook(c, state.data(), state.size(), err, sizeof err) != 0) {
      if (fatal) fail(phase + " hook: " + err);
      log::warn(phase + " hook: " + err);
    }
  }
}

}  // namespace ocikit::run
