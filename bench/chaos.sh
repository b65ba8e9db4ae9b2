#!/usr/bin/env bash
# bench/chaos.sh: crash safety. Each operation below is SIGKILLed at a random
# moment KILLS_PER_OP times; after every kill the script checks that nothing
# is broken or leaked, and that the same operation then succeeds.
#
#   bench/chaos.sh [KILLS_PER_OP] [OP...]     (default 50 kills, every op)
#
# Operations, each in its own temp dir (store, state, runtime root, network
# definitions) under one mktemp dir:
#   fetch          oci-fetch docker://127.0.0.1:PORT/chaos/big:v1 into an
#                  empty store (four layers of 1.5-4.5 MB of random data)
#   push           oci-push of that image to a new repository each kill
#                  (blob-locations emptied first, so the layers are uploaded)
#   build-run      oci-build --no-cache, RUN writes 200 files and sleeps 0.3 s
#   build-commit   oci-build --no-cache, RUN writes 50 MB of random data
#   run-d          oci-run run -d --name cN IMAGE sleep 1000
#   rm             oci-run rm -f of a running container
#   net-connect    oci-net connect -p 18099:80 okt-chaos /var/run/netns/NS
#   net-disconnect oci-net disconnect okt-chaos /var/run/netns/NS
# The registry is Debian's docker-registry on 127.0.0.1 (plain http). RUN
# uses a network of its own (okt-chaos-r / okt-chaos-c, bridge okt-chaosr0 /
# okt-chaosc0) rather than "bridge"/ocikit0, so that the integration tests
# can use ocikit0 meanwhile; it is the same hook path.
#
# The kill: the tool starts in its own session (setsid); after a delay drawn
# uniformly from [0, 1.2 x the op's duration] (the median of three unkilled
# runs, measured first) its whole process group gets SIGKILL. Daemons that left the group on purpose
# (oci-run's container monitors, double-forked and setsid) survive, as they
# would a crash of the client; a RUN container dies with oci-build's group.
# A kill "hits" when the tool was still running (it died of SIGKILL).
#
# Checks (a failure is counted once per kill and check kind):
#   store    `oci-run system check`: 0 errors right after the kill (garbage is
#            fine), 0 errors after the retry, and after `system check
#            --repair` 0 errors and 0 garbage; oci-image-tool validate of
#            every named image (each in a one-entry copy of index.json, as
#            tests/integration/oci-run_extra_helpers.bash store_validates);
#            push: the source store's files are unchanged (locks aside)
#   reg      push: a tag the registry serves after the kill pulls completely
#   retry    the same operation succeeds afterwards (also: a killed tool
#            that exited with an error by itself before the kill). run-d:
#            "name in use" is fine when that container is listed (then rm -f
#            and run again); rm: the name is free again when the container
#            is gone; connect: "already connected" is fine only when the
#            netns is wired (address, bridge port, published port, hosts
#            file, the gateway answers ping); disconnect: "not connected" is
#            fine, and the netns must connect and disconnect again
#   list     run-d, rm: `ps -a` lists exactly the containers whose records
#            exist (and the runtime's states belong to listed ones); every
#            listed one is removable with rm -f; afterwards the list is empty
#   mount    no mount under the op's dir after the retry and cleanup
#   proc     no process whose command line or environment holds the op's
#            dir (tools, monitors, containers: they get OKT_CHAOS=<dir>)
#   cgroup   no /sys/fs/cgroup/*/ocikit/<id> of a container of ours or of a
#            RUN (okt-build-<pid of our oci-build>-N)
#   net      no netns, bridge port, veth, nft table, nft map element or
#            /etc/netns dir beyond what should exist
#   lease    `oci-net inspect NET` lists only connected containers
#   files    no leftover under STORE.build-cache/tmp (RUN bundles, runtime
#            state), STATE/containers or the runtime root
# "After the retry" means: a leftover that the next successful run of the
# same operation cleans up is fine; one still there afterwards is a failure.
# Each leftover is reported once, then removed by this script so that the
# next kill starts clean. At the end of each op the networks are removed
# (oci-net prune, oci-net rm) and must take their bridge and table along.
#
# Prints one row per op (kills, hits, failures per check kind) and
# "chaos: N kills, M failures"; exits 1 when M > 0. Every failure (op, kill,
# delay, check, evidence) is in $OUT/failures.log (default /tmp/okt-chaos),
# with the tools' output of that kill in $OUT/<op>/<kill>/. CHAOS_SEED makes
# the delays repeatable. Needs root, jq, curl, docker-registry, busybox,
# oci-image-tool, iproute2, nft; exits 77 without them. About 20 minutes
# for 50 kills per op on 2 busy cores (the three unkilled runs that measure
# each op's duration, its checks and cleanup included).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
KILLS=${1:-50}
shift || true
ALL_OPS=(fetch push build-run build-commit run-d rm net-connect net-disconnect)
OPS=("$@")
[ ${#OPS[@]} -gt 0 ] || OPS=("${ALL_OPS[@]}")
OUT=${OUT:-/tmp/okt-chaos}
OCI_FETCH=${OCI_FETCH:-$here/build/tools/oci-fetch/oci-fetch}
OCI_PUSH=${OCI_PUSH:-$here/build/tools/oci-push/oci-push}
OCI_BUILD=${OCI_BUILD:-$here/build/tools/oci-build/oci-build}
OCI_RUN=${OCI_RUN:-$here/build/tools/oci-run/oci-run}
OCI_NET=${OCI_NET:-$here/build/tools/oci-net/oci-net}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-120}  # seconds before an unkilled tool counts as hung
SEED=${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}

[[ $KILLS =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/chaos.sh [KILLS_PER_OP] [OP...]   (ops: ${ALL_OPS[*]})" >&2; exit 2; }
for op in "${OPS[@]}"; do
  [[ " ${ALL_OPS[*]} " == *" $op "* ]] || { echo "chaos.sh: unknown op $op (ops: ${ALL_OPS[*]})" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "chaos.sh: skipped: needs root" >&2; exit 77; }
for c in jq curl docker-registry busybox setsid ip nft oci-image-tool; do
  command -v "$c" >/dev/null || { echo "chaos.sh: skipped: needs $c" >&2; exit 77; }
done
for b in "$OCI_FETCH" "$OCI_PUSH" "$OCI_BUILD" "$OCI_RUN" "$OCI_NET"; do
  [ -x "$b" ] || { echo "chaos.sh: skipped: needs $b (meson compile -C build)" >&2; exit 77; }
done
for n in okt-chaos0 okt-chaosr0 okt-chaosc0; do
  ! ip link show "$n" >/dev/null 2>&1 || { echo "chaos.sh: error: link $n exists (an earlier run's?); ip link del $n" >&2; exit 1; }
done
for t in okt-chaos okt-chaos-r okt-chaos-c; do
  ! nft list table inet "ocikit-$t" >/dev/null 2>&1 ||
    { echo "chaos.sh: error: nft table inet ocikit-$t exists (an earlier run's?); nft delete table inet ocikit-$t" >&2; exit 1; }
done

RANDOM=$SEED
W=$(mktemp -d /tmp/okt-chaos-w.XXXXXX)
rm -rf "$OUT" && mkdir -p "$OUT"
FLOG=$OUT/failures.log
: >"$FLOG"
# Where oci-push remembers blobs were seen (for cross-repository mounts):
# private, and emptied before each killed push so that it uploads.
export OCIKIT_BLOB_LOCATIONS=$W/blob-locations
NSPFX=okt-chaos-$$  # network namespaces: okt-chaos-<pid>-<kill>
BASE_TABLES=$(nft list tables 2>/dev/null | sort)
BASE_LINKS=$(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort)

declare -A FAILS=() HITS=() KILLED=() DUR=() KNOWN=() SEEN=() TOOL_PIDS=() ITER_FAILED=()
TOTAL_KILLS=0 TOTAL_FAILS=0
KINDS=(store reg retry list mount proc cgroup net lease files)
op="" i=0 delay="" L=$OUT T=""

# fail KIND SUMMARY [EVIDENCE...]: a failure of the current kill; a second
# one of the same kind in the same kill only adds its evidence.
fail() {
  local kind=$1 summary=$2
  shift 2
  if [ -z "${ITER_FAILED[$kind]:-}" ]; then
    ITER_FAILED[$kind]=1
    FAILS[$op:$kind]=$((${FAILS[$op:$kind]:-0} + 1))
    TOTAL_FAILS=$((TOTAL_FAILS + 1))
  fi
  {
    printf '=== %s kill %s (delay %s s, %s): %s: %s\n' "$op" "$i" "$delay" "$KILL_DESC" "$kind" "$summary"
    [ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/    /'
    [ ! -f "$L/after-kill.txt" ] || echo "    (state right after the kill: $L/after-kill.txt)"
  } | tee -a "$FLOG" >>"$L/failures"
}

# leftover KIND ITEM EVIDENCE: report ITEM once over the whole run.
leftover() {
  [ -z "${KNOWN[$1:$2]:-}" ] || return 0
  KNOWN[$1:$2]=1
  fail "$1" "left behind: $2" "${@:3}"
}

# ---- running tools ----

# run_wd NAME CMD...: run CMD with stdout/stderr in $L/NAME.out/.err, SIGKILL
# it after TOOL_TIMEOUT s; its pid in RPID, its status returned.
run_wd() {
  local name=$1 s w rc
  shift
  "$@" >"$L/$name.out" 2>"$L/$name.err" </dev/null &
  RPID=$!
  TOOL_PIDS[$RPID]=1
  sleep "$TOOL_TIMEOUT" &
  s=$!
  wait -n -p w "$RPID" "$s" 2>/dev/null
  rc=$?
  if [ "$w" = "$s" ]; then
    echo "chaos.sh: killed after ${TOOL_TIMEOUT}s (hung)" >>"$L/$name.err"
    kill -9 "$RPID" 2>/dev/null
    { wait "$RPID"; } 2>/dev/null
    rc=124
  else
    kill "$s" 2>/dev/null
    { wait "$s"; } 2>/dev/null
  fi
  return "$rc"
}

# chaos_kill DELAY CMD...: start CMD in a session of its own, SIGKILL its
# process group after DELAY s; KSTATUS, KHIT (1: it was still running).
chaos_kill() {
  local d=$1
  shift
  setsid "$@" >"$L/killed.out" 2>"$L/killed.err" </dev/null &
  KPID=$!
  TOOL_PIDS[$KPID]=1
  sleep "$d"
  kill -9 -- "-$KPID" 2>/dev/null || kill -9 "$KPID" 2>/dev/null
  { wait "$KPID"; } 2>/dev/null
  KSTATUS=$?
  KHIT=0
  [ "$KSTATUS" -ne 137 ] || KHIT=1
  KILL_DESC=$([ "$KHIT" = 1 ] && echo "hit while running" || echo "missed: exited $KSTATUS before the kill")
}

rand_delay() { awk -v d="$1" -v r="$RANDOM$RANDOM" 'BEGIN { printf "%.3f", (r % 1000003) / 1000003 * 1.2 * d }'; }
tail_of() { tail -n 20 "$@" 2>/dev/null; }

# ---- checks ----

# store_check STORE WHEN [strict]: `system check` reports 0 errors (strict:
# and 0 garbage).
store_check() {
  local s=$1 when=$2 strict=${3:-} out rc last e g
  out=$("$OCI_RUN" --store "$s" system check 2>&1)
  rc=$?
  last=$(tail -n 1 <<<"$out")
  [[ $last == "no image store at"* ]] && [ "$rc" -eq 0 ] && return 0
  e=$(sed -n 's/.*: \([0-9]*\) errors, \([0-9]*\) garbage$/\1/p' <<<"$last")
  g=$(sed -n 's/.*: \([0-9]*\) errors, \([0-9]*\) garbage$/\2/p' <<<"$last")
  if [ "$rc" -ne 0 ] || [ "${e:-x}" != 0 ]; then
    fail store "system check $when: exit $rc, ${e:-?} errors" "$out"
  elif [ -n "$strict" ] && [ "$g" != 0 ]; then
    fail store "system check $when: $g garbage" "$out"
  fi
}

# store_repair STORE: --repair succeeds and leaves 0 errors, 0 garbage; then
# every named image validates.
store_repair() {
  local s=$1 out rc
  out=$("$OCI_RUN" --store "$s" system check --repair 2>&1)
  rc=$?
  [ "$rc" -eq 0 ] || fail store "system check --repair: exit $rc" "$out"
  store_check "$s" "after --repair" strict
  store_validate "$s"
}

# store_validate STORE: oci-image-tool validate of each named image, each in
# a one-entry copy of index.json (oci-image-tool 1.0 fails with 3+ entries).
store_validate() {
  local s=$1 v n out
  [ -f "$s/index.json" ] || return 0
  v=$(mktemp -d "$W/validate-XXXXXX")
  cp "$s/oci-layout" "$v/" && cp -al "$s/blobs" "$v/blobs"
  while read -r n; do
    [ -n "$n" ] || continue
    jq --arg n "$n" '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] == $n))' \
      "$s/index.json" >"$v/index.json"
    out=$(oci-image-tool validate --type image --ref "name=$n" "$v" 2>&1) ||
      fail store "oci-image-tool validate $n failed" "$out"
  done < <(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"] // empty' "$s/index.json")
  rm -rf "$v"
}

# store_has STORE NAME: index.json names NAME.
store_has() { jq -e --arg n "$2" 'any(.manifests[]; .annotations["org.opencontainers.image.ref.name"] == $n)' "$1/index.json" >/dev/null 2>&1; }

# fingerprint STORE: every file (locks aside) with its hash, and every dir.
fingerprint() {
  (cd "$1" && find . -name '*.lock' -prune -o -type f -print0 | sort -z | xargs -0r sha256sum &&
    find . -type d | sort)
}

mounts_under() { awk -v t="$1/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo; }

# marker_re DIR: a regex for DIR/ that does not match its own text.
marker_re() {
  local s=$1/ e
  e=$(printf '%s' "${s:2}" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  printf '/[%s]%s' "${s:1:1}" "$e"
}

# stray_pids DIR: processes whose command line or environment holds DIR/.
stray_pids() {
  grep -laE "$(marker_re "$1")" /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null |
    awk -F/ '{ print $3 }' | sort -un | grep -vx -e "$$" -e "$BASHPID" || true
}

# our_cgroups: cgroup dirs of our containers (ids seen in our state/runtime
# dirs) and of our RUNs (okt-build-<pid of an oci-build we started>-N).
our_cgroups() {
  local d n
  for d in /sys/fs/cgroup/*/ocikit/*/ /sys/fs/cgroup/ocikit/*/; do
    [ -d "$d" ] || continue
    n=${d%/}
    n=${n##*/}
    if [[ $n =~ ^okt-build-([0-9]+)-[0-9]+$ ]]; then
      [ -z "${TOOL_PIDS[${BASH_REMATCH[1]}]:-}" ] || echo "${d%/}"
    elif [ -n "${SEEN[$n]:-}" ]; then
      echo "${d%/}"
    fi
  done
}

# note_ids DIR...: remember the container ids found in these dirs.
note_ids() {
  local f
  for f in "$@"; do
    [ -d "$f" ] || continue
    for f in "$f"/*; do [ -e "$f" ] && SEEN[${f##*/}]=1; done
  done
}

# leak_checks: after the retry and the op's own cleanup nothing of the op may
# remain: mounts, processes, cgroups, leases, nft, links, netns, files.
leak_checks() {
  local m p c ev
  # a monitor or a container may take a moment to go after its rm returned
  for _ in 1 2 3 4 5; do
    [ -z "$(mounts_under "$T")$(stray_pids "$T")$(our_cgroups)" ] && break
    sleep 0.2
  done
  for m in $(mounts_under "$T" | sort -r); do
    leftover mount "$m" "$(grep -F " $m " /proc/self/mountinfo)"
  done
  for p in $(stray_pids "$T"); do
    ev=$(ps -o pid,ppid,pgid,stat,etime,args -p "$p" 2>/dev/null | tail -n +2)
    [ -n "$ev" ] || continue  # gone meanwhile
    leftover proc "pid $p" "$ev"
  done
  for c in $(our_cgroups | awk -F/ '{ print $NF }' | sort -u); do
    leftover cgroup "ocikit/$c" "$(for p in /sys/fs/cgroup/*/ocikit/"$c" /sys/fs/cgroup/ocikit/"$c"; do
      [ -d "$p" ] && echo "$p (procs: $(tr '\n' ' ' <"$p/cgroup.procs" 2>/dev/null))"; done)"
  done
  net_checks
  files_checks
}

# net_checks: leases of our networks, ports of our bridges, nft tables and
# map elements, links, netns and /etc/netns dirs of ours.
net_checks() {
  local n d id br ports t x
  for d in "$T/net"/*.json; do
    [ -f "$d" ] || continue
    n=${d##*/}
    n=${n%.json}
    x=$(OCIKIT_NET_DIR=$T/net "$OCI_NET" inspect "$n" 2>&1) || { fail lease "oci-net inspect $n failed" "$x"; continue; }
    for id in $(jq -r '.[0].containers // {} | keys[]' <<<"$x" 2>/dev/null); do
      leftover lease "$n:$id" "$(jq -c --arg i "$id" '.[0].containers[$i]' <<<"$x")"
    done
    br=$(jq -r '.[0].bridge // .[0].options.bridge // empty' <<<"$x")
    if [ -n "$br" ]; then
      ports=$(ip -br link show master "$br" 2>/dev/null)
      [ -z "$ports" ] || leftover net "ports of $br: $(awk '{print $1}' <<<"$ports" | tr '\n' ' ')" "$ports"
    fi
    t=$(nft list table inet "ocikit-$n" 2>/dev/null | grep 'elements = ')
    [ -z "$t" ] || leftover net "nft elements in inet ocikit-$n: $t" "$t"
  done
  for n in $(ip netns list | awk '{print $1}' | grep "^$NSPFX-"); do
    [[ " ${LIVE_NS:-} " == *" $n "* ]] || leftover net "netns $n" "$(ip netns list | grep "^$n")"
  done
  for d in /etc/netns/"$NSPFX"-*; do
    [ -e "$d" ] || continue
    [[ " ${LIVE_NS:-} " == *" ${d##*/} "* ]] || leftover net "$d" "$(ls -la "$d")"
  done
  for t in $(nft list tables 2>/dev/null | awk '$3 ~ /^ocikit-okt-chaos/ {print $3}'); do
    [ -f "$T/net/${t#ocikit-}.json" ] ||
      leftover net "nft table inet $t" "$(nft list table inet "$t" | head -20)"
  done
}

# files_checks: temp and state leftovers of builds and containers.
files_checks() {
  local f
  for f in "$T"/store.build-cache/tmp/* "$T"/store.build-cache/tmp/runtime-state/*; do
    [ -e "$f" ] || continue
    [ "${f##*/}" != runtime-state ] || continue
    leftover files "$f" "$(ls -la "$f" 2>&1 | head -5)"
  done
  for f in "$T"/state/containers/* "$T"/state/containers/.[!.]* "$T"/run/*; do
    [ -e "$f" ] || continue
    [ "${f##*/}" != .lock ] || continue
    leftover files "$f" "$(ls -la "$f" 2>&1 | head -8)"
  done
}

# scrub: remove what the checks found, so that the next kill starts clean:
# runtime states, processes, mounts, cgroups, temp dirs.
scrub() {
  local r c m p
  for r in "$T/run" "$T/store.build-cache/tmp/runtime-state"; do
    [ -d "$r" ] || continue
    for c in $("$OCI_RUN" --root "$r" list -q 2>/dev/null); do "$OCI_RUN" --root "$r" delete -f "$c" >/dev/null 2>&1; done
  done
  for p in $(stray_pids "$T"); do kill -9 "$p" 2>/dev/null; done
  for m in $(mounts_under "$T" | sort -r); do umount -l "$m" 2>/dev/null; done
  for c in $(our_cgroups); do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
  rm -rf "$T"/store.build-cache/tmp/* "$T"/run/*
  for c in "$T"/state/containers/*; do [ -e "$c" ] && rm -rf "$c"; done
}

# ---- the registry ----

free_port() {
  local p lo=32768
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$lo" -gt 11000 ] 2>/dev/null || lo=32768
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

REG_PID=""
start_registry() {
  local dir=$W/registry
  mkdir -p "$dir/data"
  PORT=$(free_port)
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$dir/data" "$PORT" >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && return 0
    sleep 0.05
  done
  echo "chaos.sh: error: registry did not start: $(cat "$dir/log")" >&2
  return 1
}

# manifest_status REPO TAG: the HTTP status of HEAD /v2/REPO/manifests/TAG.
manifest_status() {
  curl -s -o /dev/null -w '%{http_code}' -I \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$PORT/v2/$1/manifests/$2"
}

# ---- cleanup of everything (EXIT, INT, TERM) ----

cleanup() {
  trap - EXIT
  trap '' INT TERM  # a second Ctrl-C does not cut the cleanup short
  local d c r p m n t
  [ -n "${W:-}" ] && [ -d "$W" ] || return 0
  for d in "$W"/*/; do
    d=${d%/}
    if [ -d "$d/state" ]; then
      for c in $("$OCI_RUN" --root "$d/run" --store "$d/store" --state-dir "$d/state" ps -aq --no-trunc 2>/dev/null); do
        "$OCI_RUN" --root "$d/run" --store "$d/store" --state-dir "$d/state" rm -f "$c" >/dev/null 2>&1
      done
    fi
    for r in "$d/run" "$d/store.build-cache/tmp/runtime-state"; do
      [ -d "$r" ] || continue
      for c in $("$OCI_RUN" --root "$r" list -q 2>/dev/null); do "$OCI_RUN" --root "$r" delete -f "$c" >/dev/null 2>&1; done
    done
  done
  for d in "$W"/*/; do
    for p in $(stray_pids "${d%/}"); do [ "$p" = "$REG_PID" ] || kill -9 "$p" 2>/dev/null; done
  done
  for m in $(mounts_under "$W" | sort -r); do umount -l "$m" 2>/dev/null; done
  for c in $(our_cgroups); do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null; done
  for d in "$W"/*/net; do
    [ -d "$d" ] || continue
    OCIKIT_NET_DIR=$d "$OCI_NET" prune >/dev/null 2>&1
    for n in "$d"/*.json; do [ -f "$n" ] && OCIKIT_NET_DIR=$d "$OCI_NET" rm "$(basename "$n" .json)" >/dev/null 2>&1; done
  done
  for n in $(ip netns list | awk '{print $1}' | grep "^$NSPFX-"); do ip netns del "$n" 2>/dev/null; done
  rm -rf /etc/netns/"$NSPFX"-*
  for n in okt-chaos0 okt-chaosr0 okt-chaosc0; do
    grep -qx "$n" <<<"$BASE_LINKS" || ip link del "$n" 2>/dev/null
  done
  for t in okt-chaos okt-chaos-r okt-chaos-c; do
    grep -q " ocikit-$t\$" <<<"$BASE_TABLES" || nft delete table inet "ocikit-$t" 2>/dev/null
  done
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'echo "chaos.sh: interrupted" >&2; exit 130' INT TERM

# ---- shared images ----

# make_busybox_rootfs DIR: as tests/integration/helpers.bash.
make_busybox_rootfs() {
  local dir=$1 bb a
  bb=$(command -v busybox)
  mkdir -p "$dir"/{bin,etc,tmp,root,proc,sys,dev,var,usr/bin}
  cp "$bb" "$dir/bin/busybox"
  for a in $("$dir/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chmod 1777 "$dir/tmp"
}

die() { echo "chaos.sh: error: $*" >&2; exit 1; }

setup_shared() {
  local s=$W/seed/store k
  mkdir -p "$W/base/rootfs" "$W/big"
  make_busybox_rootfs "$W/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$W/base/Dockerfile"
  for k in 1 2 3 4; do head -c $((k * 1048576 + 524288)) /dev/urandom >"$W/big/l$k.bin"; done
  printf 'FROM okt-chaos/busybox\nCOPY l1.bin /l1\nCOPY l2.bin /l2\nCOPY l3.bin /l3\nCOPY l4.bin /l4\n' >"$W/big/Dockerfile"
  OCIKIT_STORE=$s "$OCI_BUILD" -t okt-chaos/busybox "$W/base" >"$OUT/setup.log" 2>&1 || die "base image: $(tail_of "$OUT/setup.log")"
  OCIKIT_STORE=$s "$OCI_BUILD" -t okt-chaos/big "$W/big" >>"$OUT/setup.log" 2>&1 || die "big image: $(tail_of "$OUT/setup.log")"
  start_registry || exit 1
  BIG_DIGEST=$("$OCI_PUSH" --store "$s" okt-chaos/big "docker://127.0.0.1:$PORT/chaos/big:v1" 2>>"$OUT/setup.log") ||
    die "push to the registry: $(tail_of "$OUT/setup.log")"
}

# base_store: the busybox image in $T/store, built there (its snapshots too).
base_store() {
  OCIKIT_STORE=$T/store "$OCI_BUILD" -t okt-chaos/busybox "$W/base" >"$T/setup.log" 2>&1 ||
    die "$op: base image: $(tail_of "$T/setup.log")"
}

# ---- the operations: setup_X, prep_X (before each kill), cmd_X (CMD, the
# command to kill), undo_X (after the unkilled measurement), check_X (after
# the kill: immediate checks, the retry, the op's cleanup), end_X ----

# fetch
setup_fetch() { :; }
prep_fetch() { rm -rf "$T/store"; }
cmd_fetch() { CMD=("$OCI_FETCH" --store "$T/store" "docker://127.0.0.1:$PORT/chaos/big:v1"); }
undo_fetch() { :; }
check_fetch() {
  store_check "$T/store" "after the kill"
  run_wd retry "${CMD[@]}" || { fail retry "oci-fetch after the kill: exit $?" "$(tail_of "$L/retry.err")"; return; }
  [ "$(cat "$L/retry.out")" = "$BIG_DIGEST" ] || fail retry "oci-fetch printed $(cat "$L/retry.out"), expected $BIG_DIGEST"
  store_has "$T/store" "127.0.0.1:$PORT/chaos/big:v1" || fail store "the store does not name 127.0.0.1:$PORT/chaos/big:v1" "$(cat "$T/store/index.json")"
  store_check "$T/store" "after the retry"
  store_repair "$T/store"
}
end_fetch() { :; }

# push
setup_push() {
  cp -a "$W/seed/store" "$T/store"
  store_check "$T/store" "of the source" strict
  fingerprint "$T/store" >"$T/fingerprint"
}
prep_push() { rm -f "$OCIKIT_BLOB_LOCATIONS"; }
cmd_push() { CMD=("$OCI_PUSH" --store "$T/store" okt-chaos/big "docker://127.0.0.1:$PORT/chaos/push-$i:v1"); }
undo_push() { :; }
push_untouched() {
  fingerprint "$T/store" >"$L/fingerprint"
  cmp -s "$T/fingerprint" "$L/fingerprint" || fail store "oci-push changed its source store ($1)" "$(diff "$T/fingerprint" "$L/fingerprint" | head -20)"
}
check_push() {
  local st rc
  push_untouched "after the kill"
  st=$(manifest_status "chaos/push-$i" v1)
  if [ "$st" = 200 ]; then
    rm -rf "$T/pull"
    run_wd pull-after-kill "$OCI_FETCH" --store "$T/pull" "docker://127.0.0.1:$PORT/chaos/push-$i:v1" ||
      fail reg "the registry serves chaos/push-$i:v1 after the kill but it does not pull" "$(tail_of "$L/pull-after-kill.err")"
  fi
  run_wd retry "${CMD[@]}" || { fail retry "oci-push after the kill: exit $?" "$(tail_of "$L/retry.err")"; return; }
  [ "$(cat "$L/retry.out")" = "$BIG_DIGEST" ] || fail retry "oci-push printed $(cat "$L/retry.out"), expected $BIG_DIGEST"
  rm -rf "$T/pull"
  run_wd pull "$OCI_FETCH" --store "$T/pull" "docker://127.0.0.1:$PORT/chaos/push-$i:v1"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    fail reg "chaos/push-$i:v1 does not pull after the re-push: exit $rc" "$(tail_of "$L/pull.err")"
  else
    [ "$(cat "$L/pull.out")" = "$BIG_DIGEST" ] || fail reg "chaos/push-$i:v1 pulls as $(cat "$L/pull.out"), expected $BIG_DIGEST"
    store_check "$T/pull" "of the pulled copy" strict
    store_validate "$T/pull"
  fi
  rm -rf "$T/pull"
  push_untouched "after the re-push"
  store_check "$T/store" "of the source" strict
}
end_push() { :; }

# build-run, build-commit
setup_build() {  # NET SUBNET BRIDGE RUN-LINE
  BNET=$1
  base_store
  mkdir -p "$T/ctx" "$T/net"
  OCIKIT_NET_DIR=$T/net "$OCI_NET" create "$1" --subnet "$2" -o "bridge=$3" >>"$T/setup.log" 2>&1 ||
    die "$op: oci-net create $1: $(tail_of "$T/setup.log")"
  printf 'FROM okt-chaos/busybox\nENV OKT_CHAOS=%s/\n%s\n' "$T" "$4" >"$T/ctx/Dockerfile"
}
setup_build-run() { setup_build okt-chaos-r 10.213.97.0/24 okt-chaosr0 'RUN for i in $(seq 200); do echo $i > /f$i; done; sleep 0.3'; }
setup_build-commit() { setup_build okt-chaos-c 10.213.98.0/24 okt-chaosc0 'RUN dd if=/dev/urandom of=/big bs=1M count=50'; }
prep_build() { :; }
cmd_build() {
  CMD=(env "OCIKIT_STORE=$T/store" "OCIKIT_NET_DIR=$T/net" "$OCI_BUILD" --no-cache --network "$BNET" -t "okt-chaos/$op" "$T/ctx")
}
undo_build() { :; }
check_build() {
  local rc
  store_check "$T/store" "after the kill"
  note_ids "$T/store.build-cache/tmp/runtime-state"
  run_wd retry "${CMD[@]}"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    fail retry "oci-build after the kill: exit $rc" "$(tail_of "$L/retry.err")"
  else
    store_has "$T/store" "docker.io/okt-chaos/$op:latest" || fail store "the store does not name okt-chaos/$op" "$(cat "$T/store/index.json")"
  fi
  store_check "$T/store" "after the retry"
  store_repair "$T/store"
}
end_build() {
  local x
  x=$(OCIKIT_NET_DIR=$T/net "$OCI_NET" prune 2>&1) || fail net "oci-net prune failed" "$x"
  [ ! -f "$T/net/$BNET.json" ] || OCIKIT_NET_DIR=$T/net "$OCI_NET" rm "$BNET" >/dev/null 2>&1 || fail net "oci-net rm $BNET failed"
  net_gone "$BNET" "$2"
}
# net_gone NET BRIDGE: the network took its bridge, table and leases along.
net_gone() {
  local n
  if ip link show "$2" >/dev/null 2>&1; then
    leftover net "bridge $2" "after oci-net prune and rm: $(ip -br link show "$2")"
    ip link del "$2" 2>/dev/null
  fi
  if nft list table inet "ocikit-$1" >/dev/null 2>&1; then
    leftover net "nft table inet ocikit-$1" "after oci-net prune and rm: $(nft list table inet "ocikit-$1" | head -20)"
    nft delete table inet "ocikit-$1" 2>/dev/null
  fi
  n=$(jq 'length' "$T/net/leases/$1.json" 2>/dev/null)
  [ "${n:-0}" = 0 ] || fail lease "leases of $1 left after oci-net prune and rm" "$(cat "$T/net/leases/$1.json")"
}
for o in build-run build-commit; do
  eval "prep_$o() { prep_build; }; cmd_$o() { cmd_build; }; undo_$o() { undo_build; }; check_$o() { check_build; }"
done
end_build-run() { end_build okt-chaos-r okt-chaosr0; }
end_build-commit() { end_build okt-chaos-c okt-chaosc0; }

# run-d, rm
okt() { "$OCI_RUN" --root "$T/run" --store "$T/store" --state-dir "$T/state" "$@"; }
okt_run_cmd() { CMD=("$OCI_RUN" --root "$T/run" --store "$T/store" --state-dir "$T/state" run -d --name "$1" -e "OKT_CHAOS=$T/" okt-chaos/busybox sleep 1000); }
okt_run() { local CMD; okt_run_cmd "$1"; "${CMD[@]}"; }
is_listed() { okt ps -a --format json 2>/dev/null | jq -se --arg n "$1" 'any(.[]; .Names == $n)' >/dev/null; }
seen_out() { local id; id=$(head -c 64 "$1" 2>/dev/null); [ -z "$id" ] || SEEN[$id]=1; }
setup_containers() { base_store; mkdir -p "$T/state" "$T/run"; }
setup_run-d() { setup_containers; }
setup_rm() { setup_containers; }

# listed WHEN: LISTED, the ids `ps -a` lists (one a line), or fail list.
listed() {
  local x
  LISTED=""
  x=$(okt ps -a --no-trunc --format json 2>&1) || { fail list "ps -a failed $1" "$x"; return 1; }
  LISTED=$(jq -r '.ID' <<<"$x" 2>/dev/null | sort) || { fail list "ps -a printed no JSON $1" "$x"; return 1; }
}

# list_consistent WHEN: ps -a lists exactly the container records, and the
# runtime's containers are listed ones.
list_consistent() {
  local l recs rt x
  listed "$1" || return
  l=$LISTED
  # a container is its record; a dir without one is a leftover (files)
  recs=$(cd "$T/state/containers" 2>/dev/null && ls -d */record.json 2>/dev/null | cut -d/ -f1 | sort)
  rt=$(ls -A "$T/run" 2>/dev/null | sort)
  note_ids "$T/state/containers" "$T/run"
  [ "$l" = "$recs" ] || fail list "ps -a $1 does not list the container records" \
    "listed: $(tr '\n' ' ' <<<"$l")" "records: $(tr '\n' ' ' <<<"$recs")" "$(okt ps -a 2>&1)"
  x=$(comm -13 <(echo "$l") <(echo "$rt") | grep .) &&
    fail list "runtime states $1 that ps -a does not list" "$x" "$(ls -la "$T/run")"
}

# remove_all: rm -f of every listed container succeeds; the list ends empty.
remove_all() {
  local id
  listed "before the removal"
  for id in $LISTED; do
    SEEN[$id]=1
    run_wd "rm-$id" okt rm -f "$id" || fail list "rm -f of listed container $id: exit $?" "$(tail_of "$L/rm-$id.err")"
  done
  listed "after the removal" && [ -n "$LISTED" ] && fail list "ps -a lists containers after rm -f of all" "$(okt ps -a 2>&1)"
}

prep_run-d() { :; }
cmd_run-d() { okt_run_cmd "c$i"; }
undo_run-d() { okt rm -f "c$i" >/dev/null 2>&1; }
check_run-d() {
  local rc st
  listed "after the kill"
  note_ids "$T/state/containers" "$T/run"
  run_wd retry "${CMD[@]}"
  rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'already in use' "$L/retry.err" && is_listed "c$i"; then
    # the killed run got as far as making the container: docker's answer;
    # remove it and run again.
    run_wd retry-rm okt rm -f "c$i" || fail list "rm -f c$i (made by the killed run): exit $?" "$(tail_of "$L/retry-rm.err")"
    run_wd retry "${CMD[@]}"
    rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    fail retry "run -d --name c$i after the kill: exit $rc" "$(tail_of "$L/retry.err")" "$(okt ps -a 2>&1)"
  else
    seen_out "$L/retry.out"
    st=$(okt ps -a --format json 2>/dev/null | jq -r --arg n "c$i" 'select(.Names == $n) | .State')
    [ "$st" = running ] || fail retry "c$i is '$st' after run -d, not running" "$(okt ps -a 2>&1)"
  fi
  list_consistent "after the retry"
  remove_all
}
end_run-d() { :; }

prep_rm() {
  run_wd prep okt_run "r$i" || fail retry "run -d --name r$i (before the kill): exit $?" "$(tail_of "$L/prep.err")"
  seen_out "$L/prep.out"
}
cmd_rm() { CMD=("$OCI_RUN" --root "$T/run" --store "$T/store" --state-dir "$T/state" rm -f "r$i"); }
undo_rm() { :; }
check_rm() {
  listed "after the kill"
  note_ids "$T/state/containers" "$T/run"
  if is_listed "r$i"; then
    run_wd retry "${CMD[@]}" || fail retry "rm -f r$i (still listed after the kill): exit $?" "$(tail_of "$L/retry.err")"
  else
    # gone: its name is free again
    run_wd retry okt_run "r$i" || fail retry "run -d --name r$i after r$i was removed by the killed rm: exit $?" "$(tail_of "$L/retry.err")"
    seen_out "$L/retry.out"
  fi
  list_consistent "after the retry"
  remove_all
}
end_rm() { :; }

# net-connect, net-disconnect
NET=okt-chaos
setup_net() {
  mkdir -p "$T/net"
  OCIKIT_NET_DIR=$T/net "$OCI_NET" create "$NET" --subnet 10.213.99.0/24 -o bridge=okt-chaos0 >"$T/setup.log" 2>&1 ||
    die "$op: oci-net create: $(tail_of "$T/setup.log")"
}
setup_net-connect() { setup_net; }
setup_net-disconnect() { setup_net; }
onet() { OCIKIT_NET_DIR=$T/net "$OCI_NET" "$@"; }
connect_cmd() { CMD=(env "OCIKIT_NET_DIR=$T/net" "$OCI_NET" connect -p 18099:80 "$NET" "/var/run/netns/$NS"); }
disconnect_cmd() { CMD=(env "OCIKIT_NET_DIR=$T/net" "$OCI_NET" disconnect "$NET" "/var/run/netns/$NS"); }
new_ns() { NS=$NSPFX-$i; ip netns add "$NS"; ip -n "$NS" link set lo up; LIVE_NS=$NS; }
del_ns() { ip netns del "$NS" 2>/dev/null; LIVE_NS=""; }

# connected_ok WHEN: NS is wired: lease, address inside, host port on the
# bridge, published port, hosts file, the gateway answers.
connected_ok() {
  local x addr hif
  x=$(onet inspect "$NET" 2>&1) || { fail retry "inspect $1: $x"; return; }
  addr=$(jq -r --arg n "$NS" '.[0].containers[$n].addresses[0] // empty' <<<"$x")
  hif=$(jq -r --arg n "$NS" '.[0].containers[$n].host_interface // empty' <<<"$x")
  [ -n "$addr" ] || { fail retry "$NS has no lease $1" "$x"; return; }
  # (no `| grep -q` under pipefail: an early exit of grep fails the pipe)
  x=$(ip -n "$NS" -br addr)
  grep -qF " ${addr%/*}/" <<<"$x" || fail retry "$NS lacks its address $addr $1" "$x"
  x=$(ip -br link show master okt-chaos0 2>&1)
  grep -q "^$hif[@ ]" <<<"$x" || fail retry "$hif is not a port of okt-chaos0 $1" "$x"
  x=$(nft list map inet "ocikit-$NET" ports4 2>&1)
  grep -qF "${addr%/*} . 80" <<<"$x" || fail retry "no published port for $addr $1" "$x"
  [ -s "/etc/netns/$NS/hosts" ] || fail retry "/etc/netns/$NS/hosts missing $1"
  ip netns exec "$NS" busybox ping -c1 -W2 10.213.99.1 >/dev/null 2>&1 || fail retry "$NS cannot ping its gateway $1" "$(ip -n "$NS" route)"
}

# disconnected_ok: nothing of the connection is left inside the netns.
disconnected_ok() {
  local x
  x=$(ip -n "$NS" -br link | grep -v '^lo ')
  [ -z "$x" ] || leftover net "interface in $NS after disconnect" "$x"
  [ ! -e "/etc/netns/$NS" ] || leftover net "/etc/netns/$NS after disconnect" "$(ls -la "/etc/netns/$NS")"
}

prep_net-connect() { new_ns; }
cmd_net-connect() { connect_cmd; }
undo_net-connect() { onet disconnect "$NET" "/var/run/netns/$NS" >/dev/null 2>&1; del_ns; }
check_net-connect() {
  local x rc
  x=$(onet inspect "$NET" 2>&1) && jq -e . <<<"$x" >/dev/null || fail lease "inspect after the kill: no JSON" "$x"
  connect_cmd
  run_wd retry "${CMD[@]}"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    connected_ok "after the retry"
  elif grep -q 'already connected' "$L/retry.err"; then
    connected_ok "(already connected after the kill)"
  else
    fail retry "connect after the kill: exit $rc" "$(tail_of "$L/retry.err")" "$(onet inspect "$NET" 2>&1)"
  fi
  run_wd disconnect onet disconnect "$NET" "/var/run/netns/$NS" || fail retry "disconnect after the retry: exit $?" "$(tail_of "$L/disconnect.err")"
  disconnected_ok
  net_checks
  del_ns
}
end_net-connect() { end_net; }

prep_net-disconnect() {
  new_ns
  connect_cmd
  run_wd prep "${CMD[@]}" || fail retry "connect (before the kill): exit $?" "$(tail_of "$L/prep.err")"
}
cmd_net-disconnect() { disconnect_cmd; }
undo_net-disconnect() { del_ns; }
check_net-disconnect() {
  local x rc
  x=$(onet inspect "$NET" 2>&1) && jq -e . <<<"$x" >/dev/null || fail lease "inspect after the kill: no JSON" "$x"
  disconnect_cmd
  run_wd retry "${CMD[@]}"
  rc=$?
  if [ "$rc" -ne 0 ] && ! grep -q 'not connected' "$L/retry.err"; then
    fail retry "disconnect after the kill: exit $rc" "$(tail_of "$L/retry.err")" "$(onet inspect "$NET" 2>&1)"
  fi
  disconnected_ok
  net_checks
  # the namespace connects and disconnects again (nothing left in the way)
  connect_cmd
  run_wd reconnect "${CMD[@]}"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    connected_ok "after connecting again"
    run_wd redisconnect onet disconnect "$NET" "/var/run/netns/$NS" || fail retry "disconnect again: exit $?" "$(tail_of "$L/redisconnect.err")"
  else
    fail retry "connect again after the killed disconnect: exit $rc" "$(tail_of "$L/reconnect.err")" "$(onet inspect "$NET" 2>&1)"
  fi
  del_ns
}
end_net-disconnect() { end_net; }
end_net() {
  local x
  x=$(onet prune 2>&1) || fail net "oci-net prune failed" "$x"
  [ ! -f "$T/net/$NET.json" ] || onet rm "$NET" >/dev/null 2>&1 || fail net "oci-net rm $NET failed"
  net_gone "$NET" okt-chaos0
}

# state_after_kill: what the kill left, for the log ($L/after-kill.txt).
state_after_kill() {
  local d
  echo "# $op kill $i after $delay s: $KILL_DESC"
  echo "# mounts under $T:"
  mounts_under "$T"
  echo "# processes of the op:"
  for d in $(stray_pids "$T"); do ps -o pid,ppid,pgid,stat,args -p "$d" | tail -n +2; done
  case $op in
    fetch | push | build-*)
      echo "# files of the store:"
      (cd "$T" && find store store.build-cache/tmp -maxdepth 3 2>/dev/null | grep -v '^store/blobs/sha256/' | sort)
      ls -la "$T/store/blobs/sha256" 2>/dev/null
      ;;
    run-d | rm)
      echo "# ps -a:"
      okt ps -a 2>&1
      echo "# state dir, runtime root:"
      ls -la "$T"/state/containers/* "$T/run" 2>&1
      ;;
    net-*)
      echo "# oci-net inspect $NET:"
      onet inspect "$NET" 2>&1
      echo "# ip -n $NS addr, ports of okt-chaos0, /etc/netns/$NS:"
      ip -n "$NS" -br addr 2>&1
      ip -br link show master okt-chaos0 2>&1
      ls -la "/etc/netns/$NS" 2>&1
      nft list map inet "ocikit-$NET" ports4 2>&1
      ;;
  esac
  if [ -d "$T/net" ]; then echo "# leases:"; cat "$T"/net/leases/*.json 2>/dev/null; echo; fi
}

# ---- main ----

start=$(date +%s)
echo "chaos.sh: $KILLS kills per op, ops: ${OPS[*]}, seed $SEED, work dir $W, logs $OUT" >&2
setup_shared
for op in "${OPS[@]}"; do
  T=$W/$op
  mkdir -p "$T" "$OUT/$op"
  i=0 delay=- KILL_DESC=setup L=$OUT/$op/setup
  mkdir -p "$L"
  ITER_FAILED=()
  "setup_$op"
  # the op's duration, unkilled: the median of three runs
  KILL_DESC="unkilled"
  times=()
  for i in m1 m2 m3; do
    "prep_$op"
    "cmd_$op"
    t0=$EPOCHREALTIME
    timeout "$TOOL_TIMEOUT" "${CMD[@]}" >"$L/measure.out" 2>"$L/measure.err" </dev/null ||
      die "$op: unkilled run failed: ${CMD[*]}: $(tail_of "$L/measure.err")"
    t1=$EPOCHREALTIME
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    "undo_$op"
    leak_checks
    scrub
  done
  DUR[$op]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  printf '%-15s %6ss ' "$op" "${DUR[$op]}" >&2
  for ((i = 1; i <= KILLS; i++)); do
    L=$OUT/$op/$i
    mkdir -p "$L"
    ITER_FAILED=()
    delay=$(rand_delay "${DUR[$op]}")
    KILL_DESC="not killed yet"
    "prep_$op"
    "cmd_$op"
    printf '%s\n' "${CMD[*]}" >"$L/cmd"
    chaos_kill "$delay" "${CMD[@]}"
    state_after_kill >"$L/after-kill.txt" 2>&1
    KILLED[$op]=$((${KILLED[$op]:-0} + 1))
    TOTAL_KILLS=$((TOTAL_KILLS + 1))
    HITS[$op]=$((${HITS[$op]:-0} + KHIT))
    if [ "$KSTATUS" -ne 137 ] && [ "$KSTATUS" -ne 0 ]; then
      fail retry "the killed run exited $KSTATUS by itself" "$(tail_of "$L/killed.err")"
    fi
    "check_$op"
    leak_checks
    scrub
    if [ ${#ITER_FAILED[@]} -eq 0 ]; then
      rm -rf "$L"
      printf . >&2
    else
      printf F >&2
    fi
  done
  i=end delay=- KILL_DESC="end of op" L=$OUT/$op/end
  mkdir -p "$L"
  ITER_FAILED=()
  "end_$op"
  leak_checks
  scrub
  [ ${#ITER_FAILED[@]} -gt 0 ] || rm -rf "$L"
  echo >&2
done

secs=$(($(date +%s) - start))
printf '%-15s %7s %6s %5s' op unkilled kills hits
for k in "${KINDS[@]}"; do printf ' %6s' "$k"; done
printf ' %6s\n' failed
for op in "${OPS[@]}"; do
  n=0
  for k in "${KINDS[@]}"; do n=$((n + ${FAILS[$op:$k]:-0})); done
  printf '%-15s %6ss %6s %5s' "$op" "${DUR[$op]:-?}" "${KILLED[$op]:-0}" "${HITS[$op]:-0}"
  for k in "${KINDS[@]}"; do printf ' %6s' "${FAILS[$op:$k]:-0}"; done
  printf ' %6s\n' "$n"
done
echo "chaos: $TOTAL_KILLS kills, $TOTAL_FAILS failures ($secs s; failures in $FLOG, logs in $OUT)"
[ "$TOTAL_FAILS" -eq 0 ]
