#!/usr/bin/env bats
# oci-run login / logout against Debian's docker-registry on 127.0.0.1 (htpasswd
# Basic auth, and the distribution token flow with a local token server), the
# docker config.json they write, docker-credential-* helpers, and the other
# tools (oci-push, oci-fetch, oci-build, oci-run's pull) reading what login
# stored. Every test has its own $DOCKER_CONFIG, $REGISTRY_AUTH_FILE,
# $XDG_RUNTIME_DIR and $HOME: the machine's credential files are never read
# nor written.

load helpers
load registry_helpers
bats_require_minimum_version 1.5.0

setup_file() {
  require_cmd docker-registry jq curl htpasswd socat openssl
  export WORK=$(mktemp -d /tmp/okt-login.XXXXXX)
  htpasswd -Bbn alice s3cret >"$WORK/htpasswd"
  start_registry "$WORK/basic" "$WORK/htpasswd"
  export BASIC=127.0.0.1:$REG_PORT
  start_token_registry "$WORK/tok" bob t0ken-pass
  export TOK=127.0.0.1:$REG_PORT TOKEN_PORT
  make_oci_image "$WORK/src" v1
  export WANT=$(layout_digest "$WORK/src" v1)
}

teardown_file() {
  stop_registry "$WORK/basic"
  stop_token_registry "$WORK/tok"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
  export DOCKER_CONFIG=$T/docker REGISTRY_AUTH_FILE=$T/auth.json XDG_RUNTIME_DIR=$T/xdg HOME=$T/home
  export OCIKIT_STORE=$T/store
  mkdir -p "$T/bin" "$T/home"
  export PATH=$T/bin:$PATH
}

teardown() {
  if [ -n "${CREATED:-}" ]; then
    "$OCI_RUN" --state-dir "$T/state" --store "$T/store" rm -f "$CREATED" >/dev/null 2>&1 || true
  fi
}

# make_helper NAME: docker-credential-NAME in $T/bin speaking the protocol,
# one JSON file per server in $T/creds-NAME, each call logged to $T/NAME.log.
make_helper() {
  local name=$1
  mkdir -p "$T/creds-$name"
  cat >"$T/bin/docker-credential-$name" <<EOF
#!/bin/bash
store=$T/creds-$name
log=$T/$name.log
in=\$(cat)
key() { printf %s "\$1" | sha256sum | cut -c1-16; }
case \$1 in
  store)
    url=\$(jq -r .ServerURL <<<"\$in") || exit 1
    echo "store \$url" >>"\$log"
    printf %s "\$in" >"\$store/\$(key "\$url")" ;;
  get|erase)
    echo "\$1 \$in" >>"\$log"
    f=\$store/\$(key "\$in")
    if [ ! -f "\$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
    if [ "\$1" = get ]; then cat "\$f"; else rm "\$f"; fi ;;
  list)
    echo list >>"\$log"
    cat "\$store"/* 2>/dev/null | jq -s 'map({(.ServerURL): .Username}) | add // {}' ;;
  *) echo "unknown action \$1"; exit 1 ;;
esac
EOF
  chmod +x "$T/bin/docker-credential-$name"
}

# login USER PASSWORD REGISTRY: oci-run login with the password on stdin.
login() {
  run bash -c 'printf "%s\n" "$2" | "$OCI_RUN" login -u "$1" --password-stdin "$3"' _ "$@"
}

@test "login (Basic): config.json 0600 in a 0700 dir, other keys kept; push, fetch and build use it" {
  # A first login creates the directory and the file.
  login alice s3cret "$BASIC"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Login Succeeded"* ]]
  [ "$(stat -c %a "$DOCKER_CONFIG")" = 700 ]
  [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ]
  [ "$(jq -r --arg h "$BASIC" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = alice:s3cret ]

  # A second login keeps every other key of the file (and their order).
  jq -n '{psFormat:"table {{.ID}}", auths:{"other.io":{auth:"eDp5"}}, experimental:"enabled", proxies:{default:{httpProxy:"http://p:3128"}}}' \
    >"$DOCKER_CONFIG/config.json"
  chmod 644 "$DOCKER_CONFIG/config.json"
  run "$OCI_RUN" login -u alice -p s3cret "$BASIC"
  [ "$status" -eq 0 ]
  [[ "$output" == *"WARNING! Using --password via the CLI is insecure. Use --password-stdin."* ]]
  [ "${lines[-1]}" = "Login Succeeded" ]
  [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ]
  run jq -c 'keys_unsorted' "$DOCKER_CONFIG/config.json"
  [ "$output" = '["psFormat","auths","experimental","proxies"]' ]
  run jq -c --arg h "$BASIC" '[.psFormat, .auths["other.io"].auth, .experimental, .proxies.default.httpProxy, (.auths[$h].auth | @base64d)]' \
    "$DOCKER_CONFIG/config.json"
  [ "$output" = '["table {{.ID}}","eDp5","enabled","http://p:3128","alice:s3cret"]' ]

  # oci-push and oci-fetch find the credentials without --creds.
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/app:v1
  [ "$status" -eq 0 ]
  [ "$output" = "$WANT" ]
  run "$OCI_FETCH" docker://$BASIC/login/app:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(layout_digest "$T/out" v1)" = "$WANT" ]

  # oci-build's FROM pull too.
  mkdir -p "$T/ctx"
  printf 'FROM %s/login/app:v1\nLABEL okt.login=yes\n' "$BASIC" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-login/built "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "oci-run's pull (create IMAGE) uses the stored credentials" {
  skip_unless_root
  login alice s3cret "$BASIC"
  [ "$status" -eq 0 ]
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/run:v1
  [ "$status" -eq 0 ]
  run "$OCI_RUN" --state-dir "$T/state" --store "$T/store" create --name okt-login-c "$BASIC/login/run:v1" true
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  CREATED=okt-login-c
  run "$OCI_RUN" --store "$T/store" images --format '{{.Repository}}'
  [[ "$output" == *"$BASIC/login/run"* ]]
}

@test "a wrong password: exit 1, one clear line, nothing stored" {
  login alice wrong "$BASIC"
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: login $BASIC: unauthorized: incorrect username or password" ]
  [ ! -e "$DOCKER_CONFIG/config.json" ]

  mkdir -p "$DOCKER_CONFIG"
  echo '{"auths":{"other.io":{"auth":"eDp5"}},"detachKeys":"ctrl-x"}' >"$DOCKER_CONFIG/config.json"
  cp -p "$DOCKER_CONFIG/config.json" "$T/before.json"
  login alice wrong "$BASIC"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  cmp "$T/before.json" "$DOCKER_CONFIG/config.json"
  [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = "$(stat -c %a "$T/before.json")" ]
}

@test "logout removes the credentials, a push is then unauthorized; logout again: not logged in" {
  login alice s3cret "$BASIC"
  [ "$status" -eq 0 ]
  jq '.auths["other.io"] = {auth:"eDp5"}' "$DOCKER_CONFIG/config.json" >"$T/c" && cp "$T/c" "$DOCKER_CONFIG/config.json"
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/out:v1
  [ "$status" -eq 0 ]

  run "$OCI_RUN" logout "$BASIC"
  [ "$status" -eq 0 ]
  [ "$output" = "Removing login credentials for $BASIC" ]
  run jq -c '.auths' "$DOCKER_CONFIG/config.json"
  [ "$output" = '{"other.io":{"auth":"eDp5"}}' ]
  [ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ]

  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/out:v2
  [ "$status" -ne 0 ]
  [[ "$output" == *"authentication required (no credentials for this registry)"* ]]

  run "$OCI_RUN" logout "$BASIC"
  [ "$status" -eq 0 ]
  [ "$output" = "Not logged in to $BASIC" ]
  # A registry given as a URL is its host.
  run "$OCI_RUN" logout "http://$BASIC/"
  [ "$output" = "Not logged in to $BASIC" ]
}

@test "--password-stdin; --password with --password-stdin refused; no terminal, no credentials: refused" {
  run bash -c 'printf "s3cret\r\n" | "$OCI_RUN" login --username alice --password-stdin "$BASIC"'
  [ "$status" -eq 0 ]
  [ "$(jq -r --arg h "$BASIC" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = alice:s3cret ]
  rm -rf "$DOCKER_CONFIG"

  run bash -c 'printf "s3cret\n" | "$OCI_RUN" login -u alice -p s3cret --password-stdin "$BASIC"'
  [ "$status" -ne 0 ]
  [[ "$output" == *"--password and --password-stdin are mutually exclusive"* ]]
  run bash -c 'printf "s3cret\n" | "$OCI_RUN" login --password-stdin "$BASIC"'
  [ "$status" -ne 0 ]
  [[ "$output" == *"must provide --username with --password-stdin"* ]]
  run "$OCI_RUN" login "$BASIC" </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot perform an interactive login from a non TTY device"* ]]
  [ ! -e "$DOCKER_CONFIG/config.json" ]

  # Stored credentials are tried first, without a prompt.
  login alice s3cret "$BASIC"
  run "$OCI_RUN" login "$BASIC" </dev/null
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "Authenticating with existing credentials..." ]
  [ "${lines[1]}" = "Login Succeeded" ]
}

# wait_for FILE TEXT: until FILE holds TEXT (10 s at most).
wait_for() {
  local i
  for i in $(seq 100); do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

@test "on a terminal, the username and the password (without echo) are prompted for" {
  require_cmd script
  # script(1) gives login a terminal; what it shows goes to $T/ts, and the
  # answers are typed when their prompt is there.
  {
    wait_for "$T/ts" "Username: " && printf 'alice\n'
    wait_for "$T/ts" "Password: " && printf 's3cret\n'
    wait_for "$T/ts" "Login Succeeded" || true
  } | timeout 60 script -qfec "\"$OCI_RUN\" login $BASIC; stty -a" "$T/ts" >/dev/null
  cat -v "$T/ts"
  grep -q "Username: alice" "$T/ts"
  grep -q "Login Succeeded" "$T/ts"
  run ! grep -q s3cret "$T/ts"
  [ "$(jq -r --arg h "$BASIC" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = alice:s3cret ]
  grep -q ' echo ' "$T/ts"  # on again after the password (stty -a)
}

# token_log_since N: the token server's log after its first N lines.
token_log_since() { tail -n +$(($1 + 1)) "$WORK/tok/token.log"; }

@test "login through the token server: an identitytoken, no password; push and fetch use the refresh_token grant" {
  before=$(wc -l <"$WORK/tok/token.log")
  login bob t0ken-pass "$TOK"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Login Succeeded"* ]]
  # As docker login: the OAuth2 password grant first (this server has none:
  # 400 unsupported_grant_type), then an offline token asked for with Basic
  # credentials.
  token_log_since "$before" | grep -q '^POST /token grant_type=password denied'
  token_log_since "$before" | grep 'offline_token=true&client_id=ocikit' | grep 'user=bob ' | grep -q 'refresh_token issued'
  # config.json keeps the identity token, no "auth", no password.
  run jq -c --arg h "$TOK" '.auths[$h] | keys' "$DOCKER_CONFIG/config.json"
  [ "$output" = '["identitytoken"]' ]
  idt=$(jq -r --arg h "$TOK" '.auths[$h].identitytoken' "$DOCKER_CONFIG/config.json")
  [ -n "$idt" ] && [ "$idt" != null ]
  grep -q "^$idt bob\$" "$WORK/tok/token.log.refresh"
  run ! grep -q -e t0ken-pass -e "$(printf bob:t0ken-pass | base64)" "$DOCKER_CONFIG/config.json"

  before=$(wc -l <"$WORK/tok/token.log")
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$TOK/login/tok:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" docker://$TOK/login/tok:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(layout_digest "$T/out" v1)" = "$WANT" ]
  # Every token came from the refresh_token grant, none from Basic auth.
  token_log_since "$before" | grep -q 'POST /token grant_type=refresh_token client_id=ocikit user=bob .*"pull","push"'
  token_log_since "$before" | grep -q 'POST /token grant_type=refresh_token client_id=ocikit user=bob .*actions":\["pull"\]'
  run ! grep -q '^GET ' <(token_log_since "$before")

  # login without arguments checks the stored identity token.
  before=$(wc -l <"$WORK/tok/token.log")
  run "$OCI_RUN" login "$TOK" </dev/null
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "Login Succeeded" ]
  token_log_since "$before" | grep -q 'grant_type=refresh_token client_id=ocikit user=bob '

  cp -p "$DOCKER_CONFIG/config.json" "$T/before.json"
  login bob wrong "$TOK"
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: login $TOK: unauthorized: incorrect username or password" ]
  cmp "$T/before.json" "$DOCKER_CONFIG/config.json"

  run "$OCI_RUN" logout "$TOK"
  [ "$output" = "Removing login credentials for $TOK" ]
  run "$OCI_FETCH" docker://$TOK/login/tok:v1 oci:"$T/anon":v1
  [ "$status" -ne 0 ]
  [[ "$output" == *"unauthorized"* ]]
}

@test "a tampered identitytoken: one clear line, non-zero; the token server refuses it" {
  login bob t0ken-pass "$TOK"
  [ "$status" -eq 0 ]
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$TOK/login/tamper:v1
  [ "$status" -eq 0 ]
  jq --arg h "$TOK" '.auths[$h].identitytoken |= "x" + .' "$DOCKER_CONFIG/config.json" >"$T/c.json"
  mv "$T/c.json" "$DOCKER_CONFIG/config.json"
  before=$(wc -l <"$WORK/tok/token.log")
  run "$OCI_FETCH" docker://$TOK/login/tamper:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$output" = "oci-fetch: error: token endpoint http://127.0.0.1:$TOKEN_PORT/token refused the identity token: HTTP 401 (invalid_grant: unknown refresh token); log in again" ]
  token_log_since "$before" | grep -q 'POST /token grant_type=refresh_token user=? denied'
  [ ! -e "$T/out" ] || [ -z "$(ls "$T/out/blobs/sha256" 2>/dev/null)" ]
}

@test "credsStore with the token server: the helper stores Username <token> and the refresh token; push and fetch use it" {
  make_helper testhelper
  mkdir -p "$DOCKER_CONFIG"
  echo '{"credsStore":"testhelper"}' >"$DOCKER_CONFIG/config.json"
  login bob t0ken-pass "$TOK"
  [ "$status" -eq 0 ]
  [ "$output" = "Login Succeeded" ]
  run jq -c --arg h "$TOK" '.auths[$h]' "$DOCKER_CONFIG/config.json"
  [ "$output" = '{}' ]
  rec=$(cat "$T/creds-testhelper"/*)
  [ "$(jq -r .Username <<<"$rec")" = "<token>" ]
  secret=$(jq -r .Secret <<<"$rec")
  grep -q "^$secret bob\$" "$WORK/tok/token.log.refresh"
  [ "$("$T/bin/docker-credential-testhelper" list </dev/null | jq -r --arg h "$TOK" '.[$h]')" = "<token>" ]

  before=$(wc -l <"$WORK/tok/token.log")
  : >"$T/testhelper.log"
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$TOK/login/tokhelper:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" docker://$TOK/login/tokhelper:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(layout_digest "$T/out" v1)" = "$WANT" ]
  [ "$(grep -cx "get $TOK" "$T/testhelper.log")" -eq 2 ]
  token_log_since "$before" | grep -q 'POST /token grant_type=refresh_token client_id=ocikit user=bob '
  run ! grep -q '^GET ' <(token_log_since "$before")
}

@test "credsStore: login stores through the helper (config.json keeps no secret), fetch gets, logout erases" {
  make_helper testhelper
  mkdir -p "$DOCKER_CONFIG"
  echo '{"credsStore":"testhelper","experimental":"enabled"}' >"$DOCKER_CONFIG/config.json"
  login alice s3cret "$BASIC"
  [ "$status" -eq 0 ]
  [ "$output" = "Login Succeeded" ]  # no warning about an unencrypted password
  run jq -c --arg h "$BASIC" '[.credsStore, .experimental, .auths[$h]]' "$DOCKER_CONFIG/config.json"
  [ "$output" = '["testhelper","enabled",{}]' ]
  run ! grep -q -e s3cret -e "$(printf alice:s3cret | base64)" "$DOCKER_CONFIG/config.json"
  grep -qx "store $BASIC" "$T/testhelper.log"
  [ "$("$T/bin/docker-credential-testhelper" list </dev/null | jq -r --arg h "$BASIC" '.[$h]')" = alice ]

  : >"$T/testhelper.log"
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/helper:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" docker://$BASIC/login/helper:v1 oci:"$T/out":v1
  [ "$status" -eq 0 ]
  [ "$(grep -cx "get $BASIC" "$T/testhelper.log")" -eq 2 ]

  run "$OCI_RUN" logout "$BASIC"
  [ "$status" -eq 0 ]
  [ "$output" = "Removing login credentials for $BASIC" ]
  grep -qx "erase $BASIC" "$T/testhelper.log"
  [ -z "$(ls "$T/creds-testhelper")" ]
  run jq -c '.auths' "$DOCKER_CONFIG/config.json"
  [ "$output" = '{}' ]

  # The helper's not-found is anonymous: the registry refuses, no helper error.
  run "$OCI_FETCH" docker://$BASIC/login/helper:v1 oci:"$T/anon":v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-fetch: error: authentication required (no credentials for this registry)" ]
  [[ "$output" != *"credential helper"* ]]
}

@test "credHelpers wins over credsStore" {
  make_helper testhelper
  mkdir -p "$DOCKER_CONFIG"
  # The credsStore helper does not exist: using it would fail.
  jq -n --arg h "$BASIC" '{credsStore:"okt-absent", credHelpers:{($h):"testhelper"}}' >"$DOCKER_CONFIG/config.json"
  login alice s3cret "$BASIC"
  [ "$status" -eq 0 ]
  grep -qx "store $BASIC" "$T/testhelper.log"
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/perhost:v1
  [ "$status" -eq 0 ]
  grep -qx "get $BASIC" "$T/testhelper.log"
  # Another registry goes to credsStore.
  run "$OCI_FETCH" docker://$TOK/login/x:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-fetch: error: credential helper docker-credential-okt-absent: not found in PATH" ]
}

@test "a missing helper, a failing helper, a helper printing invalid JSON: one line naming it, non-zero" {
  mkdir -p "$DOCKER_CONFIG"
  echo '{"credsStore":"okt-absent"}' >"$DOCKER_CONFIG/config.json"
  run "$OCI_FETCH" docker://$BASIC/login/app:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-fetch: error: credential helper docker-credential-okt-absent: not found in PATH" ]
  run "$OCI_PUSH" oci:"$WORK/src":v1 docker://$BASIC/login/app:v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-push: error: credential helper docker-credential-okt-absent: not found in PATH" ]
  login alice s3cret "$BASIC"
  [ "$status" -ne 0 ]
  [ "$output" = "oci-run: error: credential helper docker-credential-okt-absent: not found in PATH" ]
  run "$OCI_RUN" logout "$BASIC"
  [ "$status" -ne 0 ]
  [[ "$output" == *"docker-credential-okt-absent: not found in PATH"* ]]

  printf '#!/bin/sh\ncat >/dev/null\necho "xyzzy \\001garbage"\necho more >&2\nexit 1\n' >"$T/bin/docker-credential-garbage"
  chmod +x "$T/bin/docker-credential-garbage"
  echo '{"credsStore":"garbage"}' >"$DOCKER_CONFIG/config.json"
  run "$OCI_FETCH" docker://$BASIC/login/app:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-fetch: error: credential helper docker-credential-garbage: get failed (exit 1): xyzzy ?garbage" ]
  cp "$DOCKER_CONFIG/config.json" "$T/before.json"
  login alice s3cret "$BASIC"
  [ "$status" -ne 0 ]
  [ "$output" = "oci-run: error: credential helper docker-credential-garbage: store failed (exit 1): xyzzy ?garbage" ]
  cmp "$T/before.json" "$DOCKER_CONFIG/config.json"

  printf '#!/bin/sh\ncat >/dev/null\necho "{\\"Username\\": \\"alice\\", \\"Secret\\": "\n' >"$T/bin/docker-credential-badjson"
  chmod +x "$T/bin/docker-credential-badjson"
  jq -n --arg h "$BASIC" '{credHelpers:{($h):"badjson"}}' >"$DOCKER_CONFIG/config.json"
  run "$OCI_FETCH" docker://$BASIC/login/app:v1 oci:"$T/out":v1
  [ "$status" -ne 0 ]
  [ "$output" = "oci-fetch: error: credential helper docker-credential-badjson: get: invalid answer (not the credential helper protocol's JSON)" ]
  [ "${#lines[@]}" -eq 1 ]
}

@test "oci-run --help lists login and logout; they route to the docker-style CLI" {
  run "$OCI_RUN" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"  login "* ]]
  [[ "$output" == *"  logout "* ]]
  run "$OCI_RUN" login --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--password-stdin"* ]]
}

@test "login --verify-only: checks Basic and token logins, prints docker's /auth JSON, stores nothing" {
  run bash -c 'printf "s3cret\n" | "$OCI_RUN" login --verify-only -u alice --password-stdin "$BASIC"'
  [ "$status" -eq 0 ]
  [ "$(jq -c . <<<"$output")" = '{"Status":"Login Succeeded"}' ]
  run bash -c 'printf "nope\n" | "$OCI_RUN" login --verify-only -u alice --password-stdin "$BASIC"'
  [ "$status" -eq 1 ] && [[ "$output" == *"unauthorized: incorrect username or password"* ]]
  run bash -c 'printf "t0ken-pass\n" | "$OCI_RUN" login --verify-only -u bob --password-stdin "$TOK"'
  [ "$status" -eq 0 ]
  idt=$(jq -r .IdentityToken <<<"$output")
  [ -n "$idt" ] && [ "$idt" != null ]
  grep -q "^$idt bob\$" "$WORK/tok/token.log.refresh"
  # The identity token itself logs in (user <token>).
  run bash -c 'printf "%s\n" "$1" | "$OCI_RUN" login --verify-only -u "<token>" --password-stdin "$TOK"' _ "$idt"
  [ "$status" -eq 0 ] && [ "$(jq -r .Status <<<"$output")" = "Login Succeeded" ]
  run "$OCI_RUN" login --verify-only "$BASIC" </dev/null
  [ "$status" -eq 2 ] && [[ "$output" == *"--verify-only needs --username and a password"* ]]
  [ ! -e "$DOCKER_CONFIG" ] && [ -z "$(ls -A "$T/home")" ]
}
