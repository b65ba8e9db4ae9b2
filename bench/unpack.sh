#!/usr/bin/env bash
# bench/unpack.sh: unpack a ~400 MB (uncompressed), 6-layer image's layers
# (.tar.gz of random and text data, many small files and some big ones) with
# ocikit's layer::apply (bench/layer-apply-driver) and with GNU `tar -xzf`,
# serially onto one directory and in parallel (one directory per layer, as the
# snapshot store extracts), and print the wall times and ratios.
# The umoci comparison comes with the snapshot store (oci-run spec --image).
#   SIZE_MB=400 RUNS=3 BUILD=build-bench bench/unpack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
SIZE_MB=${SIZE_MB:-400}
RUNS=${RUNS:-3}
LAYERS=6

driver=$BUILD/bench/layer-apply-driver
if [ ! -x "$driver" ]; then
  [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbench=true -Dtests=false -Dbuildtype=release >/dev/null
  ninja -C "$BUILD" -j2 bench/layer-apply-driver >/dev/null
fi

work=$(mktemp -d /tmp/okt-layers-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Each layer: 60% text (base64 lines, compresses about 4:3), 40% random,
# in 1500 small files (1-16 KiB) plus big files up to 8 MiB.
python3 - "$work" "$SIZE_MB" "$LAYERS" <<'PY'
import base64, os, random, sys
work, size_mb, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
per_layer = size_mb * 1024 * 1024 // layers
for l in range(layers):
    root = os.path.join(work, f"src{l}")
    left = per_layer
    i = 0
    while left > 0:
        d = os.path.join(root, f"usr/lib/pkg{l}_{i // 100}")
        os.makedirs(d, exist_ok=True)
        n = rnd.randint(1024, 16384) if i < 1500 else rnd.randint(1 << 20, 8 << 20)
        n = min(n, left)
        if rnd.random() < 0.6:
            raw = base64.encodebytes(os.urandom(n * 3 // 4 + 3))[:n]
        else:
            raw = os.urandom(n)
        with open(os.path.join(d, f"f{i}"), "wb") as f:
            f.write(raw)
        left -= n
        i += 1
PY
gz="gzip -6"
command -v pigz >/dev/null && gz="pigz -6"
for l in $(seq 0 $((LAYERS - 1))); do
  tar -C "$work/src$l" -cf - . | $gz > "$work/layer$l.tar.gz"
  rm -rf "$work/src$l"
done
layers=("$work"/layer*.tar.gz)
echo "layers: ${#layers[@]}, compressed $(du -cm "${layers[@]}" | tail -1 | cut -f1) MB, ~$SIZE_MB MB uncompressed"

now() { date +%s.%N; }
# best of RUNS wall times of "$@", with a fresh $work/out each run
best() {
  local b=""
  for _ in $(seq "$RUNS"); do
    rm -rf "$work/out" && mkdir -p "$work/out" && sync
    local t0 t1
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    b=$(python3 -c "import sys; t=$t1-$t0; b='$b'; print(t if not b or t<float(b) else b)")
  done
  echo "$b"
}
tar_serial() { for f in "${layers[@]}"; do tar -C "$work/out" -xzf "$f"; done; }
tar_parallel() {
  local i=0
  for f in "${layers[@]}"; do mkdir -p "$work/out/$i"; tar -C "$work/out/$i" -xzf "$f" & i=$((i + 1)); done
  wait
}

t_tar_s=$(best tar_serial)
t_oci_s=$(best "$driver" --serial "$work/out" "${layers[@]}")
t_tar_p=$(best tar_parallel)
t_oci_p=$(best "$driver" "$work/out" "${layers[@]}")
python3 - "$t_tar_s" "$t_oci_s" "$t_tar_p" "$t_oci_p" <<'PY'
import sys
ts, os_, tp, op = map(float, sys.argv[1:])
print(f"serial   (one dir):    tar -xzf {ts:.3f}s  ocikit {os_:.3f}s  ratio {os_/ts:.2f}x")
print(f"parallel (dir/layer):  tar -xzf {tp:.3f}s  ocikit {op:.3f}s  ratio {op/tp:.2f}x")
PY
