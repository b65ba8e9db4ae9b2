#!/usr/bin/env bash
# bench/runtime.sh: the /bin/true lifecycle (run, then deleted) of one
# busybox-static bundle with oci-run, crun and runc side by side; prints the
# mean wall time per lifecycle, the ratios and each runtime's peak RSS.
#
# crun 1.8 refuses this hybrid cgroup host while /sys/fs/cgroup/unified is
# mounted, so every runtime runs inside `unshare -m` with that mount gone:
# same conditions for all three.
#
#   bench/runtime.sh [N]        (N lifecycles per runtime, default 200)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-200}
OCI_RUN=${OCI_RUN:-$here/build/tools/oci-run/oci-run}
[ "$(id -u)" -eq 0 ] || { echo "runtime.sh: needs root" >&2; exit 77; }
source "$here/tests/integration/helpers.bash"

work=$(mktemp -d /tmp/okt-runtime-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
make_busybox_rootfs "$work/bundle/rootfs"
(cd "$work/bundle" && "$OCI_RUN" spec)
# ociVersion 1.0.2: crun 1.8 refuses newer spec versions.
jq '.ociVersion="1.0.2" | .process.terminal=false | .process.args=["/bin/true"]' "$work/bundle/config.json" >"$work/c" && mv "$work/c" "$work/bundle/config.json"

# lifecycle RUNTIME N: N x (run --bundle; delete happens in run), in a private
# mount namespace without the cgroup2 mount; prints seconds per lifecycle.
cat >"$work/loop.sh" <<'LOOP'
rt=$1; n=$2; bundle=$3; root=$4
umount /sys/fs/cgroup/unified 2>/dev/null || true
start=$(date +%s.%N)
for i in $(seq "$n"); do
  "$rt" --root "$root" run -b "$bundle" "okt-runtime-bench-$i" >/dev/null || exit 1
done
end=$(date +%s.%N)
echo "($end - $start) / $n" | bc -l
LOOP

peak_rss() {  # KB of the largest resident set of one lifecycle
  unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; /usr/bin/time -o $work/rss -f %M $1 --root $work/root-peak run -b $work/bundle okt-runtime-bench-peak" >/dev/null 2>&1
  cat "$work/rss"
}

declare -A t rss
for rt in "$OCI_RUN" crun runc; do
  command -v "$rt" >/dev/null || { echo "runtime.sh: $rt not installed" >&2; exit 77; }
  name=$(basename "$rt")
  t[$name]=$(unshare -m bash "$work/loop.sh" "$rt" "$N" "$work/bundle" "$work/root-$name")
  rss[$name]=$( [ -x /usr/bin/time ] && peak_rss "$rt" || echo "?")
  "$rt" --root "$work/root-peak" delete -f okt-runtime-bench-peak >/dev/null 2>&1 || true
done
# The machine may be shared: the load says how far to trust the figures.
echo "load average (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %12s %10s\n' runtime "ms/lifecycle" "peak KB"
for name in oci-run crun runc; do
  printf '%-8s %12.2f %10s\n' "$name" "$(echo "${t[$name]} * 1000" | bc -l)" "${rss[$name]}"
done
printf 'oci-run/crun: %.2f   oci-run/runc: %.2f\n' \
  "$(echo "${t[oci-run]} / ${t[crun]}" | bc -l)" "$(echo "${t[oci-run]} / ${t[runc]}" | bc -l)"
