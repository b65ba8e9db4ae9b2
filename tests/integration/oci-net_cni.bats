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
