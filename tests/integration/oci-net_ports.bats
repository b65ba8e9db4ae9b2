#!/usr/bin/env bats
# oci-net published ports in IPv4 and IPv6, from another netns, from the
# host's loopback and back from the containers of the network itself
# (hairpin), and their exact removal. Everything runs in a test "host" netns
# (okt-net2-h<pid>) with "containers" okt-net2-<n>-<pid>; teardown removes them.

load helpers

setup() {
  skip_unless_root
  require_cmd socat
  net_host_setup h
}

teardown() {
  [ -z "${holder:-}" ] || kill "$holder" 2>/dev/null || true
  net_host_teardown
}

net() { ip netns exec "$H" "$OCI_NET" --data-dir "$D" "$@"; }
ctr() { ip netns add "okt-net2-$1-$S"; echo "/var/run/netns/okt-net2-$1-$S"; }
inns() { local n=$1; shift; ip netns exec "okt-net2-$n-$S" "$@"; }

# serve NS PORT TEXT: answer one TCP connection (IPv4 or IPv6) with TEXT.
serve() {
  inns "$1" timeout 10 socat -T5 "TCP6-LISTEN:$2,reuseaddr,ipv6only=0" SYSTEM:"echo $3" &
  local i
  for i in $(seq 50); do
    [ -n "$(inns "$1" ss -Hltn "sport = :$2")" ] && return 0
    sleep 0.1
  done
  return 1
}
# fetch NSCMD... ADDR: what a TCP connection to ADDR (socat syntax) reads.
fetch() {
  local addr=${*: -1}
  "${@:1:$#-1}" timeout 10 socat -t3 -T5 - "TCP:$addr" </dev/null
}

@test "ports: IPv4 and IPv6 from another netns and the loopback, hairpin, exact removal" {
  net create --subnet 10.213.12.0/24 --subnet fd00:213:12::/64 okt-net2-p
  a=$(ctr a); b=$(ctr b); r=$(ctr r)
  net connect okt-net2-p "$b" --no-etc
  # A "remote" netns on a veth to the host, with an address of each family.
  ip -n "$H" link add okt-net2-r type veth peer name eth9 netns "okt-net2-r-$S"
  ip -n "$H" addr add 10.213.201.1/24 dev okt-net2-r
  ip -n "$H" addr add fd00:213:99::1/64 dev okt-net2-r nodad
  ip -n "$H" link set okt-net2-r up
  inns r ip addr add 10.213.201.2/24 dev eth9
  inns r ip addr add fd00:213:99::2/64 dev eth9 nodad
  inns r ip link set eth9 up
  before=$(ip netns exec "$H" nft list ruleset)
  run net connect okt-net2-p "$a" --no-etc -p 8080:80 -p 127.0.0.1:8081:81 -p '[fd00:213:99::1]:8082:82' -p 8083:83/udp
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = fd00:213:12::3/64 ]
  host_if=$(net inspect okt-net2-p | jq -r '.[0].containers["okt-net2-a-'$S'"].host_interface')
  [[ "$(ip -n "$H" -d link show dev "$host_if")" == *"hairpin on"* ]]

  serve a 80 v4-remote
  [ "$(fetch inns r 10.213.201.1:8080)" = v4-remote ]
  wait
  serve a 80 v6-remote
  [ "$(fetch inns r '[fd00:213:99::1]:8080')" = v6-remote ]
  wait
  serve a 82 v6-hostip
  [ "$(fetch inns r '[fd00:213:99::1]:8082')" = v6-hostip ]
  wait
  # A host address published for IPv6 only is not published for IPv4.
  run fetch inns r 10.213.201.1:8082
  [ "$status" -ne 0 ]
  serve a 80 loopback
  [ "$(fetch ip netns exec "$H" 127.0.0.1:8080)" = loopback ]
  wait
  serve a 81 loopback-hostip
  [ "$(fetch ip netns exec "$H" 127.0.0.1:8081)" = loopback-hostip ]
  wait
  # UDP through the same maps.
  inns a timeout 10 socat -T5 UDP4-RECVFROM:83 SYSTEM:"echo udp-ok" &
  sleep 0.3
  [ "$(echo ping | timeout 10 ip netns exec "okt-net2-r-$S" socat -T3 - UDP:10.213.201.1:8083)" = udp-ok ]
  wait
  # Hairpin: the container itself and its neighbour through a host address.
  serve a 80 hairpin-self
  [ "$(fetch inns a 10.213.201.1:8080)" = hairpin-self ]
  wait
  serve a 80 hairpin-self6
  [ "$(fetch inns a '[fd00:213:99::1]:8080')" = hairpin-self6 ]
  wait
  serve a 80 hairpin-neighbour
  [ "$(fetch inns b 10.213.201.1:8080)" = hairpin-neighbour ]
  wait

  net disconnect okt-net2-p "$a"
  [ "$(ip netns exec "$H" nft list ruleset)" = "$before" ]
  run fetch inns r 10.213.201.1:8080
  [ "$status" -ne 0 ]
  net disconnect okt-net2-p "$b"
  net rm okt-net2-p
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}

@test "ports: an IPv6 host address needs an IPv6 subnet, and nothing is left" {
  net create --subnet 10.213.15.0/24 okt-net2-q
  a=$(ctr a); b=$(ctr b)
  net connect okt-net2-q "$b" --no-etc
  before=$(ip netns exec "$H" nft list ruleset)
  run net connect okt-net2-q "$a" --no-etc -p '[fd00::1]:80:80'
  [ "$status" -eq 1 ]
  [ "$output" = 'oci-net: error: published port fd00::1:80: the container has no address of that family' ]
  [ "$(inns a ip -br link | wc -l)" -eq 1 ]
  [ "$(ip netns exec "$H" nft list ruleset)" = "$before" ]
  [ "$(net inspect okt-net2-q | jq '.[0].containers | length')" -eq 1 ]
  net disconnect okt-net2-q "$b"
  net rm okt-net2-q
}

@test "ports: create --ipv6 adds a unique local /64 and containers get an IPv6 default route" {
  net create --ipv6 --subnet 10.213.16.0/24 okt-net2-u
  sub=$(net inspect okt-net2-u | jq -r '.[0].subnets[1].subnet')
  [[ "$sub" == fd*::/64 ]]
  a=$(ctr a); b=$(ctr b)
  net connect okt-net2-u "$a" --no-etc
  run net connect okt-net2-u "$b" --no-etc
  ipb=${lines[1]%/64}
  [[ "$(inns a ip -6 route show default)" == "default via ${sub%::/64}::1 dev eth0"* ]]
  inns a busybox ping -c1 -W2 "$ipb"
  net disconnect okt-net2-u "$a"; net disconnect okt-net2-u "$b"
  net rm okt-net2-u
}

@test "ports: -p 80 and -p 127.0.0.1::81 get free host ports (not one a host program holds), reached and removed" {
  net create --subnet 10.213.14.0/24 okt-net2-e
  a=$(ctr a); b=$(ctr b)
  local lo hi
  read -r lo hi <"/proc/sys/net/ipv4/ip_local_port_range"
  net connect okt-net2-e "$a" --no-etc -p 80 -p 127.0.0.1::81/udp
  local ports p1 p2
  ports=$(net inspect okt-net2-e | jq -c '.[0].containers[].ports')
  p1=$(jq -r '.[] | select(.container_port == 80) | .host_port' <<<"$ports")
  p2=$(jq -r '.[] | select(.container_port == 81) | "\(.host_ip) \(.proto) \(.host_port)"' <<<"$ports")
  [ "$p1" -ge "$lo" ] && [ "$p1" -le "$hi" ]
  [[ "$p2" == "127.0.0.1 udp "* ]] && [ "${p2##* }" -ge "$lo" ]
  [[ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-e ports4)" == *"$p1"* ]]
  serve a 80 hello-any
  [ "$(fetch ip netns exec "$H" "127.0.0.1:$p1")" = hello-any ]
  # a second container never gets a port taken by a lease
  net connect okt-net2-e "$b" --no-etc -p 80
  [ "$(net inspect okt-net2-e | jq -r --arg p "$p1" '[.[0].containers[].ports[] | select(.host_port == ($p | tonumber))] | length')" = 1 ]
  net disconnect okt-net2-e "$a"
  [[ "$(ip netns exec "$H" nft list map inet ocikit-okt-net2-e ports4)" != *"$p1"* ]]
  net disconnect okt-net2-e "$b"
  # the range is the namespace's own: two ports, one held by a host program
  ip netns exec "$H" sysctl -q -w net.ipv4.ip_local_port_range="40100 40101"
  ip netns exec "$H" timeout 20 socat TCP4-LISTEN:40100,reuseaddr - >/dev/null 3>&- &
  holder=$!
  local i
  for i in $(seq 50); do [ -n "$(ip netns exec "$H" ss -Hltn "sport = :40100")" ] && break; sleep 0.1; done
  net connect okt-net2-e "$a" --no-etc -p 80
  [ "$(net inspect okt-net2-e | jq -r '.[0].containers[].ports[].host_port')" = 40101 ]
  run net connect okt-net2-e "$b" --no-etc -p 80
  [ "$status" -ne 0 ] && [[ "$output" == *"no free host port in 40100-40101 for 80/tcp"* ]]
  [ "$(net inspect okt-net2-e | jq -r '.[0].containers | length')" = 1 ]
  kill "$holder"
  net disconnect okt-net2-e "$a"
  net rm okt-net2-e
}
