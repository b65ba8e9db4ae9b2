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

# The loop, in a private mount namespace without the cgroup2 mount: N rounds,
# each running one lifecycle (run --bundle; delete happens in run) with every
# runtime in turn, so a slower or faster spell of this shared VM falls on all
# three alike; prints "NAME SECONDS-PER-LIFECYCLE" per runtime.
cat >"$work/loop.sh" <<'LOOP'
n=$1; bundle=$2; root=$3; shift 3
umount /sys/fs/cgroup/unified 2>/dev/null || true
declare -A sum rootof
# Each runtime's --root is worked out here, outside the timed region: a
# $(basename) there would fork and exec inside every measurement.
for rt in "$@"; do sum[$rt]=0; rootof[$rt]=$root-${rt##*/}; done
for i in $(seq "$n"); do
  for rt in "$@"; do
    r=${rootof[$rt]}
    s=$EPOCHREALTIME
    "$rt" --root "$r" run -b "$bundle" "okt-runtime-bench-$i" >/dev/null || exit 1
    e=$EPOCHREALTIME
    sum[$rt]=$(echo "${sum[$rt]} + $e - $s" | bc -l)
  done
done
for rt in "$@"; do echo "$(basename "$rt") $(echo "${sum[$rt]} / $n" | bc -l)"; done
LOOP

peak_rss() {  # KB of the largest resident set of one lifecycle
  unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; /usr/bin/time -o $work/rss -f %M $1 --root $work/root-peak run -b $work/bundle okt-runtime-bench-peak" >/dev/null 2>&1
  cat "$work/rss"
}

declare -A t rss
runtimes=("$OCI_RUN" crun runc)
for rt in "${runtimes[@]}"; do
  command -v "$rt" >/dev/null || { echo "runtime.sh: $rt not installed" >&2; exit 77; }
done
while read -r name secs; do t[$name]=$secs; done < <(unshare -m bash "$work/loop.sh" "$N" "$work/bundle" "$work/root" "${runtimes[@]}")
for rt in "${runtimes[@]}"; do
  name=$(basename "$rt")
  [ -n "${t[$name]:-}" ] || { echo "runtime.sh: $name failed" >&2; exit 1; }
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
