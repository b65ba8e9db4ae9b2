#!/usr/bin/env bash
# bench/api.sh: `docker run --rm --network none IMAGE true` with Debian's
# docker CLI through oci-api and through `podman system service` (crun),
# on the same busybox-static image, side by side with hyperfine; prints both
# medians and the ratio. Then a small docker-compose project (one service,
# a named volume, a user network) brought `up -d` and `down -v` through each
# (COMPOSE_RUNS, default 5).
#
# Both servers listen on private sockets with private stores (the image is
# built with oci-build and loaded into a temp podman storage from an
# oci-archive of that store). podman needs explicit ulimits on this host
# (CAP_SYS_RESOURCE is missing), so both runs pass the same --ulimit flags;
# crun 1.8 refuses the hybrid cgroup layout while /sys/fs/cgroup/unified is
# mounted, so everything runs inside `unshare -m` with that mount gone.
#
#   bench/api.sh [RUNS]      (hyperfine runs per command, default 20)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-20}
B=${OCIKIT_BUILD_ROOT:-$here/build}
OCI_API=${OCI_API:-$B/tools/oci-api/oci-api}
OCI_BUILD=${OCI_BUILD:-$B/tools/oci-build/oci-build}
DOCKER=/usr/bin/docker
[ "$(id -u)" -eq 0 ] || { echo "api.sh: needs root" >&2; exit 77; }
for c in podman crun hyperfine jq $DOCKER; do
  command -v "$c" >/dev/null || { echo "api.sh: $c not installed" >&2; exit 77; }
done
source "$here/tests/integration/helpers.bash"

source "$here/bench/podman_helpers.bash"
bench_podman_init okt-api-bench
cleanup() {
  [ ! -f "$work/api.pid" ] || kill "$(cat "$work/api.pid")" 2>/dev/null || true
  [ ! -f "$work/podman.pid" ] || kill "$(cat "$work/podman.pid")" 2>/dev/null || true
  sleep 0.5
  bench_podman_cleanup
}
trap cleanup EXIT
bench_busybox_image

run_args="run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 okt-bench/busybox true"
COMPOSE=/usr/bin/docker-compose
COMPOSE_RUNS=${COMPOSE_RUNS:-5}
mkdir -p "$work/proj"
cat >"$work/proj/docker-compose.yml" <<'YML'
version: "3"
services:
  web:
    image: okt-bench/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $$!; done"]
    volumes: ["data:/data"]
    networks: ["net"]
    # podman needs these on a host without CAP_SYS_RESOURCE (see above)
    ulimits:
      nofile: {soft: 20000, hard: 20000}
      nproc: {soft: 32768, hard: 32768}
volumes:
  data: {}
networks:
  net: {}
YML
for srv in api podman; do
  cat >"$work/compose-$srv.sh" <<SH
set -e
export DOCKER_HOST=unix://$work/$srv.sock
$COMPOSE -p okbench -f $work/proj/docker-compose.yml up -d
$COMPOSE -p okbench -f $work/proj/docker-compose.yml down -v -t 5
SH
done
cat >"$work/bench.sh" <<BENCH
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
OCIKIT_STORE=$work/store OCIKIT_STATE_DIR=$work/state OCIKIT_NET_DIR=$work/net \
  "$OCI_API" -H unix://$work/api.sock --root $work/oci-root 2>$work/api.log 3>&- &
echo \$! >$work/api.pid
${P[*]} system service --time=0 unix://$work/podman.sock 2>$work/podman.log 3>&- &
echo \$! >$work/podman.pid
for i in \$(seq 100); do [ -S $work/api.sock ] && [ -S $work/podman.sock ] && break; sleep 0.1; done
okt="env DOCKER_HOST=unix://$work/api.sock $DOCKER $run_args"
pod="env DOCKER_HOST=unix://$work/podman.sock $DOCKER $run_args"
\$okt || { echo "api.sh: docker run through oci-api failed" >&2; cat $work/api.log >&2; exit 1; }
\$pod || { echo "api.sh: docker run through podman failed" >&2; cat $work/podman.log >&2; exit 1; }
hyperfine -N -w 2 -r $RUNS --export-json $work/result.json -n oci-api "\$okt" -n podman "\$pod"
bash $work/compose-api.sh >/dev/null 2>&1 || { echo "api.sh: compose through oci-api failed" >&2; bash -x $work/compose-api.sh >&2; exit 1; }
bash $work/compose-podman.sh >/dev/null 2>&1 || { echo "api.sh: compose through podman failed" >&2; bash -x $work/compose-podman.sh >&2; exit 1; }
hyperfine -N -w 1 -r $COMPOSE_RUNS --export-json $work/compose.json -n oci-api "bash $work/compose-api.sh" \
  -n podman "bash $work/compose-podman.sh"
BENCH
unshare -m bash "$work/bench.sh"
o=$(jq '.results[] | select(.command=="oci-api") | .median' "$work/result.json")
p=$(jq '.results[] | select(.command=="podman") | .median' "$work/result.json")
printf 'docker run --rm via oci-api: %.1f ms   via podman system service (crun): %.1f ms   oci-api/podman: %.2f (medians of %s)\n' \
  "$(echo "$o * 1000" | bc -l)" "$(echo "$p * 1000" | bc -l)" "$(echo "$o / $p" | bc -l)" "$RUNS"
o=$(jq '.results[] | select(.command=="oci-api") | .median' "$work/compose.json")
p=$(jq '.results[] | select(.command=="podman") | .median' "$work/compose.json")
printf 'docker-compose up -d + down -v via oci-api: %.1f ms   via podman: %.1f ms   oci-api/podman: %.2f (medians of %s)\n' \
  "$(echo "$o * 1000" | bc -l)" "$(echo "$p * 1000" | bc -l)" "$(echo "$o / $p" | bc -l)" "$COMPOSE_RUNS"
