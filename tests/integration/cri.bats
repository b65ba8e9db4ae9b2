#!/usr/bin/env bats
# containerd's CRI plugin runs pods as kubelet asks (through crictl, the same
# gRPC API) with oci-run as the runtime binary and oci-net as the CNI plugin.
# Every case runs twice, on two private containerds: "ocikit" (runc-v2 shim
# with BinaryName oci-run, oci-net as the CNI plugin) and "runc"
# (/usr/sbin/runc, the standard CNI bridge + host-local + portmap plugins),
# so that differences show. cri_helpers.bash starts both (once per file);
# each test selects its stack from its name.

load cri_helpers

setup_file() {
  cri_setup_file
}

teardown_file() {
  cri_teardown_file
}

setup() {
  cri_require
  case $BATS_TEST_DESCRIPTION in
    *"[runc + CNI bridge]"*) cri_stack runc ;;
    *) cri_stack ocikit ;;
  esac
  [ -S "${CRI:-}/c.sock" ] || { tail -n 30 "${CRI:-/nonexistent}/containerd.log" 2>/dev/null; false; }
}

teardown() {
  cri_teardown
}

# runp_pod NAME HANDLER [JQ-FILTER]: run a pod, print its id.
runp_pod() {
  cri runp --runtime "$2" "$(pod_json "$1" "${3:-.}")"
}

# start_ctr POD PODNAME NAME SCRIPT [JQ-FILTER]: create and start a
# container, print its id.
start_ctr() {
  local id
  id=$(cri create "$1" "$(ctr_json "$3" "$4" "${5:-.}")" "$CRI/pods/$2.json") || return 1
  cri start "$id" >/dev/null || return 1
  echo "$id"
}

# lease_held IP: the network plugin holds IP for a pod (oci-net's leases, or
# host-local's files).
lease_held() {
  if [ "$CRI_STACK" = ocikit ]; then
    jq -e --arg ip "$1" '[.leases[].addrs[]] | map(startswith($ip + "/")) | any' \
      "$CRI/net/leases/$CRI_NETNAME.json" >/dev/null
  else
    [ -e "$CRI/ipam/$CRI_NETNAME/$1" ]
  fi
}

# lease_count: how many addresses the network plugin holds.
lease_count() {
  if [ "$CRI_STACK" = ocikit ]; then
    jq '.leases | length' "$CRI/net/leases/$CRI_NETNAME.json" 2>/dev/null || echo 0
  else
    ls "$CRI/ipam/$CRI_NETNAME" 2>/dev/null | grep -c '^[0-9a-f.:]*$' || true
  fi
}

pod_ip() {
  cri inspectp "$1" | jq -r .status.network.ip
}

# reply IP PORT: what a server at IP:PORT sends (busybox nc from the host).
reply() {
  busybox nc -w 2 "$1" "$2" </dev/null 2>/dev/null
}

# reply_is IP PORT TEXT: the server at IP:PORT answers TEXT.
reply_is() {
  [ "$(reply "$1" "$2")" = "$3" ]
}

# serve_script PORT TEXT: a container command that answers TEXT to every
# connection on PORT.
serve_script() {
  echo "while :; do echo $2 | nc -l -p $1; done"
}

case_runp() {
  local pod ip c
  pod=$(runp_pod web "$1")
  [ "$(cri inspectp "$pod" | jq -r .status.state)" = SANDBOX_READY ]
  [ "$(cri inspectp "$pod" | jq -r .info.runtimeHandler)" = "$1" ]
  ip=$(pod_ip "$pod")
  [[ "$ip" == "$CRI_SUBNET".* ]]
  busybox ping -c1 -W2 "$ip"
  c=$(start_ctr "$pod" web srv "$(serve_script 8080 'pong-$(hostname)')")
  wait_until 50 reply_is "$ip" 8080 pong-web
  [ "$(ctr_state "$c")" = CONTAINER_RUNNING ]
  # the sandbox's pause process belongs to the runtime asked for
  [ -e "$CRI/$1-root/k8s.io/$pod" ]
  [ -e "$CRI/$1-root/k8s.io/$c" ]
}

case_exec_logs() {
  local pod c log
  pod=$(runp_pod ex "$1")
  c=$(start_ctr "$pod" ex c1 'echo hello-out; echo hello-err >&2; exec sleep 1000')
  run cri exec -s "$c" sh -c 'id -u; hostname; echo err >&2'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 0 ] && [ "${lines[1]}" = ex ]
  [[ "$output" == *err* ]]
  # crictl 1.26 exits 1 on a failed exec and reports the command's code
  run cri exec -s "$c" sh -c 'echo in-exec; exit 3'
  [ "$status" -eq 1 ]
  [[ "$output" == *"exited with 3"* ]]
  run sh -c "printf 'line1\nline2\n' | '$CRICTL' --runtime-endpoint unix://$CRI/c.sock --timeout 60s exec -i $c sh -c 'wc -l; cat /proc/self/status | grep -c ^Name'"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tr -d ' ')" = "$(printf '2\n1')" ]
  run sh -c "echo in-stdin | '$CRICTL' --runtime-endpoint unix://$CRI/c.sock --timeout 60s exec -i $c sh -c 'cat; exit 5'"
  [ "$status" -eq 1 ]
  [[ "$output" == in-stdin*"exit code 5"* ]]
  wait_until 50 sh -c "grep -q hello-err $CRI/pods/ex.logs/c1.log"
  run cri logs "$c"
  [[ "$output" == *hello-out* ]]
  [[ "$output" == *hello-err* ]]
  # the CRI log format: TIME STREAM TAG MESSAGE
  log=$CRI/pods/ex.logs/c1.log
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F hello-out$' "$log"
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stderr F hello-err$' "$log"
  # logs -f follows what the container writes after it started
  timeout 20 "$CRICTL" --runtime-endpoint unix://$CRI/c.sock logs -f "$c" >"$CRI/follow.out" 2>&1 3>&- &
  local follower=$!
  sleep 0.5
  cri exec -s "$c" sh -c 'echo later-line >/proc/1/fd/1'
  wait_until 50 grep -q later-line "$CRI/follow.out"
  kill "$follower" 2>/dev/null || true
}

case_attach_port_forward() {
  local pod c port fwd
  pod=$(runp_pod at "$1")
  # attach: the container reads its stdin (stdin_once: closed when the
  # attached client goes), its output comes back through the attach stream
  c=$(start_ctr "$pod" at c1 'echo ready; while read -r l; do echo "got:$l"; done; echo stdin-closed' \
    '.stdin=true | .stdin_once=true')
  wait_until 50 sh -c "grep -q ready $CRI/pods/at.logs/c1.log"
  run sh -c "printf 'one\ntwo\n' | timeout 30 '$CRICTL' --runtime-endpoint unix://$CRI/c.sock --timeout 60s attach -i $c"
  [[ "$output" == *got:one*got:two* ]]
  wait_until 100 state_is "$c" CONTAINER_EXITED
  grep -q stdin-closed "$CRI/pods/at.logs/c1.log"
  [ "$(cri inspect "$c" | jq -r .status.exitCode)" = 0 ]
  # port-forward: a local port to a port in the pod's network namespace,
  # even one the server binds on the pod's loopback only
  start_ctr "$pod" at srv 'mkdir /tmp/www && echo via-port-forward >/tmp/www/index.html && exec httpd -f -p 127.0.0.1:7070 -h /tmp/www' >/dev/null
  port=$(shuf -i 20000-29999 -n 1)
  timeout 60 "$CRICTL" --runtime-endpoint "unix://$CRI/c.sock" port-forward "$pod" "$port:7070" >"$CRI/pf.out" 2>&1 3>&- &
  fwd=$!
  wait_until 100 sh -c "curl -s -m 2 http://127.0.0.1:$port/ | grep -q via-port-forward"
  kill "$fwd" 2>/dev/null || true
  wait "$fwd" 2>/dev/null || true
}

case_refused() {
  local before leases pod
  before=$(ip -o link show master "$CRI_BRIDGE" 2>/dev/null | wc -l)
  # an image that does not exist: containerd's reason, nothing created
  pod=$(runp_pod rf "$1")
  run cri create "$pod" "$(ctr_json nope 'true' '.image.image="docker.io/okcri/absent:1"')" "$CRI/pods/rf.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"okcri/absent:1"* ]]
  [ "$(cri ps -a -q --pod "$pod" | wc -l)" -eq 0 ]
  cri stopp "$pod" >/dev/null
  cri rmp "$pod" >/dev/null
  # a sysctl the runtime cannot set in the pod's namespaces: runp fails with
  # the runtime's one-line reason, and no netns, veth or lease is left
  leases=$(lease_count)
  run cri runp --runtime "$1" "$(pod_json bad '.linux.sysctls={"vm.swappiness":"10"}')"
  [ "$status" -ne 0 ]
  [[ "$output" == *vm.swappiness* ]]
  [ "$(cri pods -q --name bad | wc -l)" -eq 0 ] || [ "$(cri pods --name bad -o json | jq -r '.items[0].state')" = SANDBOX_NOTREADY ]
  cri_remove_pods
  [ "$(ip -o link show master "$CRI_BRIDGE" 2>/dev/null | wc -l)" -eq "$before" ]
  [ "$(lease_count)" -le "$leases" ]
  # a hostPort another pod holds: oci-net's ADD fails part way (the veth and
  # the lease are made before the port map) and undoes what it did; portmap
  # accepts a second mapping of the same port (its first rule wins)
  local hp='.port_mappings=[{protocol:0,container_port:8080,host_port:41824,host_ip:"127.0.0.1"}]'
  runp_pod hp1 "$1" "$hp" >/dev/null
  before=$(ip -o link show master "$CRI_BRIDGE" | wc -l)
  leases=$(lease_count)
  run cri runp --runtime "$1" "$(pod_json hp2 "$hp")"
  if [ "$CRI_STACK" = ocikit ]; then
    [ "$status" -ne 0 ]
    [[ "$output" == *"host port is already in use"* ]]
    [ "$(ip -o link show master "$CRI_BRIDGE" | wc -l)" -eq "$before" ]
    [ "$(lease_count)" -eq "$leases" ]
  else
    [ "$status" -eq 0 ]
  fi
}

case_shared_netns() {
  local pod c1 c2
  pod=$(runp_pod two "$1")
  c1=$(start_ctr "$pod" two server 'mkdir /tmp/www && echo from-server >/tmp/www/index.html && exec httpd -f -p 127.0.0.1:9090 -h /tmp/www')
  c2=$(start_ctr "$pod" two client 'exec sleep 1000')
  wait_until 50 sh -c "'$CRICTL' --runtime-endpoint unix://$CRI/c.sock exec -s $c2 wget -qO- http://127.0.0.1:9090/ 2>/dev/null | grep -q from-server"
  # same network namespace, different pid namespaces (pid: CONTAINER)
  [ "$(cri exec -s "$c1" readlink /proc/self/ns/net)" = "$(cri exec -s "$c2" readlink /proc/self/ns/net)" ]
  [ "$(cri exec -s "$c1" readlink /proc/self/ns/pid)" != "$(cri exec -s "$c2" readlink /proc/self/ns/pid)" ]
  # the pod's IPC namespace and its /dev/shm too
  [ "$(cri exec -s "$c1" readlink /proc/self/ns/ipc)" = "$(cri exec -s "$c2" readlink /proc/self/ns/ipc)" ]
  cri exec -s "$c1" sh -c 'echo shared-shm >/dev/shm/okcri'
  [ "$(cri exec -s "$c2" cat /dev/shm/okcri)" = shared-shm ]
  # the server listens on the pod's loopback only
  run curl -sS -m 2 "http://$(pod_ip "$pod"):9090/"
  [ "$status" -eq 7 ]  # could not connect (refused)
}

case_stop() {
  local pod c start
  pod=$(runp_pod st "$1")
  c=$(start_ctr "$pod" st c1 "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 1 & wait \$!; done")
  wait_until 50 sh -c "grep -q ready $CRI/pods/st.logs/c1.log"
  start=$SECONDS
  cri stop -t 20 "$c"
  [ $((SECONDS - start)) -lt 10 ]
  [ "$(ctr_state "$c")" = CONTAINER_EXITED ]
  [ "$(cri inspect "$c" | jq -r .status.exitCode)" = 42 ]
  [ "$(cri inspect "$c" | jq -r .status.reason)" = Error ]
  grep -q got-term "$CRI/pods/st.logs/c1.log"
  # a process that ignores SIGTERM is killed after the timeout
  c=$(start_ctr "$pod" st c2 "trap '' TERM; while :; do sleep 1; done")
  start=$SECONDS
  cri stop -t 2 "$c"
  [ "$(cri inspect "$c" | jq -r .status.exitCode)" = 137 ]
  # and one that exits on its own has its code recorded
  c=$(start_ctr "$pod" st c3 "exit 7")
  wait_until 100 state_is "$c" CONTAINER_EXITED
  [ "$(cri inspect "$c" | jq -r .status.exitCode)" = 7 ]
  # kubelet's restart: the same name, the next attempt, in the same pod
  c=$(start_ctr "$pod" st c3 "echo second-run; exec sleep 1000" '.metadata.attempt=1 | .log_path="c3.1.log"')
  [ "$(ctr_state "$c")" = CONTAINER_RUNNING ]
  [ "$(cri inspect "$c" | jq -r .status.metadata.attempt)" = 1 ]
  wait_until 50 sh -c "grep -q second-run $CRI/pods/st.logs/c3.1.log"
}

case_shared_pid() {
  local pod c1 c2 pause_ns share='.linux.security_context.namespace_options.pid=0'
  # shareProcessNamespace: true: every container in the pause's pid namespace
  pod=$(runp_pod sp "$1" "$share")
  c1=$(start_ctr "$pod" sp c1 'sleep 1000 & sleep 1001 & echo ready; wait' "$share")
  c2=$(start_ctr "$pod" sp c2 'exec sleep 1002' "$share")
  wait_until 50 sh -c "grep -q ready $CRI/pods/sp.logs/c1.log"
  run cri exec -s "$c2" ps -o pid,args
  [[ "$output" == *"sleep 1000"* ]] && [[ "$output" == *"sleep 1001"* ]] && [[ "$output" == *"sleep 1002"* ]]
  [[ "$output" == *"1 /bin/sh -c trap"* ]]
  # Stopping c1 kills its init; the shim then kills what is left in its
  # cgroup (kill --all on a stopped container), or the orphans would live on
  # under the pause process and hold the container's output open.
  cri stop -t 5 "$c1"
  [ "$(ctr_state "$c1")" = CONTAINER_EXITED ]
  wait_until 50 sh -c "! '$CRICTL' --runtime-endpoint unix://$CRI/c.sock exec -s $c2 ps -o args | grep -q 'sleep 100[01]'"
  cri rm "$c1"
  cri stopp "$pod"
  cri rmp "$pod"
}

# cgroup_file CID CONTROLLER FILE: the host path of a container's cgroup file.
cgroup_file() {
  local p
  p=$(cri inspect "$1" | jq -r .info.runtimeSpec.linux.cgroupsPath)
  echo "/sys/fs/cgroup/$2$p/$3"
}

case_update_stats() {
  local pod c f
  pod=$(runp_pod up "$1")
  c=$(start_ctr "$pod" up c1 'exec sleep 1000' '.linux.resources={memory_limit_in_bytes:134217728,cpu_shares:512}')
  f=$(cgroup_file "$c" memory memory.limit_in_bytes)
  [ "$(cat "$f")" = 134217728 ]
  [ "$(cat "$(cgroup_file "$c" cpu cpu.shares)")" = 512 ]
  cri update --memory 67108864 "$c"
  [ "$(cat "$f")" = 67108864 ]
  [ "$(cri inspect "$c" | jq -r .info.runtimeSpec.linux.resources.memory.limit)" = 67108864 ]
  # CPU: shares, quota and period reach the cpu controller
  cri update --cpu-share 256 --cpu-quota 50000 --cpu-period 100000 "$c"
  [ "$(cat "$(cgroup_file "$c" cpu cpu.shares)")" = 256 ]
  [ "$(cat "$(cgroup_file "$c" cpu cpu.cfs_quota_us)")" = 50000 ]
  [ "$(cat "$(cgroup_file "$c" cpu cpu.cfs_period_us)")" = 100000 ]
  [ "$(cat "$f")" = 67108864 ]
  # stats: the container's cgroup, read through the shim
  run cri stats -o json --id "$c"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '.stats[0].attributes.id')" = "$c" ]
  [ "$(echo "$output" | jq -r '.stats[0].memory.workingSetBytes.value')" -gt 0 ]
  [ "$(echo "$output" | jq -r '.stats[0].cpu.usageCoreNanoSeconds.value')" -gt 0 ]
  run cri statsp -o json --id "$pod"
  [ "$status" -eq 0 ]
}

case_rmp() {
  local pod ip ns c cg
  pod=$(runp_pod gone "$1")
  ip=$(pod_ip "$pod")
  ns=$(cri inspectp "$pod" | jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type=="network") | .path')
  [ -e "$ns" ]
  c=$(start_ctr "$pod" gone c1 'exec sleep 1000')
  cg=$(cri inspect "$c" | jq -r .info.runtimeSpec.linux.cgroupsPath)
  lease_held "$ip"
  [ "$(ip -o link show master "$CRI_BRIDGE" | wc -l)" -eq 1 ]
  cri stopp "$pod"
  [ "$(cri inspectp "$pod" | jq -r .status.state)" = SANDBOX_NOTREADY ]
  cri rmp "$pod"
  run cri inspectp "$pod"
  [ "$status" -ne 0 ]
  # the address is free, the netns, veth, mounts, cgroups and processes gone
  ! lease_held "$ip"
  [ ! -e "$ns" ]
  [ "$(ip -o link show master "$CRI_BRIDGE" | wc -l)" -eq 0 ]
  ! grep -q -e "$pod" -e "$c" /proc/self/mountinfo
  [ ! -e "/sys/fs/cgroup/memory$cg" ]
  [ ! -e "/sys/fs/cgroup/pids$(dirname "$cg")/$pod" ]
  [ ! -e "/sys/fs/cgroup/unified$cg" ]
  ! grep -lq "$pod" /proc/[0-9]*/cmdline 2>/dev/null
  # and the address is given out again (oci-net hands out the lowest free
  # one; host-local goes round the range before it reuses one)
  pod=$(runp_pod again "$1")
  if [ "$CRI_STACK" = ocikit ]; then [ "$(pod_ip "$pod")" = "$ip" ]; fi
  lease_held "$(pod_ip "$pod")"
}

case_host_port() {
  local pod port=41823
  # hostPort on the host's loopback: CRI hands portMappings to the plugin
  # (capabilities.portMappings in the conflist), oci-net maps them in nftables
  pod=$(runp_pod hp "$1" ".port_mappings=[{protocol:0,container_port:8080,host_port:$port,host_ip:\"127.0.0.1\"}]")
  start_ctr "$pod" hp srv "$(serve_script 8080 'via-hostport')" >/dev/null
  wait_until 50 reply_is 127.0.0.1 "$port" via-hostport
  cri stopp "$pod"
  cri rmp "$pod"
  [ -z "$(reply 127.0.0.1 "$port")" ]
  if [ "$CRI_STACK" = ocikit ]; then
    ! nft list map inet "ocikit-$CRI_NETNAME" hostports4 | grep -q "$port"
  else
    ! iptables -t nat -S | grep -q -- "--dport $port"
  fi
}

case_kubelet_extras() {
  local pod c oom vol=$CRI/vol-$1
  mkdir -p "$vol"
  echo host-data >"$vol/in"
  pod=$(runp_pod kx "$1" '.linux.sysctls={"net.ipv4.ping_group_range":"0 2147483647","kernel.shm_rmid_forced":"1"}')
  c=$(start_ctr "$pod" kx c1 'exec sleep 1000' ".envs=[{key:\"FOO\",value:\"bar\"}] | .working_dir=\"/tmp\"
    | .mounts=[{host_path:\"$vol\",container_path:\"/data\"},{host_path:\"$vol\",container_path:\"/ro\",readonly:true}]
    | .linux.security_context.seccomp={profile_type:0}")
  # pod sysctls (namespaced ones: net.*, kernel.shm*)
  [ "$(cri exec -s "$c" cat /proc/sys/net/ipv4/ping_group_range | tr -s '\t ' ' ')" = "0 2147483647" ]
  [ "$(cri exec -s "$c" cat /proc/sys/kernel/shm_rmid_forced)" = 1 ]
  # env, working dir, /etc/hostname from the sandbox
  [ "$(cri exec -s "$c" sh -c 'echo $FOO $(pwd) $(cat /etc/hostname)')" = "bar /tmp kx" ]
  # hostPath volumes, read-write and read-only
  [ "$(cri exec -s "$c" cat /data/in)" = host-data ]
  cri exec -s "$c" sh -c 'echo from-pod >/data/out'
  [ "$(cat "$vol/out")" = from-pod ]
  run cri exec -s "$c" sh -c 'echo x >/ro/x'
  [ "$status" -ne 0 ]
  [ ! -e "$vol/x" ]
  # seccomp: RuntimeDefault (containerd's profile) is in force
  [ "$(cri exec -s "$c" awk '/^Seccomp:/ {print $2}' /proc/self/status)" = 2 ]
  # exec -t: a terminal
  if command -v script >/dev/null; then
    run script -qec "$CRICTL --runtime-endpoint unix://$CRI/c.sock exec -it $c tty" /dev/null </dev/null
    [[ "$output" == */dev/pts/* ]]
  fi
  # a container over its memory limit is OOMKilled, and CRI says so
  oom=$(start_ctr "$pod" kx oom 'exec tail /dev/zero' '.linux.resources={memory_limit_in_bytes:33554432}')
  wait_until 150 state_is "$oom" CONTAINER_EXITED
  [ "$(cri inspect "$oom" | jq -r '.status.exitCode, .status.reason' | tr '\n' ' ')" = "137 OOMKilled " ]
}

case_host_network() {
  local pod c
  pod=$(runp_pod hn "$1" '.linux.security_context.namespace_options.network=2 | del(.hostname)')
  # no CNI call for host-network pods: no address from the subnet
  [[ "$(pod_ip "$pod")" != "$CRI_SUBNET".* ]]
  c=$(start_ctr "$pod" hn c1 'exec sleep 1000')
  [ "$(cri exec -s "$c" readlink /proc/self/ns/net)" = "$(readlink /proc/self/ns/net)" ]
  cri exec -s "$c" cat /sys/class/net/"$CRI_BRIDGE"/address
}

case_security() {
  local pod c
  pod=$(runp_pod sec "$1")
  c=$(start_ctr "$pod" sec ro 'exec sleep 1000' '.linux.security_context.readonly_rootfs=true')
  run cri exec -s "$c" sh -c 'touch /x'
  [ "$status" -ne 0 ]
  [[ "$output" == *"Read-only file system"* ]]
  # the mounts CRI adds stay writable (/dev/shm from the sandbox)
  cri exec -s "$c" sh -c 'echo ok >/dev/shm/x'
  c=$(start_ctr "$pod" sec user 'exec sleep 1000' '.linux.security_context.run_as_user={value:1000}|.linux.security_context.run_as_group={value:1001}')
  [ "$(cri exec -s "$c" sh -c 'echo $(id -u):$(id -g)')" = 1000:1001 ]
  [ "$(cri inspect "$c" | jq -r .info.runtimeSpec.process.user.uid)" = 1000 ]
  # added and dropped capabilities: NET_ADMIN (12) added, CHOWN (0) dropped
  c=$(start_ctr "$pod" sec caps 'exec sleep 1000' '.linux.security_context.capabilities={add_capabilities:["NET_ADMIN"],drop_capabilities:["CHOWN"]}')
  eff=$(cri exec -s "$c" awk '/^CapEff/ {print $2}' /proc/self/status)
  (( (16#$eff >> 12) & 1 ))
  (( ((16#$eff >> 0) & 1) == 0 ))
  (( (16#$eff >> 5) & 1 ))  # KILL is a default one
  run cri exec -s "$c" chown 1 /tmp
  [ "$status" -ne 0 ]
  cri exec -s "$c" ip link set lo mtu 1500
  # the default set has no NET_ADMIN
  c=$(start_ctr "$pod" sec plain 'exec sleep 1000')
  run cri exec -s "$c" ip link set lo mtu 1500
  [ "$status" -ne 0 ]
}

@test "cri [oci-run + oci-net]: runp gives the pod an address in the CNI subnet, reachable from the host" { case_runp ocikit; }
@test "cri [runc + CNI bridge]: runp gives the pod an address in the CNI subnet, reachable from the host" { case_runp runc; }
@test "cri [oci-run + oci-net]: create, start, exec -s (output, exit code), exec -i (stdin), logs (CRI format), logs -f" { case_exec_logs ocikit; }
@test "cri [runc + CNI bridge]: create, start, exec -s (output, exit code), exec -i (stdin), logs (CRI format), logs -f" { case_exec_logs runc; }
@test "cri [oci-run + oci-net]: attach -i to a container's stdin and output, port-forward into the pod" { case_attach_port_forward ocikit; }
@test "cri [runc + CNI bridge]: attach -i to a container's stdin and output, port-forward into the pod" { case_attach_port_forward runc; }
@test "cri [oci-run + oci-net]: a missing image, a sysctl the runtime refuses, a CNI ADD failing part way: the reason, and nothing left" { case_refused ocikit; }
@test "cri [runc + CNI bridge]: a missing image, a sysctl the runtime refuses, a CNI ADD failing part way: the reason, and nothing left" { case_refused runc; }
@test "cri [oci-run + oci-net]: two containers in one pod share its network and IPC namespaces and /dev/shm" { case_shared_netns ocikit; }
@test "cri [runc + CNI bridge]: two containers in one pod share its network and IPC namespaces and /dev/shm" { case_shared_netns runc; }
@test "cri [oci-run + oci-net]: shareProcessNamespace: stopping a container kills what it left in the pod's pid namespace" { case_shared_pid ocikit; }
@test "cri [runc + CNI bridge]: shareProcessNamespace: stopping a container kills what it left in the pod's pid namespace" { case_shared_pid runc; }
@test "cri [oci-run + oci-net]: stop sends SIGTERM then SIGKILL; exit codes are recorded; a restart (next attempt) runs" { case_stop ocikit; }
@test "cri [runc + CNI bridge]: stop sends SIGTERM then SIGKILL; exit codes are recorded; a restart (next attempt) runs" { case_stop runc; }
@test "cri [oci-run + oci-net]: resources at create, update of memory and CPU in the cgroup, stats" { case_update_stats ocikit; }
@test "cri [runc + CNI bridge]: resources at create, update of memory and CPU in the cgroup, stats" { case_update_stats runc; }
@test "cri [oci-run + oci-net]: stopp and rmp release the address and leave no netns, veth, mount, cgroup, process" { case_rmp ocikit; }
@test "cri [runc + CNI bridge]: stopp and rmp release the address and leave no netns, veth, mount, cgroup, process" { case_rmp runc; }
@test "cri [oci-run + oci-net]: hostPort on 127.0.0.1 reaches the pod, and is gone with it" { case_host_port ocikit; }
@test "cri [runc + CNI bridge]: hostPort on 127.0.0.1 reaches the pod, and is gone with it" { case_host_port runc; }
@test "cri [oci-run + oci-net]: env, workingDir, hostPath volumes (rw, ro), sysctls, seccomp RuntimeDefault, exec -t, OOMKilled" { case_kubelet_extras ocikit; }
@test "cri [runc + CNI bridge]: env, workingDir, hostPath volumes (rw, ro), sysctls, seccomp RuntimeDefault, exec -t, OOMKilled" { case_kubelet_extras runc; }
@test "cri [oci-run + oci-net]: hostNetwork pods share the host's network namespace" { case_host_network ocikit; }
@test "cri [runc + CNI bridge]: hostNetwork pods share the host's network namespace" { case_host_network runc; }
@test "cri [oci-run + oci-net]: readOnlyRootfs, runAsUser/runAsGroup, added and dropped capabilities" { case_security ocikit; }
@test "cri [runc + CNI bridge]: readOnlyRootfs, runAsUser/runAsGroup, added and dropped capabilities" { case_security runc; }
