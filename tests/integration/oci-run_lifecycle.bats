#!/usr/bin/env bats
# oci-run as a runc-compatible runtime: lifecycle, state, exit codes, kill,
# delete, exec, list, spec and features.

load oci-run_helpers

setup() { oci_run_setup; }
teardown() { oci_run_teardown; }

@test "run returns the container's exit code and removes its state" {
  set_args sh -c 'exit 7'
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -eq 7 ]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "run prints the process's output and returns 128+signal when killed" {
  set_args sh -c 'echo hello-from-container; exec sleep 100'
  (sleep 0.5; ocirun kill "$ID" KILL) &
  run ocirun run -b "$BUNDLE" "$ID"
  wait
  [ "$status" -eq 137 ]
  [ "${lines[0]}" = "hello-from-container" ]
}

@test "create, state, start, kill, delete follow the runc state machine" {
  set_args sleep 100
  ocirun create -b "$BUNDLE" --pid-file "$TMP/pid" "$ID"
  run ocirun state "$ID"
  [ "$status" -eq 0 ]
  [ "$(jq -r .status <<<"$output")" = created ]
  [ "$(jq -r .id <<<"$output")" = "$ID" ]
  [ "$(jq -r .pid <<<"$output")" = "$(cat "$TMP/pid")" ]
  [ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
  [ "$(jq -r .ociVersion <<<"$output")" != null ]
  ocirun start "$ID"
  [ "$(ocirun state "$ID" | jq -r .status)" = running ]
  run ocirun delete "$ID"
  [ "$status" -ne 0 ]
  ocirun kill "$ID" KILL
  for _ in $(seq 50); do [ "$(ocirun state "$ID" | jq -r .status)" = stopped ] && break; sleep 0.1; done
  [ "$(ocirun state "$ID" | jq -r .status)" = stopped ]
  ocirun delete "$ID"
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "a created container does not run its process before start" {
  set_args sh -c 'echo started >/tmp/marker'
  cfg '.root.readonly=false'
  ocirun create -b "$BUNDLE" "$ID"
  sleep 0.2
  [ ! -e "$BUNDLE/rootfs/tmp/marker" ]
  ocirun start "$ID"
  for _ in $(seq 50); do [ -e "$BUNDLE/rootfs/tmp/marker" ] && break; sleep 0.1; done
  [ "$(cat "$BUNDLE/rootfs/tmp/marker")" = started ]
}

@test "kill takes signal names and numbers, delete -f stops a running container" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  run ocirun kill "$ID" NOSUCHSIG
  [ "$status" -ne 0 ]
  ocirun kill "$ID" 0
  ocirun kill "$ID" SIGCONT
  ocirun delete -f "$ID"
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "kill signals init only, kill --all every process of the container" {
  cfg '.root.readonly=false'
  cat >"$BUNDLE/rootfs/worker.sh" <<'SH'
trap 'touch /tmp/got.$$; exit 0' USR1
touch /tmp/ready.$$
while :; do sleep 0.1; done
SH
  cat >"$BUNDLE/rootfs/init.sh" <<'SH'
for i in 1 2 3; do sh /worker.sh & done
trap 'touch /tmp/got.init' USR1
while :; do sleep 0.1; done
SH
  set_args sh /init.sh
  ocirun run -d -b "$BUNDLE" "$ID"
  t=$BUNDLE/rootfs/tmp
  count() { ls "$t" | grep -c "^$1" || true; }
  for _ in $(seq 50); do [ "$(count 'ready\.')" -eq 3 ] && break; sleep 0.1; done
  [ "$(count 'ready\.')" -eq 3 ]
  ocirun kill "$ID" USR1
  for _ in $(seq 50); do [ -e "$t/got.init" ] && break; sleep 0.1; done
  [ -e "$t/got.init" ]
  [ "$(count 'got\.[0-9]')" -eq 0 ]
  rm "$t/got.init"
  ocirun kill --all "$ID" USR1
  for _ in $(seq 50); do [ "$(count 'got\.[0-9]')" -eq 3 ] && [ -e "$t/got.init" ] && break; sleep 0.1; done
  [ "$(count 'got\.[0-9]')" -eq 3 ]
  [ -e "$t/got.init" ]
}

@test "kill of a stopped container says 'container not running' (as runc); kill --all still kills what is left in its cgroup" {
  # containerd's shim matches runc's words to treat the kill as done, and
  # after init exits it runs kill --all for the processes init left (in a
  # container sharing another pid namespace they outlive it).
  cfg '.root.readonly=false | .linux.cgroupsPath="/okt-runtime-kill-'"$$"'" | .linux.namespaces |= map(select(.type != "pid"))'
  set_args sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! >/tmp/child; exec sleep 2000'
  ocirun run -d -b "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1
  for _ in $(seq 50); do [ -s "$BUNDLE/rootfs/tmp/child" ] && break; sleep 0.1; done
  child=$(cat "$BUNDLE/rootfs/tmp/child")
  ocirun kill "$ID" KILL
  for _ in $(seq 50); do [ "$(ocirun state "$ID" | jq -r .status)" = stopped ] && break; sleep 0.1; done
  [ "$(ocirun state "$ID" | jq -r .status)" = stopped ]
  kill -0 "$child"
  run ocirun kill "$ID" TERM
  [ "$status" -ne 0 ]
  [[ "$output" == *"container not running"* ]]
  ocirun kill --all "$ID" KILL
  for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$child" 2>/dev/null
  ocirun delete "$ID"
  [ ! -e "/sys/fs/cgroup/pids/okt-runtime-kill-$$" ] || [ ! -e "/sys/fs/cgroup/okt-runtime-kill-$$" ]
}

@test "list shows containers as a table and as JSON" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  run ocirun list
  [[ "$output" == *"$ID"* ]]
  run ocirun list --format json
  [ "$(jq -r '.[0].id' <<<"$output")" = "$ID" ]
  [ "$(jq -r '.[0].status' <<<"$output")" = running ]
}

@test "exec runs in the container's namespaces and returns the exit code" {
  set_args sleep 100
  cfg '.hostname="okt-exec-host"'
  ocirun run -d -b "$BUNDLE" "$ID"
  run ocirun exec "$ID" hostname
  [ "$status" -eq 0 ]
  [ "$output" = okt-exec-host ]
  run ocirun exec "$ID" sh -c 'exit 5'
  [ "$status" -eq 5 ]
  run ocirun exec --cwd /tmp --env OKT_X=42 "$ID" sh -c 'echo $PWD $OKT_X'
  [ "$output" = "/tmp 42" ]
  run ocirun exec --user 65534:65534 "$ID" id -u
  [ "$output" = 65534 ]
  # The init is pid 1 in the container's pid namespace.
  run ocirun exec "$ID" cat /proc/1/cmdline
  [[ "$output" == sleep* ]]
}

@test "exec --process runs a process.json" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  jq '.process | .args=["sh","-c","echo from-process-json"] | .terminal=false' "$BUNDLE/config.json" >"$TMP/process.json"
  run ocirun exec --process "$TMP/process.json" "$ID"
  [ "$status" -eq 0 ]
  [ "$output" = from-process-json ]
}

@test "a missing command fails create with a one-line error" {
  set_args /no/such/binary
  run sh -c '"$0" --root "$1" create -b "$2" "$3" 2>&1 || echo create-failed' "$OCI_RUN" "$ROOT" "$BUNDLE" "$ID"
  [[ "$output" == *create-failed* ]]
  [[ "$output" == *"/no/such/binary"* ]]
  run ocirun state "$ID"
  [ "$status" -ne 0 ]
}

@test "a malformed config.json is a one-line error naming the file" {
  echo '{"ociVersion": ' >"$BUNDLE/config.json"
  run ocirun create -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$OCI_RUN" == *runc* ]] || [[ "$output" == *config.json* ]]
  [ -z "$(ls -A "$ROOT" 2>/dev/null)" ]
}

@test "a duplicate id is refused" {
  set_args sleep 100
  ocirun run -d -b "$BUNDLE" "$ID"
  run ocirun create -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [[ "$OCI_RUN" == *runc* ]] || [[ "$output" == *"$ID"* ]]
}

@test "spec writes a valid config.json and features lists the hooks" {
  [ "$(jq -r .root.path "$BUNDLE/config.json")" = rootfs ]
  run "$OCI_RUN" features
  [ "$status" -eq 0 ]
  [ "$(jq -r '.hooks | index("createRuntime") != null' <<<"$output")" = true ]
}
