#!/usr/bin/env bash
# Pull and push a ~400 MB, 6-layer image through a local docker-registry with
# oci-fetch/oci-push and with skopeo copy, in the same run, and compare with
# the floor: curl of every blob over loopback plus sha256.
#   [REPS=3] bench/fetch-push.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
FETCH=${FETCH:-$build/tools/oci-fetch/oci-fetch}
PUSH=${PUSH:-$build/tools/oci-push/oci-push}
source "$root/tests/integration/helpers.bash"
source "$root/tests/integration/registry_helpers.bash"
unset OCIKIT_RETRY_DELAY_MS

work=$(mktemp -d /tmp/okt-registry-bench.XXXXXX)
trap 'stop_registry "$work/reg"; rm -rf "$work"' EXIT
# The tools' blob locations cache (push mount hints) lives and dies with the
# run; each round's fresh registry has none of the repositories it names.
export OCIKIT_BLOB_LOCATIONS=$work/blob-locations

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
# FETCH and PUSH may name other builds of the tools (A/B runs).
m() {
  local name=$1 r0 r1 s e
  shift
  # Dirty data from the step before (the registry's copy of a push, the
  # other tool's pull) is written back first, outside the timed region:
  # otherwise its writeback lands on whichever tool runs next.
  sync
  r0=$(reg_cpu)
  s=$(now)
  /usr/bin/time -o "$work/$name.time" -f '%U %S' "$@" >/dev/null 2>&1
  e=$(now)
  r1=$(reg_cpu)
  awk -v r0="$r0" -v r1="$r1" '{ printf "client %.2fs registry %.2fs", $1 + $2, r1 - r0 }' "$work/$name.time" >"$work/$name.cpu"
  awk -v a="$s" -v b="$e" 'BEGIN { printf "%.3f", b - a }'
}
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# REPS rounds (default 3). Each round starts a fresh registry (skopeo's blob
# info cache would otherwise mount blobs it saw in an earlier round), pushes
# with both tools, each to its own repository, then pulls with both into
# empty layouts. The tool that goes first alternates between rounds, and the
# medians are reported: this VM's speed drifts within minutes.
reps=${REPS:-3}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
push_ours_t=() push_sko_t=() pull_ours_t=() pull_sko_t=()
p_ours() { push_ours_t+=("$(m push_ours "$PUSH" oci:"$img":v1 docker://127.0.0.1:$port/bench/ours:v1)"); }
p_sko() { push_sko_t+=("$(m push_sko skopeo copy -q --dest-tls-verify=false oci:"$img":v1 docker://127.0.0.1:$port/bench/skopeo:v1)"); }
f_ours() { pull_ours_t+=("$(m pull_ours "$FETCH" docker://127.0.0.1:$port/bench/ours:v1 oci:"$work/p1":v1)"); }
f_sko() { pull_sko_t+=("$(m pull_sko skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$port/bench/ours:v1 oci:"$work/p2":v1)"); }
for r in $(seq "$reps"); do
  rm -rf "$work/reg"
  start_registry "$work/reg"
  port=$REG_PORT
  if [ $((r % 2)) -eq 1 ]; then p_ours; p_sko; f_ours; f_sko; else p_sko; p_ours; f_sko; f_ours; fi
  [ "$(jq -r '.manifests[0].digest' "$work/p1/index.json")" = "$md" ] &&
    [ "$(jq -r '.manifests[0].digest' "$work/p2/index.json")" = "$md" ] || { echo "a pull lost the manifest" >&2; exit 1; }
  rm -rf "$work/p1" "$work/p2"
  [ "$r" -eq "$reps" ] || stop_registry "$work/reg"
done
push_ours=$(printf '%s\n' "${push_ours_t[@]}" | median)
push_sko=$(printf '%s\n' "${push_sko_t[@]}" | median)
pull_ours=$(printf '%s\n' "${pull_ours_t[@]}" | median)
pull_sko=$(printf '%s\n' "${pull_sko_t[@]}" | median)

# Floor, on the last round's registry: every blob over loopback with curl
# (in parallel, as we do), hashed; each digest checked.
floor() {
  local d
  for d in $(jq -r '.config.digest, .layers[].digest' "$img/blobs/sha256/${md#sha256:}"); do
    (curl -sf "http://127.0.0.1:$port/v2/bench/ours/blobs/$d" | openssl dgst -sha256 -r | sed "s/ .*/ $d/" >>"$work/floor.sums") &
  done
  wait
}
floor_t=$(t floor)
[ "$(awk '"sha256:" $1 == $2' "$work/floor.sums" | wc -l)" -eq 7 ] || { echo "floor: blob download failed" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "push, each round: oci-push ${push_ours_t[*]}  skopeo ${push_sko_t[*]}"
echo "pull, each round: oci-fetch ${pull_ours_t[*]}  skopeo ${pull_sko_t[*]}"
printf 'push (median of %d): oci-push %.2fs  skopeo %.2fs  ratio %s\n' "$reps" "$push_ours" "$push_sko" "$(ratio "$push_ours" "$push_sko")"
printf 'pull (median of %d): oci-fetch %.2fs  skopeo %.2fs  ratio %s\n' "$reps" "$pull_ours" "$pull_sko" "$(ratio "$pull_ours" "$pull_sko")"
printf 'floor (curl + sha256 of all blobs): %.2fs  oci-fetch/floor %s\n' "$floor_t" "$(ratio "$pull_ours" "$floor_t")"
echo "cpu, last round: push oci-push $(cat "$work/push_ours.cpu"); skopeo $(cat "$work/push_sko.cpu")"
echo "cpu, last round: pull oci-fetch $(cat "$work/pull_ours.cpu"); skopeo $(cat "$work/pull_sko.cpu")"
echo "load average: $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) cpus)"
