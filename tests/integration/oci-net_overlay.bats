#!/usr/bin/env bats
# oci-net overlay: two simulated hosts (netns with their own bridge, VXLAN
# device and containers) joined by a veth underlay; containers on different
# hosts talk over VXLAN.

load helpers

setup() {
  skip_unless_root
  S=$$
  DA=$(mktemp -d)
  DB=$(mktemp -d)
  for n in ha hb ca cb; do ip netns add "okt-net2-$n$S"; done
  ip -n "okt-net2-ha$S" link add eth0 type veth peer name eth0 netns "okt-net2-hb$S"
  ip -n "okt-net2-ha$S" addr add 10.213.250.1/30 dev eth0
  ip -n "okt-net2-hb$S" addr add 10.213.250.2/30 dev eth0
  ip -n "okt-net2-ha$S" link set eth0 up
  ip -n "okt-net2-hb$S" link set eth0 up
}

teardown() {
  for n in ca cb ha hb; do ip netns del "okt-net2-$n$S" 2>/dev/null || true; done
  rm -rf "$DA" "$DB"
}

@test "overlay: containers on two hosts reach each other over VXLAN" {
  ip netns exec "okt-net2-ha$S" "$OCI_NET" --data-dir "$DA" create --driver overlay --vni 4242 \
    --subnet 10.213.30.0/24 --ip-range 10.213.30.0/25 --local 10.213.250.1 --peer 10.213.250.2 okt-net2-ov
  ip netns exec "okt-net2-hb$S" "$OCI_NET" --data-dir "$DB" create --driver overlay --vni 4242 \
    --subnet 10.213.30.0/24 --ip-range 10.213.30.128/25 --local 10.213.250.2 --peer 10.213.250.1 okt-net2-ov
  run ip netns exec "okt-net2-ha$S" "$OCI_NET" --data-dir "$DA" connect okt-net2-ov "/var/run/netns/okt-net2-ca$S" --no-etc
  [ "$output" = 10.213.30.2/24 ]
  run ip netns exec "okt-net2-hb$S" "$OCI_NET" --data-dir "$DB" connect okt-net2-ov "/var/run/netns/okt-net2-cb$S" --no-etc
  [ "$output" = 10.213.30.128/24 ]
  [ "$(ip netns exec "okt-net2-ca$S" cat /sys/class/net/eth0/mtu)" -eq 1450 ]
  ip netns exec "okt-net2-ca$S" busybox ping -c1 -W3 10.213.30.128
  ip netns exec "okt-net2-cb$S" busybox ping -c1 -W3 10.213.30.2
  ip netns exec "okt-net2-ha$S" "$OCI_NET" --data-dir "$DA" disconnect okt-net2-ov "/var/run/netns/okt-net2-ca$S"
  ip netns exec "okt-net2-ha$S" "$OCI_NET" --data-dir "$DA" rm okt-net2-ov
  [ -z "$(ip -n "okt-net2-ha$S" -br link show type vxlan)" ]
  [ -z "$(ip -n "okt-net2-ha$S" -br link show type bridge)" ]
}
