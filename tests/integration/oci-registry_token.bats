#!/usr/bin/env bats
# oci-fetch and oci-push against a registry using Bearer tokens (the
# distribution "token" auth scheme) issued by a local token server.

load helpers
load registry_helpers

setup_file() {
  require_cmd docker-registry skopeo jq curl socat openssl
  export WORK=$(mktemp -d /tmp/okt-registry-token.XXXXXX)
  start_token_registry "$WORK/reg" bob t0ken-pass
  export REG_PORT TOKEN_PORT
  make_oci_image "$WORK/src" v1
}

teardown_file() {
  stop_token_registry "$WORK/reg"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

@test "the registry demands a Bearer token from the token server" {
  run curl -s -D - -o /dev/null "http://127.0.0.1:$REG_PORT/v2/"
  [[ "$output" == *"401 Unauthorized"* ]]
  [[ "$output" == *"Bearer realm=\"http://127.0.0.1:$TOKEN_PORT/token\""* ]]
}

@test "push and fetch with --creds go through the token server, scoped per repository" {
  before=$(wc -l <"$WORK/reg/token.log")
  run "$OCI_PUSH" --creds bob:t0ken-pass oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/tok/app:v1
  [ "$status" -eq 0 ]
  want=$(layout_digest "$WORK/src" v1)
  [ "$output" = "$want" ]
  # One token request, for pull,push at once (as docker asks), however many
  # blobs went up in parallel: no pull-only token first.
  tail -n +$((before + 1)) "$WORK/reg/token.log" >"$T/push.log"
  [ "$(wc -l <"$T/push.log")" -eq 1 ]
  grep -q 'scope=repository%3Atok%2Fapp%3Apull%2Cpush user=bob .*"name":"tok/app","actions":\["pull","push"\]' "$T/push.log"

  before=$(wc -l <"$WORK/reg/token.log")
  run "$OCI_FETCH" --creds bob:t0ken-pass docker://127.0.0.1:$REG_PORT/tok/app:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(layout_digest "$T/out" v1)" = "$want" ]
  # A fetch asks for pull only, once.
  tail -n +$((before + 1)) "$WORK/reg/token.log" >"$T/fetch.log"
  [ "$(wc -l <"$T/fetch.log")" -eq 1 ]
  grep -q 'user=bob .*"name":"tok/app","actions":\["pull"\]' "$T/fetch.log"

  # skopeo reads what oci-push wrote with the same token server.
  skopeo copy -q --src-tls-verify=false --src-creds bob:t0ken-pass \
    docker://127.0.0.1:$REG_PORT/tok/app:v1 oci:"$T/sk":v1
  [ "$(layout_digest "$T/sk" v1)" = "$want" ]
}

@test "credentials from an auth file; a cross-repository push mounts blobs" {
  mkdir -p "$T/cfg"
  jq -n --arg a "$(printf bob:t0ken-pass | base64)" --arg h "127.0.0.1:$REG_PORT" \
    '{auths:{($h):{auth:$a}}}' >"$T/cfg/auth.json"
  REGISTRY_AUTH_FILE="$T/cfg/auth.json" run "$OCI_PUSH" oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/tok/base:v1
  [ "$status" -eq 0 ]
  REGISTRY_AUTH_FILE="$T/cfg/auth.json" run "$OCI_PUSH" --mount-from tok/base --debug \
    oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/tok/other:v1
  [ "$status" -eq 0 ]
  # The mount's token covers both repositories, and every layer was mounted.
  grep -q '"name":"tok/other","actions":\["pull","push"\]},{"type":"repository","name":"tok/base","actions":\["pull"\]}' "$WORK/reg/token.log"
  [[ "$output" == *"mounted sha256:"* ]]
  [ "$(registry_digest_auth tok/other v1)" = "$(layout_digest "$WORK/src" v1)" ]
}

@test "anonymous and wrong credentials are unauthorized, one line, nothing stored" {
  run "$OCI_FETCH" docker://127.0.0.1:$REG_PORT/tok/app:v1 oci:"$T/anon":v1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"unauthorized"* || "$output" == *"Unauthorized"* ]]
  [ ! -e "$T/anon/index.json" ] || [ "$(jq '.manifests | length' "$T/anon/index.json")" -eq 0 ]

  run "$OCI_PUSH" --creds bob:wrong oci:"$WORK/src":v1 docker://127.0.0.1:$REG_PORT/tok/evil:v1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  grep -q 'user=? denied' "$WORK/reg/token.log"
  run curl -s -o /dev/null -w '%{http_code}' -u bob:t0ken-pass "http://127.0.0.1:$REG_PORT/v2/tok/evil/tags/list"
  [ "$output" = 401 ]
}
