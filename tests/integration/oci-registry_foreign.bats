#!/usr/bin/env bats
# Foreign / non-distributable layers (OCI layer.nondistributable.* and
# Docker's rootfs.foreign type, both with `urls`): oci-push keeps their
# descriptors without uploading them, oci-fetch downloads them from their
# URLs when the registry lacks them, verified by digest. The URLs point at a
# busybox httpd on 127.0.0.1.

load helpers
load registry_helpers

setup_file() {
  require_cmd docker-registry jq curl busybox
  export WORK=$(mktemp -d /tmp/okt-registry-foreign.XXXXXX)
  # The registry rejects layer URLs unless allowed; allow loopback only.
  REG_EXTRA_CONFIG=$'validation:\n  manifests:\n    urls:\n      allow:\n        - \'^http://127\\.0\\.0\\.1:\'' \
    start_registry "$WORK/reg"
  export REG_PORT
  mkdir -p "$WORK/www"
  export HTTP_PORT=$(free_port)
  busybox httpd -f -p 127.0.0.1:"$HTTP_PORT" -h "$WORK/www" &
  echo $! >"$WORK/httpd.pid"
  local i
  for i in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/" && break
    sleep 0.05
  done
}

teardown_file() {
  stop_registry "$WORK/reg"
  kill "$(cat "$WORK/httpd.pid")" 2>/dev/null || true
  wait "$(cat "$WORK/httpd.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

# make_foreign_image LAYOUT TAG FORMAT(oci|docker) URL...: an image whose
# first layer is an ordinary gzip layer and whose second is foreign, listing
# the URLs. The foreign blob is published as $WORK/www/<hex>.tgz and left out
# of LAYOUT. Sets FOREIGN (its digest).
make_foreign_image() {
  local layout=$1 tag=$2 format=$3 tmp ld ls fd fs cd cs md ms lt ft ct mt
  shift 3
  tmp=$(mktemp -d "$WORK/mk.XXXXXX")
  mkdir -p "$layout" "$tmp/a" "$tmp/b"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  echo "ordinary $tag" >"$tmp/a/file"
  echo "foreign $tag $RANDOM" >"$tmp/b/foreign"
  tar --mtime=@0 --owner=0 --group=0 -C "$tmp/a" -c . | gzip -n >"$tmp/a.tgz"
  tar --mtime=@0 --owner=0 --group=0 -C "$tmp/b" -c . | gzip -n >"$tmp/b.tgz"
  local da db
  da=sha256:$(gzip -dc "$tmp/a.tgz" | sha256sum | cut -d' ' -f1)
  db=sha256:$(gzip -dc "$tmp/b.tgz" | sha256sum | cut -d' ' -f1)
  read -r ld ls < <(_blob "$layout" "$tmp/a.tgz")
  read -r fd fs < <(_blob "$layout" "$tmp/b.tgz")
  mv "$layout/blobs/sha256/${fd#sha256:}" "$WORK/www/${fd#sha256:}.tgz"
  local urls
  urls=$(printf '%s\n' "$@" | sed "s/@HEX@/${fd#sha256:}/" | jq -R . | jq -sc .)
  if [ "$format" = oci ]; then
    lt=application/vnd.oci.image.layer.v1.tar+gzip
    ft=application/vnd.oci.image.layer.nondistributable.v1.tar+gzip
    ct=application/vnd.oci.image.config.v1+json
    mt=application/vnd.oci.image.manifest.v1+json
  else
    lt=application/vnd.docker.image.rootfs.diff.tar.gzip
    ft=application/vnd.docker.image.rootfs.foreign.diff.tar.gzip
    ct=application/vnd.docker.container.image.v1+json
    mt=application/vnd.docker.distribution.manifest.v2+json
  fi
  jq -cn --arg a "$da" --arg b "$db" \
    '{architecture:"amd64", os:"linux", rootfs:{type:"layers", diff_ids:[$a, $b]}}' >"$tmp/config.json"
  read -r cd cs < <(_blob "$layout" "$tmp/config.json")
  jq -cn --arg mt "$mt" --arg ct "$ct" --arg cd "$cd" --argjson cs "$cs" --arg lt "$lt" --arg ld "$ld" \
    --argjson ls "$ls" --arg ft "$ft" --arg fd "$fd" --argjson fs "$fs" --argjson urls "$urls" \
    '{schemaVersion:2, mediaType:$mt, config:{mediaType:$ct, digest:$cd, size:$cs},
      layers:[{mediaType:$lt, digest:$ld, size:$ls}, {mediaType:$ft, digest:$fd, size:$fs, urls:$urls}]}' >"$tmp/m.json"
  read -r md ms < <(_blob "$layout" "$tmp/m.json")
  jq -cn --arg mt "$mt" --arg d "$md" --argjson s "$ms" --arg t "$tag" \
    '{schemaVersion:2, manifests:[{mediaType:$mt, digest:$d, size:$s,
      annotations:{"org.opencontainers.image.ref.name":$t}}]}' >"$layout/index.json"
  rm -rf "$tmp"
  FOREIGN=$fd
}

blob_status() {  # REPO DIGEST: the registry's answer to a HEAD of the blob
  curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$REG_PORT/v2/$1/blobs/$2"
}

# push_then_fetch_foreign REPO: push $T/src:v1 to REPO (the registry gets
# the manifest but not the $FOREIGN blob), then fetch it back into $T/out:
# same digest both ways, and the foreign blob comes from its url intact.
push_then_fetch_foreign() {
  run "$OCI_PUSH" oci:"$T/src":v1 docker://127.0.0.1:$REG_PORT/$1:v1
  [ "$status" -eq 0 ]
  want=$(layout_digest "$T/src" v1)
  [ "$output" = "$want" ]
  [ "$(registry_digest "$REG_PORT" "$1" v1)" = "$want" ]
  [ "$(blob_status "$1" "$FOREIGN")" = 404 ]

  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/$1:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
  [ "$(layout_digest "$T/out" v1)" = "$want" ]
  cmp "$T/out/blobs/sha256/${FOREIGN#sha256:}" "$WORK/www/${FOREIGN#sha256:}.tgz"
}

@test "OCI non-distributable layer: pushed as a descriptor only, fetched from its url and verified" {
  # The first URL is missing: the next one is tried.
  make_foreign_image "$T/src" v1 oci "http://127.0.0.1:$HTTP_PORT/missing-@HEX@.tgz" \
    "http://127.0.0.1:$HTTP_PORT/@HEX@.tgz"
  push_then_fetch_foreign f/oci
}

@test "Docker foreign layer: pushed as a descriptor only, fetched from its url" {
  make_foreign_image "$T/src" v1 docker "http://127.0.0.1:$HTTP_PORT/@HEX@.tgz"
  push_then_fetch_foreign f/docker
}

@test "a foreign layer whose url serves other content: digest mismatch, nothing stored" {
  make_foreign_image "$T/src" v1 oci "http://127.0.0.1:$HTTP_PORT/@HEX@.tgz"
  run "$OCI_PUSH" oci:"$T/src":v1 docker://127.0.0.1:$REG_PORT/f/bad:v1
  [ "$status" -eq 0 ]
  # Same size, other bytes.
  f=$WORK/www/${FOREIGN#sha256:}.tgz
  head -c "$(stat -c %s "$f")" /dev/zero >"$f"

  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/f/bad:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"digest mismatch"* ]]
  [ ! -e "$T/out/blobs/sha256/${FOREIGN#sha256:}" ]
  [ ! -e "$T/out/index.json" ] || [ "$(jq '.manifests | length' "$T/out/index.json")" -eq 0 ]
}

@test "a foreign layer no url serves: not found, naming the blob" {
  make_foreign_image "$T/src" v1 oci "http://127.0.0.1:$HTTP_PORT/gone-@HEX@.tgz"
  run "$OCI_PUSH" oci:"$T/src":v1 docker://127.0.0.1:$REG_PORT/f/gone:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/f/gone:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"$FOREIGN"*"not found"* ]]
}
