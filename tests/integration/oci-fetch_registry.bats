#!/usr/bin/env bats
# oci-fetch against Debian's docker-registry on 127.0.0.1: images pushed by
# skopeo (OCI, Docker v2s2, a two-platform index) are fetched and compared by
# digest; unknown names and bad credentials fail cleanly.

load helpers
load registry_helpers

setup_file() {
  require_cmd docker-registry skopeo jq curl htpasswd
  export WORK=$(mktemp -d /tmp/okt-registry-fetch.XXXXXX)
  start_registry "$WORK/reg"
  export REG_PORT
  htpasswd -Bbn alice s3cret >"$WORK/htpasswd"
  start_registry "$WORK/authreg" "$WORK/htpasswd"
  export AUTH_PORT=$REG_PORT
  REG_PORT=$(cat "$WORK/reg/config.yml" | sed -n 's/.*addr: 127.0.0.1:\([0-9]*\)/\1/p')
  export REG_PORT
  make_oci_image "$WORK/src" v1 "$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')"
  make_oci_multiarch "$WORK/multi" m1
  skopeo copy -q --dest-tls-verify=false oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/test/oci:v1
  skopeo copy -q --dest-tls-verify=false --format v2s2 oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/test/v2s2:v1
  skopeo copy -q --all --dest-tls-verify=false oci:"$WORK/multi":m1 docker://127.0.0.1:$REG_PORT/test/multi:m1
  skopeo copy -q --dest-tls-verify=false --dest-creds alice:s3cret oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/priv/img:v1
}

teardown_file() {
  stop_registry "$WORK/reg"
  stop_registry "$WORK/authreg"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

@test "fetch an OCI image into an oci: layout, same digest as the registry" {
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/test/oci:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  want=$(registry_digest "$REG_PORT" test/oci v1)
  [ "$output" = "$want" ]
  [ "$(layout_digest "$T/out" v1)" = "$want" ]
  # every blob is there and hashes to its name
  for f in "$T"/out/blobs/sha256/*; do
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
  done
  skopeo inspect --raw oci:"$T/out":v1 >/dev/null
}

@test "fetch a Docker v2 schema 2 image, kept byte for byte" {
  run "$OCI_FETCH" --format json docker://127.0.0.1:$REG_PORT/test/v2s2:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r .mediaType)" = "application/vnd.docker.distribution.manifest.v2+json" ]
  [ "$(echo "$output" | jq -r .digest)" = "$(registry_digest "$REG_PORT" test/v2s2 v1)" ]
  # skopeo's oci: reader only takes OCI media types, so compare the bytes
  d=$(layout_digest "$T/out" v1)
  curl -s -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$REG_PORT/v2/test/v2s2/manifests/v1" | cmp - "$T/out/blobs/sha256/${d#sha256:}"
}

@test "fetch by digest is verified; one platform of an index by --platform" {
  idx=$(registry_digest "$REG_PORT" test/multi m1)
  run "$OCI_FETCH" --format json --platform linux/arm64 docker://127.0.0.1:$REG_PORT/test/multi@"$idx" oci:"$T/out":a
  [ "$status" -eq 0 ]
  want=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://127.0.0.1:$REG_PORT/v2/test/multi/manifests/m1" |
    jq -r '.manifests[] | select(.platform.architecture=="arm64") | .digest')
  [ "$(echo "$output" | jq -r .digest)" = "$want" ]
  [ "$(layout_digest "$T/out" a)" = "$want" ]
  run "$OCI_FETCH" --platform linux/s390x docker://127.0.0.1:$REG_PORT/test/multi:m1 oci:"$T/out2":a
  [ "$status" -eq 1 ]
  [[ "$output" == *"no image for platform linux/s390x (the index has: linux/amd64, linux/arm64/v8)"* ]]
}

@test "fetch --all-platforms keeps the index, then oci-push copies it back identical" {
  run "$OCI_FETCH" --all-platforms docker://127.0.0.1:$REG_PORT/test/multi:m1 oci:"$T/out":m1
  [ "$status" -eq 0 ]
  want=$(registry_digest "$REG_PORT" test/multi m1)
  [ "$output" = "$want" ]
  [ "$(layout_digest "$T/out" m1)" = "$want" ]
  [ "$(ls "$T/out/blobs/sha256" | wc -l)" -eq 7 ]
}

@test "fetch into the store by default, then again: blobs present are skipped" {
  run "$OCI_FETCH" --store "$T/store" docker://127.0.0.1:$REG_PORT/test/oci:v1
  [ "$status" -eq 0 ]
  [ "$(layout_digest "$T/store" 127.0.0.1:$REG_PORT/test/oci:v1)" = "$(registry_digest "$REG_PORT" test/oci v1)" ]
  if command -v oci-image-tool >/dev/null; then
    oci-image-tool validate --type image --ref name=127.0.0.1:$REG_PORT/test/oci:v1 "$T/store"
  fi
  run "$OCI_FETCH" --debug --store "$T/store" docker://127.0.0.1:$REG_PORT/test/oci:v1
  [ "$status" -eq 0 ]
  [[ "$output" != *"fetch blob"* ]]
  rm -rf "$T/store2"
  run "$OCI_FETCH" --debug --store "$T/store2" docker://127.0.0.1:$REG_PORT/test/oci:v1
  [[ "$output" == *"fetch blob"* ]]
}

@test "unknown repository or tag is 'not found'" {
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/test/oci:nope oci:"$T/out"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "oci-fetch: error: manifest 127.0.0.1:$REG_PORT/test/oci:nope not found: HTTP 404 (MANIFEST_UNKNOWN"* ]]
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/no/such:v1 oci:"$T/out"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not found"* ]]
  [ ! -e "$T/out/index.json" ] || [ "$(jq '.manifests | length' "$T/out/index.json")" -eq 0 ]
}

@test "Basic auth: --creds, auth file, wrong and missing credentials" {
  run "$OCI_FETCH" --creds alice:s3cret docker://127.0.0.1:$AUTH_PORT/priv/img:v1 oci:"$T/a":v1
  [ "$status" -eq 0 ]
  printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$AUTH_PORT" "$(printf alice:s3cret | base64)" >"$T/auth.json"
  REGISTRY_AUTH_FILE="$T/auth.json" run "$OCI_FETCH" docker://127.0.0.1:$AUTH_PORT/priv/img:v1 oci:"$T/b":v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" --creds alice:wrong docker://127.0.0.1:$AUTH_PORT/priv/img:v1 oci:"$T/c":v1
  [ "$status" -eq 1 ]
  [[ "$output" == "oci-fetch: error: 127.0.0.1:$AUTH_PORT: unauthorized: HTTP 401"* ]]
  HOME=$T XDG_RUNTIME_DIR=$T run "$OCI_FETCH" docker://127.0.0.1:$AUTH_PORT/priv/img:v1 oci:"$T/d":v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"authentication required"* ]]
}

@test "bad source references are one-line errors" {
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/UPPER:v1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "oci-fetch: error: invalid reference"* ]]
  run "$OCI_FETCH" --jobs 0 docker://127.0.0.1:$REG_PORT/test/oci:v1
  [ "$status" -eq 2 ]
}

@test "fetch to an oci-archive on stdout and a docker-archive; skopeo reads both" {
  run bash -c "\"$OCI_FETCH\" docker://127.0.0.1:$REG_PORT/test/oci:v1 - >\"$T/o.tar\""
  [ "$status" -eq 0 ]
  skopeo inspect --raw oci-archive:"$T/o.tar" >/dev/null
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/test/oci:v1 docker-archive:"$T/d.tar":test/oci:v1
  [ "$status" -eq 0 ]
  skopeo inspect docker-archive:"$T/d.tar" >/dev/null
  # and back: archive sources into an oci: layout, through temporary
  # layouts under $TMPDIR that are gone afterwards
  mkdir "$T/tmp"
  TMPDIR=$T/tmp run "$OCI_FETCH" oci-archive:"$T/o.tar" oci:"$T/lay":x
  [ "$status" -eq 0 ]
  [ "$output" = "$(registry_digest "$REG_PORT" test/oci v1)" ]
  TMPDIR=$T/tmp run "$OCI_FETCH" docker-archive:"$T/d.tar" oci:"$T/lay2":y
  [ "$status" -eq 0 ]
  [ -z "$(ls -A "$T/tmp")" ]
}
