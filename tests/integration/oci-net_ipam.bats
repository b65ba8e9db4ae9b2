#!/usr/bin/env bats
# oci-net IPAM: leases of containers whose network namespace is gone are
# reclaimed (when the range is exhausted, when the id comes back, and by
# prune), with their published ports, host links and files. Runs in a test
# "host" netns okt-net2-i<pid>; teardown removes every okt-net2-*<pid> netns.

load helpers

setup() {
  skip_unless_root
  net_host_setup i
}

teardown() {
  [ -n "${pids:-}" ] && kill $pids 2>/dev/null || true
  net_host_teardown
}

net() { ip netns exec "$H" "$OCI_NET" --data-dir "$D" "$@"; }
ctr() { ip netns add "okt-net2-$1-$S"; echo "/var/run/netns/okt-net2-$1-$S"; }
# sleeper NAME: a process in a new netns okt-net2-NAME-<pid>; prints its pid.
sleeper() {
  ip netns add "okt-net2-$1-$S"
  ip netns exec "okt-net2-$1-$S" sleep 60 >/dev/null 2>&1 &
  echo $!
}

@test "ipam: an exhausted range reclaims the lease of a deleted netns, with its ports and files" {
  net create --subnet 10.213.17.0/30 okt-net2-s
  a=$(ctr a); b=$(ctr b)
  run net connect okt-net2-s "$a" -p 9090:80
  [ "$output" = 10.213.17.2/30 ]
  [ -e "/etc/netns/okt-net2-a-$S/hosts" ]
  [[ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-s ports4)" == *9090* ]]
  # The container goes away without a disconnect.
  ip netns del "okt-net2-a-$S"
  run net connect okt-net2-s "$b" -p 9090:80
  [ "$status" -eq 0 ]
  [ "$output" = 10.213.17.2/30 ]
  [ ! -e "/etc/netns/okt-net2-a-$S" ]
  [ "$(net inspect okt-net2-s | jq -r '.[0].containers | keys | join(",")')" = "okt-net2-b-$S" ]
  [ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-s ports4 | grep -c 9090)" -eq 1 ]
  # A live container is never reclaimed.
  c=$(ctr c)
  run net connect okt-net2-s "$c"
  [ "$status" -eq 1 ]
  [ "$output" = 'oci-net: error: network "okt-net2-s": no free address in 10.213.17.0/30' ]
  net disconnect okt-net2-s "$b"
  net rm okt-net2-s
}

@test "ipam: a pid whose process exited is reclaimed by prune and by its id coming back" {
  net create --subnet 10.213.18.0/24 okt-net2-q
  net create --subnet 10.213.19.0/24 okt-net2-k
  p1=$(sleeper p1); p2=$(sleeper p2); p3=$(sleeper p3)
  pids="$p1 $p2 $p3"
  sleep 0.2
  net connect okt-net2-q "$p1" --no-etc -p 9191:80
  net connect okt-net2-k "$p2" --no-etc --id okt-net2-same
  kill "$p1" "$p2"; wait "$p1" "$p2" 2>/dev/null || true
  # The netns itself lives on (it is named), so the host veth is still there.
  [ "$(ip -n "$H" -br link show type veth | wc -l)" -eq 2 ]
  # The same container id comes back in a new process: the old lease goes.
  net connect okt-net2-k "$p3" --no-etc --id okt-net2-same
  [ "$(net inspect okt-net2-k | jq -r '.[0].containers["okt-net2-same"].netns')" = "$p3" ]
  # A host port held by a vanished container is taken over.
  p4=$(sleeper p4); pids="$pids $p4"
  net connect okt-net2-q "$p4" --no-etc -p 9191:80
  [ "$(net inspect okt-net2-q | jq -r '.[0].containers | keys | join(",")')" = "pid-$p4" ]
  [ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-q ports4 | grep -c '9191 : 10.213.18.2')" -eq 1 ]
  kill "$p4"; wait "$p4" 2>/dev/null || true
  run net prune
  [ "$status" -eq 0 ]
  [ "$output" = okt-net2-q ]
  [ "$(net ls -q)" = okt-net2-k ]
  [ "$(ip -n "$H" -br link show type veth | wc -l)" -eq 1 ]
  [ -z "$(ip netns exec "$H" nft list tables | grep okt-net2-q)" ]
  net disconnect okt-net2-k --id okt-net2-same
  net rm okt-net2-k
}

@test "ipam: a connect killed part way (kill -9 after its lease, before its wiring) is redone by the next connect" {
  net create --subnet 10.213.18.0/24 okt-net2-k
  a=$(ctr a)
  run net connect okt-net2-k "$a" -p 9091:80
  [ "$status" -eq 0 ]
  # What a connect killed mid-way leaves: its lease still marked as being set
  # up by a process that is gone, and an unfinished interface.
  jq '.leases[0].setting_up = "999999:1"' "$D/leases/okt-net2-k.json" >"$D/l.json" && mv "$D/l.json" "$D/leases/okt-net2-k.json"
  ip netns exec "okt-net2-a-$S" ip addr flush dev eth0
  run net connect okt-net2-k "$a" -p 9091:80
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = 10.213.18.2/24 ]
  [[ "$(ip netns exec "okt-net2-a-$S" ip -br addr show eth0)" == *10.213.18.2/24* ]]
  [ "$(jq '.leases | length' "$D/leases/okt-net2-k.json")" = 1 ]
  [ "$(jq -r '.leases[0].setting_up // "done"' "$D/leases/okt-net2-k.json")" = done ]
  [[ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-k ports4)" == *9091* ]]
  # a finished connect is not redone: the same container again is an error
  run net connect okt-net2-k "$a"
  [ "$status" -ne 0 ]
  [[ "$output" == *"already connected"* ]]
}

@test "prune --filter: until keeps newer networks, label= and label!= select by the networks' labels, unknown keys are refused" {
  net create --subnet 10.215.40.0/24 --label tier=web --label keep apiimg-p1
  net create --subnet 10.215.41.0/24 --label tier=db apiimg-p2
  net create --subnet 10.215.42.0/24 apiimg-p3
  [ "$(net inspect apiimg-p1 | jq -c '.[0].labels')" = '{"keep":"","tier":"web"}' ]
  run net prune --filter until=1h
  [ "$status" -eq 0 ] && [ -z "$output" ]
  run net prune --filter label=x
  [ "$status" -eq 0 ] && [ -z "$output" ]
  run net prune --filter label=tier=web --filter label=nope
  [ "$status" -eq 0 ] && [ -z "$output" ]
  run net prune --filter bogus=1
  [ "$status" -eq 2 ] && [[ "$output" == *"invalid filter 'bogus'"* ]]
  [ "$(net ls -q | grep -c apiimg-)" -eq 3 ]
  run net prune --filter label=tier=db
  [ "$status" -eq 0 ] && [ "$output" = apiimg-p2 ]
  run net prune --filter "until=$(($(date +%s) + 5))" --filter 'label!=keep'
  [ "$status" -eq 0 ] && [ "$output" = apiimg-p3 ]
  run net prune --filter label=tier
  [ "$status" -eq 0 ] && [ "$output" = apiimg-p1 ]
  [ "$(net ls -q | grep -c apiimg-)" -eq 0 ]
}

@test "a network has docker's 64-hex id: inspect, connect, disconnect and rm take it or a unique prefix" {
  net create --subnet 10.215.43.0/24 okt-net2-id1
  net create --subnet 10.215.44.0/24 okt-net2-id2
  local id1 id2
  id1=$(net inspect okt-net2-id1 | jq -r '.[0].id')
  id2=$(net ls --format json | jq -r '.[] | select(.name == "okt-net2-id2") | .id')
  [[ "$id1" =~ ^[0-9a-f]{64}$ ]] && [[ "$id2" =~ ^[0-9a-f]{64}$ ]] && [ "$id1" != "$id2" ]
  # the id stays with the network
  [ "$(net inspect okt-net2-id1 | jq -r '.[0].id')" = "$id1" ]
  [ "$(net inspect "$id1" | jq -r '.[0].name')" = okt-net2-id1 ]
  [ "$(net inspect "${id2:0:12}" | jq -r '.[0].name')" = okt-net2-id2 ]
  a=$(ctr a)
  run net connect "${id1:0:12}" "$a"
  [ "$status" -eq 0 ] && [ "$output" = 10.215.43.2/24 ]
  [ "$(net inspect okt-net2-id1 | jq -r '.[0].containers | keys | join(",")')" = "okt-net2-a-$S" ]
  net disconnect "$id1" "$a"
  [ "$(net inspect okt-net2-id1 | jq -r '.[0].containers | length')" = 0 ]
  run net inspect 0123456789abcdef0123
  [ "$status" -ne 0 ] && [[ "$output" == *'network "0123456789abcdef0123" not found'* ]]
  run net rm "${id1:0:12}"
  [ "$status" -eq 0 ] && [ "$output" = "${id1:0:12}" ]
  net rm "$id2"
  [ -z "$(net ls -q | grep okt-net2-id)" ]
}
