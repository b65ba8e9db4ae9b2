#!/usr/bin/env bats
# oci-api's POST /build (the classic builder's API: DOCKER_BUILDKIT=0) and
# GET /system/df, driven by Debian's docker CLI and docker-compose; no dockerd.
# RUN steps use --network none (no bridge is made).
load oci-api_helpers
load registry_helpers

export DOCKER_BUILDKIT=0

setup_file() {
  require_cmd /usr/bin/docker curl
  manage_setup_file
}
teardown_file() { manage_teardown_file; }

setup() {
  manage_setup
  export OCIKIT_BUILD=$OCI_BUILD
  api_start --read-timeout 5
}

teardown() {
  [ -n "${T:-}" ] || return 0
  api_stop
  R rmi -f api2/x:1 api2/x:2 api2/other api2/stage1 api2proj_app >/dev/null 2>&1 || true
  manage_teardown
}

@test "oci-api build: docker build (WORKDIR, COPY, RUN, ARG, LABEL, two tags), docker run of the result" {
  mkdir -p "$T/ctx"
  echo hello-ctx >"$T/ctx/file.txt"
  cat >"$T/ctx/Dockerfile" <<EOF
FROM $IMG
ARG WHO=nobody
LABEL api2.label=yes
WORKDIR /new/dir
COPY file.txt .
RUN echo "built-by-\$WHO" > built.txt && cat file.txt
EOF
  run --separate-stderr $DOCKER build --network none --build-arg WHO=api2 -t api2/x:1 -t api2/x:2 "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output $stderr"; cat "$T/api.log"; false; }
  [[ "$output" == *hello-ctx* ]]
  # dockerd's builder's words
  [[ "$output" == *"Step 1/6 : FROM $IMG"*"Step 6/6 : RUN echo"* ]]
  [[ "$output" == *"Successfully built "* ]]
  [[ "$output" == *"Successfully tagged api2/x:1"* ]] && [[ "$output" == *"Successfully tagged api2/x:2"* ]]
  short=$(sed -n 's/^Successfully built \([0-9a-f]\{12\}\)$/\1/p' <<<"$output")
  [ "$(R images --quiet api2/x:1)" = "$short" ]
  run $DOCKER run --rm api2/x:1 sh -c 'pwd; cat built.txt file.txt'
  [ "$status" -eq 0 ] && [ "$output" = "/new/dir
built-by-api2
hello-ctx" ]
  [ "$($DOCKER image inspect -f '{{index .Config.Labels "api2.label"}}' api2/x:2)" = yes ]
  R images | grep -q '^api2/x *1 '
  # a rebuild is all cache (WORKDIR, COPY, RUN), and the same image
  run --separate-stderr $DOCKER build --network none --build-arg WHO=api2 -t api2/x:1 "$T/ctx"
  [ "$status" -eq 0 ] && [ "$(grep -c '^ ---> Using cache$' <<<"$output")" -eq 3 ]
  [[ "$output" == *"Successfully built $short"* ]]
  # -q prints the id alone; an image built without -t is kept under it
  run --separate-stderr $DOCKER build -q --network none --build-arg WHO=other "$T/ctx"
  [ "$status" -eq 0 ] && [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "-q: $output / $stderr"; false; }
  [ "$($DOCKER run --rm "$output" cat built.txt)" = built-by-other ]
}

@test "oci-api build: a failing RUN fails docker build with the error; -f, --target, a gzip context" {
  mkdir -p "$T/ctx/sub"
  printf 'FROM %s\nRUN echo about-to-fail; exit 7\n' "$IMG" >"$T/ctx/Dockerfile"
  run --separate-stderr $DOCKER build --network none -t api2/x:1 "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *about-to-fail* ]]
  [[ "$stderr" == *"exit"*"7"* ]] || { echo "stderr: $stderr"; false; }
  run R images --quiet api2/x:1
  [ -z "$output" ]
  cat >"$T/ctx/sub/Dockerfile.other" <<EOF
FROM $IMG AS stage1
RUN echo one > /stage
FROM stage1
RUN echo two > /stage
EOF
  run --separate-stderr $DOCKER build --network none -f "$T/ctx/sub/Dockerfile.other" --target stage1 -t api2/stage1 "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
  [ "$($DOCKER run --rm api2/stage1 cat /stage)" = one ]
  # a compressed context, as docker-py sends with gzip=True
  tar -C "$T/ctx" -czf "$T/ctx.tgz" .
  run curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/x-tar' --data-binary @"$T/ctx.tgz" \
    "http://localhost/v1.41/build?dockerfile=sub/Dockerfile.other&t=api2/other&networkmode=none"
  [ "$status" -eq 0 ]
  jq -s -e 'map(select(.aux))[0].aux.ID | startswith("sha256:")' <<<"$output"
  [ "$($DOCKER run --rm api2/other cat /stage)" = two ]
  # a bad query gets a 400 before anything runs
  run curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST --data-binary @"$T/ctx.tgz" \
    "http://localhost/build?buildargs=notjson"
  [ "$output" = 400 ]
}

@test "oci-api build: a context larger than the 16 MiB body limit streams through" {
  mkdir -p "$T/big"
  head -c 20M /dev/urandom >"$T/big/blob"
  printf 'FROM %s\nCOPY blob /blob\n' "$IMG" >"$T/big/Dockerfile"
  run --separate-stderr $DOCKER build -t api2/x:1 "$T/big"
  [ "$status" -eq 0 ] || { echo "$output $stderr"; false; }
  [ "$($DOCKER run --rm api2/x:1 wc -c /blob | awk '{print $1}')" = 20971520 ]
  # other routes keep the 16 MiB limit
  run curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
    --data-binary @"$T/big/blob" http://localhost/containers/create
  [ "$output" = 413 ]
}

@test "oci-api build: docker-compose build, up -d, down; docker system df" {
  require_cmd /usr/bin/docker-compose
  mkdir -p "$T/proj/app"
  printf 'FROM %s\nRUN echo compose-built > /msg\nCMD ["sh", "-c", "cat /msg; sleep 100"]\n' "$IMG" >"$T/proj/app/Dockerfile"
  cat >"$T/proj/docker-compose.yml" <<YML
version: "3.4"
services:
  app:
    build:
      context: ./app
      network: none
    network_mode: none
YML
  cd "$T/proj"
  run timeout 60 /usr/bin/docker-compose -p api2proj build
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  R images | grep -q '^api2proj_app '
  run timeout 60 /usr/bin/docker-compose -p api2proj up -d
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  wait_until bash -c "$DOCKER logs api2proj_app_1 2>/dev/null | grep -qx compose-built"
  run $DOCKER system df
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "${lines[0]}" == "TYPE "*"TOTAL"*"ACTIVE"*"SIZE"*"RECLAIMABLE" ]]
  grep -Eq '^Containers +1 +1 ' <<<"$output"
  grep -Eq '^Images +[0-9]+ +1 ' <<<"$output"
  run $DOCKER system df -v
  [ "$status" -eq 0 ] && [[ "$output" == *api2proj_app* ]]
  run timeout 60 /usr/bin/docker-compose -p api2proj down -t 1
  [ "$status" -eq 0 ]
  [ -z "$($DOCKER ps -a -q)" ]
}

@test "oci-api: containers/json has Ports, Mounts and ImageID" {
  port=$(free_port)
  $DOCKER network create --subnet 10.205.7.0/24 api2net >/dev/null
  $DOCKER run -d --name api2-ports --network api2net -p 127.0.0.1:$port:80 -v api2vol:/data $IMG sleep 100 >/dev/null
  [ "$($DOCKER ps --format '{{.Ports}}')" = "127.0.0.1:$port->80/tcp" ]
  [ "$($DOCKER ps --format '{{.Mounts}}')" = api2vol ]
  run curl -s --unix-socket "$SOCK" http://localhost/containers/json
  [ "$(jq -c '.[0].Ports | map([.IP, .PrivatePort, .PublicPort, .Type])' <<<"$output")" = "[[\"127.0.0.1\",80,$port,\"tcp\"]]" ]
  [ "$(jq -r '.[0].ImageID' <<<"$output")" = "$($DOCKER inspect -f '{{.Image}}' api2-ports)" ]
  $DOCKER rm -f api2-ports >/dev/null
  $DOCKER volume rm api2vol >/dev/null
  $DOCKER network rm api2net >/dev/null
}
