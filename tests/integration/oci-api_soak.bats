#!/usr/bin/env bats
# oci-api under a short soak (the smoke version of bench/api-soak.sh, same
# clients and checks from oci-api_soak_helpers.bash): about 40 mixed requests
# from curl, the docker CLI and python3-docker, clients SIGKILLed at random
# and mid-stream; afterwards oci-api has its warm-up's threads and fds, no
# children, about its memory, and the API, `oci-run ps -a`, the processes and
# the mounts agree. No timings: every wait is bounded, none is measured.
load oci-run_manage_helpers
load oci-api_soak_helpers

: "${OCI_API:=$OCIKIT_BUILD_ROOT/tools/oci-api/oci-api}"

setup_file() {
  require_cmd /usr/bin/docker curl jq socat setsid
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"
  manage_setup_file
}

setup() {
  manage_setup
  export OCIKIT_NET_DIR=$T/net OCIKIT_EVENTS=$T/state/events.log
  mkdir -p "$T/state"
  export SOCK=$T/api.sock SOAK_DIR=$T SOAK_PREFIX=apisoak ROOT IMG OCI_RUN
  export DOCKER_HOST=unix://$SOCK
  "$OCI_API" -H "unix://$SOCK" --root "$ROOT" --read-timeout 3 2>"$T/api.log" 3>&- &
  export API_PID=$!
  wait_until test -S "$SOCK"
}

teardown() {
  [ -n "${T:-}" ] || return 0
  [ -z "${API_PID:-}" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true; }
  net_cleanup "$T"
  manage_teardown
}

@test "oci-api soak: 40 mixed requests, clients killed at random, leave oci-api and the host as they were" {
  # a short warm-up (bench/api-soak.sh runs every kind): one of each family
  soak_warmup 6 run_d run_tty exec exec_tty logs_f attach events_f py_list py_exec bad_json half_header volume ps
  soak_quiesce 3 || { pgrep -a -P "$API_PID"; soak_metrics; false; }
  local rss0 fd0 thr0 rss1 fd1 thr1
  read -r rss0 fd0 thr0 <<<"$(soak_metrics)"
  RANDOM=${SOAK_SEED:-$$}
  echo "seed ${SOAK_SEED:-$$}"
  soak_run 40 6 30
  soak_quiesce "$thr0" || { echo "oci-api did not come to rest"; pgrep -a -P "$API_PID"; soak_metrics; false; }
  read -r rss1 fd1 thr1 <<<"$(soak_metrics)"
  echo "after warm-up: rss $rss0 kB, $fd0 fds, $thr0 threads; after the soak: rss $rss1 kB, $fd1 fds, $thr1 threads"
  kill -0 "$API_PID"
  [ -z "$(pgrep -P "$API_PID")" ]
  [ "$thr1" -le "$thr0" ] && [ "$fd1" -le "$fd0" ]
  [ "$rss1" -le $((rss0 + 8192 + rss0 / 4)) ]
  [ ! -s "$T/violations" ] || { cat "$T/violations"; false; }
  soak_check_state
  soak_remove_all
  soak_quiesce "$thr0"
  [ -z "$(soak_api_states)$(soak_oci_states)" ]
  soak_check_state
  [ -z "$(soak_container_procs)" ]
  no_leftovers
  read -r rss1 fd1 thr1 <<<"$(soak_metrics)"
  [ "$thr1" -le "$thr0" ] && [ "$fd1" -le "$fd0" ]
}
