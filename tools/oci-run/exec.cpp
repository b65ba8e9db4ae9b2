// exec: a new process inside a running container's namespaces and cgroup.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "container.hpp"
#include "plan.hpp"
#include "state.hpp"
#include "terminal.hpp"

namespace ocikit::run {
namespace {

struct NsName {
  int flag;
  const char* proc;
};
constexpr NsName kNs[] = {{CLONE_NEWUSER, "user"}, {CLONE_NEWNS, "mnt"},  {CLONE_NEWNET, "net"},
                          {CLONE_NEWIPC, "ipc"},   {CLONE_NEWUTS, "uts"}, {CLONE_NEWCGROUP, "cgroup"},
                          {CLONE_NEWPID, "pid"},   {0x80, "time"}};

pid_t g_exec_pid = 0;
void forward(int sig) {
  if (g_exec_pid > 0) kill(g_exec_pid, sig);
}

}  // namespace

int exec_container(const ExecOptions& o) {
  std::string dir = container_dir(o.root, o.id);
  State s = load_state(o.root, o.id);
  std::string status = status_of(dir, s);
  if (status != "running" && status != "created") fail("cannot exec in container " + o.id + ": it is " + status);
  Spec spec = parse_spec(s.config, s.bundle);

  Process p;
  if (!o.process_file.empty()) {
    std::string text = fs::read_file(o.process_file);
    p = with_context(o.process_file, [&] { return parse_process(nlohmann::json::parse(text)); });
  } else {
    if (o.args.empty()) fail(Errc::usage, "exec needs a command (or --process)");
    p = spec.process;
    p.args = o.args;
    p.terminal = o.tty;
  }
  for (auto& e : o.env) p.env.push_back(e);
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    auto colon = o.user.find(':');
    try {
      p.uid = static_cast<uid_t>(std::stoul(o.user.substr(0, colon)));
      if (colon != std::string::npos) p.gid = static_cast<gid_t>(std::stoul(o.user.substr(colon + 1)));
    } catch (const std::exception&) {
      fail(Errc::usage, "invalid --user \"" + o.user + "\" (want UID[:GID])");
    }
  }
  for (auto& g : o.additional_gids) p.additional_gids.push_back(static_cast<gid_t>(std::stoul(g)));
  if (o.no_new_privs) p.no_new_privileges = true;
  if (!o.caps.empty()) {
    if (!p.capabilities.is_object()) p.capabilities = nlohmann::json::object();
    // As runc: never inheritable or ambient, so an exec'd program's own
    // children cannot keep them across execve (CVE-2022-29162).
    for (const char* set : {"bounding", "effective", "permitted"})
      for (auto& c : o.caps) p.capabilities[set].push_back(c);
  }
  // As runc (and `run -t`): a terminal without a console socket is relayed
  // to our stdio in the foreground; nobody could read it after -d returns.
  bool relay_tty = p.terminal && o.console_socket.empty();
  if (relay_tty && o.detach)
    fail(Errc::usage, "cannot allocate tty if oci-run will detach without setting console socket");

  PlanStore store;
  store.plan.exec_mode = true;
  store.plan.preserve_fds = o.preserve_fds;
  store.set_process(p, spec.seccomp);
  // The container's processes are bounded by its init's set, the new one by its own.
  protect_binary(sec::parse_caps(spec.process.capabilities).bounding | store.plan.caps.bounding);
  fs::UniqueFd console, console_recv;
  if (relay_tty) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
    console_recv.reset(sv[0]);
    console.reset(sv[1]);
    store.plan.console_fd = sv[1];
  } else if (p.terminal) {
    // Reuse create's connect helper through a throwaway connection.
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (o.console_socket.size() >= sizeof sa.sun_path) fail(Errc::invalid, "console socket path too long");
    memcpy(sa.sun_path, o.console_socket.c_str(), o.console_socket.size() + 1);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      throw_errno("connect to " + o.console_socket);
    console.reset(fd);
    store.plan.console_fd = fd;
  }
  std::vector<fs::UniqueFd> fds;
  fs::UniqueFd pidns, timens;
  for (auto& n : kNs) {
    if (!spec.find_namespace(n.flag)) continue;
    std::string path = "/proc/" + std::to_string(s.pid) + "/ns/" + n.proc;
    fs::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open " + path);
    if (n.flag == CLONE_NEWPID) pidns = std::move(fd);
    else if (n.flag == 0x80) timens = std::move(fd);
    else fds.push_back(std::move(fd));
  }
  for (auto& f : fds) store.plan.join_fds[store.plan.n_join++] = f.get();
  if (pidns && setns(pidns.get(), CLONE_NEWPID) != 0) throw_errno("join pid namespace");
  if (timens && setns(timens.get(), 0x80) != 0) throw_errno("join time namespace");

  int sync = -1;
  pid_t pid = spawn_child(store, 0, &sync);
  fs::UniqueFd sync_fd(sync);
  bool ok = false;
  struct Reap {
    pid_t pid;
    bool& ok;
    ~Reap() {
      if (!ok) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
    }
  } reap{pid, ok};
  if (s.cgroup_applied) sec::CgroupManager::from_json(s.cgroup).apply(pid);
  std::string cgroup_text;
  try {
    cgroup_text = fs::read_file("/proc/" + std::to_string(pid) + "/cgroup");
  } catch (const Error&) {
  }
  send_sync(sync, SyncType::kGo, &cgroup_text);
  if (recv_sync(sync) != SyncType::kReady) fail("exec process exited before it was ready");
  if (recv_sync(sync) != SyncType{}) fail("unexpected message from the exec process");
  ok = true;
  console.reset();
  fs::UniqueFd master;
  if (console_recv) {
    master.reset(recv_fd(console_recv.get()));
    console_recv.reset();
    copy_window_size(master.get());
  }
  if (!o.pid_file.empty()) fs::write_file_atomic(o.pid_file, std::to_string(pid), 0644);
  if (o.detach) return 0;
  g_exec_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = forward;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaction(sig, &sa, nullptr);
  if (master) {
    fs::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) throw_errno("pidfd_open");
    relay_pty(master.get(), pidfd.get());
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) throw_errno("wait for exec process");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace ocikit::run
