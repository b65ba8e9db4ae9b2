#!/usr/bin/env bats
# oci-build --output (oci:, oci-archive:, docker-archive:, - into oci-push)
# and FROM images pulled from a registry (--pull missing|always|never).
load helpers
load registry_helpers

setup() {
  build_setup okt-build2/busybox
  echo hello >"$T/ctx/f"
  printf 'FROM okt-build2/busybox\nCOPY f /f\nRUN cat /f > /g\nLABEL k=v\n' >"$T/ctx/Dockerfile"
}

teardown() {
  [ -n "${T:-}" ] || return 0
  stop_registry "$T/reg"
  build_cleanup
}

# the id (config digest) an index.json entry of layout DIR names
layout_config() {
  local m
  m=$(jq -r '.manifests[0].digest' "$1/index.json" | cut -d: -f2)
  jq -r .config.digest "$1/blobs/sha256/$m"
}

@test "--output oci:DIR:TAG writes a layout that validates, with the same image id as the store" {
  run "$OCI_BUILD" -t okt-build2/out -o "oci:$T/lay:v1" "$T/ctx"
  [ "$status" -eq 0 ]
  id=$(tail -1 <<<"$output")
  [ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/lay/index.json")" = v1 ]
  [ "$(layout_config "$T/lay")" = "$id" ]
  grep -q docker.io/okt-build2/out:latest "$OCIKIT_STORE/index.json"
  oci-image-tool validate --type image --ref name=v1 "$T/lay"
  if command -v skopeo >/dev/null; then
    [ "$(skopeo inspect --config "oci:$T/lay:v1" | jq -r '.config.Labels.k')" = v ]
  fi
}

@test "--output oci-archive:FILE and docker-archive:FILE are read back by skopeo" {
  require_cmd skopeo
  run "$OCI_BUILD" -t okt-build2/arch:1 -o "oci-archive:$T/img.tar" "$T/ctx"
  [ "$status" -eq 0 ]
  id=$(tail -1 <<<"$output")
  tar -tf "$T/img.tar" | grep -qx index.json
  [ "$(skopeo inspect --config "oci-archive:$T/img.tar" | jq -r '.config.Labels.k')" = v ]
  [ "sha256:$(skopeo inspect --raw --config "oci-archive:$T/img.tar" | sha256sum | cut -d' ' -f1)" = "$id" ]
  run "$OCI_BUILD" -t okt-build2/arch:1 -o "docker-archive:$T/d.tar" "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(tar -xOf "$T/d.tar" manifest.json | jq -r '.[0].RepoTags[0]')" = okt-build2/arch:1 ]
  [ "$(skopeo inspect --config "docker-archive:$T/d.tar" | jq -r '.config.Labels.k')" = v ]
}

@test "-o - writes an oci-archive on stdout that oci-push sends to a registry" {
  start_registry "$T/reg"
  "$OCI_BUILD" -t okt-build2/piped -o - "$T/ctx" >"$T/out.tar" 2>"$T/err"
  tar -tf "$T/out.tar" | grep -qx oci-layout
  "$OCI_BUILD" -o - "$T/ctx" 2>/dev/null | "$OCI_PUSH" - "docker://127.0.0.1:$REG_PORT/okt/piped:1" >"$T/pushed"
  [ "$(cat "$T/pushed")" = "$(registry_digest "$REG_PORT" okt/piped 1)" ]
  run skopeo inspect --tls-verify=false "docker://127.0.0.1:$REG_PORT/okt/piped:1"
  [ "$status" -eq 0 ]
  [ "$(jq -r '.Labels.k' <<<"$output")" = v ]
}

@test "a bad --output is a usage error and builds nothing" {
  run "$OCI_BUILD" -t okt-build2/x -o "docker://127.0.0.1:1/x" "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--output docker://127.0.0.1:1/x: must be oci:DIR"* ]]
  ! grep -q okt-build2/x "$OCIKIT_STORE/index.json"
}

@test "FROM a registry image: pulled when missing, --pull never fails, --pull always pulls again" {
  start_registry "$T/reg"
  "$OCI_PUSH" okt-build2/busybox "docker://127.0.0.1:$REG_PORT/okt/base:1" >/dev/null
  S2=$T/store2
  printf 'FROM 127.0.0.1:%s/okt/base:1\nRUN echo pulled > /p\n' "$REG_PORT" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --store "$S2" --pull never -t okt-build2/p "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:1: "*"not found in the store"*"(--pull never)"* ]]
  run "$OCI_BUILD" --store "$S2" -t okt-build2/p "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Pulling 127.0.0.1:$REG_PORT/okt/base:1"* ]]
  grep -q "127.0.0.1:$REG_PORT/okt/base:1" "$S2/index.json"
  # missing (the default): in the store now, not pulled again
  run "$OCI_BUILD" --store "$S2" -t okt-build2/p "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" != *Pulling* ]]
  run "$OCI_BUILD" --store "$S2" --pull always -t okt-build2/p "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *Pulling* ]]
  # the base image's layer plus the RUN layer
  m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/okt-build2/p:latest") | .digest' "$S2/index.json" | cut -d: -f2)
  l=$(jq -r '.layers[-1].digest' "$S2/blobs/sha256/$m" | cut -d: -f2)
  [ "$(jq '.layers | length' "$S2/blobs/sha256/$m")" -eq 2 ]
  [ "$(tar -xzOf "$S2/blobs/sha256/$l" p)" = pulled ]
  stop_registry "$T/reg"
  run "$OCI_BUILD" --store "$S2" --pull always -t okt-build2/p "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:1: pull 127.0.0.1:$REG_PORT/okt/base:1: "* ]]
}
