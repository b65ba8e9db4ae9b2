#!/usr/bin/env bats
# oci-fetch through fault_proxy: a registry that cuts a blob mid-way, serves
# a corrupt blob, answers 500/429, or sends malformed manifest JSON.

load helpers
load registry_helpers

setup_file() {
  require_cmd docker-registry skopeo jq curl
  export WORK=$(mktemp -d /tmp/okt-registry-faults.XXXXXX)
  start_registry "$WORK/reg"
  export REG_PORT
  make_oci_image "$WORK/src" v1
  skopeo copy -q --dest-tls-verify=false oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/f/img:v1
  export WANT=$(registry_digest "$REG_PORT" f/img v1)
}

teardown_file() {
  stop_registry "$WORK/reg"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

teardown() {
  stop_proxy
}

no_blobs_left() {
  [ ! -d "$1/blobs/sha256" ] || [ -z "$(ls -A "$1/blobs/sha256")" ]
}

@test "a blob cut mid-way resumes and completes" {
  start_proxy "$REG_PORT" cut 1
  run "$OCI_FETCH" docker://127.0.0.1:$PROXY_PORT/f/img:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$output" = "$WANT" ]
}

@test "500 and 429 are retried" {
  start_proxy "$REG_PORT" 500 2
  run "$OCI_FETCH" docker://127.0.0.1:$PROXY_PORT/f/img:v1 oci:"$T/a":v1
  [ "$status" -eq 0 ]
  stop_proxy
  start_proxy "$REG_PORT" 429 2
  run "$OCI_FETCH" docker://127.0.0.1:$PROXY_PORT/f/img:v1 oci:"$T/b":v1
  [ "$status" -eq 0 ]
}

@test "persistent 500 is a clear error and leaves no blob" {
  start_proxy "$REG_PORT" 500 1000
  run "$OCI_FETCH" --store "$T/store" docker://127.0.0.1:$PROXY_PORT/f/img:v1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "oci-fetch: error: pull blob sha256:"*"HTTP 500" ]]
  no_blobs_left "$T/store"
}

@test "a corrupt blob is a digest mismatch and nothing reaches the store" {
  start_proxy "$REG_PORT" corrupt 1000
  run "$OCI_FETCH" --store "$T/store" docker://127.0.0.1:$PROXY_PORT/f/img:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"digest mismatch"* ]]
  no_blobs_left "$T/store"
  [ ! -e "$T/store/index.json" ] || [ "$(jq '.manifests | length' "$T/store/index.json")" -eq 0 ]
}

@test "a connection cut on every try fails after the retries" {
  start_proxy "$REG_PORT" cut 1000
  run "$OCI_FETCH" docker://127.0.0.1:$PROXY_PORT/f/img:v1 oci:"$T/out":v1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "oci-fetch: error: pull blob sha256:"* ]]
  no_blobs_left "$T/out"
}

@test "malformed manifest JSON is an error" {
  start_proxy "$REG_PORT" badjson 1000
  run "$OCI_FETCH" docker://127.0.0.1:$PROXY_PORT/f/img:v1 oci:"$T/out":v1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"invalid"* ]]
}

@test "oci-push retries 500 on uploads, then fails clearly" {
  start_proxy "$REG_PORT" push500 2
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$PROXY_PORT/f/pushed:v1
  [ "$status" -eq 0 ]
  [ "$(registry_digest "$REG_PORT" f/pushed v1)" = "$output" ]
  stop_proxy
  start_proxy "$REG_PORT" push500 1000
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$PROXY_PORT/f/never:v1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "oci-push: error: push blob sha256:"*"HTTP 500" ]]
  [ -z "$(registry_digest "$REG_PORT" f/never v1)" ]
}
