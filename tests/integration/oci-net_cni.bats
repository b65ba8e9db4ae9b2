#!/usr/bin/env bats
# oci-net as a CNI plugin: ADD, CHECK, DEL, VERSION, STATUS and errors, called
# as a runtime would (environment + config on stdin), inside a test "host"
# netns so the bridge and nft table are private.

load helpers

setup() {
  skip_unless_root
  S=$$
  H=okt-net-ch$S
  C=okt-net-cc$S
  D=$(mktemp -d)
  ip netns add "$H"
  ip netns add "$C"
  CONF='{"cniVersion":"1.0.0","name":"okt-net-cni","type":"oci-net","bridge":"okt-net-cbr","ipam":{"subnet":"10.213.20.0/24"}}'
}

teardown() {
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$H" 2>/dev/null || true
  rm -rf "$D"
}

cni() {
  echo "$CONF" | ip netns exec "$H" env CNI_COMMAND="$1" CNI_CONTAINERID=okt-net-ctr CNI_NETNS="/var/run/netns/$C" \
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
  run cni STATUS
  [ "$status" -eq 0 ]
}

@test "cni: errors are CNI error JSON" {
  CONF='{"cniVersion":"9.9.9","name":"x"}'
  run cni ADD
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r .code)" = 1 ]
  CONF='not json'
  run cni ADD
  [ "$(echo "$output" | jq -r .code)" = 6 ]
  CONF='{"cniVersion":"1.0.0","name":"okt-net-cni","ipam":{}}'
  run cni ADD
  [ "$(echo "$output" | jq -r .code)" = 7 ]
}
