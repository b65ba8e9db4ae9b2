#!/usr/bin/env bats
# oci-net bridge networks, run inside a test "host" netns (okt-net2-h-$$) so
# bridges, nft tables and sysctls never touch the real host. "Containers" are
# netns okt-net2-<n>-$$. Everything is removed in teardown.

load helpers

setup() {
  skip_unless_root
  net_host_setup h
}

teardown() { net_host_teardown; }

net() { ip netns exec "$H" "$OCI_NET" --data-dir "$D" "$@"; }
ctr() { ip netns add "okt-net2-$1-$S"; echo "/var/run/netns/okt-net2-$1-$S"; }
inns() { local n=$1; shift; ip netns exec "okt-net2-$n-$S" "$@"; }

@test "bridge: containers reach each other by IP and name, published port from loopback and another netns, exact cleanup" {
  run net create --subnet 10.213.1.0/24 okt-net2-a
  [ "$status" -eq 0 ]
  run net ls -q
  [ "$output" = okt-net2-a ]
  a=$(ctr a); b=$(ctr b)
  run net connect okt-net2-a "$a" --name web -p 8080:80
  [ "$status" -eq 0 ]
  [ "$output" = 10.213.1.2/24 ]
  run net connect okt-net2-a "$b" --name client
  [ "$output" = 10.213.1.3/24 ]
  inns a busybox ping -c1 -W2 10.213.1.3
  inns b busybox ping -c1 -W2 web
  grep -q "10.213.1.3	client" "/etc/netns/okt-net2-a-$S/hosts"
  # TCP by name.
  inns a timeout 5 busybox nc -l -p 80 -e echo hello-tcp &
  sleep 0.3
  run inns b busybox nc web 80 </dev/null
  [ "$output" = hello-tcp ]
  wait
  # Published port from the host's loopback.
  inns a timeout 5 busybox nc -l -p 80 -e echo hello-lo &
  sleep 0.3
  run ip netns exec "$H" busybox nc 127.0.0.1 8080 </dev/null
  [ "$output" = hello-lo ]
  wait
  # Published port from another netns over a veth to the host.
  r=$(ctr r)
  ip -n "$H" link add okt-net2-r type veth peer name eth9 netns "okt-net2-r-$S"
  ip -n "$H" addr add 10.213.200.1/24 dev okt-net2-r
  ip -n "$H" link set okt-net2-r up
  inns r ip addr add 10.213.200.2/24 dev eth9
  inns r ip link set eth9 up
  inns a timeout 5 busybox nc -l -p 80 -e echo hello-remote &
  sleep 0.3
  run inns r busybox nc 10.213.200.1 8080 </dev/null
  [ "$output" = hello-remote ]
  wait
  # Outbound NAT: the remote has no route to 10.213.1.0/24, so its replies
  # only come back when the host masquerades the container's address.
  run inns r ip route get 10.213.1.2
  [ "$status" -ne 0 ]
  inns a busybox ping -c1 -W2 10.213.200.2
  run net inspect okt-net2-a
  [[ "$output" == *'"web"'* ]] || [[ "$output" == *'"name": "web"'* ]]
  net disconnect okt-net2-a "$a"
  net disconnect okt-net2-a "$b"
  [ ! -e "/etc/netns/okt-net2-a-$S/hosts" ]
  run ip netns exec "$H" nft list map inet ocikit-okt-net2-a ports4
  [[ "$output" != *8080* ]]
  run ip -n "$H" -br link show type veth
  [ "$output" = "$(ip -n "$H" -br link show okt-net2-r)" ]
  net rm okt-net2-a
  run ip netns exec "$H" nft list tables
  [ -z "$output" ]
  [ ! -e "$D/leases/okt-net2-a.json" ]
  [ -z "$(ip -n "$H" -br link show type bridge)" ]
}

@test "bridge: different networks are isolated, --internal has no way out" {
  net create --subnet 10.213.2.0/24 okt-net2-b1
  net create --subnet 10.213.3.0/24 okt-net2-b2
  net create --internal --subnet 10.213.4.0/24 okt-net2-b3
  a=$(ctr a); b=$(ctr b); c=$(ctr c)
  net connect okt-net2-b1 "$a"
  net connect okt-net2-b2 "$b"
  net connect okt-net2-b3 "$c"
  # Both directions are dropped between bridges, though the host routes both.
  [ "$(ip netns exec "$H" sysctl -n net.ipv4.ip_forward)" -eq 1 ]
  run inns a busybox ping -c1 -W1 10.213.3.2
  [ "$status" -ne 0 ]
  run inns b busybox ping -c1 -W1 10.213.2.2
  [ "$status" -ne 0 ]
  inns a busybox ping -c1 -W1 10.213.2.1
  # A second container on the same network is reachable.
  d=$(ctr d)
  net connect okt-net2-b1 "$d"
  inns a busybox ping -c1 -W1 10.213.2.3
  net disconnect okt-net2-b1 "$d"
  # --internal: no default route, and even with one added by hand nothing
  # leaves the bridge (the gateway itself answers).
  run inns c ip route
  [[ "$output" != *default* ]]
  inns c busybox ping -c1 -W1 10.213.4.1
  inns c ip route add default via 10.213.4.1
  run inns c busybox ping -c1 -W1 10.213.2.2
  [ "$status" -ne 0 ]
  [[ "$(ip netns exec "$H" nft list chain inet ocikit-okt-net2-b3 postrouting)" != *"ip saddr 10.213.4.0/24 ip daddr"* ]]
  net disconnect okt-net2-b1 "$a"; net disconnect okt-net2-b2 "$b"; net disconnect okt-net2-b3 "$c"
  net rm okt-net2-b1 okt-net2-b2 okt-net2-b3
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}

@test "bridge: 50 concurrent connects get 50 distinct addresses" {
  net create --subnet 10.213.5.0/24 okt-net2-c
  for i in $(seq 1 50); do ip netns add "okt-net2-p$i-$S"; done
  for i in $(seq 1 50); do net connect okt-net2-c "/var/run/netns/okt-net2-p$i-$S" --no-etc >"$D/out$i" & done
  wait
  [ "$(cat "$D"/out* | sort -u | wc -l)" -eq 50 ]
  [ "$(cat "$D"/out* | wc -l)" -eq 50 ]
  for i in $(seq 1 50); do net disconnect okt-net2-c "/var/run/netns/okt-net2-p$i-$S" & done
  wait
  [ ! -e "$D/leases/okt-net2-c.json" ]
  net rm okt-net2-c
}

@test "bad input: overlap, unknown network, exhausted range, bad port spec leave nothing behind" {
  net create --subnet 10.213.6.0/24 okt-net2-d
  run net create --subnet 10.213.6.128/25 okt-net2-e
  [ "$status" -eq 1 ]
  [ "$output" = 'oci-net: error: network "okt-net2-e": subnet 10.213.6.128/25 overlaps network "okt-net2-d" (10.213.6.0/24)' ]
  a=$(ctr a); b=$(ctr b)
  run net connect okt-net2-nope "$a"
  [ "$output" = 'oci-net: error: network "okt-net2-nope" not found' ]
  run net connect okt-net2-d "$a" -p 80:80:80:80
  [ "$status" -eq 1 ]
  [[ "$output" == 'oci-net: error: bad port spec "80:80:80:80": '* ]]
  net create --subnet 10.213.7.0/30 okt-net2-f
  net connect okt-net2-f "$a"
  run net connect okt-net2-f "$b"
  [ "$status" -eq 1 ]
  [ "$output" = 'oci-net: error: network "okt-net2-f": no free address in 10.213.7.0/30' ]
  run inns b ip -br link
  [ "$(echo "$output" | wc -l)" -eq 1 ]
  # A port published twice is refused and the second container is unwired.
  net connect okt-net2-d "$a" -p 9000:80
  run net connect okt-net2-d "$b" -p 9000:80
  [ "$status" -eq 1 ]
  [ "$(inns b ip -br link | wc -l)" -eq 1 ]
  run net inspect okt-net2-d
  [[ "$output" != *"okt-net2-b-$S"* ]]
  net disconnect okt-net2-d "$a"; net disconnect okt-net2-f "$a"
  net rm okt-net2-d okt-net2-f
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}

@test "hook: createRuntime and poststop read the OCI state on stdin" {
  net create --subnet 10.213.8.0/24 okt-net2-g
  mkdir -p "$D/bundle/rootfs/etc"
  echo '{"root":{"path":"rootfs"}}' >"$D/bundle/config.json"
  ip netns add "okt-net2-k-$S"
  ip netns exec "okt-net2-k-$S" sleep 30 &
  pid=$!
  sleep 0.2
  echo "{\"ociVersion\":\"1.0.2\",\"id\":\"okt-net2-k\",\"status\":\"creating\",\"pid\":$pid,\"bundle\":\"$D/bundle\"}" | net hook createRuntime --network okt-net2-g
  grep -q "10.213.8.2	okt-net2-k" "$D/bundle/rootfs/etc/hosts"
  inns k busybox ping -c1 -W2 10.213.8.1
  kill $pid; wait $pid || true
  echo '{"ociVersion":"1.0.2","id":"okt-net2-k","status":"stopped","bundle":"'"$D"'/bundle"}' | net hook poststop --network okt-net2-g
  [ ! -e "$D/leases/okt-net2-g.json" ]
  net rm okt-net2-g
}

@test "none and macvlan drivers" {
  net create --driver none okt-net2-n
  a=$(ctr a); b=$(ctr b)
  net connect okt-net2-n "$a"
  [ "$(inns a ip -br link | wc -l)" -eq 1 ]
  ip -n "$H" link add okt-net2-dum type veth peer name okt-net2-dup
  ip -n "$H" link set okt-net2-dum up
  ip -n "$H" link set okt-net2-dup up
  net create --driver macvlan --parent okt-net2-dum --subnet 10.213.9.0/24 okt-net2-m
  net connect okt-net2-m "$a"
  net connect okt-net2-m "$b"
  inns a busybox ping -c1 -W2 10.213.9.3
  net disconnect okt-net2-m "$a"
  [ "$(inns a ip -br link | wc -l)" -eq 1 ]
  net disconnect okt-net2-m "$b"
  net rm okt-net2-m okt-net2-n
}

@test "bridge: dual-stack IPv4 and IPv6 addresses and default routes" {
  net create --subnet 10.213.10.0/24 --subnet fd00:213:10::/64 okt-net2-v6
  a=$(ctr a); b=$(ctr b)
  run net connect okt-net2-v6 "$a" --no-etc
  [ "${lines[0]}" = 10.213.10.2/24 ]
  [ "${lines[1]}" = fd00:213:10::2/64 ]
  net connect okt-net2-v6 "$b" --no-etc
  inns a busybox ping -c1 -W2 fd00:213:10::3
  run inns a ip -6 route show default
  [[ "$output" == "default via fd00:213:10::1 dev eth0"* ]]
  net disconnect okt-net2-v6 "$a"; net disconnect okt-net2-v6 "$b"
  net rm okt-net2-v6
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}
