#!/usr/bin/env bats
# oci-run top, stats, cp and commit on real containers (runtime containers
# with cgroups and overlay rootfs, laid out as `oci-run run -d` leaves them),
# from a busybox image in a temp store.
load oci-run_extra_helpers

setup() {
  extra_setup
  build_busybox_image okt-manage2/busybox
}
teardown() { extra_teardown; }

rt() { "$OCI_RUN" --root "$T/run" "$@"; }

@test "top lists the container's processes" {
  id=$(start_container c1 okt-manage2/busybox . sh -c 'sleep 1000 & sleep 1001')
  run okt top c1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == UID*PID*PPID*CMD* ]]
  [[ "$output" == *"sleep 1000"* ]] && [[ "$output" == *"sleep 1001"* ]]
  [ "${#lines[@]}" -eq 3 ]
  run okt top "${id:0:10}" -o pid,comm
  [[ "${lines[0]}" == *PID*COMMAND* ]]
  [ "${#lines[@]}" -eq 3 ]
  stop_container "$id"
  run okt top c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"container c1 is not running"* ]]
  run okt top okt-none
  [ "$status" -eq 1 ]
}

@test "stats --no-stream shows the memory limit, pids, cpu, net and block io" {
  start_container c1 okt-manage2/busybox '.linux.resources.memory.limit=67108864' sh -c 'sleep 1000 & sleep 1001' >/dev/null
  run okt stats --no-stream c1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^CONTAINER\ ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +NET\ I/O\ +BLOCK\ I/O\ +PIDS$ ]]
  [[ "${lines[1]}" =~ \ c1\ +[0-9.]+%\ +[0-9.]+[KM]?i?B\ /\ 64MiB\ +[0-9.]+%\ +.*\ 2$ ]]
  run okt stats --no-stream --format json
  [ "$(echo "$output" | jq -r .MemLimit)" -eq 67108864 ]
  [ "$(echo "$output" | jq -r .PIDs)" -eq 2 ]
  [ "$(echo "$output" | jq -r .Name)" = c1 ]
  [[ "$(echo "$output" | jq -r .CPUPerc)" =~ ^[0-9]+\.[0-9]{2}%$ ]]
  # its own network namespace, with only lo (not counted)
  [ "$(echo "$output" | jq -r .NetIO)" = "0B / 0B" ]
  run okt stats --no-stream --format '{{.Name}} {{.MemUsage}}' c1
  [[ "$output" == "c1 "*" / 64MiB" ]]
  run okt stats --no-stream okt-nonexistent
  [ "$status" -eq 1 ]
}

@test "cp copies files and dirs both ways, into a running and a stopped container" {
  id=$(start_container c1 okt-manage2/busybox . sleep 1000)
  echo host-data >"$T/in.txt"
  mkdir -p "$T/dir/sub" && echo deep >"$T/dir/sub/f"
  run okt cp "$T/in.txt" c1:/tmp/in.txt
  [ "$status" -eq 0 ]
  run rt exec "$id" cat /tmp/in.txt
  [ "$output" = host-data ]
  okt cp "$T/dir" c1:/tmp
  run rt exec "$id" cat /tmp/dir/sub/f
  [ "$output" = deep ]
  rt exec "$id" sh -c 'echo from-container >/tmp/made; mkdir -p /tmp/d/e; echo x >/tmp/d/e/y'
  okt cp c1:/tmp/made "$T/out.txt"
  [ "$(cat "$T/out.txt")" = from-container ]
  mkdir "$T/outdir"
  okt cp c1:/tmp/d "$T/outdir"
  [ "$(cat "$T/outdir/d/e/y")" = x ]
  okt cp c1:/tmp/d/. "$T/outdir2"
  [ "$(cat "$T/outdir2/e/y")" = x ]
  okt cp c1:/bin/busybox "$T/bb"
  cmp "$T/bb" "$T/base/rootfs/bin/busybox"

  stop_container "$id"
  okt cp "$T/in.txt" c1:/stopped.txt
  [ "$(cat "$T/state/containers/$id/upper/stopped.txt")" = host-data ]
  run okt cp c1:/tmp/made "$T/back.txt"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/back.txt")" = from-container ]
  # the temporary mount is gone
  ! grep -q "$T/state/containers/$id/cp-rootfs" /proc/self/mountinfo
}

@test "cp resolves container symlinks inside the rootfs and never writes or reads outside" {
  mkdir -p "$T/host-target" "$T/host-secret"
  echo secret >"$T/host-secret/key"
  id=$(start_container c1 okt-manage2/busybox . sleep 1000)
  # absolute and climbing links that point at host paths
  rt exec "$id" sh -c "ln -s $T/host-target /tmp/esc; ln -s ../../../../../../../..$T/host-target /tmp/esc2; ln -s $T/host-secret /tmp/leak"
  echo pwned >"$T/payload"
  run okt cp "$T/payload" c1:/tmp/esc/pwned
  [ "$status" -eq 1 ]
  run okt cp "$T/payload" c1:/tmp/esc2/pwned
  [ "$status" -eq 1 ]
  [ ! -e "$T/host-target/pwned" ]
  run okt cp c1:/tmp/leak/key "$T/stolen"
  [ "$status" -eq 1 ]
  [ ! -e "$T/stolen" ]
  # a link as the source is copied as a link, not followed
  okt cp c1:/tmp/leak "$T/link-copy"
  [ -L "$T/link-copy" ]
  [ "$(readlink "$T/link-copy")" = "$T/host-secret" ]
  run okt cp -L c1:/tmp/leak "$T/followed"
  [ "$status" -eq 1 ]
  # a link as the destination is replaced inside the container, not followed
  okt cp "$T/payload" c1:/tmp/leak
  [ "$(cat "$T/host-secret/key")" = secret ]
  run rt exec "$id" cat /tmp/leak
  [ "$output" = pwned ]
  run okt cp "$T/payload" c1:/nonexistent/dir/
  [ "$status" -ne 0 ]
  run okt cp "$T/payload" "$T/x"
  [ "$status" -eq 2 ]
  [ "$(ls "$T/host-target" | wc -l)" -eq 0 ]
}

@test "commit makes an image that runs and holds the container's changes" {
  id=$(start_container c1 okt-manage2/busybox . sleep 1000)
  rt exec "$id" sh -c 'echo committed >/tmp/new-file; rm /bin/vi'
  run okt commit -m "add a file" -a tester --change 'ENV COMMITTED=yes' --change 'CMD ["cat", "/tmp/new-file"]' c1 okt-manage2/committed:v1
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
  img=$output
  # the container runs on after the pause
  run rt exec "$id" true
  [ "$status" -eq 0 ]
  run okt image inspect okt-manage2/committed:v1
  [ "$(echo "$output" | jq -r '.[0].Id')" = "$img" ]
  [ "$(echo "$output" | jq -r '.[0].RootFS.Layers | length')" -eq 2 ]
  [ "$(echo "$output" | jq -r '.[0].Author')" = tester ]
  echo "$output" | jq -e '.[0].Config.Env | index("COMMITTED=yes")'
  run okt history okt-manage2/committed:v1
  [[ "${lines[1]}" == *"sleep 1000"*"add a file"* ]]
  store_validates docker.io/okt-manage2/committed:v1
  # the new layer: the file, and a whiteout for the removed one
  m=$(manifest_digest docker.io/okt-manage2/committed:v1 | cut -d: -f2)
  l=$(jq -r '.layers[1].digest' "$T/store/blobs/sha256/$m" | cut -d: -f2)
  tar -tzf "$T/store/blobs/sha256/$l" | grep -qx 'bin/.wh.vi'
  tar -tzf "$T/store/blobs/sha256/$l" | grep -qx 'tmp/new-file'

  run run_image okt-manage2/committed:v1
  [ "$status" -eq 0 ]
  [ "$output" = committed ]
  run run_image okt-manage2/committed:v1 sh -c 'test -e /bin/vi || echo "vi-gone $COMMITTED"'
  [ "$output" = "vi-gone yes" ]

  run okt commit c1 'Bad:Name:x'
  [ "$status" -eq 1 ]
  run okt commit --change 'RUN true' c1 okt-manage2/bad
  [ "$status" -eq 1 ]
  [[ "$output" == *"unsupported instruction run"* ]]
  [ "$(okt images -q | wc -l)" -eq 2 ]
  # without a name: listed as <none>, removed by image prune
  run okt commit c1
  [ "$status" -eq 0 ]
  run okt images
  [[ "$output" == *"<none>"*"<none>"*"${output:7:12}"* ]] || [[ "$output" == *"<none>"* ]]
  run okt image prune
  [[ "$output" == *"deleted: sha256:"* ]]
  [ "$(okt images -q | wc -l)" -eq 2 ]
}

@test "rmi and image prune keep the image of a container; volume rm refuses a mounted volume" {
  okt volume create okt-m2vol >/dev/null
  id=$(start_container c1 okt-manage2/busybox \
    ".mounts += [{destination: \"/data\", type: \"bind\", source: \"$T/state/volumes/okt-m2vol/_data\", options: [\"rbind\"]}]" \
    sh -c 'echo kept >/data/f; sleep 1000')
  for _ in $(seq 50); do [ -e "$T/state/volumes/okt-m2vol/_data/f" ] && break; sleep 0.1; done
  [ "$(cat "$T/state/volumes/okt-m2vol/_data/f")" = kept ]
  run okt volume rm okt-m2vol
  [ "$status" -eq 1 ]
  [[ "$output" == *"volume is in use by container ${id:0:12}"* ]]
  okt volume prune -a
  [ -d "$T/state/volumes/okt-m2vol" ]

  run okt rmi okt-manage2/busybox
  [ "$status" -eq 1 ]
  [[ "$output" == *"container ${id:0:12} is using it"* ]]
  run okt image prune -a
  [ "$status" -eq 0 ]
  [ "$(okt images -q | wc -l)" -eq 1 ]
  # forced: the name goes, the blobs and snapshots the container needs stay
  run okt rmi -f okt-manage2/busybox
  [ "$status" -eq 0 ]
  [ "$(okt images -q | wc -l)" -eq 0 ]
  okt image prune -a
  [ "$(ls "$T/store/blobs/sha256" | wc -l)" -ge 3 ]
  [ "$(ls "$T/store.snapshots" | wc -l)" -ge 1 ]
  okt commit c1 okt-manage2/after-rmi >/dev/null
  store_validates docker.io/okt-manage2/after-rmi:latest
  run run_image okt-manage2/after-rmi cat /data/f
  [ "$status" -ne 0 ]
}
