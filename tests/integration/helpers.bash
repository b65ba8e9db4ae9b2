# Shared helpers for the bats integration tests.
# Binaries come from OCI_FETCH, OCI_PUSH, OCI_BUILD, OCI_RUN, OCI_NET (set by
# meson test), falling back to a build/ directory in the source tree.

: "${OCIKIT_SOURCE_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OCIKIT_BUILD_ROOT:=$OCIKIT_SOURCE_ROOT/build}"
: "${OCI_FETCH:=$OCIKIT_BUILD_ROOT/tools/oci-fetch/oci-fetch}"
: "${OCI_PUSH:=$OCIKIT_BUILD_ROOT/tools/oci-push/oci-push}"
: "${OCI_BUILD:=$OCIKIT_BUILD_ROOT/tools/oci-build/oci-build}"
: "${OCI_RUN:=$OCIKIT_BUILD_ROOT/tools/oci-run/oci-run}"
: "${OCI_NET:=$OCIKIT_BUILD_ROOT/tools/oci-net/oci-net}"
export OCIKIT_SOURCE_ROOT OCIKIT_BUILD_ROOT OCI_FETCH OCI_PUSH OCI_BUILD OCI_RUN OCI_NET
# The tools find their siblings under the OCIKIT_ names (cli::find_tool).
export OCIKIT_FETCH=$OCI_FETCH OCIKIT_RUN=$OCI_RUN OCIKIT_NET=$OCI_NET
# Where blobs were seen (for mounts): per test file, not the machine's cache.
: "${OCIKIT_BLOB_LOCATIONS=${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/blob-locations}"
export OCIKIT_BLOB_LOCATIONS

# skip_unless_root: skip a test that needs real root.
skip_unless_root() {
  [ "$(id -u)" -eq 0 ] || skip "needs root"
}

# require_cmd CMD...: skip when a peer tool is missing.
require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
  done
}

# make_busybox_rootfs DIR: a minimal rootfs from Debian's busybox-static.
make_busybox_rootfs() {
  local dir=$1 bb
  bb=$(command -v busybox) || return 1
  mkdir -p "$dir"/{bin,etc,tmp,root,proc,sys,dev,var,usr/bin}
  cp "$bb" "$dir/bin/busybox"
  local a
  for a in $("$dir/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"
}

# build_busybox_base NAME: build NAME (FROM scratch, the busybox rootfs,
# CMD /bin/sh) into $OCIKIT_STORE from the context $T/base.
build_busybox_base() {
  mkdir -p "$T/base/rootfs"
  make_busybox_rootfs "$T/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$T/base/Dockerfile"
  run "$OCI_BUILD" -t "$1" "$T/base"
  [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

# net_host_setup NAME: a test "host" netns okt-net2-NAME<pid> ($H, lo up),
# $S (the pid suffix every test netns ends with) and a temp dir $D, for the
# oci-net tests that keep bridges, nft tables and sysctls off the real host.
net_host_setup() {
  S=$$
  H=okt-net2-$1$S
  D=$(mktemp -d)
  ip netns add "$H"
  ip netns exec "$H" ip link set lo up
}

# net_host_teardown: stop the resolvers under $D, remove every
# okt-net2-*<pid> netns (with its /etc/netns files) and $D.
# kill_resolvers PIDFILE...: stop the dnsmasq each pid file names (the
# resolvers of user networks, tools/oci-net/dns.*, a failed test left), when
# that process is the one started with that pid file.
kill_resolvers() {
  local f pid
  for f in "$@"; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    grep -qa -- "--pid-file=$f" "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
  done
  return 0
}

net_host_teardown() {
  local ns
  kill_resolvers "$D"/dns/*.pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^okt-net2-.*$S\$"); do
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  rm -rf "$D"
}

# net_cleanup DIR: remove the networks defined under DIR/net (their links,
# nft rules, and the leases of RUNs or containers that were killed).
net_cleanup() {
  local f
  [ -d "$1/net" ] || return 0
  OCIKIT_NET_DIR=$1/net "$OCI_NET" prune >/dev/null 2>&1 || true
  for f in "$1"/net/*.json; do
    [ -e "$f" ] || continue
    OCIKIT_NET_DIR=$1/net "$OCI_NET" rm "$(basename "$f" .json)" >/dev/null 2>&1 || true
  done
}

# build_cleanup: net_cleanup $T (RUN's default network), then remove $T.
build_cleanup() {
  [ -n "${T:-}" ] || return 0
  net_cleanup "$T"
  rm -rf "$T"
}

# build_setup [BASE]: for the oci-build tests: root, a temp dir $T holding
# the store ($OCIKIT_STORE) and an empty build context $T/ctx, and with BASE
# the busybox base image tagged BASE (build_busybox_base).
build_setup() {
  skip_unless_root
  T=$(mktemp -d)
  export OCIKIT_STORE=$T/store
  # RUN's default network (oci-net's "bridge") is defined here, so that
  # build_cleanup removes its bridge, nft rules and leases again.
  export OCIKIT_NET_DIR=$T/net
  mkdir -p "$T/ctx"
  [ -z "${1:-}" ] || build_busybox_base "$1"
}
