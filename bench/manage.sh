#!/usr/bin/env bash
# bench/manage.sh: `oci-run run --rm IMAGE true` against `podman run --rm`
# with crun, on the same busybox-static image, side by side with hyperfine;
# prints both means and the ratio (target: oci-run at most 0.3x podman).
#
# The image is built with oci-build into a temp store and loaded into a temp
# podman storage (--root/--runroot) from an oci-archive of that store, so
# nothing global is touched. Both run without a network (--network none).
# podman needs explicit ulimits on this host, and crun 1.8 refuses the hybrid
# cgroup layout while /sys/fs/cgroup/unified is mounted, so both commands
# run inside `unshare -m` with that mount gone (as bench/runtime.sh).
#
#   bench/manage.sh [RUNS]      (hyperfine runs per command, default 30)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-30}
OCI_RUN=${OCI_RUN:-$here/build/tools/oci-run/oci-run}
OCI_BUILD=${OCI_BUILD:-$here/build/tools/oci-build/oci-build}
[ "$(id -u)" -eq 0 ] || { echo "manage.sh: needs root" >&2; exit 77; }
for c in podman crun hyperfine jq; do
  command -v "$c" >/dev/null || { echo "manage.sh: $c not installed" >&2; exit 77; }
done
source "$here/tests/integration/helpers.bash"

source "$here/bench/podman_helpers.bash"
bench_podman_init okt-manage2-bench
trap bench_podman_cleanup EXIT
# The image, once, in a private store; then the same bytes for podman.
bench_busybox_image

okt="$OCI_RUN --root $work/oci-root --store $work/store --state-dir $work/state run --rm --network none okt-bench/busybox true"
pod="${P[*]} run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 docker.io/okt-bench/busybox true"
# A first run of each outside the timing: snapshots, podman's layer cache.
cat >"$work/bench.sh" <<BENCH
umount /sys/fs/cgroup/unified 2>/dev/null || true
$okt >/dev/null || { echo "manage.sh: oci-run run failed" >&2; exit 1; }
$pod >/dev/null || { echo "manage.sh: podman run failed" >&2; exit 1; }
hyperfine -N -w 3 -r $RUNS --export-json $work/result.json -n oci-run "$okt" -n podman "$pod"
BENCH
unshare -m bash "$work/bench.sh"
o=$(jq '.results[] | select(.command=="oci-run") | .mean' "$work/result.json")
p=$(jq '.results[] | select(.command=="podman") | .mean' "$work/result.json")
printf 'oci-run run --rm: %.1f ms   podman run --rm (crun): %.1f ms   oci-run/podman: %.2f\n' \
  "$(echo "$o * 1000" | bc -l)" "$(echo "$p * 1000" | bc -l)" "$(echo "$o / $p" | bc -l)"
