#!/usr/bin/env bats
# oci-run's container set-up: namespaces, rootfs, masked and read-only
# paths, users, capabilities, rlimits, sysctl, hooks, terminals, fds.

load oci-run_helpers

setup() { oci_run_setup; }
teardown() { oci_run_teardown; }

# out ARGS...: run the container with these args; $output is its output.
out() {
  set_args "$@"
  run ocirun run -b "$BUNDLE" "$ID"
}

@test "the container has its own pid, uts, net, ipc and mount namespaces" {
  cfg '.hostname="okt-iso"'
  out sh -c 'echo $$; hostname; ls /sys/class/net; cat /proc/mounts | wc -l'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = okt-iso ]
  [ "${lines[2]}" = lo ]
  local self
  for ns in pid uts net ipc mnt; do
    self=$(readlink /proc/self/ns/$ns)
    out readlink /proc/self/ns/$ns
    [ "$output" != "$self" ]
  done
}

@test "a new cgroup namespace is rooted at the container's own cgroup" {
  cfg '.linux.namespaces |= (map(select(.type != "cgroup")) + [{"type":"cgroup"}])'
  out sh -c 'cat /proc/self/cgroup; readlink /proc/self/ns/cgroup'
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" != "$(readlink /proc/self/ns/cgroup)" ]
  # Every hierarchy reads "/" (runc's view), not the host path of the
  # container's cgroup nor a "/.." climb out of the namespace root.
  local n=0 line
  for line in "${lines[@]:0:${#lines[@]}-1}"; do
    [ "${line##*:}" = / ] || { echo "not rooted: $line"; return 1; }
    n=$((n + 1))
  done
  [ "$n" -gt 0 ]
}

@test "a namespace given by path is joined" {
  ip netns add "okt-runtime-$$" || skip "ip netns unavailable"
  cfg ".linux.namespaces |= map(if .type==\"network\" then .path=\"/var/run/netns/okt-runtime-$$\" else . end)"
  want=$(ip netns exec "okt-runtime-$$" readlink /proc/self/ns/net)
  out readlink /proc/self/ns/net
  ip netns del "okt-runtime-$$"
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
}

@test "a user namespace maps the ids in uidMappings and gidMappings" {
  chmod 755 "$TMP" "$BUNDLE"
  chown -R 100000:100000 "$BUNDLE/rootfs"
  cfg '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] | .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]'
  out sh -c 'id -u; cat /proc/self/uid_map'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 0 ]
  [[ "${lines[1]}" == *100000*65536* ]]
}

@test "the rootfs is read-only when root.readonly is set" {
  out sh -c 'touch /x 2>&1; grep " / " /proc/mounts'
  [[ "$output" == *"Read-only file system"* ]]
  [[ "$output" == *" / "*" ro,"* ]]
  cfg '.root.readonly=false'
  out sh -c 'touch /x && echo wrote'
  [ "$output" = wrote ]
}

@test "masked paths are empty and read-only paths cannot be written" {
  [ -e /proc/keys ] || skip "no /proc/keys"
  out sh -c 'wc -c </proc/keys; ls /sys/firmware | wc -l; echo 1 >/proc/sys/kernel/ns_last_pid 2>&1 || echo ro-ok'
  [ "${lines[0]}" = 0 ]
  [ "${lines[1]}" = 0 ]
  [[ "$output" == *ro-ok* ]]
}

@test "mounts honour their options and /dev holds only the default devices" {
  cfg '.mounts += [{"destination":"/data","type":"tmpfs","source":"tmpfs","options":["ro","nosuid","size=1m"]}]'
  out sh -c 'grep " /data " /proc/mounts; ls /dev | tr "\n" " "; test -c /dev/null && echo char-null'
  [[ "${lines[0]}" == *"/data tmpfs ro,nosuid"* ]]
  [[ "$output" == *char-null* ]]
  [[ "$output" != *sda* ]]
}

@test "a bind mount source and a devices entry appear in the container" {
  mkdir -p "$TMP/host-dir"
  echo host-data >"$TMP/host-dir/f"
  cfg ".mounts += [{\"destination\":\"/mnt/h\",\"type\":\"bind\",\"source\":\"$TMP/host-dir\",\"options\":[\"rbind\",\"ro\"]}] | .linux.devices=[{\"path\":\"/dev/okt-null\",\"type\":\"c\",\"major\":1,\"minor\":3,\"fileMode\":438}]"
  out sh -c 'cat /mnt/h/f; (echo x >/mnt/h/g) 2>/dev/null || echo ro-bind; test -c /dev/okt-null && echo dev-ok'
  [ "${lines[0]}" = host-data ]
  [ "${lines[1]}" = ro-bind ]
  [ "${lines[2]}" = dev-ok ]
}

@test "a mount destination through a symlink stays inside the rootfs" {
  mkdir -p "$TMP/outside"
  ln -s "$TMP/outside" "$BUNDLE/rootfs/escape"
  cfg '.mounts += [{"destination":"/escape/sub","type":"tmpfs","source":"tmpfs","options":["size=1m"]}]'
  out sh -c 'grep -c tmpfs /proc/mounts'
  [ "$status" -eq 0 ]
  # The symlink was resolved inside the rootfs: nothing was created on the host.
  [ ! -e "$TMP/outside/sub" ]
  [ -d "$BUNDLE/rootfs$TMP/outside/sub" ]
}

@test "process user, additionalGids, umask and cwd are applied" {
  cfg '.process.user={"uid":65534,"gid":65534,"additionalGids":[5,6],"umask":63} | .process.cwd="/tmp"'
  out sh -c 'id -u; id -g; id -G; umask; pwd'
  [ "${lines[0]}" = 65534 ]
  [ "${lines[1]}" = 65534 ]
  [[ "${lines[2]}" == *5*6* ]]
  [ "${lines[3]}" = 0077 ]
  [ "${lines[4]}" = /tmp ]
}

@test "capabilities, noNewPrivileges and rlimits are applied" {
  cfg '.process.capabilities={"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"]} | .process.rlimits=[{"type":"RLIMIT_NOFILE","soft":123,"hard":456}]'
  out sh -c 'grep -E "^Cap(Eff|Prm|Bnd)|NoNewPrivs" /proc/self/status; ulimit -n; ulimit -Hn'
  [ "$status" -eq 0 ]
  [[ "$output" == *"CapPrm:	0000000000000021"* ]]
  [[ "$output" == *"CapBnd:	0000000000000021"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
  [ "${lines[4]}" = 123 ]
  [ "${lines[5]}" = 456 ]
}

@test "an unknown capability is refused before anything starts" {
  [[ "$OCI_RUN" != *runc* ]] || skip "runc 1.1 only warns about unknown capabilities"
  cfg '.process.capabilities.bounding += ["CAP_NO_SUCH"]'
  out true
  [ "$status" -ne 0 ]
  [[ "$OCI_RUN" == *runc* ]] || [[ "$output" == *CAP_NO_SUCH* ]]
}

@test "sysctl is set in the container's namespace" {
  cfg '.linux.sysctl={"net.ipv4.ip_forward":"1"}'
  out cat /proc/sys/net/ipv4/ip_forward
  [ "$output" = 1 ]
}

@test "no host fd reaches the container and --preserve-fds passes extra ones" {
  echo preserved >"$TMP/extra"
  out ls /proc/self/fd
  [ "$(echo "$output" | tr '\n' ' ')" = "0 1 2 3 " ]
  set_args cat /proc/self/fd/3
  run ocirun run --preserve-fds 1 -b "$BUNDLE" "$ID" 3<"$TMP/extra"
  [ "$output" = preserved ]
}

@test "hooks get the state on stdin, in order, and a failing hook aborts create" {
  cat >"$TMP/hook" <<HOOK
#!/bin/sh
echo "\$1 \$(cat | jq -r '.id + " " + .status')" >>"$TMP/hooks.log"
HOOK
  chmod +x "$TMP/hook"
  h() { echo "{\"path\":\"$TMP/hook\",\"args\":[\"hook\",\"$1\"]}"; }
  cfg ".hooks={\"prestart\":[$(h prestart)],\"createRuntime\":[$(h createRuntime)],\"poststart\":[$(h poststart)],\"poststop\":[$(h poststop)]}"
  out true
  [ "$status" -eq 0 ]
  run cat "$TMP/hooks.log"
  # runc 1.1 reports other statuses to hooks; compare names and ids there.
  [[ "$OCI_RUN" != *runc* ]] || run cut -d' ' -f1,2 "$TMP/hooks.log"
  [[ "$OCI_RUN" != *runc* ]] || output=$(sed 's/ [a-z]*$//' "$TMP/hooks.log")
  [[ "$OCI_RUN" != *runc* ]] || [ "$output" = "$(printf 'prestart %s\ncreateRuntime %s\npoststart %s\npoststop %s' "$ID" "$ID" "$ID" "$ID")" ]
  [[ "$OCI_RUN" != *runc* ]] || return 0
  # "created" as crun reports it and the runtime-tools suite (hooks_stdin) wants.
  [ "${lines[0]}" = "prestart $ID created" ]
  [ "${lines[1]}" = "createRuntime $ID created" ]
  [ "${lines[2]}" = "poststart $ID running" ]
  [ "${lines[3]}" = "poststop $ID stopped" ]
  cfg ".hooks={\"prestart\":[{\"path\":\"/bin/false\"}]}"
  run ocirun create -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "a hook that runs past its timeout is killed" {
  cfg '.hooks={"createRuntime":[{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}'
  run ocirun create -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
}

@test "a terminal is passed to --console-socket and becomes the container's stdio" {
  require_cmd python3
  cat >"$TMP/recv.py" <<'PY'
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
data = b""
while b"tty-ok" not in data:
    try:
        chunk = os.read(fds[0], 1024)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
print(data.decode(errors="replace"))
PY
  python3 "$TMP/recv.py" "$TMP/console.sock" >"$TMP/console.out" &
  for _ in $(seq 50); do [ -e "$TMP/console.sock.ready" ] && break; sleep 0.1; done
  cfg '.process.terminal=true | .process.args=["sh","-c","tty; test -t 0 && echo tty-ok"]'
  ocirun create --console-socket "$TMP/console.sock" -b "$BUNDLE" "$ID"
  ocirun start "$ID"
  wait
  run cat "$TMP/console.out"
  [[ "$output" == */dev/pts/0* ]]
  [[ "$output" == *tty-ok* ]]
}

@test "a time namespace applies timeOffsets" {
  [ -e /proc/self/ns/time ] || skip "no time namespaces"
  [[ "$OCI_RUN" != *runc* ]] || skip "runc 1.1 has no time namespaces"
  cfg '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets={"boottime":{"secs":86400000,"nanosecs":0}}'
  out cut -d. -f1 /proc/uptime
  [ "$status" -eq 0 ]
  [ "$output" -gt 86400000 ]
}

@test "--no-pivot runs the container from a moved, chrooted rootfs" {
  out sh -c 'echo no-pivot-ok; ls /'
  [ "${lines[0]}" = no-pivot-ok ]
  set_args sh -c 'echo no-pivot-ok; test -e /bin/busybox && echo rootfs'
  run ocirun run --no-pivot -b "$BUNDLE" "$ID"
  [ "${lines[0]}" = no-pivot-ok ]
  [ "${lines[1]}" = rootfs ]
}

@test "process.scheduler and process.ioPriority are applied, a refused policy is a clear error" {
  [[ "$OCI_RUN" != *runc* ]] || skip "runc 1.1 has no process.scheduler or process.ioPriority"
  cfg '.process.scheduler={"policy":"SCHED_BATCH","nice":7} | .process.ioPriority={"class":"IOPRIO_CLASS_IDLE","priority":0}'
  # /proc/self/stat field 19 is the nice value, 41 the policy (SCHED_BATCH is 3).
  out sh -c 'cut -d" " -f19,41 /proc/self/stat; ionice -p $$'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "7 3" ]
  [[ "${lines[1]}" == idle* ]]
  # The container's cpu cgroup gets no real-time budget (cpu.rt_runtime_us 0), so the kernel refuses SCHED_FIFO.
  [ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || skip "no real-time group scheduling"
  cfg '.process.scheduler={"policy":"SCHED_FIFO","priority":10} | del(.process.ioPriority)'
  out true
  [ "$status" -ne 0 ]
  if [ "$(basename "$OCI_RUN")" = oci-run ]; then
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"process.scheduler: sched_setattr"*"Operation not permitted"* ]]
  fi
}

@test "run -t without --console-socket relays the pty to its own terminal, create -t refuses" {
  require_cmd script
  cfg '.process.terminal=true | .process.args=["sh","-c","tty; stty size; test -t 0 && echo tty-ok; exit 3"]'
  # script(1) gives the runtime a terminal of 33 rows and 77 columns; -e returns the child's status.
  run script -qec "stty rows 33 cols 77; $OCI_RUN --root $ROOT run -b $BUNDLE $ID" /dev/null </dev/null
  echo "$output"
  [ "$status" -eq 3 ]
  [[ "$output" == */dev/pts/0* ]]
  [[ "$output" == *"33 77"* ]]
  [[ "$output" == *tty-ok* ]]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
  run ocirun create -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot allocate tty if "*" will detach without setting console socket"* ]]
  run ocirun run -d -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "exec -t without --console-socket relays the pty to its own terminal, exec -t -d refuses" {
  require_cmd script
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  run script -qec "stty rows 21 cols 55; $OCI_RUN --root $ROOT exec -t $ID sh -c 'tty; stty size; test -t 0 && echo tty-ok; exit 4'" /dev/null </dev/null
  echo "$output"
  [ "$status" -eq 4 ]
  [[ "$output" == */dev/pts/* ]]
  [[ "$output" == *"21 55"* ]]
  [[ "$output" == *tty-ok* ]]
  run ocirun exec -t -d "$ID" true
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot allocate tty if "*" will detach without setting console socket"* ]]
  ocirun delete -f "$ID"
}

# The container init's last execve runs the runtime binary again, inside the
# container, as a dumpable process; the exploit holds its /proc/<pid>/exe,
# lets it exit and writes through it. $1: what that exe must read as (the
# private read-only overlayfs view, or the sealed memfd copy).
reexec_cannot_write_runtime() {
  [ "$(basename "$OCI_RUN")" = oci-run ] || skip "checks oci-run's own protection"
  local sum pid lib i
  sum=$(sha256sum <"$OCI_RUN")
  # A dynamically linked runtime needs its libraries in the rootfs to run there.
  for lib in $(ldd "$OCI_RUN" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$BUNDLE/rootfs$(dirname "$lib")" && cp -L "$lib" "$BUNDLE/rootfs$lib"
  done
  # `update -r -` keeps the re-run binary reading stdin.
  set_args /proc/self/exe update -r - okt-none
  mkfifo "$TMP/in"
  exec 7<>"$TMP/in"  # the writer; the container reads a read-only open
  ocirun create -b "$BUNDLE" "$ID" <"$TMP/in" >"$TMP/out" 2>&1
  ocirun start "$ID"
  pid=$(ocirun state "$ID" | jq -r .pid)
  for i in $(seq 100); do grep -q update "/proc/$pid/cmdline" && break; sleep 0.05; done
  tr '\0' ' ' <"/proc/$pid/cmdline"; echo
  grep -q update "/proc/$pid/cmdline"
  run readlink "/proc/$pid/exe"
  echo "$output"
  [[ "$output" == $1 ]]
  # Not the host's file: another device.
  [ "$(stat -L -c %d "/proc/$pid/exe")" != "$(stat -c %d "$OCI_RUN")" ]
  exec 8<"/proc/$pid/exe"
  [ "$(head -c 4 <&8 | tail -c 3)" = ELF ]
  run sh -c "echo x >>/proc/$pid/exe"
  [ "$status" -ne 0 ]
  exec 7>&-
  for i in $(seq 100); do [ "$(ocirun state "$ID" | jq -r .status)" = stopped ] && break; sleep 0.05; done
  [ "$(ocirun state "$ID" | jq -r .status)" = stopped ]
  cat "$TMP/out"
  grep -q "oci-run: error: container okt-none does not exist" "$TMP/out"
  run sh -c 'echo x >>/proc/self/fd/8'
  [ "$status" -ne 0 ]
  run sh -c 'echo x >/proc/self/fd/8'
  [ "$status" -ne 0 ]
  exec 8<&-
  [ "$(sha256sum <"$OCI_RUN")" = "$sum" ]
}

@test "a container whose args[0] is /proc/self/exe re-runs a read-only overlayfs view, never the host binary (CVE-2019-5736)" {
  reexec_cannot_write_runtime '/oci-run'
}

@test "OCIKIT_RUN_SEAL=memfd: the re-run binary is the sealed memfd copy (CVE-2019-5736)" {
  export OCIKIT_RUN_SEAL=memfd
  reexec_cannot_write_runtime '/memfd:oci-run*'
}

@test "where no overlayfs can stack on the binary's directory, the runtime falls back to the sealed memfd copy" {
  [ "$(basename "$OCI_RUN")" = oci-run ] || skip "checks oci-run's own protection"
  # The binary on a writable overlayfs over an overlayfs: a third is past
  # the kernel's stacking depth, so oci-run's private view cannot be mounted.
  mkdir -p "$TMP/l0" "$TMP/e1" "$TMP/m1" "$TMP/u2" "$TMP/w2" "$TMP/m2"
  cp "$OCI_RUN" "$TMP/l0/oci-run"
  mount -t overlay overlay -o "lowerdir=$TMP/l0:$TMP/e1" "$TMP/m1"
  mount -t overlay overlay -o "lowerdir=$TMP/m1,upperdir=$TMP/u2,workdir=$TMP/w2" "$TMP/m2"
  cfg '.process.args=["sleep","100"]'
  "$TMP/m2/oci-run" --root "$ROOT" create -b "$BUNDLE" "$ID"
  run readlink "/proc/$(ocirun state "$ID" | jq -r .pid)/exe"
  echo "$output"
  [[ "$output" == /memfd:oci-run* ]]
  "$TMP/m2/oci-run" --root "$ROOT" delete -f "$ID"
}

@test "the runtime binary cannot be reached through /proc/<init>/exe before start (CVE-2019-5736)" {
  [ "$(basename "$OCI_RUN")" = oci-run ] || skip "checks oci-run's own protection"
  cfg '.process.args=["sleep","100"]'
  # Without CAP_SYS_PTRACE the waiting init is non-dumpable: its exe does not open.
  ocirun create -b "$BUNDLE" "$ID"
  run ocirun exec "$ID" sh -c 'cat /proc/1/exe >/dev/null && echo opened'
  [ "$status" -ne 0 ]
  [[ "$output" != *opened* ]]
  ocirun delete -f "$ID"
  # With CAP_SYS_PTRACE the init's exe (the read-only overlayfs view) opens, but never for writing.
  cfg '.process.capabilities.bounding += ["CAP_SYS_PTRACE"] | .process.capabilities.effective += ["CAP_SYS_PTRACE"] | .process.capabilities.permitted += ["CAP_SYS_PTRACE"]'
  ocirun create -b "$BUNDLE" "$ID"
  run ocirun exec "$ID" sh -c 'readlink /proc/1/exe; cat /proc/1/exe | head -c 4 | od -c | head -1; echo x >>/proc/1/exe && echo written'
  echo "$output"
  [[ "$output" == /oci-run* ]]
  [[ "$output" == *E*L*F* ]]
  [[ "$output" != *written* ]]
  ocirun delete -f "$ID"
}
