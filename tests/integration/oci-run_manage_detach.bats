#!/usr/bin/env bats
# oci-run run -d: the monitor, logs (-f, --tail, --timestamps), stop, kill,
# restart policies, ps after a killed monitor, docker-style exec, -i/-t/-it
# through a real pty, --init.
load oci-run_manage_helpers

@test "manage: -d, logs -f follows, stop ends it and logs keep it" {
  run R run -d --name web "$IMG" sh -c 'trap "echo got-term; exit 0" TERM; echo start; echo oops >&2; while true; do sleep 0.1; done'
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  id=$output
  wait_until sh -c "'$OCI_RUN' --root '$ROOT' logs web | grep -q start"
  run R ps --format json
  [ "$(jq -r .State <<<"$output")" = running ]
  [ "$(jq -r .ID <<<"$output")" = "${id:0:12}" ]
  # logs -f returns once the container stops
  R logs -f web >"$T/follow" 2>&1 &
  follow=$!
  run R stop -t 5 web
  [ "$status" -eq 0 ]
  wait "$follow"
  grep -q start "$T/follow" && grep -q oops "$T/follow" && grep -q got-term "$T/follow"
  run R logs web
  [[ "$output" == *got-term* ]]
  run R logs --tail 1 --timestamps web
  [[ "$output" =~ ^20[0-9-]+T[0-9:.]+Z\ got-term$ ]]
  # stderr lines go to stderr
  [ "$(R logs web 2>/dev/null | grep -c oops)" -eq 0 ]
  [ "$(jq -r 'select(.stream == "stderr") | .log' "$OCIKIT_STATE_DIR/containers/$id/$id-json.log")" = oops ]
  run R inspect web
  [ "$(jq -r '.[0].State.Status' <<<"$output")" = exited ]
  [ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 0 ]
  # stopped: no mount left
  ! grep -q " $T" /proc/self/mounts
  # start again, then stop with SIGKILL after the timeout (sh ignores nothing here: use a TERM-proof loop)
  run R start web
  [ "$status" -eq 0 ]
  run R ps -q
  [ "$output" = "${id:0:12}" ]
  run R rm web
  [ "$status" -ne 0 ]
  run R rm -f web
  [ "$status" -eq 0 ]
  no_leftovers
}

@test "manage: stop sends SIGKILL after the timeout; kill -s; wait returns the code" {
  R run -d --name stubborn "$IMG" sh -c 'trap "" TERM; while true; do sleep 0.1; done' >/dev/null
  run R stop -t 1 stubborn
  [ "$status" -eq 0 ]
  run R wait stubborn
  [ "$output" = 137 ]
  # PID 1 ignores SIGTERM without a handler: --init forwards it to sleep
  R run -d --init --name k "$IMG" sleep 100 >/dev/null
  run R kill -s TERM k
  [ "$status" -eq 0 ]
  run R wait k
  [ "$output" = 143 ]
}

@test "manage: restart policy on-failure:N and always; stop ends it" {
  R run -d --name crash --restart on-failure:2 "$IMG" sh -c 'echo ran; exit 4' >/dev/null
  run R wait crash
  [ "$output" = 4 ]
  run R inspect crash
  [ "$(jq -r '.[0].RestartCount' <<<"$output")" = 2 ]
  [ "$(R logs crash | grep -c ran)" -eq 3 ]
  R run -d --name ok --restart on-failure "$IMG" true >/dev/null
  run R wait ok
  [ "$output" = 0 ]
  [ "$(R inspect ok | jq -r '.[0].RestartCount')" = 0 ]
  R run -d --name loop --restart always "$IMG" sh -c 'echo again; sleep 0.2' >/dev/null
  wait_until sh -c "[ \$('$OCI_RUN' --root '$ROOT' logs loop | grep -c again) -ge 2 ]"
  run R stop -t 1 loop
  [ "$status" -eq 0 ]
  run R ps -a --format json
  [ "$(jq -r 'select(.Names == "loop") | .State' <<<"$output")" = exited ]
  run R run --rm --restart always "$IMG" true
  [ "$status" -eq 125 ]
}

@test "manage: ps tells the truth after the monitor is killed; rm -f cleans up" {
  R run -d --name orphan "$IMG" sleep 100 >/dev/null
  id=$(R ps -q --no-trunc)
  mon=$(jq -r .monitor_pid "$OCIKIT_STATE_DIR/containers/$id/record.json")
  [ "$mon" -gt 0 ]
  kill -9 "$mon"
  wait_until sh -c "! kill -0 $mon 2>/dev/null"
  run R ps -a --format json
  [ "$(jq -r .State <<<"$output")" = exited ]
  run R rm -f orphan
  [ "$status" -eq 0 ]
  no_leftovers
}

@test "manage: exec -e -u -w, exit codes, exec -t gets a pty" {
  R run -d --name ex "$IMG" sleep 100 >/dev/null
  run R exec -e FOO=bar -u nobody -w /tmp ex sh -c 'echo $FOO $(id -u) $PWD'
  [ "$status" -eq 0 ]
  [ "$output" = "bar 65534 /tmp" ]
  run R exec ex sh -c 'exit 9'
  [ "$status" -eq 9 ]
  run -127 R exec ex /no/such
  [ "$status" -eq 127 ]
  require_cmd script
  run script -qec "'$OCI_RUN' --root '$ROOT' exec -t ex tty" /dev/null
  [[ "$output" == */dev/pts/* ]]
  run R exec nosuch true
  [ "$status" -ne 0 ]
}

@test "manage: -i feeds stdin, -t and -it run on a pty" {
  require_cmd script
  run sh -c "printf 'echo in-\$((6*7))\nexit 5\n' | '$OCI_RUN' --root '$ROOT' run -i --rm '$IMG' sh"
  [ "$status" -eq 5 ]
  [ "$output" = in-42 ]
  run script -qec "'$OCI_RUN' --root '$ROOT' run --rm -t '$IMG' sh -c 'tty; exit 3'" /dev/null
  [ "$status" -eq 3 ]
  [[ "$output" == */dev/pts/* ]]
  # -it: the shell reads the terminal (input is typed once it runs)
  run sh -c "(sleep 2; printf 'echo it-\$((6*7))\n'; sleep 1; printf 'exit 6\n'; sleep 1) | script -qec \"'$OCI_RUN' --root '$ROOT' run --rm -it '$IMG' sh\" /dev/null"
  [ "$status" -eq 6 ]
  [[ "$output" == *it-42* ]]
  no_leftovers
}

@test "manage: --init runs a reaping init as PID 1" {
  run R run --rm --init "$IMG" sh -c 'cat /proc/1/cmdline | tr "\0" " "; exit 7'
  [ "$status" -eq 7 ]
  [[ "$output" == "/dev/init -- sh"* ]]
  run R run --rm --network none --pids-limit 50 --memory 64m --cpus 0.5 "$IMG" true
  [ "$status" -eq 0 ]
}
