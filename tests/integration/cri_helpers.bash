# Two private containerds with their CRI plugins, driven through crictl as
# kubelet drives them, one per stack, so that every case runs on both and a
# difference shows:
#   ocikit: oci-run as the runtime binary of the runc-v2 handler "ocikit",
#           oci-net as the CNI plugin (bridge okcri0, 10.123.0.0/24);
#   runc:   /usr/sbin/runc as handler "runc", with the standard CNI plugins
#           bridge + host-local + portmap (bridge okcri1, 10.124.0.0/24).
# Everything a stack makes lives under $CRI_BASE/<stack> (a temp dir):
# config, root, state, sockets, the runtime's state root, CNI binaries,
# configuration and leases, pod logs; pods get the cgroup parent
# $CRI_CGROUP, so cri_teardown_file can remove all of it.
#
# cri_setup_file   start both containerds, import the pause and busybox images
# cri_stack NAME   select a stack: sets CRI, CRI_STACK, CRI_BRIDGE,
#                  CRI_SUBNET, CRI_NETNAME, CRI_CGROUP for the functions here
# cri_teardown     remove every pod of the selected stack (between tests)
# cri_teardown_file stop both containerds and remove netns, links, nft and
#                  iptables rules, mounts, cgroups and processes they left
#
# crictl comes from $OCIKIT_CRICTL, PATH, or ../shared/tools/crictl beside
# the source tree; the tests skip when there is none.

load helpers

CRI_STACKS="ocikit runc"

# cri_stack NAME: select a stack. Nothing else on the machine uses these
# bridges and subnets.
cri_stack() {
  CRI_STACK=$1
  case $1 in
    ocikit) CRI_BRIDGE=okcri0 CRI_SUBNET=10.123.0 CRI_NETNAME=okcri-net ;;
    runc) CRI_BRIDGE=okcri1 CRI_SUBNET=10.124.0 CRI_NETNAME=okcri-peer ;;
    *) echo "cri_stack: no stack $1" >&2; return 1 ;;
  esac
  CRI=${CRI_BASE:-/nonexistent}/$1
  CRI_CGROUP=/okcri-${CRI_BASE##*-}-$1
  export CRI CRI_STACK CRI_BRIDGE CRI_SUBNET CRI_NETNAME CRI_CGROUP
}

# find_crictl: sets CRICTL or returns 1.
find_crictl() {
  local c
  for c in "${OCIKIT_CRICTL:-}" "$(command -v crictl 2>/dev/null)" "$OCIKIT_SOURCE_ROOT/../shared/tools/crictl"; do
    [ -n "$c" ] && [ -x "$c" ] && { CRICTL=$c; return 0; }
  done
  return 1
}

# cri_require: skip unless everything needed is here.
cri_require() {
  skip_unless_root
  find_crictl || skip "crictl not found (set OCIKIT_CRICTL; kubernetes-sigs/cri-tools)"
  require_cmd containerd ctr busybox jq sha256sum nsenter
  [ -x /usr/sbin/runc ] || skip "runc (/usr/sbin/runc) not installed"
  [ -x /usr/lib/cni/loopback ] || skip "CNI plugins (/usr/lib/cni, containernetworking-plugins) not installed"
  [ -x /usr/sbin/iptables ] || skip "iptables (the CNI portmap plugin's) not installed"
}

# crictl with the private endpoints.
cri() {
  "$CRICTL" --runtime-endpoint "unix://$CRI/c.sock" --image-endpoint "unix://$CRI/c.sock" --timeout 60s "$@"
}

cri_ctr() {
  ctr --address "$CRI/c.sock" -n k8s.io "$@"
}

# go_arch: the GOARCH of this machine (for image configs).
go_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7l) echo arm ;; i?86) echo 386 ;;
    *) uname -m ;;
  esac
}

# _blob DIR FILE MEDIATYPE: move FILE into DIR/blobs/sha256 and print its
# descriptor.
_blob() {
  local dir=$1 f=$2 mt=$3 d s
  d=$(sha256sum "$f" | cut -d' ' -f1)
  s=$(stat -c %s "$f")
  mv "$f" "$dir/blobs/sha256/$d"
  jq -cn --arg mt "$mt" --arg d "sha256:$d" --argjson s "$s" '{mediaType:$mt,digest:$d,size:$s}'
}

# make_cri_images OUT: an OCI archive OUT holding two images from one
# busybox-static layer: docker.io/okcri/pause:1 (waits; exits 0 on SIGTERM
# or SIGINT, as a pause container does) and docker.io/okcri/busybox:1 (CMD sh).
make_cri_images() {
  local out=$1 w layer diffid arch name cfg entry manifests=()
  w=$(mktemp -d "$CRI/img.XXXXXX")
  mkdir -p "$w/rootfs" "$w/oci/blobs/sha256"
  make_busybox_rootfs "$w/rootfs"
  tar -C "$w/rootfs" --sort=name --owner=0 --group=0 --numeric-owner -cf "$w/layer.tar" .
  diffid=sha256:$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
  layer=$(_blob "$w/oci" "$w/layer.tar" application/vnd.oci.image.layer.v1.tar)
  arch=$(go_arch)
  for name in pause busybox; do
    if [ "$name" = pause ]; then
      entry='{"Entrypoint":["/bin/sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]}'
    else
      entry='{"Cmd":["/bin/sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}'
    fi
    jq -cn --arg a "$arch" --arg d "$diffid" --argjson c "$entry" \
      '{architecture:$a,os:"linux",config:$c,rootfs:{type:"layers",diff_ids:[$d]}}' >"$w/config.json"
    cfg=$(_blob "$w/oci" "$w/config.json" application/vnd.oci.image.config.v1+json)
    jq -cn --argjson c "$cfg" --argjson l "$layer" \
      '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",config:$c,layers:[$l]}' >"$w/manifest.json"
    manifests+=("$(_blob "$w/oci" "$w/manifest.json" application/vnd.oci.image.manifest.v1+json |
      jq -c --arg n "docker.io/okcri/$name:1" --arg a "$arch" \
        '. + {platform:{architecture:$a,os:"linux"},annotations:{"io.containerd.image.name":$n,"org.opencontainers.image.ref.name":"1"}}')")
  done
  printf '%s\n' "${manifests[@]}" | jq -cs '{schemaVersion:2,manifests:.}' >"$w/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci/oci-layout"
  tar -C "$w/oci" -cf "$out" .
  rm -rf "$w"
}

# capsh_has N: whether this process has capability N in its effective set.
capsh_has() {
  local eff
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (16#$eff >> $1) & 1 ))
}

# cri_write_config: $CRI/config.toml, the CNI bin dir and conflist of the
# selected stack.
cri_write_config() {
  local f binary
  mkdir -p "$CRI/cni-bin" "$CRI/cni-conf" "$CRI/pods"
  for f in /usr/lib/cni/*; do ln -sf "$f" "$CRI/cni-bin/"; done
  if [ "$CRI_STACK" = ocikit ]; then
    binary=$OCI_RUN
    ln -sf "$OCI_NET" "$CRI/cni-bin/oci-net"
    cat >"$CRI/cni-conf/10-okcri.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CRI_NETNAME",
  "plugins": [
    {"type": "oci-net", "bridge": "$CRI_BRIDGE", "ipMasq": true,
     "ipam": {"subnet": "$CRI_SUBNET.0/24"}, "capabilities": {"portMappings": true}}
  ]
}
JSON
  else
    binary=/usr/sbin/runc
    # host-local keeps its leases under $CRI; no masquerading (nothing
    # leaves the host); portmap in iptables for hostPort.
    cat >"$CRI/cni-conf/10-okcri.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CRI_NETNAME",
  "plugins": [
    {"type": "bridge", "bridge": "$CRI_BRIDGE", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "subnet": "$CRI_SUBNET.0/24", "dataDir": "$CRI/ipam",
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  fi
  cat >"$CRI/config.toml" <<TOML
version = 2
root = "$CRI/root"
state = "$CRI/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CRI/c.sock"
[ttrpc]
  address = "$CRI/t.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CRI/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/okcri/pause:1"
  disable_apparmor = true
  # Pods ask for oom_score_adj -998, which needs CAP_SYS_RESOURCE; where the
  # tests run without it (a container), clamp to containerd's own value.
  restrict_oom_score_adj = $CRI_RESTRICT_OOM
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "$CRI_STACK"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$CRI_STACK]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$CRI_STACK.options]
        BinaryName = "$binary"
        Root = "$CRI/$CRI_STACK-root"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CRI/cni-bin"
    conf_dir = "$CRI/cni-conf"
    max_conf_num = 1
TOML
}

# cri_start_containerd: start the selected stack's containerd and wait for
# its socket.
cri_start_containerd() {
  # oci-net (as the CNI plugin) keeps its networks and leases here.
  OCIKIT_NET_DIR=$CRI/net containerd --config "$CRI/config.toml" >>"$CRI/containerd.log" 2>&1 3>&- &
  echo $! >"$CRI/containerd.pid"
  local i
  for i in $(seq 100); do
    [ -S "$CRI/c.sock" ] && cri info >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# cri_setup_file: start both containerds and import the images. Exports
# CRI_BASE and CRICTL for the tests; cri_stack selects a stack.
cri_setup_file() {
  find_crictl || return 0
  [ "$(id -u)" -eq 0 ] || return 0
  command -v containerd >/dev/null || return 0
  CRI_BASE=$(mktemp -d /tmp/okcri-XXXXXX)
  export CRI_BASE CRICTL
  if iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1; then touch "$CRI_BASE/portmap-chains-were-there"; fi
  CRI_RESTRICT_OOM=false
  grep -q '^CapEff:.*' /proc/self/status && ! capsh_has 24 && CRI_RESTRICT_OOM=true
  local stack i
  for stack in $CRI_STACKS; do
    cri_stack "$stack"
    mkdir -p "$CRI"
    cri_write_config
    cri_start_containerd || { tail -n 30 "$CRI/containerd.log" >&2; return 1; }
  done
  for stack in $CRI_STACKS; do
    cri_stack "$stack"
    [ -f "$CRI_BASE/images.tar" ] || make_cri_images "$CRI_BASE/images.tar"
    cri_ctr images import --all-platforms "$CRI_BASE/images.tar" >"$CRI/import.log" 2>&1 || {
      cat "$CRI/import.log" "$CRI/containerd.log" >&2
      return 1
    }
  done
  # The CRI plugin sees imported images through events; wait for them.
  for stack in $CRI_STACKS; do
    cri_stack "$stack"
    for i in $(seq 100); do
      cri inspecti docker.io/okcri/busybox:1 >/dev/null 2>&1 && cri inspecti docker.io/okcri/pause:1 >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
}

# cri_remove_pods: stop and remove every pod (and its containers).
cri_remove_pods() {
  [ -S "${CRI:-/nonexistent}/c.sock" ] || return 0
  local p
  for p in $(cri pods -q 2>/dev/null); do
    cri stopp "$p" >/dev/null 2>&1 || true
    cri rmp -f "$p" >/dev/null 2>&1 || true
  done
}

# cri_teardown: between tests; on failure shows containerd's log tail.
cri_teardown() {
  [ -n "${CRI:-}" ] || return 0
  if [ -n "${BATS_TEST_COMPLETED:-}" ] && [ "$BATS_TEST_COMPLETED" = 1 ]; then :; else
    echo "--- containerd log (tail)" >&2
    tail -n 40 "$CRI/containerd.log" >&2 2>/dev/null || true
  fi
  cri_remove_pods
}

# _rm_cgroup DIR: remove a cgroup directory tree, leaves first.
_rm_cgroup() {
  [ -d "$1" ] || return 0
  find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# cri_teardown_file: stop both containerds and remove whatever is left.
cri_teardown_file() {
  [ -n "${CRI_BASE:-}" ] && [ -d "$CRI_BASE" ] || return 0
  local stack
  for stack in $CRI_STACKS; do
    cri_stack "$stack"
    [ -d "$CRI" ] && cri_teardown_stack
  done
  rm -rf "$CRI_BASE"
}

# _iptables_cleanup: the portmap plugin's rules for our subnet, and its
# chains when nothing else uses them.
_iptables_cleanup() {
  [ -x /usr/sbin/iptables ] || return 0
  local t c rule
  for t in nat filter; do
    iptables -t "$t" -S 2>/dev/null | grep -e "$CRI_SUBNET\." -e "$CRI_BRIDGE" | grep '^-A' | while read -r rule; do
      eval "iptables -t $t ${rule/#-A/-D}" 2>/dev/null || true
    done
  done
  # per-pod chains of portmap (CNI-DN-*) that no longer have a jump to them
  for c in $(iptables -t nat -S 2>/dev/null | awk '/^-N CNI-DN-/ {print $2}'); do
    iptables -t nat -S 2>/dev/null | grep -q -- "-j $c\b" && continue
    iptables -t nat -F "$c" 2>/dev/null; iptables -t nat -X "$c" 2>/dev/null || true
  done
  # portmap's shared chains, when they were not there before these tests
  [ -e "$CRI_BASE/portmap-chains-were-there" ] && return 0
  for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
    iptables -t nat -S "$c" >/dev/null 2>&1 || continue
    iptables -t nat -S | grep -- "-j $c\\b" | grep '^-A' | while read -r rule; do
      eval "iptables -t nat ${rule/#-A/-D}" 2>/dev/null || true
    done
  done
  for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
    iptables -t nat -F "$c" 2>/dev/null && iptables -t nat -X "$c" 2>/dev/null || true
  done
}

# cri_teardown_stack: stop the selected stack's containerd and remove what
# it left.
cri_teardown_stack() {
  cri_remove_pods
  local pid p m ns d
  if [ -f "$CRI/containerd.pid" ]; then
    pid=$(cat "$CRI/containerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Shims and container processes still running from this containerd (their
  # command line or cgroup names our dirs).
  for p in $(grep -l -- "$CRI" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    kill -9 "$p" 2>/dev/null || true
  done
  for p in $(grep -l -- ":$CRI_CGROUP/" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do
    kill -9 "$p" 2>/dev/null || true
  done
  # Network namespaces the CRI plugin made for our pods (cni-UUID, pinned
  # under /var/run/netns) are listed in the sandboxes' metadata; those not
  # found there are recognised by an address in our subnet.
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-'); do
    if ip netns exec "$ns" ip -4 -o addr show 2>/dev/null | grep -q " $CRI_SUBNET\."; then
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  # The network oci-net made (bridge, nft rules, leases).
  if [ -d "$CRI/net" ]; then
    OCIKIT_NET_DIR=$CRI/net "$OCI_NET" prune >/dev/null 2>&1 || true
    OCIKIT_NET_DIR=$CRI/net "$OCI_NET" rm "$CRI_NETNAME" >/dev/null 2>&1 || true
  fi
  nft delete table inet "ocikit-$CRI_NETNAME" 2>/dev/null || true
  ip link del "$CRI_BRIDGE" 2>/dev/null || true
  grep -o " $CRI[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for d in /sys/fs/cgroup/*"$CRI_CGROUP" /sys/fs/cgroup/unified"$CRI_CGROUP"; do _rm_cgroup "$d"; done
  _iptables_cleanup
}

# Pod and container configs --------------------------------------------------

# pod_json NAME [JQ-FILTER]: a pod sandbox config in $CRI/pods/NAME.json.
pod_json() {
  local f=$CRI/pods/$1.json
  mkdir -p "$CRI/pods/$1.logs"
  jq -n --arg n "$1" --arg l "$CRI/pods/$1.logs" --arg cg "$CRI_CGROUP" \
    '{metadata:{name:$n,namespace:"okcri",uid:("uid-"+$n),attempt:1},hostname:$n,log_directory:$l,
      linux:{cgroup_parent:$cg,security_context:{namespace_options:{network:0,pid:1,ipc:0}}}}' |
    jq "${2:-.}" >"$f"
  echo "$f"
}

# ctr_json NAME SCRIPT [JQ-FILTER]: a busybox container running sh -c SCRIPT
# with its own pid namespace (what kubelet asks unless shareProcessNamespace).
ctr_json() {
  local f=$CRI/pods/ctr-$1.json
  jq -n --arg n "$1" --arg s "$2" \
    '{metadata:{name:$n},image:{image:"docker.io/okcri/busybox:1"},command:["/bin/sh","-c",$s],
      log_path:($n+".log"),linux:{security_context:{namespace_options:{network:0,pid:1,ipc:0}}}}' |
    jq "${3:-.}" >"$f"
  echo "$f"
}

# wait_until TRIES CMD...: retry CMD every 0.1 s.
wait_until() {
  local n=$1
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  "$@"
}

# ctr_state CID: CONTAINER_RUNNING, CONTAINER_EXITED, ...
ctr_state() {
  cri inspect "$1" | jq -r .status.state
}

# state_is CID STATE: the container is in STATE.
state_is() {
  [ "$(ctr_state "$1")" = "$2" ]
}
