#!/usr/bin/env bats
# oci-net as a CNI plugin: ADD, CHECK, DEL, VERSION, STATUS and errors, called
# as a runtime would (environment + config on stdin), inside a test "host"
# netns so the bridge and nft table are private.

load helpers

setup() {
  skip_unless_root
  S=$$
  H=okt-net2-ch$S
  C=okt-net2-cc$S
  C2=okt-net2-cd$S
  CID=okt-net2-ctr
  CNS=$C
  D=$(mktemp -d)
  ip netns add "$H"
  ip netns add "$C"
  ip netns add "$C2"
  CONF='{"cniVersion":"1.0.0","name":"okt-net2-cni","type":"oci-net","bridge":"okt-net2-cbr","ipam":{"subnet":"10.213.20.0/24"}}'
}

teardown() {
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$C2" 2>/dev/null || true
  ip netns del "$H" 2>/dev/null || true
  rm -rf "$D"
}

cni() {
  echo "$CONF" | ip netns exec "$H" env CNI_COMMAND="$1" CNI_CONTAINERID="$CID" CNI_NETNS="/var/run/netns/$CNS" \
    CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni OCIKIT_NET_DIR="$D" "$OCI_NET"
}

@test "cni: VERSION lists the supported versions" {
  run env CNI_COMMAND=VERSION "$OCI_NET"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c .supportedVersions)" = '["0.4.0","1.0.0","1.1.0"]' ]
}

@test "cni: ADD, CHECK, DEL as a runtime calls them" {
  run cni ADD
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.213.20.2/24 ]
  [ "$(echo "$output" | jq -r '.ips[0].gateway')" = 10.213.20.1 ]
  [ "$(echo "$output" | jq -r '.interfaces[2].sandbox')" = "/var/run/netns/$C" ]
  [ "$(echo "$output" | jq -r '.cniVersion')" = 1.0.0 ]
  ip netns exec "$C" busybox ping -c1 -W2 10.213.20.1
  run cni CHECK
  [ "$status" -eq 0 ]
  run cni DEL
  [ "$status" -eq 0 ]
  [ "$(ip netns exec "$C" ip -br link | wc -l)" -eq 1 ]
  run cni DEL
  [ "$status" -eq 0 ]
  run cni CHECK
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 3 ]
  # STATUS and GC are spec 1.1 verbs.
  run cni STATUS
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 1 ]
  [ "$(echo "$output" | jq -r .msg)" = "config version 1.0.0 does not allow STATUS" ]
}

@test "cni: STATUS and GC (spec 1.1): GC releases attachments not listed as valid" {
  CONF='{"cniVersion":"1.1.0","name":"okt-net2-cni","type":"oci-net","bridge":"okt-net2-cbr","ipam":{"subnet":"10.213.20.0/24"}}'
  run cni STATUS
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run cni ADD
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.213.20.2/24 ]
  CID=okt-net2-ctr2 CNS=$C2 run cni ADD
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.213.20.3/24 ]
  [ "$(echo "$output" | jq -r '.cniVersion')" = 1.1.0 ]
  # The runtime says only the first attachment is still valid.
  CONF='{"cniVersion":"1.1.0","name":"okt-net2-cni","type":"oci-net","bridge":"okt-net2-cbr","ipam":{"subnet":"10.213.20.0/24"},"cni.dev/valid-attachments":[{"containerID":"okt-net2-ctr","ifname":"eth0"}]}'
  run cni GC
  [ "$status" -eq 0 ]
  [ "$(ip netns exec "$C2" ip -br link | wc -l)" -eq 1 ]
  [ "$(ip netns exec "$C" ip -br link | wc -l)" -eq 2 ]
  [ "$(jq -r '[.leases[].container] | join(",")' "$D/leases/okt-net2-cni.json")" = okt-net2-ctr:eth0 ]
  run cni CHECK
  [ "$status" -eq 0 ]
  CID=okt-net2-ctr2 CNS=$C2 run cni CHECK
  [ "$(echo "$output" | jq -r .code)" = 3 ]
  cni DEL
  # Not available when the lease directory cannot be written.
  CONF='{"cniVersion":"1.1.0","name":"okt-net2-cni"}'
  run env CNI_COMMAND=STATUS OCIKIT_NET_DIR=/proc/okt-net2-none "$OCI_NET" <<<"$CONF"
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 50 ]
}

@test "cni: errors are CNI error JSON" {
  CONF='{"cniVersion":"9.9.9","name":"x"}'
  run cni ADD
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 1 ]
  CONF='not json'
  run cni ADD
  [ "$(echo "$output" | jq -r .code)" = 6 ]
  CONF='{"cniVersion":"1.0.0","name":"okt-net2-cni","ipam":{}}'
  run cni ADD
  [ "$(echo "$output" | jq -r .code)" = 7 ]
}

@test "cni: hostile configs are refused before they reach the kernel or nftables (port protocol, bridge name)" {
  # a protocol that would be nftables syntax
  CONF='{"cniVersion":"1.0.0","name":"okt-net2-cni","type":"oci-net","bridge":"okt-net2-cbr","ipam":{"subnet":"10.213.20.0/24"},"runtimeConfig":{"portMappings":[{"hostPort":18080,"containerPort":80,"protocol":"tcp . 1 : 10.213.20.9 . 1 }; flush ruleset; add element inet x y { tcp"}]}}'
  run cni ADD
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 7 ]
  [[ "$(echo "$output" | jq -r .msg)" == *"is not tcp or udp"* ]]
  # nothing was attached
  [ "$(ip netns exec "$C" ip -br link | wc -l)" -eq 1 ]
  # a bridge name that is a path
  CONF='{"cniVersion":"1.0.0","name":"okt-net2-cni2","type":"oci-net","bridge":"../eth0","ipam":{"subnet":"10.213.21.0/24"}}'
  run cni ADD
  [ "$status" -eq 1 ]
  [[ "$(echo "$output" | jq -r .msg)" == *"not a valid interface name"* ]]
  [ ! -e "$D/okt-net2-cni2.json" ]
}

@test "cni install: conflist, plugin and loopback in temp dirs; the conflist drives ADD and DEL; a different file is refused" {
  B=$D/bin; N=$D/net.d
  run "$OCI_NET" cni install --bin-dir "$B" --conf-dir "$N"
  [ "$status" -eq 0 ]
  # The defaults give the conflist the README and cri.bats use.
  cmp "$N/10-ocikit.conflist" "$OCIKIT_SOURCE_ROOT/examples/kubernetes/10-ocikit.conflist"
  cmp "$B/oci-net" "$OCI_NET"
  [ -x "$B/oci-net" ]
  [ "$(readlink "$B/loopback")" = /usr/lib/cni/loopback ]
  run "$OCI_NET" cni install --bin-dir "$B" --conf-dir "$N"
  [ "$status" -eq 0 ]
  [ "$output" = "unchanged $B/oci-net
unchanged $N/10-ocikit.conflist" ]
  # A plugin linked there by hand (to the same binary) is left alone.
  ln -sf "$OCI_NET" "$B/oci-net"
  run "$OCI_NET" cni install --bin-dir "$B" --conf-dir "$N"
  [ "$status" -eq 0 ]
  [[ "$output" == "unchanged $B/oci-net"* ]]
  [ -L "$B/oci-net" ]
  # Another network, then called as libcni calls each plugin of a conflist:
  # the plugin object with the list's name and cniVersion, the binary named
  # by "type" in CNI_PATH.
  run "$OCI_NET" cni install --bin-dir "$B" --conf-dir "$N" --name dns-inst --subnet 10.204.20.0/24 --bridge dns-ibr
  [ "$status" -eq 1 ]
  [ "$output" = "oci-net: error: $N/10-ocikit.conflist exists and differs (use --force to replace it)" ]
  cmp "$N/10-ocikit.conflist" "$OCIKIT_SOURCE_ROOT/examples/kubernetes/10-ocikit.conflist"
  run "$OCI_NET" cni install --bin-dir "$B" --conf-dir "$N" --name dns-inst --subnet 10.204.20.0/24 --bridge dns-ibr --force
  [ "$status" -eq 0 ]
  [ "$(jq -r .name "$N/10-ocikit.conflist")" = dns-inst ]
  plugin() { # plugin INDEX COMMAND
    local conf type
    conf=$(jq -c ".plugins[$1] + {name: .name, cniVersion: .cniVersion}" "$N/10-ocikit.conflist")
    type=$(jq -r ".plugins[$1].type" "$N/10-ocikit.conflist")
    echo "$conf" | ip netns exec "$H" env CNI_COMMAND="$2" CNI_CONTAINERID=dns-inst-ctr \
      CNI_NETNS="/var/run/netns/$C" CNI_IFNAME=eth0 CNI_PATH="$B" OCIKIT_NET_DIR="$D/state" "$B/$type"
  }
  lo() { # containerd's first call: the loopback plugin from bin-dir
    echo '{"cniVersion":"1.0.0","name":"cni-loopback","type":"loopback"}' |
      env CNI_COMMAND="$1" CNI_CONTAINERID=dns-inst-ctr CNI_NETNS="/var/run/netns/$C" CNI_IFNAME=lo CNI_PATH="$B" "$B/loopback"
  }
  lo ADD
  run plugin 0 ADD
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '.ips[0].address')" = 10.204.20.2/24 ]
  [ "$(ip -n "$H" -br link show dns-ibr | awk '{print $1}')" = dns-ibr ]
  ip netns exec "$C" busybox ping -c1 -W2 10.204.20.1
  ip netns exec "$C" busybox ping -c1 -W2 127.0.0.1
  run plugin 0 DEL
  [ "$status" -eq 0 ]
  lo DEL
  [ "$(ip netns exec "$C" ip -br link | wc -l)" -eq 1 ]
  # Bad input: one clear line, exit 2, nothing written.
  run "$OCI_NET" cni install --bin-dir "$D/bin2" --conf-dir "$D/n2" --subnet 10.204.20.1/24
  [ "$status" -eq 2 ]
  [ "$output" = "oci-net: error: --subnet 10.204.20.1/24: want 10.204.20.0/24" ]
  run "$OCI_NET" cni install --bin-dir "$D/bin2" --conf-dir "$D/n2" --bridge 'a"b'
  [ "$status" -eq 2 ]
  [ "$output" = 'oci-net: error: invalid bridge name "a"b" (want 1-15 of A-Z a-z 0-9 _ . -)' ]
  [ ! -e "$D/bin2" ] && [ ! -e "$D/n2" ]
}
