#!/usr/bin/env bats
# oci-run events as docker's: the journal of container, image, volume and
# network events written by whichever process causes them (oci-run's
# commands and monitors, oci-fetch, oci-net), read concurrently, in docker's
# text and JSON forms, with --since/--until/--filter, following by default;
# `events ID` stays the runtime's (runc's) command.
load oci-run_manage_helpers

teardown() {
  [ -z "${FOLLOW_PID:-}" ] || kill "$FOLLOW_PID" 2>/dev/null || true
  manage_teardown
}

# The events since the test began, as JSON lines.
events_json() { R events --since "$START" --until "$(date +%s.%N)" --format json "$@"; }

@test "events: a container's life, in order, in docker's JSON and text forms" {
  START=$(date +%s.%N)
  R run --name ev --label team=a "$IMG" sh -c 'exit 3' || true
  R rm ev
  run events_json --filter type=container
  [ "$status" -eq 0 ]
  echo "$output"
  [ "$(jq -r .Action <<<"$output" | tr '\n' ' ')" = "create start die destroy " ]
  [ "$(jq -r 'select(.Action=="die") | .Actor.Attributes.exitCode' <<<"$output")" = 3 ]
  [ "$(jq -r 'select(.Action=="create") | .Actor.Attributes.name' <<<"$output")" = ev ]
  [ "$(jq -r 'select(.Action=="create") | .Actor.Attributes.team' <<<"$output")" = a ]
  [ "$(jq -r 'select(.Action=="create") | .from' <<<"$output")" = "$IMG" ]
  # docker's text form: TIME TYPE ACTION ID (attributes)
  run R events --since "$START" --until "$(date +%s.%N)" --filter event=die
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z\ container\ die\ [0-9a-f]{64}\ \(exitCode=3,\ image=$IMG,\ name=ev,\ team=a\)$ ]]
  # run --rm: the monitor removes it, and says so with destroy (as dockerd)
  START=$(date +%s.%N)
  R run --rm --name evrm "$IMG" true
  [ "$(events_json --filter container=evrm | jq -r .Action | tr '\n' ' ')" = "create start die destroy " ]
}

@test "events: stop, kill, exec, volumes, images and networks; filters" {
  START=$(date +%s.%N)
  R run -d --name a "$IMG" sleep 600
  R exec a true
  R stop -t 1 a
  R volume create vol1
  R volume rm vol1
  R tag "$IMG" okt-manage/other:1
  R rmi okt-manage/other:1
  export OCIKIT_NET_DIR=$T/net
  "$OCI_NET" create okt-ev-net --subnet 10.123.77.0/24 >/dev/null
  "$OCI_NET" rm okt-ev-net >/dev/null
  run events_json --filter container=a
  echo "$output"
  [[ "$(jq -r .Action <<<"$output" | tr '\n' ' ')" == "create start exec_create: true exec_start: true "*"die stop "* ]]
  [ "$(events_json --filter type=volume | jq -r .Action | tr '\n' ' ')" = "create destroy " ]
  [ "$(events_json --filter type=image | jq -r '.Action + " " + .Actor.Attributes.name' | tr '\n' ,)" = \
    "tag okt-manage/other:1,untag okt-manage/other:1," ]
  [ "$(events_json --filter type=network | jq -r .Action | tr '\n' ' ')" = "create destroy " ]
  # The same key ORs, different keys AND.
  [ "$(events_json --filter event=create --filter event=destroy | wc -l)" -eq 5 ]  # container, volume, network; volume, network
  [ "$(events_json --filter event=create --filter type=volume | wc -l)" -eq 1 ]
  run R events --filter bogus=1
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid filter 'bogus'"* ]]
  run R events --since yesterday
  [ "$status" -ne 0 ]
  [[ "$output" == *'invalid time "yesterday"'* ]]
}

@test "events: follows new events by default, health_status among them" {
  "$OCI_RUN" --root "$ROOT" events --format json >"$T/follow" 2>&1 3>&- &
  FOLLOW_PID=$!
  sleep 0.5
  R run -d --name h --health-cmd true --health-interval 100ms "$IMG" sleep 600
  wait_until grep -q '"health_status: healthy"' "$T/follow"
  grep -q '"Action":"start"' "$T/follow"
  kill "$FOLLOW_PID"
  FOLLOW_PID=
}

@test "events: a corrupted journal line is skipped with one warning; events ID is runc's" {
  START=$(date +%s.%N)
  R volume create v2 >/dev/null
  printf 'not json\n{"Type":1}\n' >>"$OCIKIT_STATE_DIR/events.log"
  R volume rm v2 >/dev/null
  run events_json --filter type=volume
  [ "$status" -eq 0 ]
  [[ "$output" == *"skipped 2 malformed line(s)"* ]]
  [ "$(grep -c '"Type":"volume"' <<<"$output")" -eq 2 ]
  # With a container id it is the runtime's events (runc's), which says it does not know it.
  run R events nosuchcontainer
  [ "$status" -ne 0 ]
  [[ "$output" != *"invalid filter"* ]]
}
