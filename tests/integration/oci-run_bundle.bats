#!/usr/bin/env bats
# oci-run spec --image: a runtime bundle (config.json + rootfs) made from an
# image of the store, run unchanged by runc, crun and oci-run; the image's
# USER, WORKDIR, ENV and CMD take effect; --copy; errors leave nothing behind.
#
# crun 1.8 refuses this hybrid cgroup host while /sys/fs/cgroup/unified is
# mounted, so it runs inside `unshare -m` with that mount gone (as
# bench/runtime.sh does).
load helpers

# The image is built once (make_busybox_rootfs is slow); each test copies the store.
setup_file() {
  [ "$(id -u)" -eq 0 ] || return 0
  command -v busybox >/dev/null || return 0
  FT=$(mktemp -d /tmp/okt-bundle2-file-XXXXXX)
  export FT
  mkdir -p "$FT/ctx/rootfs"
  make_busybox_rootfs "$FT/ctx/rootfs"
  echo 'app:x:1000:1000:app:/home/app:/bin/sh' >>"$FT/ctx/rootfs/etc/passwd"
  printf 'app:x:1000:\nextra:x:2000:app\n' >>"$FT/ctx/rootfs/etc/group"
  mkdir -p "$FT/ctx/rootfs/home/app" "$FT/ctx/rootfs/srv/work"
  echo layer2 >"$FT/ctx/marker"
  # Two layers (two COPYs), so the overlay has two lower dirs.
  cat >"$FT/ctx/Dockerfile" <<'DF'
FROM scratch
COPY rootfs/ /
COPY marker /etc/marker
ENV GREETING=hello
WORKDIR /srv/work
USER app
CMD ["/bin/sh", "-c", "echo \"$(id -u):$(id -g):$(id -G) $(pwd) $GREETING $HOME $HOSTNAME $(cat /etc/marker)\""]
DF
  OCIKIT_STORE=$FT/store "$OCI_BUILD" -t okt-bundle2/bb "$FT/ctx" >/dev/null
}

teardown_file() {
  [ -n "${FT:-}" ] && rm -rf "$FT"
  return 0
}

setup() {
  skip_unless_root
  require_cmd jq busybox
  [ -d "$FT/store" ] || { echo "setup_file did not build the image"; return 1; }
  T=$(mktemp -d /tmp/okt-bundle2-XXXXXX)
  export OCIKIT_STORE=$T/store
  cp -a "$FT/store" "$T/store"
  WANT="1000:1000:1000 2000 /srv/work hello /home/app oci-run layer2"
}

teardown() {
  [ -n "${T:-}" ] || return 0
  local id
  # Containers left by a failed test (state dirs exist only if a runtime ran).
  for id in okt-bundle2-runc okt-bundle2-oci okt-bundle2-copy; do
    [ ! -d "$T/runc/$id" ] || runc --root "$T/runc" delete -f "$id" >/dev/null 2>&1 || true
    [ ! -d "$T/oci/$id" ] || "$OCI_RUN" --root "$T/oci" delete -f "$id" >/dev/null 2>&1 || true
  done
  [ ! -d "$T/crun/okt-bundle2-crun" ] || unshare -m sh -c "crun --root '$T/crun' delete -f okt-bundle2-crun" >/dev/null 2>&1 || true
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$T"
}

is_mountpoint() { grep -q " $1 " /proc/self/mounts; }

@test "spec --image: an overlay bundle that runc, crun and oci-run run unchanged" {
  require_cmd runc crun
  run "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ -f "$T/b/config.json" ]
  is_mountpoint "$T/b/rootfs"
  grep " $T/b/rootfs " /proc/self/mounts | grep -q '^[^ ]* [^ ]* overlay '
  [ "$(jq -r .ociVersion "$T/b/config.json")" = 1.0.2 ]
  [ "$(jq -r .root.path "$T/b/config.json")" = rootfs ]
  [ "$(jq -c .process.user "$T/b/config.json")" = '{"uid":1000,"gid":1000,"additionalGids":[2000]}' ]
  [ "$(jq -r .process.cwd "$T/b/config.json")" = /srv/work ]
  jq -e '.process.env | index("GREETING=hello")' "$T/b/config.json" >/dev/null
  jq -e '.linux.seccomp.defaultAction == "SCMP_ACT_ERRNO"' "$T/b/config.json" >/dev/null

  run runc --root "$T/runc" run -b "$T/b" okt-bundle2-runc
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$output" = "$WANT" ]

  run unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root '$T/crun' run -b '$T/b' okt-bundle2-crun"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$output" = "$WANT" ]

  run "$OCI_RUN" --root "$T/oci" run -b "$T/b" okt-bundle2-oci
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$output" = "$WANT" ]
}

@test "spec --image: writes go to .upper, the snapshots stay intact, umount undoes the rootfs" {
  "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b"
  jq '.process.args = ["/bin/sh", "-c", "echo changed > /etc/marker && rm /bin/vi && cat /etc/marker"] | .process.user = {"uid": 0, "gid": 0}' \
    "$T/b/config.json" >"$T/c" && mv "$T/c" "$T/b/config.json"
  run "$OCI_RUN" --root "$T/oci" run -b "$T/b" okt-bundle2-oci
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$output" = changed ]
  [ "$(cat "$T/b/.upper/etc/marker")" = changed ]
  # The vi whiteout is in upper; every snapshot still has what its layer had.
  [ -c "$T/b/.upper/bin/vi" ]
  [ "$(cat "$T"/store.snapshots/*/etc/marker)" = layer2 ]
  ls "$T"/store.snapshots/*/bin/vi >/dev/null
  umount "$T/b/rootfs"
  ! is_mountpoint "$T/b/rootfs"
  [ -z "$(ls -A "$T/b/rootfs")" ]
  # A second bundle of the same image shares the snapshots.
  n=$(ls "$T/store.snapshots" | wc -l)
  "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b2"
  [ "$(ls "$T/store.snapshots" | wc -l)" -eq "$n" ]
  [ "$(cat "$T/b2/rootfs/etc/marker")" = layer2 ]
}

@test "spec --image: image prune keeps the snapshots a mounted bundle uses" {
  "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b"
  n=$(ls "$T/store.snapshots" | wc -l)
  [ "$n" -gt 0 ]
  run "$OCI_RUN" rmi okt-bundle2/bb
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  run "$OCI_RUN" image prune -a
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  # No image is left, but the bundle's overlay still reads its layers.
  [ "$(ls "$T/store.snapshots" | wc -l)" -eq "$n" ]
  [ "$(cat "$T/b/rootfs/etc/marker")" = layer2 ]
  umount "$T/b/rootfs"
  run "$OCI_RUN" image prune -a
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$(ls "$T/store.snapshots" | wc -l)" -eq 0 ]
}

@test "spec --image --copy: a plain rootfs directory, like umoci unpack" {
  run "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b" --copy
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  ! is_mountpoint "$T/b/rootfs"
  [ ! -e "$T/b/.upper" ]
  [ ! -e "$T/b/.work" ]
  [ "$(stat -c %s "$T/b/rootfs/bin/busybox")" = "$(stat -c %s "$FT/ctx/rootfs/bin/busybox")" ]
  [ "$(cat "$T/b/rootfs/etc/marker")" = layer2 ]
  run "$OCI_RUN" --root "$T/oci" run -b "$T/b" okt-bundle2-copy
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$output" = "$WANT" ]
}

@test "spec --image: a bundle dir that exists is used, the store from --store" {
  mkdir -p "$T/b"
  echo keep >"$T/b/notes"
  mv "$T/store" "$T/other"
  run env -u OCIKIT_STORE "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b" --store "$T/other" --copy
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
  [ "$(cat "$T/b/notes")" = keep ]
  [ "$(cat "$T/b/rootfs/etc/marker")" = layer2 ]
}

@test "spec --image errors leave nothing behind" {
  # unknown image
  run "$OCI_RUN" spec --image okt-bundle2/nope --bundle "$T/b"
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: image \"okt-bundle2/nope\" not found in the store $T/store" ]
  [ ! -e "$T/b" ]
  # config.json already there (runc's message); nothing else is created
  mkdir -p "$T/b" && echo '{}' >"$T/b/config.json"
  run "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b"
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: File $T/b/config.json exists. Remove it first" ]
  [ "$(ls -A "$T/b")" = config.json ]
  # a rootfs that is not empty
  rm "$T/b/config.json" && mkdir -p "$T/b/rootfs" && touch "$T/b/rootfs/x"
  run "$OCI_RUN" spec --image okt-bundle2/bb --bundle "$T/b"
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: $T/b/rootfs exists and is not an empty directory" ]
  [ "$(ls -A "$T/b")" = rootfs ]
  [ "$(ls -A "$T/b/rootfs")" = x ]
  # an image without a command: the overlay mount and dirs are undone
  rm -rf "$T/b"
  mkdir -p "$T/ctx2"
  printf 'FROM okt-bundle2/bb\nCMD []\n' >"$T/ctx2/Dockerfile"
  "$OCI_BUILD" -t okt-bundle2/nocmd "$T/ctx2" >/dev/null
  run "$OCI_RUN" spec --image okt-bundle2/nocmd --bundle "$T/b"
  [ "$status" -eq 2 ]
  [ "$output" = "oci-run: error: no command specified" ]
  [ ! -e "$T/b" ]
  ! grep -q " $T/b" /proc/self/mounts
  # a USER the image's passwd does not know
  printf 'FROM okt-bundle2/bb\nUSER ghost\n' >"$T/ctx2/Dockerfile"
  "$OCI_BUILD" -t okt-bundle2/ghost "$T/ctx2" >/dev/null
  run "$OCI_RUN" spec --image okt-bundle2/ghost --bundle "$T/b" --copy
  [ "$status" -eq 1 ]
  [ "$output" = "oci-run: error: unable to find user ghost: no matching entries in passwd file" ]
  [ ! -e "$T/b" ]
  # usage
  run "$OCI_RUN" spec --bundle "$T/b" --copy
  [ "$status" -eq 2 ]
  run "$OCI_RUN" spec --rootless --image okt-bundle2/bb --bundle "$T/b"
  [ "$status" -eq 2 ]
  [ ! -e "$T/b" ]
}

@test "spec without --image is still runc's spec" {
  require_cmd runc
  mkdir -p "$T/o" "$T/r"
  "$OCI_RUN" spec --bundle "$T/o"
  runc spec --bundle "$T/r"
  # runc 1.2's layout (ociVersion 1.2.0, cgroup namespace, no ambient set); these parts are the same in 1.1.
  for f in .process.args .process.capabilities.bounding .root '.mounts | map(.destination)' .linux.maskedPaths .linux.readonlyPaths; do
    [ "$(jq -c "$f" "$T/o/config.json")" = "$(jq -c "$f" "$T/r/config.json")" ]
  done
  mkdir -p "$T/o2"
  "$OCI_RUN" spec --rootless --bundle "$T/o2"
  jq -e '.linux.uidMappings[0].containerID == 0' "$T/o2/config.json" >/dev/null
}
