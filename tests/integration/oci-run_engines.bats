#!/usr/bin/env bats
# Real engines driving oci-run in place of runc: podman (cgroupfs, private
# --root/--runroot, vfs storage) and a containerd started here with private
# socket and state directories. Images come from a busybox-static rootfs.
#
# Both engines always ask for cgroup resources, so these tests need the
# cgroup manager (lib/common/cgroup, see `oci-run features`) and skip without it.

load oci-run_helpers

setup() {
  skip_unless_root
  require_cmd jq busybox
  "$OCI_RUN" features | jq -e '.linux.cgroup.v1 or .linux.cgroup.v2' >/dev/null ||
    [ -n "${OCIKIT_TEST_FORCE_ENGINES:-}" ] || skip "oci-run has no cgroup manager yet"
  TMP=$(mktemp -d /tmp/okt-runtime-XXXXXX)
  ROOT=$TMP/state
  make_busybox_rootfs "$TMP/rootfs"
  tar -C "$TMP/rootfs" -cf "$TMP/bb.tar" .
  SECCOMP=()
  "$OCI_RUN" features | jq -e '.linux.seccomp.enabled' >/dev/null || SECCOMP=(--security-opt seccomp=unconfined)
}

teardown() {
  [ -n "${TMP:-}" ] || return 0
  if [ -f "$TMP/ctd.pid" ]; then
    kill "$(cat "$TMP/ctd.pid")" 2>/dev/null || true
    sleep 0.5
  fi
  if [ -d "$TMP/podroot" ]; then
    pod rm -af -t 0 >/dev/null 2>&1 || true
    pod system reset -f >/dev/null 2>&1 || true
  fi
  grep -o " $TMP[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$TMP"
}

pod() {
  podman --root "$TMP/podroot" --runroot "$TMP/podrun" --storage-driver vfs \
    --runtime "$OCI_RUN" --cgroup-manager cgroupfs "$@"
}

podrun() {
  pod run "${SECCOMP[@]}" --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 "$@"
}

@test "podman runs, execs into, stops and removes containers through oci-run" {
  require_cmd podman
  pod import -q "$TMP/bb.tar" okt-runtime-bb >/dev/null
  run podrun --rm okt-runtime-bb sh -c 'echo hi-from-podman; exit 4'
  [ "$status" -eq 4 ]
  [ "$output" = hi-from-podman ]
  podrun -d --name okt-runtime-p1 --memory 64m --pids-limit 100 okt-runtime-bb sleep 100
  run pod exec okt-runtime-p1 sh -c 'echo in-exec; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = in-exec ]
  run pod exec -t okt-runtime-p1 tty
  [[ "$output" == /dev/pts/* ]]
  if "$OCI_RUN" features | jq -e '.linux.cgroup.v1' >/dev/null; then
    pod pause okt-runtime-p1
    [ "$(pod inspect -f '{{.State.Status}}' okt-runtime-p1)" = paused ]
    pod unpause okt-runtime-p1
  fi
  pod stop -t 1 okt-runtime-p1
  pod rm okt-runtime-p1
  run podrun --rm -t okt-runtime-bb tty
  [[ "$output" == /dev/pts/* ]]
}

@test "podman --read-only (tmpcopyup tmpfs mounts) and --network none (loopback up) run through oci-run" {
  require_cmd podman
  pod import -q "$TMP/bb.tar" okt-runtime-bb >/dev/null
  # --read-only makes /tmp, /var/tmp and /run tmpfs mounts with tmpcopyup.
  run podrun --rm --read-only okt-runtime-bb sh -c 'touch /tmp/ok && echo tmp-writable; touch /etc/x 2>/dev/null || echo root-read-only'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'tmp-writable\nroot-read-only')" ]
  run podrun --rm --tmpfs /etc:rw,tmpcopyup okt-runtime-bb sh -c 'head -1 /etc/passwd'
  [ "$status" -eq 0 ]
  [[ "$output" == root:* ]]
  run podrun --rm --network none okt-runtime-bb sh -c 'cat /sys/class/net/lo/flags; nc -l -p 7071 -e echo pong & sleep 0.3; echo ping | nc 127.0.0.1 7071'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '0x9\npong')" ]
}

@test "containerd runs, execs, kills and deletes tasks with oci-run as its runc binary" {
  require_cmd containerd ctr script podman
  mkdir -p "$TMP/ctd"
  cat >"$TMP/ctd/config.toml" <<TOML
version = 2
root = "$TMP/ctd/root"
state = "$TMP/ctd/state"
[grpc]
  address = "$TMP/ctd/c.sock"
[ttrpc]
  address = "$TMP/ctd/t.sock"
[debug]
  address = ""
[metrics]
  address = ""
TOML
  containerd --config "$TMP/ctd/config.toml" >"$TMP/ctd/log" 2>&1 &
  echo $! >"$TMP/ctd.pid"
  for _ in $(seq 50); do [ -S "$TMP/ctd/c.sock" ] && break; sleep 0.1; done
  c() { ctr --address "$TMP/ctd/c.sock" -n okt-runtime "$@"; }
  # An OCI archive of the busybox rootfs (podman writes one from the tar).
  pod import -q "$TMP/bb.tar" okt-runtime-bb >/dev/null
  pod save -q --format oci-archive -o "$TMP/bb-oci.tar" okt-runtime-bb
  c images import --index-name okt-runtime/bb:latest "$TMP/bb-oci.tar" >/dev/null
  run c run --rm --runc-binary "$OCI_RUN" okt-runtime/bb:latest okt-runtime-c1 sh -c 'echo hi-ctr; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = hi-ctr ]
  c run -d --runc-binary "$OCI_RUN" okt-runtime/bb:latest okt-runtime-c2 sleep 100
  run c task exec --exec-id e1 okt-runtime-c2 sh -c 'echo exec-ctr; exit 2'
  [ "$status" -eq 2 ]
  [ "$output" = exec-ctr ]
  c task kill -s KILL okt-runtime-c2
  for _ in $(seq 50); do c task ls | grep -q 'okt-runtime-c2.*STOPPED' && break; sleep 0.1; done
  c task delete okt-runtime-c2
  c container delete okt-runtime-c2
  run script -qec "ctr --address $TMP/ctd/c.sock -n okt-runtime run --rm -t --runc-binary $OCI_RUN okt-runtime/bb:latest okt-runtime-c3 tty" /dev/null </dev/null
  [[ "$output" == */dev/pts/* ]]
}
