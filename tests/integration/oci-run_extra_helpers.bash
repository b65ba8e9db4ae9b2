# Shared set-up for oci-run_images.bats, oci-run_volumes.bats and
# oci-run_extra.bats: a temp store holding a busybox image built with
# $OCI_BUILD, and a temp --state-dir and --root, all under one mktemp dir.

load helpers

# okt ARGS...: oci-run with the private store, state dir and runtime root.
okt() { "$OCI_RUN" --root "$T/run" --store "$T/store" --state-dir "$T/state" "$@"; }

# build_busybox_image NAME: a one-layer busybox-static image in $T/store.
build_busybox_image() {
  mkdir -p "$T/base/rootfs"
  make_busybox_rootfs "$T/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$T/base/Dockerfile"
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t "$1" "$T/base" >"$T/build.log" 2>&1 || { cat "$T/build.log"; return 1; }
}

extra_setup() {
  skip_unless_root
  require_cmd jq busybox
  T=$(mktemp -d /tmp/okt-manage2-XXXXXX)
  export OCIKIT_STORE=$T/store OCIKIT_STATE_DIR=$T/state OCIKIT_NET_DIR=$T/net
}

extra_teardown() {
  [ -n "${T:-}" ] || return 0
  local c
  # containers made by the test (after `run`): stop and remove them
  for c in $("$OCI_RUN" --root "$T/run" list -q 2>/dev/null); do
    "$OCI_RUN" --root "$T/run" delete -f "$c" >/dev/null 2>&1 || true
  done
  # any mount left under the temp dir, deepest first
  awk -v t="$T" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  net_cleanup "$T"
  rm -rf "$T"
}

# store_validates NAME: the store holds NAME and oci-image-tool accepts every
# image of the store. Each named entry is validated in a one-entry copy of
# index.json (blobs hard-linked): oci-image-tool 1.0's findDescriptor drops
# entries from a slice while iterating over it, so with three or more
# entries it reports "descriptor retrieved by refs ... is not unique" for
# any store, whatever its content.
store_validates() {
  jq -e --arg n "$1" '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | index($n)' "$T/store/index.json" >/dev/null ||
    { echo "store has no $1"; return 1; }
  command -v oci-image-tool >/dev/null || return 0
  local v n
  v=$(mktemp -d "$T/validate-XXXXXX")
  cp "$T/store/oci-layout" "$v/" && cp -al "$T/store/blobs" "$v/blobs"
  for n in $(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$T/store/index.json"); do
    jq --arg n "$n" '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] == $n))' \
      "$T/store/index.json" >"$v/index.json"
    oci-image-tool validate --type image --ref "name=$n" "$v" >/dev/null || { rm -rf "$v"; return 1; }
  done
  rm -rf "$v"
}

# manifest_digest NAME: the store's manifest digest for ref name NAME
manifest_digest() {
  jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$T/store/index.json"
}

# start_container NAME IMAGE JQ-EDIT CMD...: a running managed container laid
# out as `oci-run run -d` leaves one (manage/record.hpp): <state>/containers/
# <id>/ with record.json, bundle/ (config.json, rootfs overlay-mounted from
# the image's snapshots), upper/ and work/, and the runtime container <id>
# under --root $T/run. JQ-EDIT changes config.json (e.g. a memory limit).
start_container() {
  local name=$1 img=$2 edit=$3 id c args pid
  shift 3
  id=$(printf '%s' "okt-manage2-$name" | sha256sum | cut -c1-64)
  c=$T/state/containers/$id
  mkdir -p "$c"
  "$OCI_RUN" spec --image "$img" --store "$T/store" --bundle "$c/bundle" >/dev/null
  ln -s bundle/.upper "$c/upper"
  ln -s bundle/.work "$c/work"
  args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  jq ".process.terminal=false | .process.args=$args | $edit" "$c/bundle/config.json" >"$c/c.json" &&
    mv "$c/c.json" "$c/bundle/config.json"
  "$OCI_RUN" --root "$T/run" run -d -b "$c/bundle" "$id" </dev/null >/dev/null
  pid=$("$OCI_RUN" --root "$T/run" state "$id" | jq .pid)
  jq -n --arg id "$id" --arg n "$name" --arg img "$img" --arg d "$(manifest_digest "docker.io/$img:latest")" \
    --arg root "$T/run" --argjson pid "$pid" --argjson cmd "$args" \
    '{id: $id, name: $n, image: $img, image_digest: $d, created: "2026-01-01T00:00:00Z", status: "running",
      pid: $pid, runtime_root: $root, command: $cmd}' >"$c/record.json"
  echo "$id"
}

# stop_container ID: the runtime container gone, its rootfs unmounted, the
# record "exited" (what the monitor leaves after the container exits).
stop_container() {
  local c=$T/state/containers/$1
  "$OCI_RUN" --root "$T/run" delete -f "$1" >/dev/null
  umount "$c/bundle/rootfs"
  jq '.status="exited" | .pid=0' "$c/record.json" >"$c/r.json" && mv "$c/r.json" "$c/record.json"
}

# run_image IMAGE CMD...: run a store image to completion in a fresh bundle.
run_image() {
  local b i
  b=$(mktemp -d "$T/run-XXXXXX")
  i=okt-manage2-$$-$RANDOM
  "$OCI_RUN" spec --image "$1" --store "$T/store" --bundle "$b/b" >/dev/null || return 1
  shift
  if [ $# -gt 0 ]; then
    jq --argjson a "$(printf '%s\n' "$@" | jq -R . | jq -s .)" '.process.args=$a' "$b/b/config.json" >"$b/c" && mv "$b/c" "$b/b/config.json"
  fi
  jq '.process.terminal=false' "$b/b/config.json" >"$b/c" && mv "$b/c" "$b/b/config.json"
  "$OCI_RUN" --root "$T/run" run -b "$b/b" "$i" </dev/null
  local rc=$?
  umount "$b/b/rootfs" 2>/dev/null
  return $rc
}
