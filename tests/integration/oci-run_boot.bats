#!/usr/bin/env bats
# Containers that outlive the shell: restart policies on start failures
# (docker's back-off, RestartCount, restart events) and `oci-run system boot`
# after a simulated host reboot (monitors and processes killed, runtime root
# cleared, records kept), with a private state dir and runtime root.
load oci-run_manage_helpers

# reboot_kill ID: what a reboot does to a running container: its monitor and
# processes die; with "clear" its runtime state goes too (/run is a tmpfs)
# and its cgroup (cgroupfs is new); its rootfs is no longer mounted.
reboot_kill() {
  local id=$1 how=${2:-}
  local rec="$OCIKIT_STATE_DIR/containers/$id/record.json"
  local mon pid kids
  mon=$(jq -r .monitor_pid "$rec")
  pid=$(jq -r .pid "$rec")
  # its cgroups (those naming its id), removed below when it is cleared
  local cgs
  cgs=$(awk -F: -v id="$id" 'index($3, id) {
      if ($2 == "") print "unified" $3; else { sub(/^name=/, "", $2); n = split($2, c, ","); for (i = 1; i <= n; i++) print c[i] $3 }
    }' "/proc/$pid/cgroup")
  # all at once, as a reboot: the monitor, the runtime under it, the container
  kids=$(pgrep -P "$mon" | tr '\n' ' ')
  kill -9 "$mon" $kids "$pid"
  wait_until sh -c "! kill -0 $mon 2>/dev/null && ! kill -0 $pid 2>/dev/null"
  [ -f "$ROOT/$id/state.json" ]
  umount "$OCIKIT_STATE_DIR/containers/$id/bundle/rootfs"
  if [ "$how" = clear ]; then
    local cg
    for cg in $cgs; do
      rmdir "/sys/fs/cgroup/$cg" 2>/dev/null || rmdir "/sys/fs/cgroup/${cg#unified}" 2>/dev/null || true
    done
    rm -rf "${ROOT:?}/$id"
  fi
}

state_of() { R inspect "$1" | jq -r '.[0].State.Status'; }

@test "boot: a start failure is retried under always with back-off, counted, and stop ends it" {
  START=$(date +%s.%N)
  run -127 R run -d --name bad --restart always "$IMG" /no/such/program
  [ "$status" -eq 127 ]
  [[ "$output" == *"/no/such/program"* ]]
  wait_until sh -c "[ \$('$OCI_RUN' --root '$ROOT' inspect bad | jq -r '.[0].RestartCount') -ge 3 ]"
  # between tries (the back-off is 400 ms and more by now) it is "restarting"
  wait_until sh -c "[ \"\$('$OCI_RUN' --root '$ROOT' inspect bad | jq -r '.[0].State.Status')\" = restarting ]"
  run R inspect bad
  [ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 127 ]
  [[ "$(jq -r '.[0].State.Error' <<<"$output")" == *"/no/such/program"* ]]
  run R events --since "$START" --until "$(date +%s.%N)" --filter container=bad --filter event=restart --format json
  [ "$(wc -l <<<"$output")" -ge 2 ]
  run R stop -t 1 bad
  [ "$status" -eq 0 ]
  [ "$(state_of bad)" = exited ]
  # nothing retries it any more
  n=$(R inspect bad | jq -r '.[0].RestartCount')
  sleep 0.5
  [ "$(R inspect bad | jq -r '.[0].RestartCount')" = "$n" ]
  ! grep -q " $T" /proc/self/mounts
}

@test "boot: on-failure:N stops retrying a start failure after N; no policy leaves it created" {
  run -127 R run -d --name twice --restart on-failure:2 "$IMG" /no/such/program
  [ "$status" -eq 127 ]
  wait_until sh -c "[ \"\$('$OCI_RUN' --root '$ROOT' inspect twice | jq -r '.[0].State.Status')\" = created ]"
  run R inspect twice
  [ "$(jq -r '.[0].RestartCount' <<<"$output")" = 2 ]
  [ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 127 ]
  run -127 R run -d --name once "$IMG" /no/such/program
  [ "$status" -eq 127 ]
  [ "$(state_of once)" = created ]
  [ "$(R inspect once | jq -r '.[0].RestartCount')" = 0 ]
}

@test "boot: after a simulated reboot, system boot starts always, unless-stopped (not stopped by hand) and on-failure" {
  R run -d --name rem-always --restart always "$IMG" sleep 1000 >/dev/null
  R run -d --name rem-unless --restart unless-stopped "$IMG" sleep 1000 >/dev/null
  R run -d --name rem-unless-stopped --restart unless-stopped "$IMG" sleep 1000 >/dev/null
  R run -d --name rem-always-stopped --restart always "$IMG" sleep 1000 >/dev/null
  R run -d --name rem-onfail --restart on-failure "$IMG" sleep 1000 >/dev/null
  R run -d --name rem-no "$IMG" sleep 1000 >/dev/null
  R stop -t 1 rem-unless-stopped rem-always-stopped >/dev/null
  declare -A ids
  for n in rem-always rem-unless rem-unless-stopped rem-always-stopped rem-onfail rem-no; do
    ids[$n]=$(R inspect "$n" | jq -r '.[0].Id')
  done
  # the reboot: half lose their runtime state, half leave it stale
  reboot_kill "${ids[rem-always]}" clear
  reboot_kill "${ids[rem-unless]}" clear
  reboot_kill "${ids[rem-onfail]}"
  reboot_kill "${ids[rem-no]}"
  for n in rem-always rem-unless rem-onfail rem-no; do [ "$(state_of $n)" = exited ]; done
  ! grep -q " $T" /proc/self/mounts
  run R system boot
  [ "$status" -eq 0 ]
  [ "$(sort <<<"$output" | tr '\n' ' ')" = "rem-always rem-always-stopped rem-onfail rem-unless " ]
  for n in rem-always rem-unless rem-onfail rem-always-stopped; do [ "$(state_of $n)" = running ]; done
  for n in rem-unless-stopped rem-no; do [ "$(state_of $n)" = exited ]; done
  # the killed ones exited with 255 (dockerd's restore); the stale runtime
  # state is gone: only the running containers are in the runtime root
  [ "$(R inspect rem-no | jq -r '.[0].State.ExitCode')" = 255 ]
  [ "$(ls "$ROOT" | sort | tr '\n' ' ')" = "$(printf '%s\n' "${ids[rem-always]}" "${ids[rem-unless]}" "${ids[rem-onfail]}" "${ids[rem-always-stopped]}" | sort | tr '\n' ' ')" ]
  # no cgroup is left of the stopped ones whose stale state boot removed
  for n in rem-no; do
    ! find /sys/fs/cgroup -maxdepth 4 -type d -name "*${ids[$n]}*" | grep -q .
  done
  # they really run: exec works
  run R exec rem-unless echo alive
  [ "$output" = alive ]
  # boot again: nothing to do, nothing started twice
  run R system boot
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "boot: the systemd unit is a oneshot after network-online.target" {
  unit="$OCIKIT_SOURCE_ROOT/examples/init/ocikit-boot.service"
  grep -qx 'Type=oneshot' "$unit"
  grep -q '^After=.*network-online.target' "$unit"
  grep -q '^ExecStart=.*oci-run system boot$' "$unit"
  if [ -x /usr/bin/systemd-analyze ]; then
    run /usr/bin/systemd-analyze verify "$unit"
    [[ "$output" != *"Unknown"* ]]
  fi
}
