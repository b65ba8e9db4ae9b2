#!/usr/bin/env bats
# Configs other tools write, which runc and crun accept: each runs under
# oci-run and, where the case allows, under runc on the same bundle so that
# a difference shows. The full OCI runtime-tools suite is bench/conformance.sh;
# its smoke version is the last test here.

load oci-run_helpers

setup() { oci_run_setup; }
teardown() { oci_run_teardown; }

# both ARGS...: run the bundle with oci-run, then with runc; $output and
# $status are oci-run's, $runc_output runc's.
both() {
  run ocirun run -b "$BUNDLE" "$ID"
  local st=$status out=$output
  runc_output=
  if command -v runc >/dev/null; then
    runc_output=$(runc --root "$TMP/runc-state" run -b "$BUNDLE" "$ID-runc" 2>&1) || true
  fi
  status=$st output=$out
}

@test "the unmodified config of runc spec runs (ambient capabilities that are not inheritable are skipped)" {
  require_cmd runc
  rm "$BUNDLE/config.json"
  (cd "$BUNDLE" && runc spec)
  # Only what a user edits: the command and no terminal.
  set_args sh -c 'grep -E "^Cap(Amb|Eff)" /proc/self/status'
  [ "$(jq '.process.capabilities.ambient | length' "$BUNDLE/config.json")" -gt 0 ]
  [ "$(jq '.process.capabilities.inheritable // [] | length' "$BUNDLE/config.json")" -eq 0 ]
  both
  [ "$status" -eq 0 ]
  [ "$output" = "$runc_output" ]
  [[ "$output" == *"CapAmb:	0000000000000000"* ]]
}

@test "seccomp: several conditions on one argument mean any of them (Docker's classic personality rule)" {
  cfg '.root.readonly=false | .linux.seccomp={"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[
        {"names":["chmod"],"action":"SCMP_ACT_ERRNO","args":[
          {"index":1,"value":448,"op":"SCMP_CMP_EQ"},{"index":1,"value":457,"op":"SCMP_CMP_EQ"},{"index":1,"value":493,"op":"SCMP_CMP_EQ"}]},
        {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[
          {"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":0,"value":131080,"op":"SCMP_CMP_EQ"}]}]}'
  set_args sh -c 'cd /tmp; touch f; for m in 700 711 755 750; do chmod $m f 2>/dev/null && echo "$m set" || echo "$m refused"; done; linux32 true 2>/dev/null && echo "linux32 ran" || echo "linux32 refused"; linux64 true && echo "linux64 ran"'
  both
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '700 refused\n711 refused\n755 refused\n750 set\nlinux32 refused\nlinux64 ran')" ]
  [ -z "$runc_output" ] || [ "$output" = "$runc_output" ]
}

@test "tmpcopyup: a tmpfs starts with the directory's content, and writes stay in it" {
  mkdir -p "$BUNDLE/rootfs/seed/sub"
  echo original >"$BUNDLE/rootfs/seed/sub/file"
  ln -s sub/file "$BUNDLE/rootfs/seed/link"
  chmod 0750 "$BUNDLE/rootfs/seed"
  chown 12:34 "$BUNDLE/rootfs/seed/sub/file"
  cfg '.mounts += [{"destination":"/seed","type":"tmpfs","source":"tmpfs","options":["nosuid","tmpcopyup","mode=755"]}]'
  set_args sh -c 'cat /seed/link; stat -c "%a %u:%g" /seed /seed/sub/file; echo new >/seed/new; grep " /seed " /proc/mounts | cut -d" " -f3'
  both
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'original\n750 0:0\n644 12:34\ntmpfs')" ]
  [ ! -e "$BUNDLE/rootfs/seed/new" ]
  [ -z "$runc_output" ] || [ "$output" = "$runc_output" ]
}

@test "a new network namespace has its loopback up, as runc and crun leave it" {
  set_args sh -c 'cat /sys/class/net/lo/flags; nc -l -p 7070 -e echo pong & sleep 0.3; echo ping | nc 127.0.0.1 7070'
  both
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 0x9 ]
  [ "${lines[1]}" = pong ]
  [ -z "$runc_output" ] || [ "$output" = "$runc_output" ]
}

@test "a process.cwd missing from the rootfs is made inside the root, also through a symlink" {
  ln -s /made "$BUNDLE/rootfs/abs"
  cfg '.process.cwd="/abs/deep/er"'
  set_args pwd
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -eq 0 ]
  [ "$output" = /made/deep/er ]
  [ -d "$BUNDLE/rootfs/made/deep/er" ]
  [ ! -e /made ]
}

@test "recursive mount options: rro makes every submount read-only" {
  mkdir -p "$TMP/vol/sub" "$TMP/other"
  mount -t tmpfs okt-sub "$TMP/vol/sub"
  cfg ".mounts += [{\"destination\":\"/v\",\"type\":\"bind\",\"source\":\"$TMP/vol\",\"options\":[\"rbind\",\"rro\"]},
                   {\"destination\":\"/w\",\"type\":\"bind\",\"source\":\"$TMP/other\",\"options\":[\"rbind\",\"rnoexec\",\"X-mount.mkdir\"]}]"
  set_args sh -c 'touch /v/sub/x 2>/dev/null && echo writable || echo read-only; grep " /w " /proc/mounts | grep -c noexec'
  run ocirun run -b "$BUNDLE" "$ID"
  umount "$TMP/vol/sub"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'read-only\n1')" ]
}

@test "a namespace path must name a namespace of its type" {
  cfg '.linux.namespaces |= map(if .type == "ipc" then .path = "/proc/self/ns/uts" else . end)'
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"/proc/self/ns/uts is not a ipc namespace"* ]]
}

@test "without a mount namespace the rootfs is entered with chroot in the caller's namespace" {
  cfg '.linux.namespaces |= map(select(.type != "mount"))'
  set_args sh -c 'ls /bin/busybox; readlink /proc/self/ns/mnt'
  # The mounts of such a container land in the caller's namespace (as with
  # runc): give it a private one.
  run unshare -m --propagation private sh -c "readlink /proc/self/ns/mnt; \"$OCI_RUN\" --root \"$ROOT\" run -b \"$BUNDLE\" \"$ID\""
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = /bin/busybox ]
  [ "${lines[2]}" = "${lines[0]}" ]
}

@test "a config without a process is created; start fails, saying so, and the container stops" {
  cfg 'del(.process)'
  ocirun create -b "$BUNDLE" "$ID" >/dev/null 2>&1
  [ "$(ocirun state "$ID" | jq -r .status)" = created ]
  run ocirun start "$ID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"sets no process"* ]]
  for _ in $(seq 50); do [ "$(ocirun state "$ID" | jq -r .status)" = stopped ] && break; sleep 0.1; done
  [ "$(ocirun state "$ID" | jq -r .status)" = stopped ]
  ocirun delete "$ID"
}

@test "runtime-tools validation smoke: a few programs of the suite pass (bench/conformance.sh runs all)" {
  local suite=/var/cache/ocikit/runtime-tools tarball=$OCIKIT_SOURCE_ROOT/../shared/tools/runtime-tools-0105384.tar.gz
  # conformance.sh builds the suite once (about 2 minutes) from upstream's
  # sources, which are not in Debian; without them this test cannot run.
  if [ ! -x "$suite/runtime-tools/runtimetest" ]; then
    [ -f "$tarball" ] || skip "no runtime-tools sources at $tarball (see bench/conformance.sh)"
    command -v go >/dev/null || skip "the runtime-tools suite needs Debian's golang-go to build"
  fi
  run env RT_DIR="$suite" RUNTIMES=oci-run OUT="$TMP/conformance" \
    "$OCIKIT_SOURCE_ROOT/bench/conformance.sh" default linux_seccomp hooks_stdin linux_ns_path linux_masked_paths process_user
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"| oci-run | 6 |"* ]]
}
