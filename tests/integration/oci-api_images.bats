#!/usr/bin/env bats
# oci-api's image transfer and housekeeping endpoints, driven by Debian's
# docker CLI (/usr/bin/docker 20.10; no dockerd): login (POST /auth) against
# a docker-registry with htpasswd Basic auth and one with a token server,
# push (X-Registry-Auth to oci-push through a private auth file) checked
# with skopeo, pull with credentials, save/load, history, image, volume and
# network prune, search refused. The docker CLI keeps its credentials in
# its own $DOCKER_CONFIG; oci-api runs with another one, which stays empty.
load oci-run_manage_helpers
load registry_helpers

: "${OCI_API:=$OCIKIT_BUILD_ROOT/tools/oci-api/oci-api}"
: "${OCI_PUSH:=$OCIKIT_BUILD_ROOT/tools/oci-push/oci-push}"
DOCKER=/usr/bin/docker
SKOPEO=/usr/bin/skopeo

setup_file() {
  require_cmd /usr/bin/docker /usr/bin/skopeo docker-registry htpasswd curl jq socat openssl
  manage_setup_file
  htpasswd -Bbn alice s3cret >"$MANAGE_T/htpasswd"
  start_registry "$MANAGE_T/reg" "$MANAGE_T/htpasswd"
  export REG=127.0.0.1:$REG_PORT
}

teardown_file() {
  stop_registry "$MANAGE_T/reg"
  stop_token_registry "$MANAGE_T/tok"
  manage_teardown_file
}

setup() {
  manage_setup
  export OCIKIT_NET_DIR=$T/net
  export OCIKIT_EVENTS=$T/state/events.log
  mkdir -p "$T/state" "$T/server-home" "$T/client"
  SOCK=$T/api.sock
  # oci-push through a wrapper that records what the tool was given.
  cat >"$T/push-wrapper" <<EOF
#!/bin/bash
{ printf 'ARGV:'; printf ' %s' "\$@"; echo; env; } >>"$T/push-seen"
for a in "\$@"; do
  case \$a in --authfile=*) f=\${a#--authfile=}; stat -c 'AUTHFILE %a %U' "\$f"; stat -c 'AUTHDIR %a' "\$(dirname "\$f")"; echo "AUTHPATH \$f";; esac
done >>"$T/push-seen"
exec "$OCI_PUSH" "\$@"
EOF
  chmod +x "$T/push-wrapper"
  HOME=$T/server-home DOCKER_CONFIG=$T/server-home/.docker OCIKIT_PUSH=$T/push-wrapper \
    "$OCI_API" -H "unix://$SOCK" --root "$ROOT" --read-timeout 5 2>"$T/api.log" 3>&- &
  API_PID=$!
  export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$T/client
  wait_until test -S "$SOCK"
}

teardown() {
  [ -n "${T:-}" ] || return 0
  [ -z "${API_PID:-}" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true; }
  net_cleanup "$T"
  manage_teardown
}

# api METHOD PATH [curl args...]: a request on the socket; prints the body
# and, on the last line, the status code.
api() {
  local m=$1 p=$2
  shift 2
  curl -s --unix-socket "$SOCK" -X "$m" -w '\n%{http_code}' "$@" "http://localhost$p"
}

@test "oci-api images: docker login checks the password with the registry and stores nothing on the server" {
  run bash -c "echo wrong | $DOCKER login -u alice --password-stdin $REG"
  [ "$status" -ne 0 ]
  [[ "$output" == *"unauthorized"* ]]
  [ ! -e "$T/client/config.json" ] || ! grep -q "$REG" "$T/client/config.json"
  run api POST /auth -H 'Content-Type: application/json' -d "{\"username\":\"alice\",\"password\":\"nope\",\"serveraddress\":\"$REG\"}"
  [ "${lines[-1]}" = 401 ]
  jq -e '.message | contains("unauthorized")' <<<"${lines[0]}"
  run bash -c "echo s3cret | $DOCKER login -u alice --password-stdin $REG"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Login Succeeded"* ]]
  # The CLI stored them itself; the server's HOME and DOCKER_CONFIG stay empty.
  [ "$(jq -r --arg h "$REG" '.auths[$h].auth' "$T/client/config.json" | base64 -d)" = alice:s3cret ]
  [ -z "$(ls -A "$T/server-home")" ]
  run api POST /auth -H 'Content-Type: application/json' -d "{\"username\":\"alice\",\"password\":\"s3cret\",\"serveraddress\":\"http://$REG/\"}"
  [ "${lines[-1]}" = 200 ]
  [ "$(jq -r .Status <<<"${lines[0]}")" = "Login Succeeded" ] && [ "$(jq -r .IdentityToken <<<"${lines[0]}")" = "" ]
  run api POST /auth -H 'Content-Type: application/json' -d '{"username":"alice"}'
  [ "${lines[-1]}" = 400 ]
}

@test "oci-api images: login through a token server returns an identity token; push uses it" {
  start_token_registry "$MANAGE_T/tok" bob t0ken-pass
  TOK=127.0.0.1:$REG_PORT
  run bash -c "echo t0ken-pass | $DOCKER login -u bob --password-stdin $TOK"
  [ "$status" -eq 0 ] && [[ "$output" == *"Login Succeeded"* ]]
  # docker keeps the identity token the registry's token server issued, no password.
  idt=$(jq -r --arg h "$TOK" '.auths[$h].identitytoken' "$T/client/config.json")
  [ -n "$idt" ] && [ "$idt" != null ]
  grep -q "^$idt bob\$" "$MANAGE_T/tok/token.log.refresh"
  $DOCKER tag $IMG "$TOK/apiimg/tok:v1"
  run $DOCKER push "$TOK/apiimg/tok:v1"
  [ "$status" -eq 0 ]
  [ -n "$(registry_digest_auth apiimg/tok v1)" ]
  grep -q 'grant_type=refresh_token' "$MANAGE_T/tok/token.log"
  stop_token_registry "$MANAGE_T/tok"
}

@test "oci-api images: docker push with the login's credentials; skopeo sees the digest; wrong auth fails clearly" {
  echo s3cret | $DOCKER login -u alice --password-stdin "$REG"
  $DOCKER tag $IMG "$REG/apiimg/busybox:v1"
  run $DOCKER push "$REG/apiimg/busybox:v1"
  [ "$status" -eq 0 ]
  [[ "$output" == *"The push refers to repository [$REG/apiimg/busybox]"* ]]
  [[ "$output" == *"Pushed"* ]]
  line=$(grep '^v1: digest: sha256:' <<<"$output")
  digest=$(awk '{print $3}' <<<"$line")
  run $SKOPEO inspect --tls-verify=false --creds alice:s3cret "docker://$REG/apiimg/busybox:v1"
  [ "$status" -eq 0 ]
  [ "$(jq -r .Digest <<<"$output")" = "$digest" ]
  # The password reached oci-push in a private file only: not in its argv
  # or environment, the file 0600 in a 0700 directory, removed afterwards.
  ! grep -q s3cret "$T/push-seen"
  grep -q '^AUTHFILE 600 root$' "$T/push-seen"
  grep -q '^AUTHDIR 700$' "$T/push-seen"
  [ ! -e "$(awk '/^AUTHPATH/{print $2}' "$T/push-seen")" ]
  # Pushed again: every layer is already there. --all-tags: each tag.
  $DOCKER tag $IMG "$REG/apiimg/busybox:v2"
  run $DOCKER push --all-tags "$REG/apiimg/busybox"
  [ "$status" -eq 0 ] && [[ "$output" == *"Layer already exists"* ]]
  [[ "$output" == *"v1: digest: $digest"* ]] && [[ "$output" == *"v2: digest: $digest"* ]]
  [ "$($SKOPEO inspect --tls-verify=false --creds alice:s3cret "docker://$REG/apiimg/busybox:v2" | jq -r .Digest)" = "$digest" ]
  # The JSON stream as the API gives it: aux with Tag, Digest, Size.
  auth=$(printf '{"username":"alice","password":"s3cret","serveraddress":"%s"}' "$REG" | base64 -w0 | tr '+/' '-_')
  run api POST "/images/$REG/apiimg/busybox/push?tag=v1" -H "X-Registry-Auth: $auth"
  [ "${lines[-1]}" = 200 ]
  aux=$(grep '"aux"' <<<"$output")
  [ "$(jq -r .aux.Digest <<<"$aux")" = "$digest" ] && [ "$(jq -r .aux.Tag <<<"$aux")" = v1 ]
  [ "$(jq -r .aux.Size <<<"$aux")" -gt 0 ]
  # Pull with the credentials (images/create honours X-Registry-Auth).
  $DOCKER rmi "$REG/apiimg/busybox:v1"
  run $DOCKER pull "$REG/apiimg/busybox:v1"
  [ "$status" -eq 0 ] && [[ "$output" == *"Digest: $digest"* ]]
  # Wrong or no credentials: the push fails with the registry's refusal.
  bad=$(printf '{"username":"alice","password":"bad","serveraddress":"%s"}' "$REG" | base64 -w0)
  run api POST "/images/$REG/apiimg/busybox/push?tag=v1" -H "X-Registry-Auth: $bad"
  [ "${lines[-1]}" = 200 ]
  jq -se 'map(select(.errorDetail)) | length == 1 and (.[0].error | test("unauthorized|401"))' <<<"${output%$'\n'*}"
  run api POST "/images/$REG/apiimg/busybox/push?tag=v1" -H 'X-Registry-Auth: %%%'
  [ "${lines[-1]}" = 400 ] && jq -e '.message | contains("X-Registry-Auth")' <<<"${lines[0]}"
  run api POST "/images/-x/push?tag=v1"
  [ "${lines[-1]}" = 400 ]
  $DOCKER logout "$REG"
  run $DOCKER push "$REG/apiimg/busybox:v1"
  [ "$status" -ne 0 ] && [[ "$output" == *"authentication required (no credentials for this registry)"* ]]
  run $DOCKER push "$REG/apiimg/none:v1"
  [ "$status" -ne 0 ] && [[ "$output" == *"An image does not exist locally with the tag: $REG/apiimg/none"* ]]
  [ "$(R ps -a -q)" = "" ]
}

@test "oci-api images: docker save -o, rmi, load -i and run; save of two images; load of a large body" {
  $DOCKER tag $IMG apiimg/saved:v1
  $DOCKER save -o "$T/one.tar" apiimg/saved:v1
  tar -tf "$T/one.tar" | grep -qx manifest.json
  [ "$(tar -xOf "$T/one.tar" manifest.json | jq -r '.[0].RepoTags[0]')" = apiimg/saved:v1 ]
  $DOCKER rmi apiimg/saved:v1
  run $DOCKER image inspect apiimg/saved:v1
  [ "$status" -ne 0 ]
  run $DOCKER load -i "$T/one.tar"
  [ "$status" -eq 0 ] && [ "$output" = "Loaded image: apiimg/saved:v1" ]
  run $DOCKER run --rm apiimg/saved:v1 echo loaded-ok
  [ "$output" = loaded-ok ]
  # Two images in one archive (GET /images/get?names=a&names=b).
  $DOCKER tag okt-manage/nocmd apiimg/other:v2
  $DOCKER save apiimg/saved:v1 apiimg/other:v2 >"$T/two.tar"
  [ "$(tar -xOf "$T/two.tar" manifest.json | jq -r '[.[].RepoTags[0]] | sort | join(",")')" = apiimg/other:v2,apiimg/saved:v1 ]
  $DOCKER rmi apiimg/saved:v1 apiimg/other:v2
  run $DOCKER load <"$T/two.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Loaded image: apiimg/saved:v1"* ]] && [[ "$output" == *"Loaded image: apiimg/other:v2"* ]]
  # A body past the 16 MiB limit is streamed: an image with a 20 MiB layer.
  mkdir -p "$T/big"
  head -c 20M /dev/urandom >"$T/big/blob"
  printf 'FROM scratch\nCOPY blob /blob\n' >"$T/big/Dockerfile"
  "$OCI_BUILD" -t apiimg/big:v1 "$T/big" >/dev/null 2>&1
  $DOCKER save -o "$T/big.tar" apiimg/big:v1
  [ "$(stat -c %s "$T/big.tar")" -gt $((17 << 20)) ]
  $DOCKER rmi apiimg/big:v1
  run $DOCKER load -i "$T/big.tar"
  [ "$status" -eq 0 ] && [ "$output" = "Loaded image: apiimg/big:v1" ]
  $DOCKER rmi apiimg/big:v1
  # Bad input: not a tar, a missing image.
  run api POST /images/load --data-binary 'not a tar'
  [ "${lines[-1]}" = 200 ]
  jq -se 'map(select(.errorDetail)) | length == 1' <<<"${output%$'\n'*}"
  run api GET /images/apiimg/none/get
  [ "${lines[-1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "No such image: apiimg/none" ]
  run $DOCKER save -o "$T/x.tar" apiimg/none
  [ "$status" -ne 0 ] && [[ "$output" == *"No such image: apiimg/none"* ]]
}

@test "oci-api images: docker history; search is refused with a clear message" {
  printf 'FROM %s\nLABEL a=b\nCOPY f /f\n' "$IMG" >"$T/Dockerfile"
  echo hello >"$T/f"
  "$OCI_BUILD" -t apiimg/hist:v1 "$T" >/dev/null 2>&1
  run $DOCKER history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Size}}' apiimg/hist:v1
  [ "$status" -eq 0 ]
  id=$($DOCKER image inspect -f '{{.Id}}' apiimg/hist:v1)
  [ "${lines[0]%%|*}" = "$id" ]
  [[ "${lines[0]}" == *"COPY f /f"* ]]
  [ "${lines[1]%%|*}" = "<missing>" ] && [[ "${lines[1]}" == *"LABEL a=b"* ]]
  run api GET /images/apiimg/hist:v1/history
  [ "${lines[-1]}" = 200 ]
  jq -e --arg id "$id" '.[0].Id == $id and .[0].Tags == ["apiimg/hist:v1"] and (.[0].Created | type) == "number"
    and .[0].Size > 0 and .[1].Tags == null and (.[1].CreatedBy | contains("LABEL"))' <<<"${lines[0]}"
  run api GET /images/apiimg/none/history
  [ "${lines[-1]}" = 404 ]
  run timeout 20 $DOCKER search busybox
  [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
  [[ "$output" == *"searching registries is not supported by oci-api"* ]]
}

@test "oci-api images: docker image prune removes dangling images, -a every unused one" {
  mkdir -p "$T/d"
  printf 'FROM scratch\nCOPY f /f\n' >"$T/d/Dockerfile"
  echo one >"$T/d/f"
  "$OCI_BUILD" "$T/d" >/dev/null 2>&1
  dangling=$($DOCKER images -q --no-trunc --filter dangling=true)
  [ -n "$dangling" ]
  echo two >"$T/d/f"
  "$OCI_BUILD" -t apiimg/unused:v1 "$T/d" >/dev/null 2>&1
  run $DOCKER image prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"deleted: $dangling"* ]] && [[ "$output" == *"Total reclaimed space:"* ]]
  [ -z "$($DOCKER images -q --filter dangling=true)" ]
  $DOCKER image inspect apiimg/unused:v1 >/dev/null
  # label filters: an image without the label stays.
  run $DOCKER image prune -a -f --filter label=apiimg=none
  [ "$status" -eq 0 ]
  $DOCKER image inspect apiimg/unused:v1 >/dev/null
  run api POST '/images/prune?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D'
  [ "${lines[-1]}" = 400 ]
  # -a: an image a container uses stays, the unused one goes.
  $DOCKER create --name apiimg-user $IMG true >/dev/null
  run $DOCKER image prune -a -f
  [ "$status" -eq 0 ] && [[ "$output" == *"untagged: apiimg/unused:v1"* ]]
  run $DOCKER image inspect apiimg/unused:v1
  [ "$status" -ne 0 ]
  $DOCKER image inspect $IMG >/dev/null
  $DOCKER rm apiimg-user >/dev/null
}

@test "oci-api images: docker volume prune (unused named and anonymous, label filter), network prune" {
  $DOCKER volume create apiimg-named >/dev/null
  $DOCKER volume create --label tier=x apiimg-labeled >/dev/null
  $DOCKER volume create apiimg-used >/dev/null
  $DOCKER run -d --name apiimg-vol -v apiimg-used:/data -v /anon $IMG sleep 100 >/dev/null
  $DOCKER run --name apiimg-anon -v /anon2 $IMG true
  $DOCKER rm apiimg-anon >/dev/null
  run $DOCKER volume prune -f --filter label=tier=x
  [ "$status" -eq 0 ] && [[ "$output" == *apiimg-labeled* ]] && [[ "$output" != *apiimg-named* ]]
  run $DOCKER volume prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *apiimg-named* ]] && [[ "$output" == *"Total reclaimed space:"* ]]
  [ "$($DOCKER volume ls -q | grep -c .)" = 2 ]  # apiimg-used and the running container's anonymous one
  $DOCKER volume inspect apiimg-used >/dev/null
  $DOCKER rm -f apiimg-vol >/dev/null
  # networks: an unused one goes, a used one stays.
  $DOCKER network create --subnet 10.215.1.0/24 apiimg-n1 >/dev/null
  $DOCKER network create --subnet 10.215.2.0/24 apiimg-n2 >/dev/null
  $DOCKER run -d --name apiimg-net --network apiimg-n2 $IMG sleep 100 >/dev/null
  run $DOCKER network prune -f
  [ "$status" -eq 0 ] && [[ "$output" == *apiimg-n1* ]] && [[ "$output" != *apiimg-n2* ]]
  run $DOCKER network inspect apiimg-n1
  [ "$status" -ne 0 ]
  $DOCKER network inspect apiimg-n2 >/dev/null
  run api POST '/networks/prune?filters=%7B%22label%22%3A%7B%22x%22%3Atrue%7D%7D'
  [ "${lines[-1]}" = 200 ] && [ "$(jq -c .NetworksDeleted <<<"${lines[0]}")" = "[]" ]
  $DOCKER rm -f apiimg-net >/dev/null
  run api POST /networks/prune
  [ "${lines[-1]}" = 200 ] && [ "$(jq -c .NetworksDeleted <<<"${lines[0]}")" = '["apiimg-n2"]' ]
}

@test "oci-api images: python3-docker login, push with auth_config, save/load, history, prunes" {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
  run /usr/bin/python3 - "$IMG" "$REG" <<'PY'
import os, sys, docker
img, reg = sys.argv[1], sys.argv[2]
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
try:
    c.login(username="alice", password="wrong", registry=reg)
    print("login-wrong-accepted")
except docker.errors.APIError as e:
    print("login-refused", e.status_code)
print(c.login(username="alice", password="s3cret", registry=reg)["Status"])
c.images.get(img).tag(reg + "/apiimg/py", "v1")
last = None
for m in c.images.push(reg + "/apiimg/py", "v1", stream=True, decode=True,
                       auth_config={"username": "alice", "password": "s3cret"}):
    last = m
print("aux-digest", last.get("aux", {}).get("Digest", "none")[:7])
data = b"".join(c.images.get(reg + "/apiimg/py:v1").save())
c.images.remove(reg + "/apiimg/py:v1")
print("loaded", [i.tags for i in c.images.load(data)])
print("history", len(c.images.get(img).history()) > 0)
print("volumes", c.volumes.prune()["VolumesDeleted"])
print("networks", c.networks.prune()["NetworksDeleted"])
print("images", c.images.prune(filters={"dangling": True})["SpaceReclaimed"] >= 0)
PY
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "login-refused 401" ]
  [ "${lines[1]}" = "Login Succeeded" ]
  [ "${lines[2]}" = "aux-digest sha256:" ]
  # Image.save() saves by id: oci-run save keeps every name of the image.
  [[ "${lines[3]}" == "loaded [["*"'$REG/apiimg/py:v1'"* ]]
  [ "${lines[4]}" = "history True" ]
  [ "${lines[5]}" = "volumes []" ] && [ "${lines[6]}" = "networks []" ] && [ "${lines[7]}" = "images True" ]
  [ -z "$(ls -A "$T/server-home")" ]
}
