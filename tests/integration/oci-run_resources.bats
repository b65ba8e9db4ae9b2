#!/usr/bin/env bats
# oci-run with lib/common's cgroup and seccomp modules: linux.seccomp
# profiles, linux.resources limits seen inside the container and in the
# host's cgroup files, ps, pause/resume, events --stats, update, kill --all
# and cgroup removal on delete. Works against runc too:
# OCI_RUN=runc bats tests/integration/oci-run_resources.bats

load oci-run_helpers

setup() {
  oci_run_setup
  CG=/okt-rt2-$$-$BATS_TEST_NUMBER-$RANDOM
  cfg ".linux.cgroupsPath=\"$CG\""
}

teardown() {
  oci_run_teardown
  # Leftover cgroups of a failed test (children first, every hierarchy).
  local d
  for d in /sys/fs/cgroup/*/"${CG#/}" /sys/fs/cgroup/unified/"${CG#/}"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
}

# cgdir CONTROLLER: the container's cgroup directory of a v1 controller
# (or "unified").
cgdir() { echo "/sys/fs/cgroup/$1$CG"; }

# wait_status STATUS: poll `state` until the container reaches STATUS.
wait_status() {
  local _
  for _ in $(seq 50); do [ "$(ocirun state "$ID" | jq -r .status)" = "$1" ] && return 0; sleep 0.1; done
  [ "$(ocirun state "$ID" | jq -r .status)" = "$1" ]
}

# A profile: allow everything, mkdir/mkdirat fail with EPERM.
mkdir_eperm='{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}'

@test "seccomp: mkdir fails with EPERM under noNewPrivileges" {
  cfg ".linux.seccomp=$mkdir_eperm | .process.noNewPrivileges=true"
  set_args sh -c 'mkdir /tmp/x 2>&1; echo rc=$?; echo still-alive'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Operation not permitted"* ]]
  [[ "$output" == *"rc=1"* ]]
  [[ "$output" == *still-alive* ]]
}

@test "seccomp: the filter loads without noNewPrivileges and without CAP_SYS_ADMIN" {
  cfg ".linux.seccomp=$mkdir_eperm | .process.noNewPrivileges=false"
  cfg '.process.capabilities |= with_entries(.value = ["CAP_CHOWN","CAP_KILL","CAP_SETUID","CAP_SETGID"])'
  set_args sh -c 'grep -E "^(NoNewPrivs|Seccomp|CapEff):" /proc/self/status; mkdir /tmp/x 2>&1; echo rc=$?'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Operation not permitted"* ]]
  [[ "$output" == *"rc=1"* ]]
  [[ "$output" =~ NoNewPrivs:[[:space:]]+0 ]]
  [[ "$output" =~ Seccomp:[[:space:]]+2 ]]
  # CAP_CHOWN|CAP_KILL|CAP_SETGID|CAP_SETUID = bits 0,5,6,7
  [[ "$output" =~ CapEff:[[:space:]]+00000000000000e1 ]]
}

@test "seccomp: without a profile mkdir works (the test above can fail)" {
  cfg '.root.readonly=false | del(.linux.seccomp)'
  set_args sh -c 'mkdir /tmp/x && echo made'
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -eq 0 ]
  [ "$output" = made ]
}

@test "seccomp: the default profile lets busybox sh work" {
  helper=${OCIKIT_BUILD_ROOT:-}/tools/oci-run/seccomp-default-profile
  [ -x "$helper" ] || skip "no $helper (run through meson test or set OCIKIT_BUILD_ROOT)"
  "$helper" >"$TMP/default.json"
  cfg ".linux.seccomp=$(cat "$TMP/default.json")"
  set_args sh -c 'echo a | wc -c; ls / >/dev/null && id -u; (sleep 0.01 &) ; wait; echo ok'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = ok ]
}

@test "seccomp: a malformed profile is a one-line error and leaves no state or cgroup" {
  cfg '.linux.seccomp={"defaultAction":"SCMP_ACT_NOPE","syscalls":[]}'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *SCMP_ACT_NOPE* || "$output" == *defaultAction* ]]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
  [ -z "$(ocirun list -q)" ]
  [ ! -d "$(cgdir memory)" ]
  [ ! -d "$(cgdir pids)" ]
  [ ! -d "$(cgdir unified)" ]
}

@test "cgroups: memory, pids and cpu limits are in the host's cgroup files and delete removes them" {
  cfg '.linux.resources.memory={"limit":67108864} | .linux.resources.pids={"limit":20} | .linux.resources.cpu={"shares":512}'
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  [ "$(cat "$(cgdir memory)/memory.limit_in_bytes")" -eq 67108864 ]
  [ "$(cat "$(cgdir pids)/pids.max")" -eq 20 ]
  [ "$(cat "$(cgdir cpu)/cpu.shares")" -eq 512 ]
  pid=$(ocirun state "$ID" | jq -r .pid)
  grep -qx "$pid" "$(cgdir memory)/cgroup.procs"
  ocirun delete -f "$ID"
  [ ! -d "$(cgdir memory)" ]
  [ ! -d "$(cgdir pids)" ]
  [ ! -d "$(cgdir cpu)" ]
  [ ! -d "$(cgdir freezer)" ]
}

@test "cgroups: a pids limit stops a fork bomb" {
  cfg '.linux.resources.pids={"limit":5}'
  set_args sh -c 'n=0; for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo started; kill $(jobs -p) 2>/dev/null; true'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [[ "$output" == *"Resource temporarily unavailable"* || "$output" == *"can't fork"* ]]
}

@test "cgroups: the memory limit is enforced inside the container" {
  cfg '.linux.resources.memory={"limit":16777216,"swap":16777216}'
  # 64 MiB of data kept in a shell variable: the kernel's OOM killer ends it.
  set_args sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived ${#x}'
  run ocirun run -b "$BUNDLE" "$ID"
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" != *survived* ]]
}

@test "ps lists the container's processes (table and json)" {
  set_args sh -c 'sleep 100 & exec sleep 101'
  ocirun run -d -b "$BUNDLE" "$ID"
  pid=$(ocirun state "$ID" | jq -r .pid)
  for _ in $(seq 50); do [ "$(ocirun ps --format json "$ID" | jq length)" -eq 2 ] && break; sleep 0.1; done
  run ocirun ps --format json "$ID"
  [ "$status" -eq 0 ]
  [ "$(jq length <<<"$output")" -eq 2 ]
  jq -e "index($pid) != null" <<<"$output"
  run ocirun ps "$ID"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *PID* ]]
  [[ "$output" == *"$pid"* ]]
  [[ "$output" == *sleep* ]]
}

@test "pause and resume freeze and thaw the container" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  ocirun pause "$ID"
  [ "$(ocirun state "$ID" | jq -r .status)" = paused ]
  grep -q FROZEN "$(cgdir freezer)/freezer.state"
  run ocirun pause "$ID"
  [ "$status" -ne 0 ]
  ocirun resume "$ID"
  [ "$(ocirun state "$ID" | jq -r .status)" = running ]
  grep -q THAWED "$(cgdir freezer)/freezer.state"
  run ocirun resume "$ID"
  [ "$status" -ne 0 ]
  # delete -f of a paused container works and removes its cgroups.
  ocirun pause "$ID"
  ocirun delete -f "$ID"
  [ ! -d "$(cgdir freezer)" ]
}

@test "events --stats prints one JSON event with memory and pids" {
  cfg '.linux.resources.memory={"limit":67108864} | .linux.resources.pids={"limit":20}'
  set_args sh -c 'sleep 100 & exec sleep 101'
  ocirun run -d -b "$BUNDLE" "$ID"
  for _ in $(seq 50); do [ "$(cat "$(cgdir pids)/pids.current")" -ge 2 ] && break; sleep 0.1; done
  run ocirun events --stats "$ID"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(jq -r .type <<<"$output")" = stats ]
  [ "$(jq -r .id <<<"$output")" = "$ID" ]
  [ "$(jq -r .data.pids.current <<<"$output")" -eq 2 ]
  [ "$(jq -r .data.pids.limit <<<"$output")" -eq 20 ]
  [ "$(jq -r .data.memory.usage.limit <<<"$output")" -eq 67108864 ]
  [ "$(jq -r .data.memory.usage.usage <<<"$output")" -gt 0 ]
}

@test "update --resources changes the limits of a running container" {
  cfg '.linux.resources.memory={"limit":67108864} | .linux.resources.pids={"limit":20}'
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  echo '{"memory":{"limit":33554432},"pids":{"limit":10},"cpu":{"shares":256}}' >"$TMP/res.json"
  ocirun update --resources "$TMP/res.json" "$ID"
  [ "$(cat "$(cgdir memory)/memory.limit_in_bytes")" -eq 33554432 ]
  [ "$(cat "$(cgdir pids)/pids.max")" -eq 10 ]
  [ "$(cat "$(cgdir cpu)/cpu.shares")" -eq 256 ]
  echo '{"pids":{"limit":12}}' | ocirun update -r - "$ID"
  [ "$(cat "$(cgdir pids)/pids.max")" -eq 12 ]
  echo 'not json' >"$TMP/bad.json"
  run ocirun update -r "$TMP/bad.json" "$ID"
  [ "$status" -ne 0 ]
  [ "$(cat "$(cgdir pids)/pids.max")" -eq 12 ]
}

@test "update takes runc's limit flags: memory, swap, pids, cpu shares, quota, period, cpuset" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  # runc's spelling; oci-run takes --cpu-shares too (checked below).
  ocirun update --memory 50331648 --memory-swap 100663296 --pids-limit 30 --cpu-share 300 \
    --cpu-period 100000 --cpu-quota 50000 --cpuset-cpus 0 "$ID"
  [ "$(cat "$(cgdir memory)/memory.limit_in_bytes")" -eq 50331648 ]
  [ "$(cat "$(cgdir pids)/pids.max")" -eq 30 ]
  [ "$(cat "$(cgdir cpu)/cpu.shares")" -eq 300 ]
  [ "$(cat "$(cgdir cpu)/cpu.cfs_period_us")" -eq 100000 ]
  [ "$(cat "$(cgdir cpu)/cpu.cfs_quota_us")" -eq 50000 ]
  [ "$(cat "$(cgdir cpuset)/cpuset.cpus")" = 0 ]
  if [ -e "$(cgdir memory)/memory.memsw.limit_in_bytes" ]; then
    [ "$(cat "$(cgdir memory)/memory.memsw.limit_in_bytes")" -eq 100663296 ]
  fi
  if [ "$(basename "$OCI_RUN")" = oci-run ]; then
    ocirun update --cpu-shares 400 "$ID"
    [ "$(cat "$(cgdir cpu)/cpu.shares")" -eq 400 ]
  fi
}

@test "events streams stats every --interval and an oom event, and stops when the container exits" {
  [[ "$OCI_RUN" != *runc* ]] || skip "runc keeps streaming after the container exits"
  cfg '.linux.resources.memory={"limit":16777216,"swap":16777216}'
  # Wait for the events reader (a marker file), overrun the limit once (the
  # OOM killer ends that pipeline, not the container's init), then exit.
  cfg '.root.readonly=false'
  set_args sh -c 'while [ ! -e /tmp/go ]; do sleep 0.1; done; x=$(head -c 67108864 /dev/zero | tr "\0" a); sleep 0.5; echo done'
  ocirun run -d -b "$BUNDLE" "$ID"
  ocirun events --interval 200ms "$ID" >"$TMP/events" &
  ev=$!
  sleep 0.5
  touch "$BUNDLE/rootfs/tmp/go"
  # events returns by itself once the container has stopped.
  for _ in $(seq 100); do kill -0 "$ev" 2>/dev/null || break; sleep 0.1; done
  run kill -0 "$ev"
  [ "$status" -ne 0 ]
  wait "$ev"
  cat "$TMP/events"
  [ "$(jq -r 'select(.type=="stats") | .id' "$TMP/events" | head -1)" = "$ID" ]
  [ "$(jq -r 'select(.type=="stats") | .data.memory.usage.limit' "$TMP/events" | head -1)" -eq 16777216 ]
  [ "$(jq -s 'map(select(.type=="oom")) | length' "$TMP/events")" -ge 1 ]
  run ocirun events --interval 2x "$ID"
  [ "$status" -ne 0 ]
  [ "$(basename "$OCI_RUN")" != oci-run ] || [[ "$output" == *'invalid --interval "2x"'* ]]
}
