#!/usr/bin/env bats
# oci-build: RUN --mount=type=ssh with a real ssh-agent (--ssh), and
# RUN --mount=type=cache sharing=shared|private|locked.
load helpers

setup() {
  build_setup okt-build3/busybox
}

teardown() {
  [ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null
  build_cleanup
}

manifest() {
  echo "$OCIKIT_STORE/blobs/sha256/$(jq -r --arg n "docker.io/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json" | cut -d: -f2)"
}
# file_in NAME PATH: PATH from the image's top layer
file_in() {
  tar -xzOf "$OCIKIT_STORE/blobs/sha256/$(jq -r '.layers[-1].digest' "$(manifest "$1")" | cut -d: -f2)" "$2"
}

start_agent() {
  require_cmd ssh-agent
  require_cmd ssh-keygen
  require_cmd cc
  ssh-keygen -q -t ed25519 -N '' -C okt-build3-key -f "$T/key"
  eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
  AGENT_PID=$SSH_AGENT_PID
  SSH_AUTH_SOCK=$T/agent.sock ssh-add -q "$T/key"
  # a static client that lists the agent's keys (busybox has no unix socket client)
  cc -static -O2 -o "$T/ctx/agent-list" "$OCIKIT_SOURCE_ROOT/tests/integration/fixtures/ssh_agent_list.c"
}

@test "RUN --mount=type=ssh: the agent from --ssh answers inside the RUN, at the default or a given target" {
  start_agent
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox
COPY agent-list /usr/bin/agent-list
RUN --mount=type=ssh,required=true echo "$SSH_AUTH_SOCK" >/sock && agent-list >/keys
RUN --mount=type=ssh,id=other,target=/tmp/agent.sock agent-list >/keys2 && echo "$SSH_AUTH_SOCK" >>/keys2
RUN --mount=type=ssh agent-list >/keys3 2>&1 || echo "no agent: $SSH_AUTH_SOCK." >>/keys3
DF
  SSH_AUTH_SOCK=$T/agent.sock run "$OCI_BUILD" --ssh default --ssh "other=$T/agent.sock" -t okt-build3/ssh "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  unpack() { local l; for l in $(jq -r '.layers[].digest' "$(manifest okt-build3/ssh)" | cut -d: -f2); do tar -C "$T/out" -xzf "$OCIKIT_STORE/blobs/sha256/$l"; done; }
  mkdir -p "$T/out" && unpack
  [ "$(cat "$T/out/sock")" = /run/buildkit/ssh_agent.0 ]
  [ "$(cat "$T/out/keys")" = "$(printf '1 identities\nokt-build3-key')" ]
  [ "$(cat "$T/out/keys2")" = "$(printf '1 identities\nokt-build3-key\n/tmp/agent.sock')" ]
  # the socket mount points are not left in the layers
  [ ! -e "$T/out/run/buildkit" ]
  [ ! -e "$T/out/tmp/agent.sock" ]
  # --ssh default without SOCKET takes $SSH_AUTH_SOCK; an optional mount with no --ssh is left out
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox
COPY agent-list /usr/bin/agent-list
RUN --mount=type=ssh agent-list >/keys3 2>&1 || echo "no agent: $SSH_AUTH_SOCK." >>/keys3
DF
  run "$OCI_BUILD" -t okt-build3/ssh2 "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(file_in okt-build3/ssh2 keys3)" = "$(printf 'SSH_AUTH_SOCK is not set\nno agent: .')" ]
}

@test "RUN --mount=type=ssh,required: no --ssh is an error; bad --ssh values are usage errors" {
  printf 'FROM okt-build3/busybox\nRUN --mount=type=ssh,id=deploy,required=true true\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/nossh "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *'Dockerfile:2: ssh "deploy": not given (--ssh deploy[=SOCKET])'* ]]
  ! grep -q okt-build3/nossh "$OCIKIT_STORE/index.json"
  SSH_AUTH_SOCK= run "$OCI_BUILD" --ssh default "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--ssh default: no SOCKET given and SSH_AUTH_SOCK is not set"* ]]
  run "$OCI_BUILD" --ssh "default=$T/ctx/Dockerfile" "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--ssh default=$T/ctx/Dockerfile: $T/ctx/Dockerfile is not a socket (only ssh-agent sockets are supported)"* ]]
  run "$OCI_BUILD" --ssh "default=$T/none" "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"$T/none: no such socket"* ]]
}

# cache_dir ID: the directory of RUN --mount=type=cache,id=ID
cache_dir() {
  echo "$OCIKIT_STORE.build-cache/mounts/$(printf %s "$1" | sha256sum | cut -d' ' -f1)"
}

@test "RUN --mount=type=cache,sharing=locked: two concurrent builds using the cache take turns" {
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox
ARG N
RUN --mount=type=cache,id=okt-build3-locked,target=/c,sharing=locked echo "start $N" >>/c/log && sleep 2 && echo "end $N" >>/c/log
DF
  "$OCI_BUILD" --build-arg N=a -t okt-build3/la "$T/ctx" >"$T/a.log" 2>&1 &
  pa=$!
  "$OCI_BUILD" --build-arg N=b -t okt-build3/lb "$T/ctx" >"$T/b.log" 2>&1 &
  pb=$!
  wait "$pa" || { cat "$T/a.log"; false; }
  wait "$pb" || { cat "$T/b.log"; false; }
  log=$(cat "$(cache_dir okt-build3-locked)/log")
  echo "$log"
  [ "$log" = "$(printf 'start a\nend a\nstart b\nend b')" ] || [ "$log" = "$(printf 'start b\nend b\nstart a\nend a')" ]
}

@test "RUN --mount=type=cache,sharing=private: a cache in use gives the RUN its own instance; shared ignores the lock" {
  dir=$(cache_dir okt-build3-private)
  mkdir -p "${dir%/*}"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build3/busybox
ARG N
RUN --mount=type=cache,id=okt-build3-private,target=/c,sharing=private echo "$N" >>/c/log && cat /c/log >/seen
DF
  # another user holds the cache (as a concurrent private or locked RUN would)
  exec 9>"$dir.lock"
  flock -n 9
  run "$OCI_BUILD" --build-arg N=one -t okt-build3/p1 "$T/ctx"
  exec 9>&-
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(file_in okt-build3/p1 seen)" = one ]
  [ "$(cat "$dir.1/log")" = one ]
  [ ! -e "$dir/log" ]
  # free again: the main instance
  run "$OCI_BUILD" --build-arg N=two -t okt-build3/p2 "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(file_in okt-build3/p2 seen)" = two ]
  [ "$(cat "$dir/log")" = two ]
  # sharing=shared does not wait for a held lock
  sed -i 's/sharing=private/sharing=shared/' "$T/ctx/Dockerfile"
  exec 9>"$dir.lock"
  flock -n 9
  run timeout 60 "$OCI_BUILD" --build-arg N=three -t okt-build3/p3 "$T/ctx"
  exec 9>&-
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(file_in okt-build3/p3 seen)" = "$(printf 'two\nthree')" ]
}
