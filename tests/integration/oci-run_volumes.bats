#!/usr/bin/env bats
# oci-run volume create|ls|inspect|rm|prune.
load oci-run_extra_helpers

setup() { extra_setup; }
teardown() { extra_teardown; }

@test "volume create, ls, inspect, rm" {
  run okt volume create --label team=a --label x okt-v1
  [ "$status" -eq 0 ] && [ "$output" = okt-v1 ]
  [ -d "$T/state/volumes/okt-v1/_data" ]
  # creating an existing name returns it unchanged
  run okt volume create okt-v1
  [ "$status" -eq 0 ] && [ "$output" = okt-v1 ]
  run okt volume create
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  anon=$output

  run okt volume ls
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "DRIVER    VOLUME NAME" ]
  [[ "$output" == *"local     okt-v1"* ]]
  [[ "$output" == *"local     $anon"* ]]
  run okt volume ls -q
  [ "$(echo "$output" | sort)" = "$(printf '%s\n' "$anon" okt-v1 | sort)" ]
  run okt volume ls --format json
  [ "$(echo "$output" | jq -r 'select(.Name=="okt-v1") | .Labels')" = "team=a,x=" ]
  run okt volume ls --format '{{.Name}}:{{.Driver}}'
  [[ "$output" == *"okt-v1:local"* ]]

  run okt volume inspect okt-v1
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '.[0].Mountpoint')" = "$T/state/volumes/okt-v1/_data" ]
  [ "$(echo "$output" | jq -r '.[0].Driver')" = local ]
  [ "$(echo "$output" | jq -r '.[0].Labels.team')" = a ]
  [ "$(echo "$output" | jq -r '.[0].Scope')" = local ]
  echo "$output" | jq -e '.[0].CreatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")'
  run okt volume inspect -f '{{.Name}}' "$anon"
  [ "$output" = "$anon" ]

  echo data >"$T/state/volumes/okt-v1/_data/f"
  run okt volume rm okt-v1
  [ "$status" -eq 0 ] && [ "$output" = okt-v1 ]
  [ ! -e "$T/state/volumes/okt-v1" ]
  run okt volume ls -q
  [ "$output" = "$anon" ]
}

@test "volume errors: bad names, missing volumes, unknown driver" {
  run okt volume create 'bad/name'
  [ "$status" -eq 1 ]
  [[ "$output" == *'invalid volume name "bad/name"'* ]]
  [ ! -e "$T/state/volumes/bad" ]
  run okt volume inspect okt-none
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such volume: okt-none"* ]]
  run okt volume rm okt-none
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such volume: okt-none"* ]]
  run okt volume create -d nfs okt-x
  [ "$status" -eq 2 ]
  [ ! -e "$T/state/volumes/okt-x" ]
}

# a container record whose config.json mounts volume $1 (what `run -v` writes)
fake_user() {
  mkdir -p "$T/state/containers/$2/bundle"
  jq -n --arg s "$T/state/volumes/$1/_data" '{mounts: [{destination: "/data", type: "bind", source: $s, options: ["rbind"]}]}' \
    >"$T/state/containers/$2/bundle/config.json"
}

@test "volume rm refuses a volume in use unless forced; prune keeps used and named ones" {
  okt volume create okt-used >/dev/null
  okt volume create okt-named >/dev/null
  anon_used=$(okt volume create)
  anon_free=$(okt volume create)
  echo 12345 >"$T/state/volumes/$anon_free/_data/blob"
  fake_user okt-used c1111111111111111111111111111111111111111111111111111111111111
  fake_user "$anon_used" c2222222222222222222222222222222222222222222222222222222222222

  run okt volume rm okt-used
  [ "$status" -eq 1 ]
  [[ "$output" == *"remove okt-used: volume is in use by container c11111111111"* ]]
  [ -d "$T/state/volumes/okt-used/_data" ]

  run okt volume prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"Deleted Volumes:"* ]]
  [[ "$output" == *"$anon_free"* ]]
  [[ "$output" == *"Total reclaimed space: "* ]]
  [ ! -e "$T/state/volumes/$anon_free" ]
  [ -d "$T/state/volumes/$anon_used" ] && [ -d "$T/state/volumes/okt-named" ] && [ -d "$T/state/volumes/okt-used" ]

  run okt volume prune --all
  [ "$status" -eq 0 ]
  [[ "$output" == *okt-named* ]]
  [ ! -e "$T/state/volumes/okt-named" ]
  [ -d "$T/state/volumes/okt-used" ] && [ -d "$T/state/volumes/$anon_used" ]

  run okt volume rm -f okt-used
  [ "$status" -eq 0 ]
  [ ! -e "$T/state/volumes/okt-used" ]
}

@test "volume prune --filter label and --format json" {
  okt volume create --label tier=db okt-db >/dev/null
  okt volume create --label tier=web okt-web >/dev/null
  run okt volume prune --all --filter label=tier=db --format json
  [ "$status" -eq 0 ]
  [ "$(jq -c .VolumesDeleted <<<"$output")" = '["okt-db"]' ]
  run okt volume prune --all --filter 'label!=tier=web' --format json
  [ "$(jq -c .VolumesDeleted <<<"$output")" = '[]' ]
  run okt volume prune --all --format json
  [ "$(jq -c .VolumesDeleted <<<"$output")" = '["okt-web"]' ]
  run okt volume prune --filter until=1h
  [ "$status" -eq 2 ] && [[ "$output" == *"invalid filter 'until'"* ]]
}

@test "image VOLUMEs get anonymous volumes seeded from the image; rm -v removes them" {
  mkdir -p "$T/vimg/rootfs"
  make_busybox_rootfs "$T/vimg/rootfs"
  mkdir -p "$T/vimg/data/sub"
  echo seeded >"$T/vimg/data/sub/seed"
  chmod 0750 "$T/vimg/data"
  printf 'FROM scratch\nCOPY rootfs/ /\nCOPY --chown=65534:65534 data/ /data/\nVOLUME ["/data", "/cache"]\nCMD ["/bin/sh"]\n' >"$T/vimg/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-vol/img "$T/vimg" >"$T/build.log" 2>&1 || { cat "$T/build.log"; return 1; }
  # one anonymous volume per VOLUME, filled with the image's files, owners and modes
  run okt run --name v1 okt-vol/img sh -c 'cat /data/sub/seed; stat -c "%u:%g %a" /data /data/sub/seed; echo new >/data/new; grep -cE " /(data|cache) " /proc/mounts'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = seeded ]
  [ "${lines[1]}" = "65534:65534 750" ]
  [ "${lines[2]}" = "65534:65534 644" ]
  [ "${lines[3]}" = 2 ]
  run okt volume ls --format json
  [ "$(jq -s 'length' <<<"$output")" = 2 ]
  [ "$(jq -r '.Labels' <<<"$output" | sort -u)" = "com.docker.volume.anonymous=" ]
  vols=$(okt inspect v1 | jq -r '.[0].Mounts[] | select(.Type == "volume") | .Name' | sort)
  [ "$(wc -l <<<"$vols")" = 2 ]
  # the data stays across starts of the same container
  okt start v1 >/dev/null
  okt wait v1 >/dev/null
  [ "$(okt logs v1 | grep -c seeded)" = 2 ]
  # a mount on the VOLUME path replaces it (a named volume, seeded the same way)
  run okt run --rm -v okt-named:/data okt-vol/img cat /data/sub/seed
  [ "$output" = seeded ]
  [ "$(okt volume ls -q | grep -c okt-named)" = 1 ]
  # rm -v removes the anonymous volumes, not the named one
  run okt rm -v v1
  [ "$status" -eq 0 ]
  for v in $vols; do [ ! -e "$T/state/volumes/$v" ]; done
  [ "$(okt volume ls -q)" = okt-named ]
  # --rm removes them too
  okt run --rm okt-vol/img true
  [ "$(okt volume ls -q)" = okt-named ]
}
