# Shared by the oci-api*.bats files: an oci-api of each test's own on a
# private socket, and requests to it.
load oci-run_manage_helpers

: "${OCI_API:=$OCIKIT_BUILD_ROOT/tools/oci-api/oci-api}"
DOCKER=/usr/bin/docker

# api_start [ARGS...]: this test's network dir and events journal, then
# oci-api (with ARGS) on $SOCK=$T/api.sock, which DOCKER_HOST names; its
# pid in API_PID, its stderr in $T/api.log.
api_start() {
  export OCIKIT_NET_DIR=$T/net OCIKIT_EVENTS=$T/state/events.log
  mkdir -p "$T/state"
  SOCK=$T/api.sock
  export DOCKER_HOST=unix://$SOCK
  "$OCI_API" -H "unix://$SOCK" --root "$ROOT" "$@" 2>"$T/api.log" 3>&- &
  API_PID=$!
  wait_until test -S "$SOCK"
}

# api_stop: oci-api gone, and the networks its containers made (docker's
# default bridge among them).
api_stop() {
  [ -z "${API_PID:-}" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true; }
  net_cleanup "$T"
}

# api METHOD PATH [curl args...]: a request on the socket; prints the body
# and, on the last line, the status code.
api() {
  local m=$1 p=$2
  shift 2
  curl -s --unix-socket "$SOCK" -X "$m" -w '\n%{http_code}' "$@" "http://localhost$p"
}

# children: the processes oci-api has running now.
children() { pgrep -P "$API_PID" || true; }
no_children() { [ -z "$(children)" ]; }
