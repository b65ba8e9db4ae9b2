#!/usr/bin/env bash
# Attach + detach latency of oci-net vs the reference CNI bridge plugin
# (/usr/lib/cni/bridge with host-local IPAM), both called as CNI plugins, in
# a private "host" netns with one container netns. Prints the mean per
# ADD+DEL pair and the ratio (oci-net / bridge; target <= 0.5).
# Usage: bench/net.sh [ITERATIONS]   (root; OCI_NET=path/to/oci-net)
set -euo pipefail
n=${1:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
OCI_NET=${OCI_NET:-$root/build/tools/oci-net/oci-net}
S=$$
H=okt-net2-bh$S
C=okt-net2-bc$S
D=$(mktemp -d)
cleanup() { ip netns del "$C" 2>/dev/null; ip netns del "$H" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
ip netns add "$H"
ip netns add "$C"

# run_pair PLUGIN CONF: one ADD and one DEL.
run_pair() {
  local plugin=$1 conf=$2 cmd
  for cmd in ADD DEL; do
    echo "$conf" | ip netns exec "$H" env CNI_COMMAND=$cmd CNI_CONTAINERID=okt-net2-bench CNI_NETNS="/var/run/netns/$C" \
      CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni OCIKIT_NET_DIR="$D/oci" "$plugin" >/dev/null
  done
}

# time_loop PLUGIN CONF: mean milliseconds per pair.
time_loop() {
  local start end i
  run_pair "$@"  # warm up (creates the bridge)
  start=$(date +%s%N)
  for ((i = 0; i < n; i++)); do run_pair "$@"; done
  end=$(date +%s%N)
  echo $(((end - start) / n / 1000))
}

ours='{"cniVersion":"1.0.0","name":"okt-net2-bench","type":"oci-net","bridge":"okt-net2-bb1","ipMasq":true,"ipam":{"subnet":"10.213.40.0/24"}}'
ref='{"cniVersion":"1.0.0","name":"okt-net2-bref","type":"bridge","bridge":"okt-net2-bb2","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.213.41.0/24","dataDir":"'"$D"'/hl"}}'
t_ours=$(time_loop "$OCI_NET" "$ours")
t_ref=$(time_loop /usr/lib/cni/bridge "$ref")
printf 'attach+detach: oci-net %d.%03d ms, cni bridge %d.%03d ms, ratio %s\n' \
  $((t_ours / 1000)) $((t_ours % 1000)) $((t_ref / 1000)) $((t_ref % 1000)) \
  "$(awk -v a="$t_ours" -v b="$t_ref" 'BEGIN { printf "%.2fx", a / b }')"
