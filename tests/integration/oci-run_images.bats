#!/usr/bin/env bats
# oci-run images / image ls|rm|tag|inspect|history|prune, rmi, tag, history
# over a temp store; the store must still pass oci-image-tool validate.
load oci-run_extra_helpers

setup() {
  extra_setup
  build_busybox_image okt-manage2/busybox
}
teardown() { extra_teardown; }

# config digest hex of the image named $1 in the store
config_id() {
  local m
  m=$(jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$T/store/index.json" | cut -d: -f2)
  jq -r .config.digest "$T/store/blobs/sha256/$m" | cut -d: -f2
}

@test "images lists names, ids, ages and sizes; -q, --digests, --format json, a repository filter" {
  id=$(config_id docker.io/okt-manage2/busybox:latest)
  run okt images
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]]
  [[ "${lines[1]}" =~ ^okt-manage2/busybox\ +latest\ +${id:0:12}\ +.*ago\ +[0-9.]+[kM]B$ ]]
  run okt image ls -q
  [ "$output" = "${id:0:12}" ]
  run okt images --no-trunc -q
  [ "$output" = "sha256:$id" ]
  run okt images --digests
  [[ "${lines[0]}" == *DIGEST* ]] && [[ "${lines[1]}" == *sha256:* ]]
  run okt images --format json
  [ "$(echo "$output" | jq -r .Repository)" = okt-manage2/busybox ]
  [ "$(echo "$output" | jq -r .Tag)" = latest ]
  [ "$(echo "$output" | jq -r .ID)" = "${id:0:12}" ]
  run okt images --format '{{.Repository}}:{{.Tag}}'
  [ "$output" = okt-manage2/busybox:latest ]
  run okt images okt-other
  [ "${#lines[@]}" -eq 1 ]
}

@test "tag adds a name; rmi of one name untags, of the last deletes; the store validates" {
  id=$(config_id docker.io/okt-manage2/busybox:latest)
  run okt tag okt-manage2/busybox okt-manage2/copy:v1
  [ "$status" -eq 0 ]
  run okt image tag "${id:0:8}" localhost:5000/okt/bb
  [ "$status" -eq 0 ]
  run okt images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
  [[ "$output" == *"okt-manage2/copy:v1 ${id:0:12}"* ]]
  [[ "$output" == *"localhost:5000/okt/bb:latest ${id:0:12}"* ]]
  store_validates docker.io/okt-manage2/copy:v1

  # an id naming an image with several names needs -f
  run okt rmi "${id:0:12}"
  [ "$status" -eq 1 ]
  [[ "$output" == *"image is referenced in multiple repositories"* ]]

  run okt rmi okt-manage2/copy:v1
  [ "$status" -eq 0 ]
  [ "$output" = "Untagged: okt-manage2/copy:v1" ]
  run okt image rm localhost:5000/okt/bb
  [ "$output" = "Untagged: localhost:5000/okt/bb:latest" ]
  store_validates docker.io/okt-manage2/busybox:latest
  blobs_before=$(ls "$T/store/blobs/sha256" | wc -l)
  [ "$blobs_before" -ge 3 ]

  run okt rmi okt-manage2/busybox
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Untagged: okt-manage2/busybox:latest" ]
  [ "${lines[1]}" = "Deleted: sha256:$id" ]
  [ "$(jq '.manifests | length' "$T/store/index.json")" -eq 0 ]
  [ "$(ls "$T/store/blobs/sha256" | wc -l)" -eq 0 ]

  run okt rmi okt-manage2/busybox
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such image: okt-manage2/busybox"* ]]
  run okt tag okt-none okt/x
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such image: okt-none"* ]]
  run okt tag "${id:0:12}" 'Bad Name'
  [ "$status" -eq 1 ]
}

@test "image inspect prints docker-style JSON" {
  id=$(config_id docker.io/okt-manage2/busybox:latest)
  run okt image inspect okt-manage2/busybox
  [ "$status" -eq 0 ]
  j=$output
  [ "$(jq -r '.[0].Id' <<<"$j")" = "sha256:$id" ]
  [ "$(jq -r '.[0].RepoTags[0]' <<<"$j")" = okt-manage2/busybox:latest ]
  [[ "$(jq -r '.[0].RepoDigests[0]' <<<"$j")" == okt-manage2/busybox@sha256:* ]]
  [ "$(jq -r '.[0].Config.Cmd[0]' <<<"$j")" = /bin/sh ]
  [ "$(jq -r '.[0].RootFS.Type' <<<"$j")" = layers ]
  [ "$(jq -r '.[0].RootFS.Layers | length' <<<"$j")" -eq 1 ]
  [ "$(jq -r '.[0].Os' <<<"$j")" = linux ]
  [ "$(jq -r '.[0].Architecture' <<<"$j")" = "$(jq -r .architecture "$T/store/blobs/sha256/$id")" ]
  [ "$(jq -r '.[0].Size' <<<"$j")" -gt 100000 ]
  run okt image inspect -f '{{.Id}}' "${id:0:6}"
  [ "$output" = "sha256:$id" ]
  run okt image inspect okt-none
  [ "$status" -eq 1 ]
  [[ "$output" == *"no such image: okt-none"* ]]
}

@test "history shows the config's history, newest first" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-manage2/busybox\nENV A=1\nRUN echo hello-from-a-long-run-step-that-needs-truncation >/f\n' >"$T/ctx/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/hist "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  run okt history okt-manage2/hist
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]]
  [ "${#lines[@]}" -eq 5 ]
  [[ "${lines[1]}" =~ ^[0-9a-f]{12}\  ]]
  [[ "${lines[1]}" == *"…"* ]]
  [[ "${lines[2]}" == "<missing>"*"ENV A=1"*"0B"* ]]
  run okt history --no-trunc okt-manage2/hist
  [[ "${lines[1]}" == *"needs-truncation >/f"* ]]
  run okt image history -q okt-manage2/hist
  [ "${#lines[@]}" -eq 4 ]
  run okt history --format json okt-manage2/hist
  [ "$(echo "${lines[0]}" | jq -r .Size)" != 0B ]
  # --human=false: bytes and RFC 3339 times (docker's -H=false).
  run okt history --human=false --format json okt-manage2/hist
  [[ "$(jq -r .Size <<<"${lines[0]}")" =~ ^[1-9][0-9]*$ ]]
  [ "$(jq -r .Size <<<"${lines[1]}")" = 0 ]
  [[ "$(jq -r .CreatedSince <<<"${lines[0]}")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]
}

@test "image prune removes unused images, blobs and snapshots; the store validates" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-manage2/busybox\nRUN echo x >/x\n' >"$T/ctx/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/child "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  # snapshots of both images, as `run` makes them (plus a stale one)
  mkdir -p "$T/store.snapshots/$(printf 'f%.0s' $(seq 64))"
  run okt image prune
  [ "$status" -eq 0 ]
  [[ "$output" == *"Total reclaimed space: 0B"* ]]
  [ "$(okt images -q | wc -l)" -eq 2 ]

  run okt image prune -a -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"untagged: okt-manage2/child:latest"* ]]
  [[ "$output" == *"untagged: okt-manage2/busybox:latest"* ]]
  [[ "$output" == *"Total reclaimed space: "*[kM]B* ]]
  [ "$(okt images -q | wc -l)" -eq 0 ]
  [ "$(ls "$T/store/blobs/sha256" | wc -l)" -eq 0 ]
  [ "$(ls "$T/store.snapshots" | wc -l)" -eq 0 ]
  [ "$(jq -r '.manifests | length' "$T/store/index.json")" -eq 0 ]
}

@test "image prune --filter label/until and --format json (docker's API answer)" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-manage2/busybox\nLABEL keep=no\nRUN echo x >/x\n' >"$T/ctx/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/labeled "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  run okt image prune -a --filter label=keep=yes --format json
  [ "$status" -eq 0 ] && [ "$(jq -c .ImagesDeleted <<<"$output")" = "[]" ]
  run okt image prune -a --filter until=1h --format json
  [ "$(jq -c .ImagesDeleted <<<"$output")" = "[]" ]
  run okt image prune -a --filter label=keep=no --format json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.ImagesDeleted[0].Untagged' <<<"$output")" = okt-manage2/labeled:latest ]
  [[ "$(jq -r '.ImagesDeleted[1].Deleted' <<<"$output")" == sha256:* ]]
  [ "$(jq -r .SpaceReclaimed <<<"$output")" -gt 0 ]
  [ "$(okt images -q | wc -l)" -eq 1 ]
  run okt image prune --filter dangling=true
  [ "$status" -eq 2 ] && [[ "$output" == *"invalid filter 'dangling'"* ]]
  run okt image prune --format yaml
  [ "$status" -eq 2 ]
}

# blob path of the image named $1's layer $2 (-1: the top one), or of its manifest with "manifest"
blob_of() {
  local m
  m=$(jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$T/store/index.json" | cut -d: -f2)
  if [ "$2" = manifest ]; then echo "$T/store/blobs/sha256/$m"; return; fi
  echo "$T/store/blobs/sha256/$(jq -r ".layers[$2].digest" "$T/store/blobs/sha256/$m" | cut -d: -f2)"
}

@test "system check: a whole store passes; a corrupt or missing blob, leftovers of a crash are found; --repair leaves a store that validates" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-manage2/busybox\nRUN echo x >/x\n' >"$T/ctx/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/child "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  printf 'FROM okt-manage2/busybox\nRUN echo y >/y\n' >"$T/ctx/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/other "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  okt run --rm okt-manage2/child true
  run okt system check
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" =~ ^checked\ [0-9]+\ blobs\ .*\ 3\ images,\ [0-9]+\ snapshots:\ 0\ errors,\ 0\ garbage$ ]]
  # a bit flipped in child's top layer, other's top layer gone, crash leftovers
  local corrupt missing
  corrupt=$(blob_of docker.io/okt-manage2/child:latest -1)
  missing=$(blob_of docker.io/okt-manage2/other:latest -1)
  printf 'Z' | dd of="$corrupt" bs=1 seek=20 conv=notrunc 2>/dev/null
  rm "$missing"
  mkdir -p "$T/store/ingest" && echo partial >"$T/store/ingest/okt-partial"
  mkdir "$T/store.snapshots/.tmp-$(printf '%064d' 0)-abcdef"
  printf '{}' >"$T/store/blobs/sha256/$(printf '{}' | sha256sum | cut -d' ' -f1)"
  run okt system check
  [ "$status" -eq 1 ]
  [[ "$output" == *"corrupt blob sha256:$(basename "$corrupt"): content hashes to sha256:"* ]]
  [[ "$output" == *"broken image docker.io/okt-manage2/child:latest: corrupt blob sha256:$(basename "$corrupt")"* ]]
  [[ "$output" == *"missing blob sha256:$(basename "$missing"): layer needed, not in the store"* ]]
  [[ "$output" == *"broken image docker.io/okt-manage2/other:latest: missing layer sha256:$(basename "$missing")"* ]]
  [[ "$output" == *"stale temp $T/store/ingest/okt-partial"* ]]
  [[ "$output" == *"stale temp $T/store.snapshots/.tmp-"* ]]
  [[ "$output" == *"unreferenced blob sha256:"* ]]
  [[ "$output" == *": 4 errors, "* ]]
  # --quick (sizes only) does not see the flipped bit
  run okt system check --quick
  [[ "$output" != *"corrupt blob"* ]]
  run okt system check --repair
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"repaired: removed 2 broken images, "* ]]
  run okt system check
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *" 1 images, "*": 0 errors, 0 garbage" ]]
  store_validates docker.io/okt-manage2/busybox:latest
  [ ! -e "$corrupt" ]
  # the broken image builds again
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-manage2/other "$T/ctx" >"$T/b.log" 2>&1 || { cat "$T/b.log"; false; }
  okt run --rm okt-manage2/other cat /y
}
