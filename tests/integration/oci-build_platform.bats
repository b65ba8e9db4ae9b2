#!/usr/bin/env bats
# oci-build --platform: several platforms give one OCI image index; the
# automatic platform ARGs; FROM picks the platform's manifest of a store
# index; RUN on a foreign platform through qemu-user binfmt, and the error
# without a handler.
load helpers

# The arm64 busybox scripts/install-deps fetches (Debian's busybox-static:arm64).
ARM64_BUSYBOX=/var/cache/ocikit/busybox-arm64

setup() {
  build_setup
  HOST=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
  # a foreign platform for the tests that need no emulation
  if [ "$HOST" = amd64 ]; then FOREIGN=arm64; else FOREIGN=amd64; fi
}

teardown() {
  build_cleanup
}

blob() { echo "$OCIKIT_STORE/blobs/sha256/${1#sha256:}"; }

# top NAME: the digest the store's NAME points to
top() {
  jq -r --arg n "docker.io/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json"
}

# config_for NAME ARCH: the config of the index NAME's manifest for linux/ARCH
config_for() {
  local m
  m=$(jq -r --arg a "$2" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$(top "$1")")")
  cat "$(blob "$(jq -r .config.digest "$(blob "$m")")")"
}

@test "two platforms: FROM scratch + COPY in two stages gives an index with a manifest per platform" {
  echo amd64-file >"$T/ctx/file-amd64"
  echo arm64-file >"$T/ctx/file-arm64"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch AS files
ARG TARGETARCH
COPY file-$TARGETARCH /file

FROM scratch
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDARCH
COPY --from=files /file /from-stage
LABEL tp=$TARGETPLATFORM os=$TARGETOS arch=$TARGETARCH variant=$TARGETVARIANT bp=$BUILDPLATFORM ba=$BUILDARCH
DF
  run "$OCI_BUILD" --platform linux/amd64,linux/arm64 -t okt-build3/multi -o "oci:$T/out:v1" "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  idx=$(top okt-build3/multi)
  [ "$(tail -n1 <<<"$output")" = "$idx" ]
  [ "$(jq -r .mediaType "$(blob "$idx")")" = application/vnd.oci.image.index.v1+json ]
  [ "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' "$(blob "$idx")")" = linux/amd64,linux/arm64 ]
  for a in amd64 arm64; do
    c=$(config_for okt-build3/multi $a)
    [ "$(jq -r .architecture <<<"$c")" = $a ]
    [ "$(jq -r .os <<<"$c")" = linux ]
    [ "$(jq -r .config.Labels.arch <<<"$c")" = $a ]
    [ "$(jq -r .config.Labels.tp <<<"$c")" = "$(jq -r --arg a $a '.manifests[] | select(.platform.architecture == $a) | .platform | .os + "/" + .architecture + (if .variant then "/" + .variant else "" end)' "$(blob "$idx")")" ]
    [ "$(jq -r .config.Labels.os <<<"$c")" = linux ]
    [ "$(jq -r .config.Labels.bp <<<"$c")" = "linux/$HOST" ]
    [ "$(jq -r .config.Labels.ba <<<"$c")" = "$HOST" ]
    # the layer holds this platform's file
    m=$(jq -r --arg a $a '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$idx")")
    [ "$(tar -xzOf "$(blob "$(jq -r '.layers[0].digest' "$(blob "$m")")")" from-stage)" = "$a-file" ]
  done
  # --output: the same index, under its tag, with every blob
  [ "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$T/out/index.json")" = "$idx" ]
  for m in $(jq -r '.manifests[].digest' "$T/out/blobs/sha256/${idx#sha256:}"); do
    for b in $(jq -r '.config.digest, .layers[].digest' "$T/out/blobs/sha256/${m#sha256:}"); do
      [ -s "$T/out/blobs/sha256/${b#sha256:}" ]
    done
  done
  # a rebuild reuses every layer of both platforms and gives the same index
  run "$OCI_BUILD" --platform linux/amd64,linux/arm64 -t okt-build3/multi "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 4 ]
}

@test "FROM a store index picks the manifest of the platform built; a missing one fails with --pull never" {
  printf 'FROM scratch\nARG TARGETARCH\nLABEL base=$TARGETARCH\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --platform "linux/$HOST,linux/$FOREIGN" -t okt-build3/base "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  printf 'FROM okt-build3/base\nLABEL child=yes\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --pull never --platform "$FOREIGN" -t okt-build3/child "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  c=$(cat "$(blob "$(jq -r .config.digest "$(blob "$(top okt-build3/child)")")")")
  [ "$(jq -r .config.Labels.base <<<"$c")" = "$FOREIGN" ]
  [ "$(jq -r .architecture <<<"$c")" = "$FOREIGN" ]
  # the host platform by default
  run "$OCI_BUILD" --pull never -t okt-build3/child "$T/ctx"
  [ "$status" -eq 0 ]
  c=$(cat "$(blob "$(jq -r .config.digest "$(blob "$(top okt-build3/child)")")")")
  [ "$(jq -r .config.Labels.base <<<"$c")" = "$HOST" ]
  run "$OCI_BUILD" --pull never --platform linux/s390x -t okt-build3/child2 "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *'Dockerfile:1: image "okt-build3/base" in the store has no manifest for linux/s390x (--pull never)'* ]]
  ! grep -q child2 "$OCIKIT_STORE/index.json"
}

@test "--platform: bad lists are usage errors" {
  printf 'FROM scratch\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" --platform linux/amd64, "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"--platform linux/amd64,: empty platform in the list"* ]]
  run "$OCI_BUILD" --platform windows/amd64 "$T/ctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"cannot build for os windows on linux"* ]]
}

@test "RUN on a foreign platform without a binfmt handler: a clear error, nothing tagged; COPY-only builds still work" {
  printf 'FROM scratch\nCOPY Dockerfile /\nRUN ["/bin/true"]\n' >"$T/ctx/Dockerfile"
  printf 'FROM scratch\nCOPY Dockerfile /\n' >"$T/ctx/Dockerfile.copy"
  # A private mount namespace whose binfmt_misc has no handler at all.
  cat >"$T/nobinfmt.sh" <<EOF
mount -t tmpfs tmpfs /proc/sys/fs/binfmt_misc || exit 99
"$OCI_BUILD" --platform "linux/$HOST,linux/$FOREIGN" -f "$T/ctx/Dockerfile.copy" -t okt-build3/copyonly "$T/ctx" || exit 98
exec "$OCI_BUILD" --platform "linux/$FOREIGN" -t okt-build3/foreign "$T/ctx"
EOF
  run unshare -m --propagation private sh "$T/nobinfmt.sh"
  echo "$output"
  [ "$status" -eq 1 ]
  handler=$(case $FOREIGN in arm64) echo qemu-aarch64 ;; *) echo qemu-x86_64 ;; esac)
  [[ "$output" == *"Dockerfile:3: cannot run linux/$FOREIGN"*" binaries on linux/$HOST: no enabled qemu-user binfmt handler /proc/sys/fs/binfmt_misc/$handler (install qemu-user-static)"* ]]
  grep -q okt-build3/copyonly "$OCIKIT_STORE/index.json"
  ! grep -q okt-build3/foreign "$OCIKIT_STORE/index.json"
}

@test "RUN under qemu-user emulation: uname -m is aarch64 in the arm64 image" {
  [ "$HOST" = amd64 ] || skip "the test's fixture is an arm64 busybox for an amd64 host"
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null ||
    skip "binfmt_misc has no enabled qemu-aarch64 handler (install qemu-user-static, mount binfmt_misc)"
  [ -x "$ARM64_BUSYBOX" ] || skip "no arm64 busybox at $ARM64_BUSYBOX (scripts/install-deps fetches it)"
  cp /bin/busybox "$T/ctx/busybox-amd64"
  cp "$ARM64_BUSYBOX" "$T/ctx/busybox-arm64"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch
ARG TARGETARCH
COPY busybox-$TARGETARCH /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /etc && /bin/busybox uname -m > /etc/arch"]
DF
  run "$OCI_BUILD" --platform linux/amd64,linux/arm64 -t okt-build3/emu "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for pair in amd64:x86_64 arm64:aarch64; do
    m=$(jq -r --arg a "${pair%%:*}" '.manifests[] | select(.platform.architecture == $a) | .digest' "$(blob "$(top okt-build3/emu)")")
    [ "$(tar -xzOf "$(blob "$(jq -r '.layers[1].digest' "$(blob "$m")")")" etc/arch)" = "${pair#*:}" ]
  done
}
