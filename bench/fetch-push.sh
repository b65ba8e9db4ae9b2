#!/usr/bin/env bash
# Pull and push a ~400 MB, 6-layer image through a local docker-registry with
# oci-fetch/oci-push and with skopeo copy, in the same run, and compare with
# the floor: curl of every blob over loopback plus sha256.
#   bench/fetch-push.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
FETCH=$build/tools/oci-fetch/oci-fetch
PUSH=$build/tools/oci-push/oci-push
source "$root/tests/integration/helpers.bash"
source "$root/tests/integration/registry_helpers.bash"
unset OCIKIT_RETRY_DELAY_MS

work=$(mktemp -d /tmp/okt-registry-bench.XXXXXX)
trap 'stop_registry "$work/reg"; rm -rf "$work"' EXIT
start_registry "$work/reg"
port=$REG_PORT

# Six gzip layers of ~67 MB each of incompressible data (gzip -1 keeps size).
img=$work/img
mkdir -p "$img/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci-layout"
layers=() diffs=()
for i in 1 2 3 4 5 6; do
  mkdir -p "$work/l$i"
  head -c $((64 << 20)) /dev/urandom >"$work/l$i/data$i"
  tar -C "$work/l$i" -cf "$work/l$i.tar" .
  diffs+=("sha256:$(sha256sum "$work/l$i.tar" | cut -d' ' -f1)")
  gzip -1 -n -c "$work/l$i.tar" >"$work/l$i.tgz"
  read -r d s < <(_blob "$img" "$work/l$i.tgz")
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$d\",\"size\":$s}")
  rm -rf "$work/l$i" "$work/l$i.tar"
done
jq -cn --args '{architecture:"amd64", os:"linux", rootfs:{type:"layers", diff_ids:$ARGS.positional}}' "${diffs[@]}" >"$work/config.json"
read -r cd cs < <(_blob "$img" "$work/config.json")
jq -cn --arg cd "$cd" --argjson cs "$cs" --argjson layers "[$(IFS=,; echo "${layers[*]}")]" \
  '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$cd, size:$cs}, layers:$layers}' >"$work/m.json"
read -r md ms < <(_blob "$img" "$work/m.json")
jq -cn --arg d "$md" --argjson s "$ms" '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",
  digest:$d, size:$s, annotations:{"org.opencontainers.image.ref.name":"v1"}}]}' >"$img/index.json"
total=$(du -sb "$img/blobs" | cut -f1)
echo "image: 6 layers, $((total / 1000000)) MB"

now() { date +%s.%N; }
t() { local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }'; }
reg_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$REG_PID/stat"; }
# m NAME CMD...: print CMD's wall time; NAME's client and registry CPU
# seconds go to $work/NAME.cpu (the registry does most of a push's work).
m() {
  local name=$1 r0 r1 s e
  shift
  r0=$(reg_cpu)
  s=$(now)
  /usr/bin/time -o "$work/$name.time" -f '%U %S' "$@" >/dev/null 2>&1
  e=$(now)
  r1=$(reg_cpu)
  awk -v r0="$r0" -v r1="$r1" '{ printf "client %.2fs registry %.2fs", $1 + $2, r1 - r0 }' "$work/$name.time" >"$work/$name.cpu"
  awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }'
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# Push: each tool pushes to a fresh repository (no blob exists there; no mount sources).
push_ours=$(m push_ours "$PUSH" oci:"$img":v1 docker://127.0.0.1:$port/bench/ours:v1)
push_sko=$(m push_sko skopeo copy -q --dest-tls-verify=false oci:"$img":v1 docker://127.0.0.1:$port/bench/skopeo:v1)

# Pull into empty layouts.
pull_ours=$(m pull_ours "$FETCH" docker://127.0.0.1:$port/bench/ours:v1 oci:"$work/p1":v1)
pull_sko=$(m pull_sko skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$port/bench/ours:v1 oci:"$work/p2":v1)

# Floor: every blob over loopback with curl (in parallel, as we do), hashed.
floor() {
  local d
  for d in $(jq -r '.config.digest, .layers[].digest' "$img/blobs/sha256/${md#sha256:}"); do
    curl -sf "http://127.0.0.1:$port/v2/bench/ours/blobs/$d" | openssl dgst -sha256 >>"$work/floor.sums" &
  done
  wait
}
floor_t=$(t floor)
[ "$(wc -l <"$work/floor.sums")" -eq 7 ] || { echo "floor: blob download failed" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf 'push: oci-push %.2fs  skopeo %.2fs  ratio %s\n' "$push_ours" "$push_sko" "$(ratio "$push_ours" "$push_sko")"
printf 'pull: oci-fetch %.2fs  skopeo %.2fs  ratio %s\n' "$pull_ours" "$pull_sko" "$(ratio "$pull_ours" "$pull_sko")"
printf 'floor (curl + sha256 of all blobs): %.2fs  oci-fetch/floor %s\n' "$floor_t" "$(ratio "$pull_ours" "$floor_t")"
echo "cpu: push oci-push $(cat "$work/push_ours.cpu"); skopeo $(cat "$work/push_sko.cpu")"
echo "cpu: pull oci-fetch $(cat "$work/pull_ours.cpu"); skopeo $(cat "$work/pull_sko.cpu")"
echo "load average: $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) cpus)"
