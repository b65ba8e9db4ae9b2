#!/usr/bin/env bash
# bench/unpack.sh: a ~400 MB (uncompressed), 6-layer image (.tar.gz of
# random and text data, many small files and some big ones) made into a
# runtime bundle by `oci-run spec --image` and by `umoci unpack`, cold (no
# snapshots yet) and warm (snapshots cached, a new bundle), side by side with
# ratios; then the layers alone with ocikit's layer::apply
# (bench/layer-apply-driver) against GNU `tar -xzf`, serially onto one
# directory and in parallel (one directory per layer, as the snapshot store
# extracts). Best of RUNS wall times (warm: median of WARM_RUNS).
#   SIZE_MB=400 RUNS=3 WARM_RUNS=20 BUILD=build-bench bench/unpack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
SIZE_MB=${SIZE_MB:-400}
RUNS=${RUNS:-3}
WARM_RUNS=${WARM_RUNS:-20}
LAYERS=6
for c in umoci hyperfine /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "unpack.sh: $c not installed" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "unpack.sh: needs root (overlay mounts)" >&2; exit 77; }

driver=$BUILD/bench/layer-apply-driver
oci_run=$BUILD/tools/oci-run/oci-run
if [ ! -x "$driver" ] || [ ! -x "$oci_run" ] || [ ! -x "${oci_run}-manage" ]; then
  [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbench=true -Dtests=false -Dbuildtype=release >/dev/null
  ninja -C "$BUILD" -j2 bench/layer-apply-driver tools/oci-run/oci-run tools/oci-run/oci-run-manage >/dev/null
fi

work=$(mktemp -d /tmp/okt-layers-bench.XXXXXX)
cleanup() {
  grep -o " $work[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  rm -rf "$work"
}
trap cleanup EXIT

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

# The OCI layout $work/img holding the image as "bench" (the store for
# oci-run, the layout for umoci).
python3 - "$work" "${layers[@]}" <<'PY'
import gzip, hashlib, json, os, shutil, sys
work, layers = sys.argv[1], sys.argv[2:]
img = os.path.join(work, "img")
blobs = os.path.join(img, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
descs, diff_ids = [], []
for path in layers:
    h, u = hashlib.sha256(), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    with gzip.open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            u.update(chunk)
    d = h.hexdigest()
    shutil.copyfile(path, os.path.join(blobs, d))
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                  "digest": "sha256:" + d, "size": os.path.getsize(path)})
    diff_ids.append("sha256:" + u.hexdigest())
config = {"architecture": "amd64", "os": "linux",
          "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"], "WorkingDir": "/"},
          "rootfs": {"type": "layers", "diff_ids": diff_ids}}
c = put(json.dumps(config).encode())
c["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": c, "layers": descs}
m = put(json.dumps(manifest).encode())
m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
m["annotations"] = {"org.opencontainers.image.ref.name": "bench"}
with open(os.path.join(img, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [m]}, f)
with open(os.path.join(img, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
PY

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

# ---- image -> bundle: oci-run spec --image vs umoci unpack ----
# Wall times swing with the machine's load; CPU (user+sys) is shown beside them.
undo_bundle() {
  if grep -q " $work/b/rootfs " /proc/self/mounts; then umount "$work/b/rootfs"; fi
  rm -rf "$work/b"
}
cold_prep() { undo_bundle; rm -rf "$work/img.snapshots"; sync; }
warm_prep() { undo_bundle; }
# best_of N PREP CMD...: "wall cpu" of the run with the best wall time of N,
# PREP (untimed) before each run.
best_of() {
  local n=$1 prep=$2 b="" r
  shift 2
  for _ in $(seq "$n"); do
    $prep
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null
    r=$(awk '{printf "%s %.3f", $1, $2 + $3}' "$work/time")
    if [ -z "$b" ] || python3 -c "import sys; sys.exit(0 if float('${r%% *}') < float('${b%% *}') else 1)"; then b=$r; fi
  done
  undo_bundle
  echo "$b"
}
# median_of N PREP CMD...: "wall cpu" of N runs through hyperfine (ms
# resolution): the median wall time, the mean user+sys.
median_of() {
  local n=$1 prep=$2
  shift 2
  local p=(--prepare true)
  [ "$prep" = warm_prep ] && p=(--prepare "sh -c 'umount $work/b/rootfs 2>/dev/null; rm -rf $work/b'")
  hyperfine -N -r "$n" "${p[@]}" --export-json "$work/h.json" "$*" >/dev/null 2>&1
  undo_bundle
  python3 -c "
import json
r = json.load(open('$work/h.json'))['results'][0]
print(r['median'], r['user'] + r['system'])"
}
spec=("$oci_run" spec --image bench --store "$work/img" --bundle "$work/b")

r_umoci=$(best_of "$RUNS" cold_prep umoci unpack --image "$work/img:bench" "$work/b")
r_cold=$(best_of "$RUNS" cold_prep "${spec[@]}")
r_cold_copy=$(best_of "$RUNS" cold_prep "${spec[@]}" --copy)
"${spec[@]}" >/dev/null && undo_bundle  # the snapshots, for the warm runs
r_warm_copy=$(best_of "$RUNS" warm_prep "${spec[@]}" --copy)
r_warm=$(median_of "$WARM_RUNS" warm_prep "${spec[@]}")
r_version=$(median_of "$WARM_RUNS" true "$oci_run" --version)
r_true=$(median_of "$WARM_RUNS" true /bin/true)
python3 - $r_umoci $r_cold $r_cold_copy $r_warm_copy $r_warm $r_version $r_true <<'PY'
import sys
v = list(map(float, sys.argv[1:]))
(uw, uc), (cw, cc), (kw, kc), (xw, xc), (ww, wc), (vw, vc), (tw, tc) = zip(v[::2], v[1::2])
print(f"{'':36s} {'wall':>9s} {'cpu':>9s} {'wall/umoci':>11s} {'cpu/umoci':>10s}")
def row(name, w, c, unit="s", k=1):
    print(f"{name:36s} {w*k:8.3f}{unit} {c*k:8.3f}{unit} {w/uw:10.3f}x {c/uc:9.3f}x")
row("umoci unpack", uw, uc)
row("oci-run spec --image, cold", cw, cc)
row("oci-run spec --image --copy, cold", kw, kc)
row("oci-run spec --image --copy, warm", xw, xc)
row("oci-run spec --image, warm (median)", ww, wc, "ms", 1000)
print(f"  cold target <= 0.25x umoci: {cw/uw:.3f}x wall, {cc/uc:.3f}x cpu")
print(f"  warm target < 20 ms: {ww*1000:.1f} ms wall, {wc*1000:.1f} ms cpu; for scale, the same"
      f" binary's --version: {vw*1000:.1f} ms wall / {vc*1000:.1f} ms cpu, /bin/true: {tw*1000:.1f} ms wall")
PY

# ---- layers alone: layer::apply vs tar ----
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
