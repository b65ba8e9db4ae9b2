#!/usr/bin/env bats
# oci-run's docker-style update, cp with "-" (a tar on stdin / stdout),
# stats --format api and container prune, on managed containers.
load oci-run_manage_helpers

# cg ID CONTROLLER FILE: a cgroup file of the container's init.
cg() {
  local pid path
  pid=$(R inspect "$1" | jq -r '.[0].State.Pid')
  if [ -d "/sys/fs/cgroup/$2" ]; then
    path=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup/$2$path/$3"
  else
    path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup$path/$3"
  fi
}

@test "update (docker's) changes a running container's cgroup, its config for restarts and its record" {
  R run -d --name apictr-u $IMG sleep 1000
  run R update --pids-limit 40 --cpu-quota 20000 --cpu-period 100000 --restart always apictr-u
  [ "$status" -eq 0 ] && [ "$output" = apictr-u ]
  [ "$(cg apictr-u pids pids.max)" = 40 ]
  if [ -d /sys/fs/cgroup/cpu ]; then [ "$(cg apictr-u cpu cpu.cfs_quota_us)" = 20000 ]; else [ "$(cg apictr-u cpu cpu.max)" = "20000 100000" ]; fi
  id=$(R inspect apictr-u | jq -r '.[0].Id')
  [ "$(jq -c .linux.resources.pids "$OCIKIT_STATE_DIR/containers/$id/bundle/config.json")" = '{"limit":40}' ]
  [ "$(R inspect apictr-u | jq -r '.[0].HostConfig | "\(.PidsLimit) \(.CpuQuota) \(.RestartPolicy.Name)"')" = "40 20000 always" ]
  R stop -t 1 apictr-u
  R update --pids-limit 30 apictr-u
  R start apictr-u
  wait_until test "$(R inspect apictr-u | jq -r '.[0].State.Running')" = true
  [ "$(cg apictr-u pids pids.max)" = 30 ]
  run R update apictr-u
  [ "$status" -eq 2 ] && [[ "$output" == *"you must provide one or more flags"* ]]
  run R update --cpus 1 --cpu-quota 1000 apictr-u
  [ "$status" -eq 2 ]
  run R update --memory 1k apictr-u
  [ "$status" -ne 0 ] && [[ "$output" == *"minimum memory limit"* ]]
}

@test "cp - CONTAINER:DIR extracts a tar inside the root only; cp CONTAINER:PATH - writes one" {
  R run -d --name apictr-c $IMG sleep 1000
  mkdir -p "$T/src/d" "$T/host" && echo one >"$T/src/d/f" && ln -s f "$T/src/d/l"
  tar -C "$T/src" -cf - d | R cp - apictr-c:/tmp
  [ "$(R exec apictr-c cat /tmp/d/f /tmp/d/l | xargs)" = "one one" ]
  [ "$(R cp apictr-c:/tmp/d - | tar t | sort | xargs)" = "d/ d/f d/l" ]
  [ "$(R cp apictr-c:/tmp/d/. - | tar t | sort | xargs)" = "./ ./f ./l" ]
  R cp apictr-c:/tmp/d/f - | tar -x -O | grep -qx one
  # A symlink out of the root, then a write through it; "../" names.
  ln -s "$T/host" "$T/src/out"
  tar -C "$T/src" -cf "$T/evil.tar" out && echo pwned >"$T/p" && tar -C "$T" -rf "$T/evil.tar" --transform 's,^p,out/p,' p
  run R cp - apictr-c:/ <"$T/evil.tar"
  [ "$status" -ne 0 ] && [ -z "$(ls -A "$T/host")" ]
  # A link to / resolves to the extraction directory.
  mkdir "$T/src2" && ln -s / "$T/src2/r" && tar -C "$T/src2" -cf "$T/abs.tar" r
  tar -C "$T" -rf "$T/abs.tar" --transform 's,^p,r/apictr-p,' p
  R cp - apictr-c:/tmp <"$T/abs.tar"
  [ ! -e /apictr-p ] && [ "$(R exec apictr-c cat /tmp/apictr-p)" = pwned ]
  tar -C "$T" -cf "$T/dotdot.tar" --transform 's,^p,../../../../../../..'"$T"'/host/p,' p
  run R cp - apictr-c:/tmp <"$T/dotdot.tar"
  [ "$status" -ne 0 ] && [[ "$output" == *"escapes the root"* ]] && [ -z "$(ls -A "$T/host")" ]
  run R cp - apictr-c:/nonexistent <"$T/evil.tar"
  [ "$status" -ne 0 ] && [[ "$output" == *"no such file or directory"* ]]
  run R cp - apictr-c:/bin/busybox <"$T/evil.tar"
  [ "$status" -ne 0 ] && [[ "$output" == *"extraction point is not a directory"* ]]
  run R cp apictr-c:/nonexistent -
  [ "$status" -ne 0 ] && [[ "$output" == *"no such file or directory"* ]]
}

@test "stats --format api is the Engine API's stats object; container prune removes stopped containers" {
  R run -d --name apictr-s -m 64m $IMG sh -c 'while :; do :; done'
  run R stats --no-stream --format api apictr-s
  [ "$status" -eq 0 ]
  jq -e '.name == "/apictr-s" and .memory_stats.limit == 67108864 and .memory_stats.usage > 0 and
    .cpu_stats.cpu_usage.total_usage > .precpu_stats.cpu_usage.total_usage and
    .cpu_stats.system_cpu_usage > .precpu_stats.system_cpu_usage and .pids_stats.current == 1' <<<"$output"
  R rm -f apictr-s
  R run --name apictr-p1 -l apictr=1 $IMG true
  R run --name apictr-p2 $IMG true
  R run -d --name apictr-p3 $IMG sleep 1000
  run R container prune --force --filter label=apictr=1 --format json
  [ "$(jq -r '.ContainersDeleted | length' <<<"$output")" = 1 ] && jq -e '.SpaceReclaimed >= 0' <<<"$output"
  run R container prune -f
  [ "${lines[0]}" = "Deleted Containers:" ] && [[ "$output" == *"Total reclaimed space:"* ]]
  [ "$(R ps -a --format json | jq -r .Names)" = apictr-p3 ]
}
