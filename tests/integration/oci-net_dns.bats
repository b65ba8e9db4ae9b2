#!/usr/bin/env bats
# The resolver of user networks (dnsmasq on the gateway, tools/oci-net/dns.*),
# inside a test "host" netns dns-h<pid> so that bridges, nft tables and the
# resolvers never touch the real host. Its /etc/resolv.conf (bind-mounted by
# `ip netns exec` from /etc/netns/dns-h<pid>/) names a test upstream: a
# second dnsmasq on 127.0.0.53 in that netns that knows upstream.dns.test, so
# forwarded lookups stay on this machine. "Containers" are netns
# dns-<n>-<pid>. The last case runs real containers with oci-run (its
# network hooks) on the host. Everything is removed in teardown.

load oci-run_manage_helpers

setup() {
  skip_unless_root
  [ -x /usr/sbin/dnsmasq ] || skip "dnsmasq-base is not installed"
  manage_setup
  S=$$
  H=dns-h$S
  D=$(mktemp -d)
  # Searchable by others, as /var/lib/ocikit is: dnsmasq drops root.
  chmod 755 "$D"
  ip netns add "$H"
  ip netns exec "$H" ip link set lo up
  ip netns exec "$H" ip addr add 127.0.0.53/8 dev lo 2>/dev/null || true
  mkdir -p "/etc/netns/$H"
  echo "nameserver 127.0.0.53" >"/etc/netns/$H/resolv.conf"
  ip netns exec "$H" /usr/sbin/dnsmasq --conf-file=/dev/null --pid-file="$D/upstream.pid" --bind-interfaces \
    --listen-address=127.0.0.53 --port=53 --no-hosts --no-resolv --address=/upstream.dns.test/10.204.99.9 \
    --user=root 3>&-
}

teardown() {
  local ns
  "$OCI_RUN" --root "$ROOT" rm -f dns-web dns-site >/dev/null 2>&1 || true
  OCIKIT_NET_DIR=$T/net "$OCI_NET" rm dns-run >/dev/null 2>&1 || true
  # Resolvers left by a failed test, then the upstream.
  kill_resolvers "$D"/net/dns/*.pid "$T"/net/dns/*.pid "$D/upstream.pid"
  for ns in $(ip netns list | awk '{print $1}' | grep "^dns-.*$S\$"); do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$D"
  manage_teardown
}

net() { ip netns exec "$H" "$OCI_NET" --data-dir "$D/net" "$@"; }
ctr() { ip netns add "dns-$1-$S"; echo "/var/run/netns/dns-$1-$S"; }
inns() { local n=$1; shift; ip netns exec "dns-$n-$S" "$@"; }
# lookup NETNS NAME [SERVER]: the addresses busybox nslookup gets for NAME.
lookup() { inns "$1" timeout 5 busybox nslookup "$2" ${3:+"$3"} 2>&1 | awk '/^Address: /{print $2}' | grep -v '#53$' || true; }
# resolver_pid NETWORK: the pid of the network's dnsmasq ("" when none runs).
resolver_pid() {
  local f="$D/net/dns/$1.pid" pid
  [ -e "$f" ] || return 0
  pid=$(cat "$f")
  grep -qa -- "--pid-file=$f" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
  return 0
}

ID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

@test "dns: names, aliases and short ids resolve on the network; others are forwarded; a removed name stops resolving" {
  net create --subnet 10.204.1.0/24 dns-n1
  [ -z "$(resolver_pid dns-n1)" ]
  a=$(ctr a); b=$(ctr b)
  run net connect dns-n1 "$a" --id "$ID" --name web --alias www --alias db.internal
  [ "$status" -eq 0 ]
  [ "$output" = 10.204.1.2/24 ]
  net connect dns-n1 "$b" --name client
  [ "$(cat "/etc/netns/dns-a-$S/resolv.conf")" = "nameserver 10.204.1.1" ]
  pid=$(resolver_pid dns-n1)
  [ -n "$pid" ]
  # One resolver, on the gateway in the host's namespace, not running as root.
  [ "$(awk '/^Uid:/{print $2}' "/proc/$pid/status")" = "$(id -u dnsmasq)" ]
  [ "$(readlink "/proc/$pid/ns/net")" = "$(ip netns exec "$H" readlink /proc/self/ns/net)" ]
  [ "$(lookup b web)" = 10.204.1.2 ]
  [ "$(lookup b www)" = 10.204.1.2 ]
  [ "$(lookup b db.internal)" = 10.204.1.2 ]
  [ "$(lookup b 0123456789ab)" = 10.204.1.2 ]
  [ "$(lookup a client)" = 10.204.1.3 ]
  inns b busybox ping -c1 -W2 www
  # An AAAA query for a name with only an IPv4 address is answered here
  # (no data), not forwarded (the test upstream would say REFUSED).
  run inns b timeout 5 busybox nslookup -type=AAAA web
  [[ "$output" != *REFUSED* ]]
  # Names it does not hold go to the host's nameservers.
  [ "$(lookup a upstream.dns.test)" = 10.204.99.9 ]
  [ -z "$(lookup a nothing.dns.test)" ]
  # A container that leaves takes its names along (the same resolver reloads).
  net disconnect dns-n1 --id "$ID"
  [ -z "$(lookup b web)" ]
  [ -z "$(lookup b www)" ]
  [ "$(lookup b client)" = 10.204.1.3 ]
  [ "$(resolver_pid dns-n1)" = "$pid" ]
  # With the last container the resolver goes, and no process is left.
  net disconnect dns-n1 "$b"
  [ -z "$(resolver_pid dns-n1)" ]
  [ ! -e "/proc/$pid/cmdline" ] || [ -z "$(tr -d '\0' <"/proc/$pid/cmdline")" ]
  [ ! -e "$D/net/dns/dns-n1.pid" ]
  net rm dns-n1
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}

@test "dns: another network's containers cannot resolve the names; network rm stops its resolver" {
  net create --subnet 10.204.2.0/24 dns-n2
  net create --subnet 10.204.3.0/24 dns-n3
  a=$(ctr a); c=$(ctr c)
  net connect dns-n2 "$a" --name secret
  net connect dns-n3 "$c" --name other
  [ "$(cat "/etc/netns/dns-c-$S/resolv.conf")" = "nameserver 10.204.3.1" ]
  [ "$(lookup a secret)" = 10.204.2.2 ]
  # Neither through its own network's resolver nor by asking the other one.
  [ -z "$(lookup c secret)" ]
  [ -z "$(lookup c secret 10.204.2.1)" ]
  [ "$(lookup c other)" = 10.204.3.2 ]
  p2=$(resolver_pid dns-n2); p3=$(resolver_pid dns-n3)
  [ -n "$p2" ] && [ -n "$p3" ] && [ "$p2" != "$p3" ]
  # The default network "bridge" has no resolver (docker's default bridge
  # has none): its containers get the host's nameservers.
  d=$(ctr d)
  net connect bridge "$d" --name plain
  [ "$(cat "/etc/netns/dns-d-$S/resolv.conf")" = "" ] || [[ "$(cat "/etc/netns/dns-d-$S/resolv.conf")" != *10.87.0.1* ]]
  [ ! -e "$D/net/dns/bridge.pid" ]
  net disconnect bridge "$d"
  # A container whose namespace vanished (no disconnect): prune releases its
  # lease, removes the unused networks and their resolvers.
  ip netns del "dns-a-$S"
  ip netns del "dns-c-$S"
  run net prune
  [ "$status" -eq 0 ]
  [ -z "$(resolver_pid dns-n2)" ] && [ -z "$(resolver_pid dns-n3)" ]
  [ ! -e "/proc/$p2/cmdline" ] || [ -z "$(tr -d '\0' <"/proc/$p2/cmdline")" ]
  [ ! -e "/proc/$p3/cmdline" ] || [ -z "$(tr -d '\0' <"/proc/$p3/cmdline")" ]
  run net ls -q
  [ "$output" = bridge ]
  net rm bridge
  [ -z "$(ip netns exec "$H" nft list tables)" ]
}

@test "dns: --internal networks resolve their own names only; a taken port 53 is a clear error" {
  net create --internal --subnet 10.204.4.0/24 dns-n4
  a=$(ctr a); b=$(ctr b)
  net connect dns-n4 "$a" --name one
  net connect dns-n4 "$b" --name two
  [ "$(lookup a two)" = 10.204.4.3 ]
  [ -z "$(lookup a upstream.dns.test)" ]
  net disconnect dns-n4 "$a"; net disconnect dns-n4 "$b"
  net rm dns-n4
  # Someone else holds 10.204.5.1:53: connect fails, and leaves nothing.
  ip netns exec "$H" ip link add dns-br5 type bridge
  ip netns exec "$H" ip addr add 10.204.5.1/24 dev dns-br5
  ip netns exec "$H" ip link set dns-br5 up
  ip netns exec "$H" python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.204.5.1", 53))
time.sleep(60)' 3>&- &
  holder=$!
  for _ in $(seq 50); do ip netns exec "$H" grep -q ' 0105CC0A:0035 ' /proc/net/udp && break; sleep 0.1; done
  net create --subnet 10.204.5.0/24 -o bridge=dns-br5 dns-n5
  run net connect dns-n5 "$a" --name x
  echo "$output"
  [ "$status" -eq 1 ]
  [ "$output" = 'oci-net: error: network "dns-n5": start its resolver: 10.204.5.1 port 53 is in use by another program' ]
  [ "$(inns a ip -br link | wc -l)" -eq 1 ]
  [ -z "$(resolver_pid dns-n5)" ]
  kill "$holder"
  wait "$holder" || true
  net rm dns-n5
}

@test "dns: oci-run containers on a user network find each other by name, --network-alias and short id" {
  export OCIKIT_NET_DIR=$T/net
  "$OCI_NET" create dns-run --subnet 10.204.30.0/24 -o bridge=dns-run0
  R run -d --name dns-web --network dns-run --network-alias www --network-alias api.dns "$IMG" sleep 60
  id=$(R inspect dns-web | jq -r '.[0].Id')
  # Only names the network holds are looked up: others would go to the
  # host's real nameservers.
  run R run --rm --name dns-cli --network dns-run "$IMG" sh -c \
    "cat /etc/resolv.conf; nslookup www; nslookup api.dns; nslookup dns-web; nslookup ${id:0:12}; ping -c1 -W2 www"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == "nameserver 10.204.30.1"* ]]
  [ "$(echo "$output" | grep -c '^Address: 10.204.30.2$')" -eq 4 ]
  [[ "$output" == *"1 packets received"* ]]
  [ -n "$(grep -l -- "--pid-file=$T/net/dns/dns-run.pid" /proc/[0-9]*/cmdline 2>/dev/null)" ]
  # rename: the new name resolves (resolver and /etc/hosts), the old one no longer does;
  # the new name stays after a restart.
  R rename dns-web dns-site
  run R run --rm --network dns-run "$IMG" sh -c "nslookup dns-site; grep -w dns-site /etc/hosts; ! nslookup dns-web"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^Address: 10.204.30.2$')" -eq 1 ]
  R restart -t 0 dns-site
  run R run --rm --network dns-run "$IMG" nslookup dns-site
  [ "$status" -eq 0 ] && [[ "$output" == *"Address: 10.204.30."* ]]
  # The last container leaves: the resolver goes with it.
  R rm -f dns-site
  [ ! -e "$T/net/dns/dns-run.pid" ]
  [ -z "$(grep -l -- "--pid-file=$T/net/dns/dns-run.pid" /proc/[0-9]*/cmdline 2>/dev/null)" ]
  "$OCI_NET" rm dns-run
  # docker: aliases need a user-defined network.
  run R run --rm --network-alias x "$IMG" true
  [ "$status" -eq 125 ]
  [ "$output" = "oci-run: error: network-scoped aliases are supported only for containers in user defined networks" ]
  run R run --rm --network dns-run --network-alias 'a b' "$IMG" true
  [ "$status" -eq 125 ]
  [ "$output" = 'oci-run: error: invalid network alias "a b"' ]
}
