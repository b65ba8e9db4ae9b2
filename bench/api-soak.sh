#!/usr/bin/env bash
# bench/api-soak.sh: a bounded soak of oci-api on a private unix socket
# (loopback only: containers run with --network none, networks are made and
# removed but nothing leaves the host). N mixed requests from concurrent
# clients (curl, Debian's docker CLI, python3-docker): create/start/run,
# logs -f, attach, exec (-i, -t), wait, stop, kill, restart, rm, inspect,
# list, events, stats, images, volumes, networks, resize, malformed and
# half-sent requests, with clients SIGKILLed at random mid-request and every
# stream SIGKILLed mid-stream (tests/integration/oci-api_soak_helpers.bash).
#
# After a warm-up (every kind once) oci-api's VmRSS, fd count and thread
# count are taken; after the soak, and again after everything was removed
# through the API, the script waits for quiescence and checks: RSS within
# the bound (SOAK_RSS_SLACK_KB, default 8192, plus 25 %; 300 and 600
# requests here both grow it by about 2.7 MiB: malloc arenas of the
# connection threads, a plateau), the same fd and thread counts, no child
# processes of oci-api, the API's container list equal to `oci-run ps -a`
# (ids and states), no process, mount or runtime
# state of a container that does not run, and none of anything at the end.
# Prints a summary; exits 1 when a check failed.
#
#   bench/api-soak.sh [N]   (default 300; SOAK_CONCURRENCY 6, SOAK_KILL_PERCENT 30, SOAK_SEED)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-300}
CONC=${SOAK_CONCURRENCY:-6}
KILL_PCT=${SOAK_KILL_PERCENT:-30}
SEED=${SOAK_SEED:-$$}
B=${OCIKIT_BUILD_ROOT:-$here/build}
OCI_API=${OCI_API:-$B/tools/oci-api/oci-api}
OCI_BUILD=${OCI_BUILD:-$B/tools/oci-build/oci-build}
export OCI_RUN=${OCI_RUN:-$B/tools/oci-run/oci-run}
OCI_NET=${OCI_NET:-$B/tools/oci-net/oci-net}
[ "$(id -u)" -eq 0 ] || { echo "api-soak.sh: needs root" >&2; exit 77; }
for c in curl jq socat setsid /usr/bin/docker /usr/bin/python3; do
  command -v "$c" >/dev/null || { echo "api-soak.sh: $c not installed" >&2; exit 77; }
done
/usr/bin/python3 -c 'import docker' 2>/dev/null || { echo "api-soak.sh: python3-docker not installed" >&2; exit 77; }
source "$here/tests/integration/helpers.bash"
source "$here/tests/integration/oci-api_soak_helpers.bash"

work=$(mktemp -d /tmp/apisoak-XXXXXX)
export SOAK_DIR=$work SOAK_PREFIX=apisoak OCI_RUN
export OCIKIT_STORE=$work/store OCIKIT_STATE_DIR=$work/state OCIKIT_NET_DIR=$work/net
export OCIKIT_EVENTS=$work/state/events.log
export ROOT=$work/root SOCK=$work/api.sock IMG=apisoak/busybox
mkdir -p "$work/state" "$work/base/rootfs"
API_PID=
cleanup() {
  [ -z "$API_PID" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; }
  local id
  for id in $("$OCI_RUN" --root "$ROOT" ps -a -q --no-trunc 2>/dev/null); do
    "$OCI_RUN" --root "$ROOT" rm -f -v "$id" >/dev/null 2>&1
  done
  net_cleanup "$work"
  grep -o " $work[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  [ -n "${SOAK_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

make_busybox_rootfs "$work/base/rootfs"
printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$work/base/Dockerfile"
"$OCI_BUILD" -t "$IMG" "$work/base" >/dev/null 2>&1 || { echo "api-soak.sh: building the image failed" >&2; exit 1; }

"$OCI_API" -H "unix://$SOCK" --root "$ROOT" --read-timeout 3 2>"$work/api.log" 3>&- &
API_PID=$!
export API_PID
for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
RANDOM=$SEED
echo "api-soak: $N requests, $CONC at once, ${KILL_PCT}% killed at random (and every stream), seed $SEED"

fails=0
check() {  # check WHAT CMD...: run a check, print it, count failures
  local what=$1
  shift
  if "$@"; then echo "  ok    $what"; else echo "  FAIL  $what"; fails=$((fails + 1)); fi
}

soak_warmup "$CONC"
soak_quiesce 3 || echo "api-soak: oci-api did not come to rest after the warm-up"
read -r rss0 fd0 thr0 <<<"$(soak_metrics)"
: >"$work/done"
: >"$work/killed"
t0=$(date +%s.%N)
soak_run "$N" "$CONC" "$KILL_PCT"
t1=$(date +%s.%N)
quiet=0
soak_quiesce "$thr0" && quiet=1
read -r rss1 fd1 thr1 <<<"$(soak_metrics)"
echo "api-soak: $(wc -l <"$work/done") clients in $(printf '%.1f' "$(echo "$t1 - $t0" | bc -l)") s, $(wc -l <"$work/killed") SIGKILLed"
echo "  kinds: $(sort "$work/done" | uniq -c | awk '{printf "%s %s, ", $2, $1}')"
echo "checks after the soak:"
check "oci-api is alive" kill -0 "$API_PID"
check "oci-api came to rest (no children, $thr0 threads) within 60 s" test "$quiet" = 1
check "no child processes of oci-api" test -z "$(pgrep -P "$API_PID")"
check "threads: $thr0 after warm-up, $thr1 now" test "$thr1" -le "$thr0"
check "open fds: $fd0 after warm-up, $fd1 now" test "$fd1" -le "$fd0"
slack=$((${SOAK_RSS_SLACK_KB:-8192} + rss0 / 4))
check "VmRSS: $rss0 kB after warm-up, $rss1 kB now (bound +$slack kB)" test "$rss1" -le $((rss0 + slack))
check "malformed requests got docker's JSON errors" test ! -s "$work/violations"
[ ! -s "$work/violations" ] || sed 's/^/    /' "$work/violations" | sort | uniq -c | head -20
check "the API's containers are oci-run ps -a's; nothing of a stopped one is left" soak_check_state
echo "  ($(soak_api_states | awk '{print $2}' | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')listed)"

soak_remove_all
soak_quiesce "$thr0"
read -r rss2 fd2 thr2 <<<"$(soak_metrics)"
echo "checks after removing everything through the API:"
check "no containers left (API and oci-run)" test -z "$(soak_api_states)$(soak_oci_states)"
check "no processes, mounts or runtime state left" soak_check_state
check "no container process of ours runs" test -z "$(soak_container_procs)"
check "threads: $thr0 after warm-up, $thr2 now" test "$thr2" -le "$thr0"
check "open fds: $fd0 after warm-up, $fd2 now" test "$fd2" -le "$fd0"
check "VmRSS: $rss0 kB after warm-up, $rss2 kB now (bound +$slack kB)" test "$rss2" -le $((rss0 + slack))
if [ "$fails" -gt 0 ]; then
  echo "api-soak: $fails checks failed (oci-api's log: $work/api.log$([ -n "${SOAK_KEEP:-}" ] || echo ', set SOAK_KEEP=1 to keep it'))"
  exit 1
fi
echo "api-soak: all checks passed"
