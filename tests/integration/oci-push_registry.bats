#!/usr/bin/env bats
# oci-push to Debian's docker-registry on 127.0.0.1, checked with skopeo.

load helpers
load registry_helpers
bats_require_minimum_version 1.5.0

setup_file() {
  require_cmd docker-registry skopeo jq curl htpasswd
  export WORK=$(mktemp -d /tmp/okt-registry-push.XXXXXX)
  htpasswd -Bbn alice s3cret >"$WORK/htpasswd"
  start_registry "$WORK/authreg" "$WORK/htpasswd"
  export AUTH_PORT=$REG_PORT
  start_registry "$WORK/reg"
  export REG_PORT
  make_oci_image "$WORK/src" v1
  make_oci_multiarch "$WORK/multi" m1
}

teardown_file() {
  stop_registry "$WORK/reg"
  stop_registry "$WORK/authreg"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

@test "push an oci: image, skopeo pulls the same digest" {
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/oci:v1
  [ "$status" -eq 0 ]
  want=$(layout_digest "$WORK/src" v1)
  [ "$output" = "$want" ]
  [ "$(registry_digest "$REG_PORT" p/oci v1)" = "$want" ]
  skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$REG_PORT/p/oci:v1 oci:"$T/back":v1
  [ "$(layout_digest "$T/back" v1)" = "$want" ]
}

@test "push a two-platform index: manifests, then the index" {
  run "$OCI_PUSH" --format json oci:"$WORK/multi":m1 docker://127.0.0.1:$REG_PORT/p/multi:m1
  [ "$status" -eq 0 ]
  want=$(layout_digest "$WORK/multi" m1)
  [ "$(echo "$output" | jq -r .digest)" = "$want" ]
  [ "$(registry_digest "$REG_PORT" p/multi m1)" = "$want" ]
  skopeo copy -q --all --src-tls-verify=false docker://127.0.0.1:$REG_PORT/p/multi:m1 oci:"$T/back":m1
  [ "$(layout_digest "$T/back" m1)" = "$want" ]
}

@test "push a Docker v2s2 image made by skopeo keeps its digest" {
  skopeo copy -q --format v2s2 oci:"$WORK/src":v1 oci:"$T/v2":v1
  run "$OCI_PUSH" oci:"$T/v2":v1 docker://127.0.0.1:$REG_PORT/p/v2s2:v1
  [ "$status" -eq 0 ]
  [ "$output" = "$(layout_digest "$T/v2" v1)" ]
  [ "$(skopeo inspect --raw --tls-verify=false docker://127.0.0.1:$REG_PORT/p/v2s2:v1 | jq -r .mediaType)" = \
    "application/vnd.docker.distribution.manifest.v2+json" ]
}

@test "a second push skips existing blobs; another repo mounts them" {
  "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/again:v1
  run "$OCI_PUSH" --debug oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/again:v2
  [ "$status" -eq 0 ]
  [[ "$output" == *": exists"* ]]
  [[ "$output" != *": pushed"* ]]
  run "$OCI_PUSH" --debug --mount-from p/again oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/mounted:v1
  [ "$status" -eq 0 ]
  [[ "$output" == *": mounted"* ]]
  [ -n "$(registry_digest "$REG_PORT" p/mounted v1)" ]
}

@test "blobs seen in one repository are mounted into another (blob locations)" {
  export OCIKIT_BLOB_LOCATIONS=$T/blob-locations
  "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/loc-a:v1
  [ "$(grep -c " 127.0.0.1:$REG_PORT/p/loc-a\$" "$T/blob-locations")" -eq 2 ]  # config and layer
  run "$OCI_PUSH" --debug oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/loc-b:v1
  [ "$status" -eq 0 ]
  # Both blobs are asked for by mount from p/loc-a. The registry may still
  # open an upload instead (distribution falls back to one on any error
  # reading the source; seen once under load in CI), so only one mount
  # must succeed.
  [ "$(grep -cE "mount(ed)? sha256:[0-9a-f]{64} from p/loc-a" <<<"$output")" -eq 2 ]
  [[ "$output" == *"mounted sha256:"*" from p/loc-a"* ]]
  [ "$(registry_digest "$REG_PORT" p/loc-b v1)" = "$(layout_digest "$WORK/src" v1)" ]
  # A pull records its repository too.
  OCIKIT_BLOB_LOCATIONS=$T/pulled "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/p/loc-b:v1 oci:"$T/back":v1
  [ "$(grep -c " 127.0.0.1:$REG_PORT/p/loc-b\$" "$T/pulled")" -eq 2 ]
  # An empty OCIKIT_BLOB_LOCATIONS turns the cache off: uploaded again.
  OCIKIT_BLOB_LOCATIONS= run "$OCI_PUSH" --debug oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/loc-c:v1
  [ "$status" -eq 0 ]
  [[ "$output" == *": pushed"* ]]
  [[ "$output" != *"mounted"* ]]
  # A stale hint (a repository without the blobs): the registry opens an
  # upload instead of mounting, and the push goes on with it.
  for d in $(cut -d' ' -f1 "$T/blob-locations" | sort -u); do echo "$d 127.0.0.1:$REG_PORT/p/nowhere"; done >"$T/stale"
  OCIKIT_BLOB_LOCATIONS=$T/stale run "$OCI_PUSH" --debug oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/loc-d:v1
  [ "$status" -eq 0 ]
  [[ "$output" == *": pushed"* ]]
  [[ "$output" != *"mounted"* ]]
  [ "$(registry_digest "$REG_PORT" p/loc-d v1)" = "$(layout_digest "$WORK/src" v1)" ]
  grep -q " 127.0.0.1:$REG_PORT/p/loc-d\$" "$T/stale"
}

@test "fetch from one registry into the store, push from the store, round trip" {
  export OCIKIT_EVENTS=$T/events.log
  "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/p/rt:v1
  "$OCI_FETCH" --store "$T/store" docker://127.0.0.1:$REG_PORT/p/rt:v1
  # The journal oci-run events reads: docker's image push and pull events.
  [ "$(jq -r '.Type + " " + .Action + " " + .id' "$T/events.log" | tr '\n' ,)" = \
    "image push 127.0.0.1:$REG_PORT/p/rt:v1,image pull 127.0.0.1:$REG_PORT/p/rt:v1," ]
  run "$OCI_PUSH" --debug --store "$T/store" 127.0.0.1:$REG_PORT/p/rt:v1 docker://127.0.0.1:$REG_PORT/p/rt2:v1
  [ "$status" -eq 0 ]
  [[ "$output" == *": mounted"* ]]
  [ "$(registry_digest "$REG_PORT" p/rt2 v1)" = "$(layout_digest "$WORK/src" v1)" ]
}

@test "push with Basic auth; wrong credentials are unauthorized" {
  run "$OCI_PUSH" --creds alice:s3cret oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/b:v1
  [ "$status" -eq 0 ]
  run "$OCI_PUSH" --creds alice:nope oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/c:v1
  [ "$status" -eq 1 ]
  [[ "$output" == "oci-push: error: "*"unauthorized"* ]]
}

@test "--authfile alone gives the credentials (oci-fetch too); --progress json prints JSON lines" {
  printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$AUTH_PORT" "$(printf alice:s3cret | base64)" >"$T/auth.json"
  chmod 600 "$T/auth.json"
  run --separate-stderr "$OCI_PUSH" --authfile "$T/auth.json" --progress json oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/af:v1
  [ "$status" -eq 0 ]
  # Two blobs (config, layer): each added, then finished as pushed (or
  # mounted from the repository an earlier test pushed them to).
  [ "$(jq -sc '[.[] | select(.total != null and .current == null)] | length' <<<"$stderr")" = 2 ]
  [ "$(jq -sc '[.[] | select(.status == "pushed" or .status == "mounted")] | length' <<<"$stderr")" = 2 ]
  run --separate-stderr "$OCI_PUSH" --authfile "$T/auth.json" --progress json oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/af:v1
  [ "$(jq -sc '[.[] | select(.status == "exists")] | length' <<<"$stderr")" = 2 ]
  run "$OCI_FETCH" --authfile "$T/auth.json" docker://127.0.0.1:$AUTH_PORT/a/af:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  # A file without the registry: anonymous (refused), not another source.
  echo '{"auths":{}}' >"$T/empty.json"
  REGISTRY_AUTH_FILE=$T/auth.json run "$OCI_PUSH" --authfile "$T/empty.json" oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/af:v2
  [ "$status" -eq 1 ] && [[ "$output" == *"authentication required"* ]]
  run "$OCI_PUSH" --authfile "$T/none.json" oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/af:v2
  [ "$status" -ne 0 ] && [[ "$output" == *"--authfile $T/none.json: no such file"* ]]
  run "$OCI_PUSH" --progress bars oci:"$WORK/src":v1 docker://127.0.0.1:$AUTH_PORT/a/af:v2
  [ "$status" -eq 2 ] && [[ "$output" == *"--progress must be auto or json"* ]]
}

@test "bad sources and destinations" {
  run "$OCI_PUSH" oci:"$WORK/src":nope docker://127.0.0.1:$REG_PORT/p/x:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"not found"* ]]
  run "$OCI_PUSH" oci:"$WORK/src":v1 oci:"$T/x"
  [ "$status" -eq 2 ]
  [[ "$output" == *"destination must be docker://"* ]]
}

@test "push from an oci-archive on stdin and from a docker-archive" {
  skopeo copy -q oci:"$WORK/src":v1 oci-archive:"$T/img.tar":v1
  run bash -c "\"$OCI_PUSH\" - docker://127.0.0.1:$REG_PORT/p/arch:v1 <\"$T/img.tar\""
  [ "$status" -eq 0 ]
  [ "$output" = "$(layout_digest "$WORK/src" v1)" ]
  skopeo copy -q oci:"$WORK/src":v1 docker-archive:"$T/d.tar":p/dock:v1
  run "$OCI_PUSH" docker-archive:"$T/d.tar" docker://127.0.0.1:$REG_PORT/p/dock:v1
  [ "$status" -eq 0 ]
  [ "$(registry_digest "$REG_PORT" p/dock v1)" = "$output" ]
}
