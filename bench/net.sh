#!/usr/bin/env bash
# oci-net vs the reference CNI bridge plugin (/usr/lib/cni/bridge with
# host-local IPAM), side by side, in private "host" network namespaces:
#  1. attach + detach latency: mean per CNI ADD+DEL pair (target <= 0.5x);
#  2. TCP throughput container to container (socat piping BYTES of
#     /dev/zero): two containers on an oci-net bridge, on a CNI bridge, on an
#     oci-net overlay across two simulated hosts, and a bare veth pair as the
#     ceiling. Prints figures and ratios.
#     The best of ROUNDS (default 3) streams each: the box is shared.
# Usage: bench/net.sh [ITERATIONS] [BYTES]   (root; OCI_NET=path/to/oci-net)
set -euo pipefail
n=${1:-50}
bytes=${2:-1073741824}
rounds=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
OCI_NET=${OCI_NET:-$root/build/tools/oci-net/oci-net}
S=$$
H=okt-net2-bh$S
D=$(mktemp -d)
cleanup() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^okt-net2-b.*$S\$"); do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$D"
}
trap cleanup EXIT
for x in h c1 c2 c3 c4 v1 v2 oa ob o1 o2; do ip netns add "okt-net2-b$x$S"; done
ip -n "$H" link set lo up

# cni PLUGIN CONF CMD CONTAINER: one CNI call, result on stdout.
cni() {
  echo "$2" | ip netns exec "$H" env CNI_COMMAND="$3" CNI_CONTAINERID="okt-net2-$4" \
    CNI_NETNS="/var/run/netns/okt-net2-b$4$S" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni OCIKIT_NET_DIR="$D/oci" "$1"
}

# time_loop PLUGIN CONF: mean microseconds per ADD+DEL pair. The loop runs
# inside the host netns, so each call costs only the plugin's own exec.
time_loop() {
  cni "$1" "$2" ADD c1 >/dev/null; cni "$1" "$2" DEL c1  # warm up (creates the bridge)
  ip netns exec "$H" env PLUGIN="$1" CONF="$2" N="$n" CNI_CONTAINERID=okt-net2-c1 \
    CNI_NETNS="/var/run/netns/okt-net2-bc1$S" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni OCIKIT_NET_DIR="$D/oci" bash -c '
      set -e
      start=$(date +%s%N)
      for ((i = 0; i < N; i++)); do
        CNI_COMMAND=ADD "$PLUGIN" <<<"$CONF" >/dev/null
        CNI_COMMAND=DEL "$PLUGIN" <<<"$CONF" >/dev/null
      done
      end=$(date +%s%N)
      echo $(((end - start) / N / 1000))'
}

# throughput SERVERNS CLIENTNS ADDR: the best MB/s of $rounds TCP streams.
throughput() {
  local best=0 r t
  for ((r = 0; r < rounds; r++)); do
    t=$(stream "$@")
    ((t > best)) && best=$t
  done
  echo "$best"
}

# stream SERVERNS CLIENTNS ADDR: MB/s of one TCP stream of $bytes.
stream() {
  ip netns exec "$1" timeout 120 socat -u -b 262144 TCP-LISTEN:5001,reuseaddr OPEN:/dev/null &
  local srv=$! i start end
  for i in $(seq 50); do [ -n "$(ip netns exec "$1" ss -Hltn 'sport = :5001')" ] && break; sleep 0.1; done
  start=$(date +%s%N)
  ip netns exec "$2" timeout 120 socat -u -b 262144 OPEN:/dev/zero,readbytes="$bytes" "TCP:$3:5001"
  wait "$srv"
  end=$(date +%s%N)
  awk -v b="$bytes" -v ns=$((end - start)) 'BEGIN { printf "%.0f", b / 1048576 / (ns / 1e9) }'
}

ms() { awk -v u="$1" 'BEGIN { printf "%.3f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
addr_of() { jq -r '.ips[0].address' | cut -d/ -f1; }

ours='{"cniVersion":"1.0.0","name":"okt-net2-bench","type":"oci-net","bridge":"okt-net2-bb1","ipMasq":true,"ipam":{"subnet":"10.213.40.0/24"}}'
ref='{"cniVersion":"1.0.0","name":"okt-net2-bref","type":"bridge","bridge":"okt-net2-bb2","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.213.41.0/24","dataDir":"'"$D"'/hl"}}'

t_ours=$(time_loop "$OCI_NET" "$ours")
t_ref=$(time_loop /usr/lib/cni/bridge "$ref")
printf 'attach+detach (%d pairs): oci-net %s, cni bridge %s, ratio %s\n' "$n" "$(ms "$t_ours")" "$(ms "$t_ref")" \
  "$(ratio "$t_ours" "$t_ref")"

# Bridge throughput: two containers on each bridge.
cni "$OCI_NET" "$ours" ADD c1 >/dev/null
ip_ours=$(cni "$OCI_NET" "$ours" ADD c2 | addr_of)
cni /usr/lib/cni/bridge "$ref" ADD c3 >/dev/null
ip_ref=$(cni /usr/lib/cni/bridge "$ref" ADD c4 | addr_of)
# Bare veth pair between two namespaces: the ceiling.
ip -n "okt-net2-bv1$S" link add eth0 type veth peer name eth0 netns "okt-net2-bv2$S"
ip -n "okt-net2-bv1$S" addr add 10.213.42.1/24 dev eth0
ip -n "okt-net2-bv2$S" addr add 10.213.42.2/24 dev eth0
ip -n "okt-net2-bv1$S" link set eth0 up
ip -n "okt-net2-bv2$S" link set eth0 up
# Overlay: two simulated hosts joined by a veth underlay, one container each.
OA=okt-net2-boa$S OB=okt-net2-bob$S
ip -n "$OA" link add eth0 type veth peer name eth0 netns "$OB"
ip -n "$OA" addr add 10.213.251.1/30 dev eth0
ip -n "$OB" addr add 10.213.251.2/30 dev eth0
ip -n "$OA" link set eth0 up
ip -n "$OB" link set eth0 up
ip netns exec "$OA" "$OCI_NET" --data-dir "$D/oa" create --driver overlay --vni 4250 --subnet 10.213.43.0/24 \
  --ip-range 10.213.43.0/25 --local 10.213.251.1 --peer 10.213.251.2 okt-net2-bov >/dev/null
ip netns exec "$OB" "$OCI_NET" --data-dir "$D/ob" create --driver overlay --vni 4250 --subnet 10.213.43.0/24 \
  --ip-range 10.213.43.128/25 --local 10.213.251.2 --peer 10.213.251.1 okt-net2-bov >/dev/null
ip netns exec "$OA" "$OCI_NET" --data-dir "$D/oa" connect okt-net2-bov "/var/run/netns/okt-net2-bo1$S" --no-etc >/dev/null
ip_ov=$(ip netns exec "$OB" "$OCI_NET" --data-dir "$D/ob" connect okt-net2-bov "/var/run/netns/okt-net2-bo2$S" --no-etc | cut -d/ -f1)
ip netns exec "okt-net2-bo1$S" busybox ping -c1 -W3 "$ip_ov" >/dev/null  # resolve neighbours first

mb=$((bytes / 1048576))
t_veth=$(throughput "okt-net2-bv2$S" "okt-net2-bv1$S" 10.213.42.2)
t_obr=$(throughput "okt-net2-bc2$S" "okt-net2-bc1$S" "$ip_ours")
t_cbr=$(throughput "okt-net2-bc4$S" "okt-net2-bc3$S" "$ip_ref")
t_ov=$(throughput "okt-net2-bo2$S" "okt-net2-bo1$S" "$ip_ov")
echo "tcp streams of $mb MiB, best of $rounds:"
printf 'tcp %d MiB, bare veth pair:     %6d MB/s\n' "$mb" "$t_veth"
printf 'tcp %d MiB, oci-net bridge:     %6d MB/s (%s of veth)\n' "$mb" "$t_obr" "$(ratio "$t_obr" "$t_veth")"
printf 'tcp %d MiB, cni bridge:         %6d MB/s (%s of veth)\n' "$mb" "$t_cbr" "$(ratio "$t_cbr" "$t_veth")"
printf 'tcp %d MiB, oci-net overlay:    %6d MB/s (%s of veth)\n' "$mb" "$t_ov" "$(ratio "$t_ov" "$t_veth")"
printf 'bridge throughput ratio oci-net / cni bridge: %s\n' "$(ratio "$t_obr" "$t_cbr")"
