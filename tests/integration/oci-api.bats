#!/usr/bin/env bats
# oci-api: the Docker Engine API over the ocikit tools, driven by Debian's
# docker CLI (/usr/bin/docker 20.10; no dockerd) and curl on a private socket.
# Each test has its own state dir, runtime root and oci-api; the busybox
# image is built once per file.
load oci-api_helpers
load registry_helpers


setup_file() {
  require_cmd /usr/bin/docker curl
  manage_setup_file
}

setup() {
  manage_setup
  api_start --read-timeout 3
}

teardown() {
  [ -n "${T:-}" ] || return 0
  api_stop
  [ -z "${REG_DIR:-}" ] || stop_registry "$REG_DIR"
  manage_teardown
}

@test "oci-api: ping, version and info through the docker CLI; socket mode 0660" {
  [ "$(stat -c %a "$SOCK")" = 660 ]
  run curl -s --unix-socket "$SOCK" http://localhost/_ping
  [ "$output" = OK ]
  run curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$SOCK" http://localhost/v1.41/_ping
  [ "$output" = 200 ]
  run $DOCKER version --format '{{.Server.APIVersion}}'
  [ "$status" -eq 0 ] && [ "$output" = 1.41 ]
  run $DOCKER info --format '{{.Images}} {{.ContainersRunning}}'
  [ "$status" -eq 0 ] && [ "$output" = "2 0" ]
}

@test "oci-api: unknown endpoints, bad JSON, oversized headers and stalled clients get docker's JSON errors" {
  run api GET /v1.41/nope
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "page not found" ]
  run api POST /containers/create -H 'Content-Type: application/json' -d '{"Image": '
  [ "${lines[1]}" = 400 ]
  jq -e '.message | startswith("invalid JSON body")' <<<"${lines[0]}"
  run api POST /containers/create -H 'Content-Type: application/json' -d '{"Image": ""}'
  [ "${lines[1]}" = 400 ] && jq -e .message <<<"${lines[0]}"
  run api POST /containers/create -H 'Content-Type: application/json' -d '{"Image": "okt-manage/none"}'
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "No such image: okt-manage/none" ]
  run api GET /containers/nosuch/json
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "No such container: nosuch" ]
  run api GET /_ping -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
  [ "${lines[1]}" = 431 ] && jq -e '.message | contains("header too large")' <<<"${lines[0]}"
  # A client that sends half a request is cut after --read-timeout (3 s).
  run timeout 10 bash -c "printf 'GET /_ping HTTP/1.1\r\nHost: x\r\n' | socat -t 20 - UNIX-CONNECT:$SOCK"
  [ "$status" -eq 0 ]
  # and the server still answers.
  run curl -s --unix-socket "$SOCK" http://localhost/_ping
  [ "$output" = OK ]
}

@test "oci-api: docker run --rm (output, stderr, exit code, stdin) leaves nothing behind" {
  run --separate-stderr $DOCKER run --rm $IMG sh -c 'echo out; echo err >&2; exit 3'
  [ "$status" -eq 3 ] && [ "$output" = out ] && [ "$stderr" = err ]
  run bash -c "echo from-stdin | $DOCKER run -i --rm $IMG cat"
  [ "$status" -eq 0 ] && [ "$output" = from-stdin ]
  run $DOCKER run --rm -e FOO=bar -w /tmp -u 65534 $IMG sh -c 'echo $FOO $(pwd) $(id -u)'
  [ "$output" = "bar /tmp 65534" ]
  run $DOCKER run --rm --entrypoint /bin/echo $IMG a b
  [ "$output" = "a b" ]
  wait_until test -z "$(R ps -a -q)"
  no_leftovers
  wait_until no_children
}

@test "oci-api: run -d, ps agrees with oci-run ps, logs, exec, wait, stop, rm -f" {
  run $DOCKER run -d --name api-web -l tier=web $IMG sh -c 'echo started; echo warn >&2; sleep 100'
  [ "$status" -eq 0 ]
  id=$output
  [ "$(R ps -q --no-trunc)" = "$id" ]
  [ "$($DOCKER ps -q --no-trunc)" = "$id" ]
  [ "$($DOCKER ps --filter label=tier=web --format '{{.Names}}')" = api-web ]
  [ -z "$($DOCKER ps --filter label=tier=db -q)" ]
  wait_until bash -c "$DOCKER logs api-web 2>/dev/null | grep -qx started"
  [ "$($DOCKER logs api-web 2>&1 >/dev/null)" = warn ]
  # --since/--until: a bound after the lines hides them, one before keeps them
  [ -z "$($DOCKER logs --since "$(date -d '+1 hour' +%s)" api-web 2>&1)" ]
  [ "$($DOCKER logs --since 10m api-web 2>/dev/null)" = started ]
  [ -z "$($DOCKER logs --until 2020-01-01T00:00:00Z api-web 2>&1)" ]
  [ "$(R logs --since 10m --until "$(date -d '+1 hour' +%s)" api-web 2>/dev/null)" = started ]
  run $DOCKER exec api-web sh -c 'echo in-exec; exit 5'
  [ "$status" -eq 5 ] && [ "$output" = in-exec ]
  # exec -d returns while its process runs (which writes on, to nowhere)
  run timeout 20 $DOCKER exec -d api-web sh -c 'while :; do echo out; echo err >&2; sleep 0.1; done'
  [ "$status" -eq 0 ]
  sleep 0.5
  R top api-web | grep -q 'while'
  run timeout 20 $DOCKER exec -d api-web /no/such/binary
  [ "$status" -ne 0 ] && [[ "$output" == *"/no/such/binary"* ]]
  run bash -c "echo piped | $DOCKER exec -i api-web cat"
  [ "$output" = piped ]
  [ "$($DOCKER inspect -f '{{.State.Status}} {{.Name}} {{.Config.Labels.tier}}' api-web)" = "running /api-web web" ]
  # pause, unpause, diff (docker's changes), rename
  $DOCKER pause api-web
  [ "$(R inspect api-web | jq -r '.[0].State.Status')" = paused ]
  $DOCKER unpause api-web
  [ "$(R inspect api-web | jq -r '.[0].State.Status')" = running ]
  $DOCKER exec api-web sh -c 'echo x >/new-file; rm /bin/vi'
  run $DOCKER diff api-web
  [[ "$output" == *"A /new-file"* ]] && [[ "$output" == *"D /bin/vi"* ]] && [[ "$output" == *"C /bin"* ]]
  $DOCKER rename api-web api-web2
  [ "$(R inspect api-web2 | jq -r '.[0].Name')" = /api-web2 ]
  run $DOCKER rename api-web2 api-web2
  [ "$status" -ne 0 ]
  $DOCKER rename api-web2 api-web
  run $DOCKER pause no-such-container
  [ "$status" -ne 0 ] && [[ "$output" == *"No such container"* ]]
  $DOCKER kill api-web
  run $DOCKER wait api-web
  [ "$output" = 137 ] || { echo "wait: $output"; cat "$T/api.log"; false; }
  [ "$($DOCKER ps -a --format '{{.State}}')" = exited ]
  $DOCKER start api-web
  [ "$($DOCKER ps -q --no-trunc)" = "$id" ]
  $DOCKER rm -f api-web
  [ -z "$($DOCKER ps -a -q)" ] && [ -z "$(R ps -a -q)" ]
  run $DOCKER rm api-web
  [ "$status" -ne 0 ] && [[ "$output" == *"No such container: api-web"* ]]
  no_leftovers
}

@test "oci-api: a client leaving mid-stream (logs -f, events, attach) leaves no process behind" {
  $DOCKER run -d --name api-follow $IMG sh -c 'while :; do echo tick; sleep 0.2; done'
  $DOCKER logs -f api-follow >"$T/follow.out" 2>&1 3>&- &
  local c1=$!
  $DOCKER events >/dev/null 2>&1 3>&- &
  local c2=$!
  $DOCKER attach api-follow >"$T/attach.out" 2>&1 3>&- &
  local c3=$!
  wait_until grep -q tick "$T/follow.out"
  wait_until grep -q tick "$T/attach.out"
  [ -n "$(children)" ]
  kill -9 $c1 $c2 $c3
  wait $c1 $c2 $c3 2>/dev/null || true
  wait_until no_children || { ps -o pid,args --ppid "$API_PID"; false; }
  # the container was not disturbed by its clients leaving
  [ "$($DOCKER inspect -f '{{.State.Running}}' api-follow)" = true ]
  $DOCKER rm -f api-follow
}

@test "oci-api: events with since, until and filters" {
  local t0
  t0=$(date +%s)
  $DOCKER run --name api-ev $IMG true
  $DOCKER rm api-ev
  run timeout 10 $DOCKER events --since "$t0" --until "$(($(date +%s) + 1))" --filter container=api-ev --format '{{.Action}}'
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tr '\n' ' ')" = "create start die destroy " ]
  run timeout 10 $DOCKER events --since "$t0" --until "$(($(date +%s) + 1))" --filter type=volume
  [ -z "$output" ]
}

@test "oci-api: docker pull from a local registry, images, tag, rmi" {
  REG_DIR=$T/reg
  start_registry "$REG_DIR"
  "$OCI_PUSH" $IMG docker://127.0.0.1:$REG_PORT/okt/api:v1 >/dev/null
  run $DOCKER pull 127.0.0.1:$REG_PORT/okt/api:v1
  [ "$status" -eq 0 ] && [[ "$output" == *"Downloaded newer image"* ]]
  run $DOCKER images --format '{{.Repository}}:{{.Tag}}'
  [[ "$output" == *"127.0.0.1:$REG_PORT/okt/api:v1"* ]]
  $DOCKER tag 127.0.0.1:$REG_PORT/okt/api:v1 okt-api/tagged:x
  [ "$($DOCKER image inspect -f '{{.Id}}' okt-api/tagged:x)" = "$($DOCKER image inspect -f '{{.Id}}' $IMG)" ]
  run $DOCKER run --rm okt-api/tagged:x echo tagged
  [ "$output" = tagged ]
  run $DOCKER rmi okt-api/tagged:x
  [ "$status" -eq 0 ] && [[ "$output" == *"Untagged: okt-api/tagged:x"* ]]
  run $DOCKER pull 127.0.0.1:$REG_PORT/okt/missing:v1
  [ "$status" -ne 0 ]
  # docker run pulls an image it does not have (404 on create, then pull)
  $DOCKER rmi 127.0.0.1:$REG_PORT/okt/api:v1
  run $DOCKER run --rm 127.0.0.1:$REG_PORT/okt/api:v1 echo pulled
  [ "$status" -eq 0 ] && [[ "$output" == *pulled ]]
}

@test "oci-api: volumes and networks" {
  $DOCKER volume create --label k=v api-vol
  [ "$($DOCKER volume ls -q)" = api-vol ]
  [ "$($DOCKER volume inspect -f '{{.Labels.k}}' api-vol)" = v ]
  $DOCKER run --rm -v api-vol:/data $IMG sh -c 'echo kept >/data/f'
  run $DOCKER run --rm --mount type=volume,source=api-vol,target=/d,readonly $IMG cat /d/f
  [ "$output" = kept ]
  $DOCKER volume rm api-vol
  [ -z "$($DOCKER volume ls -q)" ]
  run $DOCKER volume inspect api-vol
  [ "$status" -ne 0 ]
  local nid
  nid=$($DOCKER network create --subnet 10.203.7.0/24 --label tier=web api-net)
  [[ "$nid" =~ ^[0-9a-f]{64}$ ]]
  [ "$($DOCKER network inspect -f '{{.Driver}} {{(index .IPAM.Config 0).Subnet}} {{.Id}} {{.Labels.tier}}' api-net)" = "bridge 10.203.7.0/24 $nid web" ]
  [[ "$($DOCKER network ls --format '{{.Name}}')" == *api-net* ]]
  # docker's network ls filters: label, id prefix, type, driver
  [ "$($DOCKER network ls -q --filter label=tier=web)" = "${nid:0:12}" ]
  [ -z "$($DOCKER network ls -q --filter label=tier=db)" ]
  [ "$($DOCKER network ls --format '{{.Name}}' --filter id="${nid:0:5}")" = api-net ]
  [ "$($DOCKER network ls --format '{{.Name}}' --filter type=custom --filter driver=bridge)" = api-net ]
  [ "$($DOCKER network ls --format '{{.Name}}' --filter dangling=true)" = api-net ]
  run $DOCKER network ls --filter bogus=1
  [ "$status" -ne 0 ] && [[ "$output" == *"invalid filter 'bogus'"* ]]
  [ "$($DOCKER network inspect -f '{{.Name}}' "${nid:0:12}")" = api-net ]
  # a container on it names the network's id
  $DOCKER run -d --name api-onnet --network api-net $IMG sleep 100
  [ "$($DOCKER inspect -f '{{(index .NetworkSettings.Networks "api-net").NetworkID}}' api-onnet)" = "$nid" ]
  [ -z "$($DOCKER network ls -q --filter dangling=true)" ]
  $DOCKER rm -f api-onnet
  $DOCKER network rm "${nid:0:12}"
  run $DOCKER network inspect api-net
  [ "$status" -ne 0 ]
}

@test "oci-api: tcp on a non-loopback address needs mutual TLS; loopback is served" {
  run "$OCI_API" -H tcp://0.0.0.0:1 --root "$ROOT"
  [ "$status" -eq 2 ] && [[ "$output" == *"refusing to listen on tcp://0.0.0.0:1 without mutual TLS"* ]]
  run "$OCI_API" -H tcp://0.0.0.0:1 --tlsverify --root "$ROOT"
  [ "$status" -eq 2 ] && [[ "$output" == *"--tlsverify needs --tlscacert, --tlscert and --tlskey"* ]]
  local port
  port=$(free_port)
  "$OCI_API" -H tcp://127.0.0.1:$port --root "$ROOT" 2>/dev/null 3>&- &
  local pid=$!
  wait_until curl -sf http://127.0.0.1:$port/_ping
  [ "$(DOCKER_HOST=tcp://127.0.0.1:$port $DOCKER version --format '{{.Server.APIVersion}}')" = 1.41 ]
  kill $pid
  wait $pid || true
}

@test "oci-api: tcp with mutual TLS: the docker CLI with a client certificate is served, a client without one is not" {
  local d=$T/tls port pid
  mkdir -p "$d"
  (
    cd "$d"
    key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "$@" 2>/dev/null; }
    key -x509 -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=okt-api-ca
    key -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1
    key -keyout key.pem -out client.csr -subj /CN=okt-api-client
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 1 -extfile server.ext 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 1 -extfile client.ext 2>/dev/null
  )
  port=$(free_port)
  "$OCI_API" -H tcp://127.0.0.1:$port --tlsverify --tlscacert "$d/ca.pem" --tlscert "$d/server.pem" \
    --tlskey "$d/server-key.pem" --root "$ROOT" 2>"$T/tls.log" 3>&- &
  pid=$!
  wait_until curl -s --cacert "$d/ca.pem" --cert "$d/cert.pem" --key "$d/key.pem" https://127.0.0.1:$port/_ping
  run env DOCKER_HOST=tcp://127.0.0.1:$port DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$d" $DOCKER run --rm $IMG echo over-tls
  [ "$status" -eq 0 ] && [ "$output" = over-tls ]
  run curl -s --cacert "$d/ca.pem" https://127.0.0.1:$port/_ping
  [ "$status" -ne 0 ] && [ "$output" != OK ]
  run curl -s http://127.0.0.1:$port/_ping
  [ "$output" != OK ]
  kill $pid
  wait $pid || true
}

@test "oci-api: python3-docker containers.run and images.list" {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
  run /usr/bin/python3 - "$IMG" <<'PY'
import os, sys, docker
c = docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
print(c.containers.run(sys.argv[1], ["sh", "-c", "echo from-py"], remove=True).decode().strip())
print(sys.argv[1] + ":latest" in [t for i in c.images.list() for t in i.tags])
PY
  [ "$status" -eq 0 ] && [ "${lines[0]}" = from-py ] && [ "${lines[1]}" = True ]
  wait_until test -z "$(R ps -a -q)"
}

@test "oci-api: docker-compose up, logs, down of a small project" {
  require_cmd /usr/bin/docker-compose
  mkdir -p "$T/proj"
  cat >"$T/proj/docker-compose.yml" <<YML
version: "3"
services:
  web:
    image: $IMG
    command: sh -c "echo compose-up; sleep 100"
networks:
  default:
    ipam:
      config:
        - subnet: 10.203.9.0/24
YML
  cd "$T/proj"
  run timeout 60 /usr/bin/docker-compose -p apicompose up -d
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  [ "$($DOCKER ps --format '{{.Names}}')" = apicompose_web_1 ]
  [ "$($DOCKER network inspect -f '{{(index .IPAM.Config 0).Subnet}}' apicompose_default)" = 10.203.9.0/24 ]
  wait_until bash -c "/usr/bin/docker-compose -p apicompose logs --no-color | grep -q compose-up"
  run timeout 60 /usr/bin/docker-compose -p apicompose down -t 1
  [ "$status" -eq 0 ]
  [ -z "$($DOCKER ps -a -q)" ]
  run $DOCKER network inspect apicompose_default
  [ "$status" -ne 0 ]
}

@test "oci-api: socket activation (LISTEN_FDS) serves the activated socket" {
  require_cmd systemd-socket-activate
  local pid
  systemd-socket-activate -l "$T/act.sock" -E OCIKIT_STORE -E OCIKIT_STATE_DIR -E OCIKIT_EVENTS -E OCIKIT_NET_DIR \
    "$OCI_API" --root "$ROOT" 2>"$T/act.log" 3>&- &
  pid=$!
  wait_until test -S "$T/act.sock"
  run curl -s --unix-socket "$T/act.sock" http://localhost/_ping
  [ "$output" = OK ]
  run env DOCKER_HOST=unix://$T/act.sock $DOCKER run --rm $IMG echo activated
  [ "$output" = activated ]
  kill $pid
  wait $pid || true
}
