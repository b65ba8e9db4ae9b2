#!/usr/bin/env bash
# bench/cri.sh: a Kubernetes pod's whole life through containerd's CRI, as
# kubelet drives it (crictl: runp, create, start, stop, rm, stopp, rmp), with
# oci-run as the runtime and oci-net as the CNI plugin, against runc and the
# standard CNI plugins (bridge, host-local, portmap). Two private containerds
# run side by side, the two stacks of tests/integration/cri_helpers.bash
# (each its own root, state, sockets, bridge and subnet); the rounds
# alternate between them, since this VM's speed drifts. Prints the median of each and the ratio
# (target: ocikit at most 0.8x).
#
# Then, unless BREAKDOWN=0, where the time goes: both containerds restart
# with the runtime and the CNI plugins behind a wrapper that logs how long
# each invocation took, and a few more lifecycles give the runtime's share,
# the network plugin's share, and the rest (containerd, its shim, crictl).
# The wrapper costs a fork and an exec per call, so these runs are slower
# than the timed ones; only the shares are reported from them.
#
#   bench/cri.sh [N]      (lifecycles per stack, default 20)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20}
[ "$(id -u)" -eq 0 ] || { echo "cri.sh: needs root" >&2; exit 77; }
export OCIKIT_SOURCE_ROOT=$here
load() { source "$here/tests/integration/$1.bash"; }
source "$here/tests/integration/cri_helpers.bash"
find_crictl || { echo "cri.sh: crictl not found (set OCIKIT_CRICTL or put it in ../shared/tools)" >&2; exit 77; }
for c in containerd ctr jq /usr/sbin/runc /usr/lib/cni/bridge /usr/lib/cni/host-local; do
  command -v "$c" >/dev/null || { echo "cri.sh: $c not installed" >&2; exit 77; }
done

cleanup() { cri_teardown_file || true; }
trap cleanup EXIT
cri_setup_file
[ -n "${CRI_BASE:-}" ] || { echo "cri.sh: could not start containerd" >&2; exit 1; }

# lifecycle STACK: one pod with one container, born and gone; prints ns.
lifecycle() {
  local h=$1 pod c t0 t1
  cri_stack "$1"
  t0=$(date +%s%N)
  pod=$(cri runp --runtime "$h" "$CRI/pods/b.json")
  c=$(cri create "$pod" "$CRI/pods/ctr-b.json" "$CRI/pods/b.json")
  cri start "$c" >/dev/null
  cri stop -t 5 "$c" >/dev/null
  cri rm "$c" >/dev/null
  cri stopp "$pod" >/dev/null
  cri rmp "$pod" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
for s in $CRI_STACKS; do
  cri_stack "$s"
  pod_json b >/dev/null
  ctr_json b "trap 'exit 0' TERM; while :; do sleep 1 & wait \$!; done" >/dev/null
  lifecycle "$s" >/dev/null  # first run outside the timing
done

median() { sort -n | awk '{a[NR]=$1} END {printf "%d\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: >/tmp/okcrb-ocikit.$$ ; : >/tmp/okcrb-runc.$$
for i in $(seq "$N"); do
  if ((i % 2)); then order="ocikit runc"; else order="runc ocikit"; fi
  for s in $order; do lifecycle "$s" >>"/tmp/okcrb-$s.$$"; done
done
o=$(median <"/tmp/okcrb-ocikit.$$")
p=$(median <"/tmp/okcrb-runc.$$")
rm -f "/tmp/okcrb-ocikit.$$" "/tmp/okcrb-runc.$$"
printf 'pod lifecycle (runp, create, start, stop, rm, stopp, rmp), median of %d:\n' "$N"
printf '  oci-run + oci-net: %.1f ms   runc + CNI bridge: %.1f ms   ratio: %.2f\n' \
  "$(echo "$o / 1000" | bc -l)" "$(echo "$p / 1000" | bc -l)" "$(echo "$o / $p" | bc -l)"

[ "${BREAKDOWN:-1}" = 1 ] || exit 0

# wrap REAL LOG: a wrapper that logs the microseconds REAL took.
wrap() {
  cat <<SH
#!/bin/sh
t0=\$(date +%s%N)
"$1" "\$@"
rc=\$?
echo "\$(( (\$(date +%s%N) - t0) / 1000 ))" >>"$2"
exit \$rc
SH
}
restart_containerd() {
  local pid
  pid=$(cat "$CRI/containerd.pid")
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  OCIKIT_NET_DIR=$CRI/net containerd --config "$CRI/config.toml" >>"$CRI/containerd.log" 2>&1 3>&- &
  echo $! >"$CRI/containerd.pid"
  for _ in $(seq 100); do cri info >/dev/null 2>&1 && break; sleep 0.1; done
}
K=$(( N < 10 ? N : 10 ))
for s in $CRI_STACKS; do
  cri_stack "$s"
  mkdir -p "$CRI/wrap"
  if [ "$s" = ocikit ]; then
    wrap "$OCI_RUN" "$CRI/runtime.log" >"$CRI/wrap/runtime"
    rm -f "$CRI/cni-bin/oci-net"
    wrap "$OCI_NET" "$CRI/cni.log" >"$CRI/cni-bin/oci-net"
    chmod +x "$CRI/cni-bin/oci-net"
    sed -i "s|BinaryName = \"$OCI_RUN\"|BinaryName = \"$CRI/wrap/runtime\"|" "$CRI/config.toml"
  else
    wrap /usr/sbin/runc "$CRI/runtime.log" >"$CRI/wrap/runtime"
    for p in bridge host-local portmap loopback; do
      rm -f "$CRI/cni-bin/$p"
      wrap "/usr/lib/cni/$p" "$CRI/cni.log" >"$CRI/cni-bin/$p"
      chmod +x "$CRI/cni-bin/$p"
    done
    sed -i "s|BinaryName = \"/usr/sbin/runc\"|BinaryName = \"$CRI/wrap/runtime\"|" "$CRI/config.toml"
  fi
  chmod +x "$CRI/wrap/runtime"
  restart_containerd
  lifecycle "$s" >/dev/null
  : >"$CRI/runtime.log"; : >"$CRI/cni.log"
  total=0
  for _ in $(seq "$K"); do total=$((total + $(lifecycle "$s"))); done
  rt=$(awk '{s+=$1} END {print s+0}' "$CRI/runtime.log")
  cn=$(awk '{s+=$1} END {print s+0}' "$CRI/cni.log")
  calls=$(wc -l <"$CRI/runtime.log")
  label="oci-run + oci-net"; [ "$s" = runc ] && label="runc + CNI bridge"
  printf '%s, per lifecycle (wrapped, %d runs): %.1f ms: runtime %.1f ms (%d calls), CNI %.1f ms, containerd + shim + crictl %.1f ms\n' \
    "$label" "$K" "$(echo "$total / $K / 1000" | bc -l)" "$(echo "$rt / $K / 1000" | bc -l)" "$((calls / K))" \
    "$(echo "$cn / $K / 1000" | bc -l)" "$(echo "($total - $rt - $cn) / $K / 1000" | bc -l)"
done
