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
  for n in ca cb cc ha hb; do ip netns del "okt-net2-$n$S" 2>/dev/null || true; done
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

# onA/onB ARGS: oci-net on simulated host A or B.
onA() { ip netns exec "okt-net2-ha$S" "$OCI_NET" --data-dir "$DA" "$@"; }
onB() { ip netns exec "okt-net2-hb$S" "$OCI_NET" --data-dir "$DB" "$@"; }
fdb_dsts() { bridge -n "okt-net2-$1$S" fdb show dev okvx4243 | grep '^00:00:00:00:00:00' | awk '{print $3}' | sort | xargs; }

@test "overlay: a shared peers file, re-read on every connect, sets the FDB peers (own address skipped)" {
  P=$DA/peers
  printf '# every host of the overlay\n10.213.250.1\n' >"$P"
  onA create --driver overlay --vni 4243 --subnet 10.213.31.0/24 --ip-range 10.213.31.0/25 \
    --local 10.213.250.1 --opt peers-file="$P" okt-net2-ovf
  onB create --driver overlay --vni 4243 --subnet 10.213.31.0/24 --ip-range 10.213.31.128/25 \
    --opt peers-file="$P" okt-net2-ovf
  # Only host A is listed: A floods to nobody, B (whose own address is not
  # listed) to A.
  onA connect okt-net2-ovf "/var/run/netns/okt-net2-ca$S" --no-etc
  [ -z "$(fdb_dsts ha)" ]
  # Host B joins the file; B's next connect skips its own address (found
  # without --local), A's picks B up.
  printf '10.213.250.1\n10.213.250.2\n' >"$P"
  onB connect okt-net2-ovf "/var/run/netns/okt-net2-cb$S" --no-etc
  [ "$(fdb_dsts hb)" = 10.213.250.1 ]
  ip netns add "okt-net2-cc$S"
  onA connect okt-net2-ovf "/var/run/netns/okt-net2-cc$S" --no-etc
  [ "$(fdb_dsts ha)" = 10.213.250.2 ]
  ip netns exec "okt-net2-ca$S" busybox ping -c1 -W3 10.213.31.128
  ip netns exec "okt-net2-cb$S" busybox ping -c1 -W3 10.213.31.3
  # B leaves the file: A's next connect drops its FDB entry.
  printf '10.213.250.1\n' >"$P"
  onA disconnect okt-net2-ovf "/var/run/netns/okt-net2-cc$S"
  onA connect okt-net2-ovf "/var/run/netns/okt-net2-cc$S" --no-etc
  [ -z "$(fdb_dsts ha)" ]
  onA disconnect okt-net2-ovf "/var/run/netns/okt-net2-cc$S"
  onA disconnect okt-net2-ovf "/var/run/netns/okt-net2-ca$S"
  onB disconnect okt-net2-ovf "/var/run/netns/okt-net2-cb$S"
  onA rm okt-net2-ovf
  onB rm okt-net2-ovf
}

@test "overlay: a bad peers file is refused at create with file:line" {
  printf '10.213.250.2\nnot-a-host\n' >"$DA/peers"
  run onA create --driver overlay --vni 4244 --subnet 10.213.32.0/24 --opt peers-file="$DA/peers" okt-net2-ovb
  [ "$status" -eq 1 ]
  [ "$output" = "oci-net: error: $DA/peers:2: invalid IP address \"not-a-host\"" ]
  run onA create --driver overlay --vni 4244 --subnet 10.213.32.0/24 --opt peers-file="$DA/nope" okt-net2-ovb
  [ "$status" -eq 1 ]
  [[ "$output" == "oci-net: error: peers file $DA/nope: "* ]]
  [ -z "$(onA ls -q)" ]
}
