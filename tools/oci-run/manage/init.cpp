// oci-run-init: the tiny PID 1 of `oci-run run --init` (bind-mounted at
// /dev/init). It forks the command, forwards every signal it gets to it,
// reaps all zombies (orphans are re-parented to PID 1) and exits with the
// command's status (128+signal when it was killed). Static, C library only,
// so it runs in any image.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int first = (argc > 1 && strcmp(argv[1], "--") == 0) ? 2 : 1;
  if (first >= argc) {
    fprintf(stderr, "oci-run-init: usage: oci-run-init [--] COMMAND [ARG...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("oci-run-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    execvp(argv[first], argv + first);
    int e = errno;
    fprintf(stderr, "oci-run-init: exec %s: %s\n", argv[first], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status = 0;
      pid_t p = waitpid(-1, &status, WNOHANG);
      if (p <= 0) break;
      if (p == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}
