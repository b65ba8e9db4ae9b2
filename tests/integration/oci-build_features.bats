#!/usr/bin/env bats
# oci-build: heredocs, ONBUILD, RUN --mount (bind, cache, tmpfs, secret),
# --network, concurrent stages, --platform, exact cache invalidation.
load helpers
bats_require_minimum_version 1.5.0

setup() {
  build_setup okt-build3/busybox
}

teardown() {
  build_cleanup
}

manifest_of() {
  jq -r --arg n "docker.io/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json" | cut -d: -f2
}

image_config() {
  local c
  c=$(jq -r .config.digest "$OCIKIT_STORE/blobs/sha256/$(manifest_of "$1")" | cut -d: -f2)
  cat "$OCIKIT_STORE/blobs/sha256/$c"
}

# layer NAME INDEX: the blob path of the image's layer INDEX (-1: the top one)
layer() {
  local l
  l=$(jq -r ".layers[$2].digest" "$OCIKIT_STORE/blobs/sha256/$(manifest_of "$1")" | cut -d: -f2)
  echo "$OCIKIT_STORE/blobs/sha256/$l"
}

# unpack NAME DIR: all layers of the image into DIR (no whiteouts needed here)
unpack() {
  local l
  mkdir -p "$2"
  for l in $(jq -r '.layers[].digest' "$OCIKIT_STORE/blobs/sha256/$(manifest_of "$1")" | cut -d: -f2); do
    tar -C "$2" -xzf "$OCIKIT_STORE/blobs/sha256/$l"
  done
}

@test "heredocs: RUN <<EOF, a #! script, several heredocs, COPY <<EOF with and without expansion" {
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox
ENV WHO=world
RUN <<EOF
echo one > /h1
echo two >> /h1
EOF
RUN <<EOF
#!/bin/awk -f
BEGIN { print "from awk" > "/h2" }
EOF
RUN cat <<A >/h3 && cat <<B >>/h3
alpha
A
beta
B
COPY <<EOF /etc/greeting
hello $WHO
EOF
COPY <<"EOF" /raw
hello $WHO
EOF
DF
  run "$OCI_BUILD" -t okt-build3/here "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  unpack okt-build3/here "$T/out"
  [ "$(cat "$T/out/h1")" = "$(printf 'one\ntwo')" ]
  [ "$(cat "$T/out/h2")" = "from awk" ]
  [ "$(cat "$T/out/h3")" = "$(printf 'alpha\nbeta')" ]
  [ "$(cat "$T/out/etc/greeting")" = "hello world" ]
  [ "$(cat "$T/out/raw")" = 'hello $WHO' ]
  ! tar -tzf "$(layer okt-build3/here 2)" | grep -q '^dev'
}

@test "ONBUILD: recorded in the config, run on FROM, not inherited further" {
  printf 'FROM okt-build3/busybox\nONBUILD RUN echo triggered > /trig\nONBUILD ENV T=1\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/onb "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(image_config okt-build3/onb | jq -c .config.OnBuild)" = '["RUN echo triggered > /trig","ENV T=1"]' ]
  printf 'FROM okt-build3/onb\nRUN cat /trig > /seen\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/child "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(tar -xzOf "$(layer okt-build3/child -1)" seen)" = triggered ]
  c=$(image_config okt-build3/child)
  [ "$(jq -r '.config.OnBuild // [] | length' <<<"$c")" -eq 0 ]
  [[ "$(jq -r '.config.Env | join(",")' <<<"$c")" == *T=1* ]]
}

@test "RUN --mount: bind (ro, from a stage), cache persists, tmpfs, secret never in the layer" {
  echo ctxfile >"$T/ctx/data"
  echo s3cr3t >"$T/secret"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox AS src
RUN echo staged > /staged
FROM okt-build3/busybox
RUN --mount=type=bind,target=/ctx cat /ctx/data > /bound && ! touch /ctx/new 2>/dev/null
RUN --mount=type=bind,from=src,source=/staged,target=/s cat /s > /fromstage
RUN --mount=type=cache,target=/cache echo x >> /cache/count && wc -l < /cache/count > /count
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && [ -f /scratch/t ]
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /leak-check-$(cat /run/secrets/tok | wc -c)
DF
  run "$OCI_BUILD" --secret id=tok,src="$T/secret" -t okt-build3/mnt "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  unpack okt-build3/mnt "$T/out"
  [ "$(cat "$T/out/bound")" = ctxfile ]
  [ ! -e "$T/out/ctx" ]
  [ ! -e "$T/ctx/new" ]
  [ "$(cat "$T/out/fromstage")" = staged ]
  [ ! -e "$T/out/s" ]
  [ "$(cat "$T/out/count")" = 1 ]
  [ ! -e "$T/out/cache" ]
  [ ! -e "$T/out/scratch" ]
  [ "$(cat "$T/out/leak-check-7")" = s3cr3t ]
  [ ! -e "$T/out/run" ]
  # the cache dir persists: a --no-cache rebuild counts 2
  run "$OCI_BUILD" --no-cache --secret id=tok,src="$T/secret" -t okt-build3/mnt "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(tar -xzOf "$(layer okt-build3/mnt 3)" count)" = 2 ]
  # a required secret that is not given
  printf 'FROM okt-build3/busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/nosecret "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *'Dockerfile:2: secret "nope": not given (--secret id=nope,src=FILE)'* ]]
}

@test "RUN networks: the default is its own namespace on oci-net's bridge (NAT), none is loopback only, host needs --allow network.host" {
  printf 'FROM okt-build3/busybox\nRUN ip -4 -o addr show eth0 | grep -o "inet 10\\.87\\.[0-9.]*" > /addr; ip route | grep -c "^default via 10.87.0.1" > /route; ls /sys/class/net > /links\nRUN --network=none ls /sys/class/net > /none\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/net "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$(tar -xzOf "$(layer okt-build3/net 1)" addr)" == "inet 10.87."* ]]
  [ "$(tar -xzOf "$(layer okt-build3/net 1)" route)" = 1 ]
  [ "$(tar -xzOf "$(layer okt-build3/net 1)" links | tr '\n' ' ')" = "eth0 lo " ]
  [ "$(tar -xzOf "$(layer okt-build3/net 2)" none)" = lo ]
  # the lease is gone once the RUN is: nothing stays connected
  [ "$("$OCI_NET" inspect bridge | jq '.[0].containers | length')" = 0 ]
  # the Dockerfile alone cannot take the host's network
  printf 'FROM okt-build3/busybox\nRUN --network=host ls /sys/class/net > /host\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/nethost "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"RUN --network=host: not allowed without the network.host entitlement (oci-build --allow network.host)"* ]]
  run "$OCI_BUILD" --allow network.host -t okt-build3/nethost "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(tar -xzOf "$(layer okt-build3/nethost 1)" host)" = "$(ls /sys/class/net)" ]
  # --network on the command line sets every RUN's default
  printf 'FROM okt-build3/busybox\nRUN ls /sys/class/net > /cli\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --network none -t okt-build3/netcli "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(tar -xzOf "$(layer okt-build3/netcli 1)" cli)" = lo ]
  run "$OCI_BUILD" --allow network.nope -t okt-build3/netcli "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--allow network.nope: unknown entitlement (known: network.host)"* ]]
}

@test "independent stages build concurrently; the result does not depend on -j" {
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox AS a
RUN echo a > /a
FROM okt-build3/busybox AS b
RUN echo b > /b
FROM okt-build3/busybox AS unused
RUN exit 9
FROM okt-build3/busybox
COPY --from=a /a /a
COPY --from=b /b /b
DF
  run env SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" -j 2 --iidfile "$T/id2" -t okt-build3/par "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run env SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" --no-cache -j 1 --iidfile "$T/id1" "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/id1")" = "$(cat "$T/id2")" ]
  [ "$(tar -xzOf "$(layer okt-build3/par -1)" b)" = b ]
  [ "$(tar -xzOf "$(layer okt-build3/par -2)" a)" = a ]
}

@test "--platform: the host's is accepted; a foreign one builds when nothing has to run" {
  printf 'FROM scratch\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n' >"$T/ctx/Dockerfile"
  host=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
  run "$OCI_BUILD" --platform "linux/$host" -t okt-build3/plat "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(image_config okt-build3/plat | jq -r .config.Labels.arch)" = "$host" ]
  [ "$(image_config okt-build3/plat | jq -r .architecture)" = "$host" ]
  run "$OCI_BUILD" --platform linux/s390x -t okt-build3/plat2 "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(image_config okt-build3/plat2 | jq -r .config.Labels.arch)" = s390x ]
  [ "$(image_config okt-build3/plat2 | jq -r .architecture)" = s390x ]
}

@test "cache: changing one file reruns exactly the steps from its COPY on" {
  echo 1 >"$T/ctx/a"
  echo 1 >"$T/ctx/b"
  printf 'FROM okt-build3/busybox\nCOPY a /a\nRUN echo STEP""-A >&2\nCOPY b /b\nRUN echo STEP""-B >&2\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/inv "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *STEP-A*STEP-B* ]]
  echo 2 >"$T/ctx/b"
  run "$OCI_BUILD" -t okt-build3/inv "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" != *STEP-A* ]]
  [[ "$output" == *STEP-B* ]]
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 2 ]
  echo 2 >"$T/ctx/a"
  run "$OCI_BUILD" -t okt-build3/inv "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *STEP-A*STEP-B* ]]
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 0 ]
  # a failing RUN after cached steps: its exit code, nothing tagged
  printf 'FROM okt-build3/busybox\nCOPY a /a\nRUN exit 42\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/failing "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Dockerfile:3: RUN /bin/sh -c exit 42: exit code 42"* ]]
  ! grep -q okt-build3/failing "$OCIKIT_STORE/index.json"
}

@test "cache: a fully cached rebuild is the same image (same id), as with docker's builders; --no-cache is a new one" {
  echo 1 >"$T/ctx/a"
  printf 'FROM okt-build3/busybox\nENV A=1\nCOPY a /a\nRUN echo ran >/r\nLABEL l=v\nCMD ["sh"]\n' >"$T/ctx/Dockerfile"
  id1=$("$OCI_BUILD" -t okt-build3/same "$T/ctx" 2>/dev/null)
  [[ "$id1" == sha256:* ]]
  sleep 1.1  # the times are in seconds: a new time would show
  run --separate-stderr "$OCI_BUILD" -t okt-build3/same "$T/ctx"
  [ "$status" -eq 0 ] && [ "$output" = "$id1" ]
  [ "$(grep -c 'Using cache' <<<"$stderr")" -eq 2 ]
  # the image's time is its last step's
  [ "$(image_config okt-build3/same | jq -r .created)" = "$(image_config okt-build3/same | jq -r '.history[-1].created')" ]
  [[ "$stderr" == *"STEP 4/6: RUN echo ran >/r"* ]]
  run --separate-stderr "$OCI_BUILD" -q -t okt-build3/same "$T/ctx"
  [ "$status" -eq 0 ] && [ "$output" = "$id1" ] && [ -z "$stderr" ]
  sleep 1.1
  run --separate-stderr "$OCI_BUILD" --no-cache -t okt-build3/same "$T/ctx"
  [ "$status" -eq 0 ] && [[ "$output" == sha256:* ]] && [ "$output" != "$id1" ]
}

@test "cache: a rebuild does not read unchanged context files again (stat cache); a changed one is" {
  mkdir -p "$T/ctx/d"
  for i in 1 2 3 4 5; do echo "$i" >"$T/ctx/d/f$i"; done
  printf 'FROM okt-build3/busybox\nCOPY d /d\n' >"$T/ctx/Dockerfile"
  sleep 1.1  # files changed within a second of being hashed are hashed again (racy)
  run "$OCI_BUILD" --log-level info -t okt-build3/stat "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *"build context: 5 files read and hashed"* ]]
  run "$OCI_BUILD" --log-level info -t okt-build3/stat "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *"build context: 0 files read and hashed"* ]]
  [[ "$output" == *"Using cache"* ]]
  # same size, same content: a touched file is hashed again, and still hits
  touch "$T/ctx/d/f1"
  run "$OCI_BUILD" --log-level info -t okt-build3/stat "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *"build context: 1 files read and hashed"* ]]
  [[ "$output" == *"Using cache"* ]]
  # same size, other content: a miss
  echo 9 >"$T/ctx/d/f2"
  run "$OCI_BUILD" --log-level info -t okt-build3/stat "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" != *"Using cache"* ]]
  [ "$(tar -xzOf "$(layer okt-build3/stat -1)" d/f2)" = 9 ]
}

@test "a build killed mid-RUN (kill -9, with its runtime) leaves nothing once the next build ran: no container, mount, lease or work dir" {
  printf 'FROM okt-build3/busybox\nRUN echo okt-killed-run-marker >/dev/null; sleep 30\n' >"$T/ctx/Dockerfile"
  setsid "$OCI_BUILD" --no-cache -t okt-build3/killed "$T/ctx" >"$T/killed.log" 2>&1 &
  local pid=$! i
  # wait until the RUN is up (its network lease is taken by the hook)
  for i in $(seq 100); do
    [ "$("$OCI_NET" inspect bridge 2>/dev/null | jq '.[0].containers | length' 2>/dev/null)" = 1 ] && break
    sleep 0.1
  done
  sleep 0.5
  kill -9 -- "-$pid"
  wait "$pid" 2>/dev/null || true
  # right after the kill: the RUN's overlay, its lease and work dir are left
  grep -q " $T/store.build-cache/tmp/" /proc/self/mountinfo
  [ "$("$OCI_NET" inspect bridge | jq '.[0].containers | length')" = 1 ]
  printf 'FROM okt-build3/busybox\nRUN true\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --no-cache -t okt-build3/after "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ! grep -q " $T/store.build-cache/tmp/" /proc/self/mountinfo
  [ "$("$OCI_NET" inspect bridge | jq '.[0].containers | length')" = 0 ]
  [ -z "$(ls -A "$T/store.build-cache/tmp")" ]
  ! pgrep -f okt-killed-run-marker
}
