#!/usr/bin/env bats
# oci-run health checks as docker's: the image's HEALTHCHECK and run's
# --health-* flags, the state machine (starting -> healthy/unhealthy, the
# failing streak, the last five results), ps STATUS and --filter health=,
# inspect's State.Health, a hanging check killed at its timeout, and the
# checks stopping with the container.
load oci-run_manage_helpers

setup_file() {
  manage_setup_file
  # An image with a HEALTHCHECK (passes while /tmp/ok exists).
  mkdir -p "$MANAGE_T/hc"
  printf 'FROM okt-manage/busybox\nHEALTHCHECK --interval=200ms --timeout=2s --retries=2 CMD test -e /tmp/ok\n' \
    >"$MANAGE_T/hc/Dockerfile"
  "$OCI_BUILD" -t okt-manage/health "$MANAGE_T/hc" >/dev/null 2>&1
}

health() { R inspect "$1" | jq -r '.[0].State.Health.Status'; }
health_is() { [ "$(health "$1")" = "$2" ]; }

@test "health: the image's HEALTHCHECK goes starting -> unhealthy -> healthy, as ps and inspect show it" {
  R run -d --name hc okt-manage/health sleep 600
  run R inspect hc
  [ "$(jq -c '.[0].Config.Healthcheck' <<<"$output")" = \
    '{"Interval":200000000,"Retries":2,"Test":["CMD-SHELL","test -e /tmp/ok"],"Timeout":2000000000}' ]
  # No /tmp/ok: two failures in a row make it unhealthy.
  wait_until health_is hc unhealthy
  run R inspect hc
  [ "$(jq -r '.[0].State.Health.FailingStreak' <<<"$output")" -ge 2 ]
  [ "$(jq -r '.[0].State.Health.Log[-1].ExitCode' <<<"$output")" = 1 ]
  [[ "$(R ps)" == *"(unhealthy)"* ]]
  [ "$(R ps -q --filter health=unhealthy)" = "$(R ps -q)" ]
  [ -z "$(R ps -q --filter health=healthy)" ]
  # The check passes once the file exists.
  R exec hc touch /tmp/ok
  wait_until health_is hc healthy
  run R inspect hc
  [ "$(jq -r '.[0].State.Health.FailingStreak' <<<"$output")" = 0 ]
  [ "$(jq -r '.[0].State.Health.Log | length' <<<"$output")" -le 5 ]
  [[ "$(R ps --format json | jq -r .Status)" == "Up "*" (healthy)" ]]
  [ "$(R ps -q --filter health=healthy)" = "$(R ps -q)" ]
  # --no-healthcheck turns the image's off: no Health, filter health=none.
  R run -d --name plain --no-healthcheck okt-manage/health sleep 600
  [ "$(health plain)" = null ]
  [ "$(R ps -q --no-trunc --filter health=none)" = "$(R inspect plain | jq -r '.[0].Id')" ]
  [[ "$(R ps --filter name=plain)" != *"(health"* ]]
  [[ "$(R ps --filter name=plain)" != *"healthy)"* ]]
}

@test "health: --health-cmd with output, a start period, and the checks stop with the container" {
  R run -d --name flag --health-cmd 'echo checked; exit 0' --health-interval 100ms okt-manage/busybox sleep 600
  wait_until health_is flag healthy
  run R inspect flag
  [ "$(jq -r '.[0].State.Health.Log[0].Output' <<<"$output")" = checked ]
  [ "$(jq -r '.[0].Config.Healthcheck.Test[0]' <<<"$output")" = CMD-SHELL ]
  # Failures within the start period do not count: starting, streak 0.
  R run -d --name slow --health-cmd false --health-interval 100ms --health-start-period 60s \
    --health-start-interval 100ms --health-retries 1 okt-manage/busybox sleep 600
  wait_until bash -c "[ \"\$(\"$OCI_RUN\" --root \"$ROOT\" inspect slow | jq '.[0].State.Health.Log | length')\" -ge 2 ]"
  run R inspect slow
  [ "$(jq -r '.[0].State.Health.Status' <<<"$output")" = starting ]
  [ "$(jq -r '.[0].State.Health.FailingStreak' <<<"$output")" = 0 ]
  [[ "$(R ps --filter name=slow)" == *"(health: starting)"* ]]
  # Stopped: no checker process is left (no exec of the container running).
  R stop -t 1 flag slow
  sleep 0.5
  ! pgrep -f -- "--root $ROOT exec" >/dev/null
  [[ "$(R ps -a --filter name=flag)" == *"Exited"* ]]
}

@test "health: a check that hangs is killed at its timeout and counts as a failure" {
  R run -d --name hang --health-cmd 'sleep 100' --health-interval 100ms --health-timeout 300ms \
    --health-retries 1 okt-manage/busybox sleep 600
  wait_until health_is hang unhealthy
  run R inspect hang
  [ "$(jq -r '.[0].State.Health.Log[0].ExitCode' <<<"$output")" = -1 ]
  [ "$(jq -r '.[0].State.Health.Log[0].Output' <<<"$output")" = "Health check exceeded timeout (300ms)" ]
  # The hung probes were killed inside the container too: never more than one at a time.
  sleep 1
  [ "$(R exec hang ps | grep -c 'sleep 100')" -le 1 ]
}

@test "health: bad flags are one line and exit 125" {
  for args in "--health-interval soon" "--health-timeout -1s" "--health-retries -1" \
      "--no-healthcheck --health-cmd true"; do
    run R run --rm $args "$IMG" true
    echo "$args -> $status: $output"
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    no_leftovers
  done
  run R ps --filter health=sick
  [ "$status" -ne 0 ]
  [[ "$output" == *"unrecognised filter value for health: sick"* ]]
}
