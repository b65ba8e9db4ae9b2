#!/usr/bin/env bats
# docker-form container and image commands of oci-run: rename, port,
# pause/unpause, diff, export/import, save/load (with podman and skopeo as
# peers), system df/prune, --volumes-from.
load oci-run_manage_helpers
load registry_helpers

teardown() {
  [ -z "${NET_CLEANUP:-}" ] || "$OCI_NET" rm "$NET_CLEANUP" >/dev/null 2>&1 || true
  if [ -n "${PODMAN_T:-}" ]; then
    /usr/bin/podman --root "$PODMAN_T/root" --runroot "$PODMAN_T/run" system reset -f >/dev/null 2>&1 || true
    grep -o " $PODMAN_T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$PODMAN_T"
  fi
  manage_teardown
}

events_of() { R events --since "$SINCE" --until "$(date +%s.%N)" --format json; }
# has_event JQ_CONDITION: an event since $SINCE satisfies it.
has_event() { events_of | jq -s -e "any(.[]; $1)" >/dev/null; }

@test "docker-form: rename refuses a taken name; ps, inspect, logs, exec use the new one while it runs" {
  SINCE=$(date +%s.%N)
  R run -d --name dock-a "$IMG" sh -c 'echo hello; sleep 60' >/dev/null
  R create --name dock-b "$IMG" true >/dev/null
  run R rename dock-a dock-b
  [ "$status" -ne 0 ]
  [[ "$output" == *'Conflict. The container name "/dock-b" is already in use by container'* ]]
  run R rename dock-a dock-a
  [ "$status" -ne 0 ]
  run R rename dock-a 'bad/name'
  [ "$status" -ne 0 ]
  run R rename dock-a dock-c
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(R ps --format json | jq -r .Names)" = dock-c ]
  [ "$(R inspect dock-c | jq -r '.[0].Name')" = /dock-c ]
  run R inspect dock-a
  [ "$status" -ne 0 ]
  run R exec dock-c echo inside
  [ "$output" = inside ]
  run R logs dock-c
  [ "$output" = hello ]
  has_event '.Action == "rename" and .Actor.Attributes.name == "dock-c" and .Actor.Attributes.oldName == "/dock-a"'
  # the old name is free again
  run R create --name dock-a "$IMG" true
  [ "$status" -eq 0 ]
}

@test "docker-form: pause/unpause by name freeze the container; ps, inspect, runtime state and events say so" {
  SINCE=$(date +%s.%N)
  id=$(R run -d --name dock-p "$IMG" sh -c 'while :; do date +%s%N >/tmp/tick; sleep 0.05; done')
  sleep 0.3
  run R pause dock-p
  [ "$status" -eq 0 ]
  [ "$output" = dock-p ]
  [ "$(R inspect dock-p | jq -r '.[0].State.Paused')" = true ]
  [ "$(R inspect dock-p | jq -r '.[0].State.Status')" = paused ]
  [[ "$(R ps --format json | jq -r .Status)" == *"(Paused)" ]]
  # the runtime verb on the same id sees it paused (runc's state)
  [ "$(R state "$id" | jq -r .status)" = paused ]
  # frozen: the loop writes no more ticks (read through the host's view of its rootfs)
  tick=$T/state/containers/$id/bundle/rootfs/tmp/tick
  t1=$(cat "$tick")
  sleep 0.3
  [ "$(cat "$tick")" = "$t1" ]
  run R pause dock-p
  [ "$status" -ne 0 ]
  run R unpause dock-p
  [ "$status" -eq 0 ]
  [ "$output" = dock-p ]
  [ "$(R inspect dock-p | jq -r '.[0].State.Paused')" = false ]
  [ "$(R state "$id" | jq -r .status)" = running ]
  sleep 0.3
  [ "$(cat "$tick")" != "$t1" ]
  run R unpause dock-p
  [ "$status" -ne 0 ]
  has_event '.Action == "pause" and .Actor.Attributes.name == "dock-p"'
  has_event '.Action == "unpause" and .Actor.Attributes.name == "dock-p"'
  # a paused container still stops (thawed first, as docker's stop does)
  R pause dock-p >/dev/null
  run R stop -t 1 dock-p
  [ "$status" -eq 0 ]
  [ "$(R inspect dock-p | jq -r '.[0].State.Status')" = exited ]
  # a stopped container cannot be paused
  R create --name dock-q "$IMG" true >/dev/null
  run R pause dock-q
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not running"* ]]
}

@test "docker-form: diff shows A, C, D against the image, without runtime-made files" {
  R run --name dock-d -v "$T/vol:/mnt/vol" "$IMG" sh -c 'echo x >/new; mkdir /etc/sub; echo y >/etc/sub/f; rm /bin/ls; echo z >>/etc/passwd' >/dev/null
  run R diff dock-d
  echo "$output"
  [ "$status" -eq 0 ]
  expected='C /bin
D /bin/ls
C /etc
C /etc/passwd
A /etc/sub
A /etc/sub/f
A /new'
  # a mount point made for a volume is not a change (docker keeps those in its init layer)
  [ "$(grep -v '^[AC] /mnt' <<<"$output")" = "$expected" ]
  ! grep -q ' /mnt/vol$' <<<"$output"
  ! grep -Eq ' /(dev|proc|sys|etc/hosts|etc/resolv.conf|etc/hostname)$' <<<"$output"
  run R diff no-such-container
  [ "$status" -ne 0 ]
}

@test "docker-form: export writes the filesystem as a tar (stdout or -o); import makes a one-layer image of it" {
  SINCE=$(date +%s.%N)
  R run --name dock-e "$IMG" sh -c 'echo exported >/new; rm /bin/ls' >/dev/null
  R export dock-e >"$T/e.tar"
  tar -tf "$T/e.tar" | grep -qx 'new'
  tar -tf "$T/e.tar" | grep -qx 'bin/busybox'
  ! tar -tf "$T/e.tar" | grep -qx 'bin/ls'
  R export -o "$T/e2.tar" dock-e
  run script -qec "'$OCI_RUN' --root '$ROOT' export dock-e" /dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"cowardly refusing to save to a terminal. Use the -o flag or redirect"* ]]
  [ "$(tar -xOf "$T/e2.tar" new)" = exported ]
  # nothing stays mounted after exporting a stopped container
  ! grep -q " $T/state/containers/.*/export-" /proc/self/mounts
  has_event '.Type == "container" and .Action == "export"'

  run R import -m "from dock" -c 'CMD ["cat", "/new"]' "$T/e.tar" dock/imported:v1
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == sha256:* ]]
  id=$output
  run R run --rm dock/imported:v1
  [ "$output" = exported ]
  [ "$(R image inspect dock/imported:v1 | jq -r '.[0].RootFS.Layers | length')" = 1 ]
  [ "$(R image inspect dock/imported:v1 | jq -r '.[0].Id')" = "$id" ]
  R history dock/imported:v1 | grep -q 'from dock'
  # from stdin, gzip-compressed, no name
  run sh -c "gzip -c '$T/e.tar' | '$OCI_RUN' --root '$ROOT' import -"
  [ "$status" -eq 0 ]
  [[ "$output" == sha256:* ]]
  has_event '.Type == "image" and .Action == "import"'
  # not a tar, a URL: one-line errors
  echo garbage >"$T/bad.tar"
  run R import "$T/bad.tar"
  [ "$status" -ne 0 ]
  run R import http://127.0.0.1:1/x.tar
  [ "$status" -ne 0 ]
  [[ "$output" == *"URL is not supported"* ]]
}

@test "docker-form: save/load round trip, and interop with podman (docker-archive both ways) and skopeo" {
  PODMAN_T=$(mktemp -d /tmp/dock-podman-XXXXXX)
  P() { /usr/bin/podman --root "$PODMAN_T/root" --runroot "$PODMAN_T/run" --storage-driver vfs "$@"; }
  SINCE=$(date +%s.%N)
  R tag "$IMG" dock/saved:v1
  R save -o "$T/s.tar" dock/saved:v1
  # docker 20.10's layout: manifest.json, repositories, <id>.json, <layer id>/{layer.tar,VERSION,json}
  tar -tf "$T/s.tar" | grep -qx manifest.json
  top=$(tar -xOf "$T/s.tar" manifest.json | jq -r '.[0].Layers[-1]')
  [[ "$top" == */layer.tar ]]
  [ "$(tar -xOf "$T/s.tar" repositories | jq -r '."dock/saved".v1')" = "${top%/layer.tar}" ]
  [ "$(tar -xOf "$T/s.tar" "${top%/layer.tar}/VERSION")" = 1.0 ]
  tar -tf "$T/s.tar" | grep -qx "$(tar -xOf "$T/s.tar" manifest.json | jq -r '.[0].Config')"
  # stdout, but never a terminal (as docker)
  R save dock/saved:v1 | cmp - "$T/s.tar"
  run script -qec "'$OCI_RUN' --root '$ROOT' save dock/saved:v1" /dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"cowardly refusing to save to a terminal"* ]]
  [ "$(tar -xOf "$T/s.tar" manifest.json | jq -r '.[0].RepoTags[0]')" = dock/saved:v1 ]
  # skopeo reads it
  run /usr/bin/skopeo inspect --config docker-archive:"$T/s.tar"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.config.Cmd[0]' <<<"$output")" = /bin/sh ]
  # podman loads it and runs nothing: load and list only
  run P load -i "$T/s.tar"
  echo "$output"
  [ "$status" -eq 0 ]
  P images --format '{{.Repository}}:{{.Tag}}' | grep -q 'dock/saved:v1'
  # podman's docker-archive loads into oci-run and runs
  P tag localhost/dock/saved:v1 localhost/dock/frompodman:v2 2>/dev/null || P tag dock/saved:v1 dock/frompodman:v2
  P save --format docker-archive -o "$T/p.tar" dock/frompodman:v2
  run R load -i "$T/p.tar"
  echo "$output"
  [ "$status" -eq 0 ]
  # podman names it localhost/..., and so does the load (as docker load would)
  [ "$output" = "Loaded image: localhost/dock/frompodman:v2" ]
  run R run --rm localhost/dock/frompodman:v2 sh -c 'echo from-podman'
  [ "$output" = from-podman ]
  # an OCI archive (podman's oci-archive; docker 25 saves OCI layouts too)
  P save --format oci-archive -o "$T/o.tar" dock/frompodman:v2
  R rmi localhost/dock/frompodman:v2 >/dev/null
  run R load -i "$T/o.tar"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == "Loaded image: "* ]]
  run R run --rm "${output#Loaded image: }" sh -c 'echo from-oci'
  [ "$output" = from-oci ]
  # stdin, and -q
  R rmi dock/saved:v1 >/dev/null
  run sh -c "'$OCI_RUN' --root '$ROOT' load -q <'$T/s.tar'"
  [ "$status" -eq 0 ]
  [ "$output" = "Loaded image: dock/saved:v1" ]
  R image inspect dock/saved:v1 >/dev/null
  has_event '.Type == "image" and .Action == "save"'
  has_event '.Type == "image" and .Action == "load"'
  # a corrupt archive is refused and leaves nothing named
  head -c 3000 "$T/s.tar" >"$T/trunc.tar"
  run R load -i "$T/trunc.tar"
  [ "$status" -ne 0 ]
}

@test "docker-form: --volumes-from mounts the other container's volumes and binds; :ro forces read-only" {
  mkdir -p "$T/host"
  echo bound >"$T/host/g"
  R run --name dock-src -v dock-named:/data -v /anon -v "$T/host:/hostdir" "$IMG" sh -c 'echo named >/data/f; echo anon >/anon/a' >/dev/null
  run R run --rm --volumes-from dock-src "$IMG" sh -c 'cat /data/f /anon/a /hostdir/g; echo w >/data/w && echo wrote'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'named\nanon\nbound\nwrote')" ]
  run R run --rm --volumes-from dock-src:ro "$IMG" sh -c 'cat /data/f; echo w >/data/w2'
  [ "$status" -ne 0 ]
  [[ "$output" == named* ]]
  [ ! -e "$T/state/volumes/dock-named/_data/w2" ]
  # an explicit -v at the same destination wins
  run R run --rm --volumes-from dock-src -v "$T/host:/data" "$IMG" cat /data/g
  [ "$output" = bound ]
  R create --name dock-vf --volumes-from dock-src "$IMG" true >/dev/null
  [ "$(R inspect dock-vf | jq -r '.[0].Mounts | map(.Destination) | sort | join(",")')" = "/anon,/data,/hostdir" ]
  run R run --rm --volumes-from no-such "$IMG" true
  [ "$status" -ne 0 ]
  run R run --rm --volumes-from dock-src:bad "$IMG" true
  [ "$status" -eq 125 ]
}

@test "docker-form: port shows a running container's published ports as docker does" {
  export OCIKIT_NET_DIR=$T/net
  NET_CLEANUP=dock-net
  run "$OCI_NET" create dock-net --subnet 10.201.31.0/24 -o bridge=dock-br0
  [ "$status" -eq 0 ]
  p1=$(free_port)
  p2=$(free_port)
  R run -d --name dock-port --network dock-net -p "$p1:80" -p "127.0.0.1:$p2:53/udp" "$IMG" sleep 60 >/dev/null
  run R port dock-port
  echo "$output"
  [ "$output" = "$(printf '53/udp -> 127.0.0.1:%s\n80/tcp -> 0.0.0.0:%s' "$p2" "$p1")" ]
  run R port dock-port 80
  [ "$output" = "0.0.0.0:$p1" ]
  run R port dock-port 53/udp
  [ "$output" = "127.0.0.1:$p2" ]
  run R port dock-port 81
  [ "$status" -ne 0 ]
  [[ "$output" == *"No public port '81/tcp' published for dock-port"* ]]
  R rm -f dock-port >/dev/null
}

@test "docker-form: system df counts images, containers, volumes, build cache; system prune removes what is unused" {
  R run --name dock-x -v /anon "$IMG" true >/dev/null
  R run -d --name dock-y "$IMG" sleep 60 >/dev/null
  # a dangling image: an unnamed import
  mkdir -p "$T/f" && echo f >"$T/f/file" && tar -C "$T/f" -cf "$T/one.tar" file
  dangling=$(R import "$T/one.tar")
  R tag "$IMG" dock/named:keep
  run R system df
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "TYPE"*"TOTAL"*"ACTIVE"*"SIZE"*"RECLAIMABLE" ]]
  [[ "$(grep '^Containers' <<<"$output")" =~ ^Containers\ +2\ +1\  ]]
  [[ "$(grep '^Local Volumes' <<<"$output")" =~ ^Local\ Volumes\ +1\ +1\  ]]
  grep -q '^Build Cache' <<<"$output"
  run R system df -v
  [ "$status" -eq 0 ]
  grep -q '^Images space usage:' <<<"$output"
  grep -q 'dock-x' <<<"$output"
  run R system prune -f --volumes
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Deleted Containers:"* ]]
  [[ "$output" == *"Deleted Images:"* ]]
  [[ "$output" == *"Total reclaimed space: "* ]]
  # the running one and the named image stay; the stopped one and the dangling image go
  [ "$(R ps -a --format json | jq -r .Names)" = dock-y ]
  R image inspect "$IMG" >/dev/null
  [[ "$output" == *"deleted: $dangling"* ]]
  run R image inspect "$dangling"
  [ "$status" -ne 0 ]
  R image inspect dock/named:keep >/dev/null
  # dock-x's anonymous volume went with --volumes
  [ -z "$(R volume ls -q)" ]
  run R system prune -f --filter bogus=1
  [ "$status" -ne 0 ]
}
