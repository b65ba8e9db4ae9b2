# The soak of oci-api, shared by bench/api-soak.sh (a few hundred requests)
# and oci-api_soak.bats (a short smoke run): a mix of concurrent clients
# (curl on the unix socket, Debian's docker CLI, python3-docker) doing
# container, exec, stream, image, volume and network requests, malformed
# and half-sent requests, with clients SIGKILLed at random, mid-request and
# mid-stream; then checks that oci-api came back to its baseline.
#
# The caller sets: SOCK (oci-api's socket), API_PID, IMG (a busybox image
# with sh), ROOT (oci-run's --root), OCI_RUN, SOAK_DIR (a work dir), and
# SOAK_PREFIX (names of volumes and networks); OCIKIT_STORE,
# OCIKIT_STATE_DIR, OCIKIT_NET_DIR and OCIKIT_EVENTS are oci-api's.
# Networks get 10.217.N.0/24 subnets.

SOAK_DOCKER=/usr/bin/docker
SOAK_PY=/usr/bin/python3
SOAK_HELPERS=${BASH_SOURCE[0]}
SOAK_MAX_RUNNING=${SOAK_MAX_RUNNING:-5}
SOAK_MAX_CONTAINERS=${SOAK_MAX_CONTAINERS:-10}

# Every client kind; streams always end by SIGKILL (or their own timeout).
# A client's `timeout` runs with --foreground: a plain timeout(1) puts its
# command in a process group of its own, where the SIGKILL of the client's
# session does not reach it (the "killed" stream then went on to its 30 s
# timeout and ended politely).
SOAK_KINDS=(ping version info ps ps_curl images inspect logs logs_f attach exec exec_i exec_long exec_tty
  wait stop kill restart rm run_d run_tty run_rm run_i create_start events_f events_range stats
  volume network bad_json bad_type bad_path bad_header garbage half_body half_header exec_missing
  py_list py_run py_logs_f py_exec resize)
SOAK_STREAMS=" logs_f attach exec_long wait events_f py_logs_f half_body half_header "

soak_curl() { curl -s --max-time 60 --unix-socket "$SOCK" "$@"; }
soak_violation() { echo "$*" >>"$SOAK_DIR/violations"; }

# soak_expect_error KIND STATUS CURL_ARGS...: the request gets STATUS and
# docker's {"message": ...} body.
soak_expect_error() {
  local kind=$1 want=$2 out code
  shift 2
  out=$(soak_curl -w '\n%{http_code}' "$@") || return 0
  code=${out##*$'\n'}
  [ "$code" = "$want" ] && jq -e '.message | length > 0' <<<"${out%$'\n'*}" >/dev/null 2>&1 ||
    soak_violation "$kind: want $want with a JSON message, got $code: ${out%$'\n'*}"
}

# A random container id (running ones with `running`), empty when none.
soak_pick() {
  local all=1
  [ "${1:-}" = running ] && all=0
  soak_curl "http://x/containers/json?all=$all" | jq -r '.[].Id' 2>/dev/null | shuf -n1
}
soak_count() { "$OCI_RUN" --root "$ROOT" ps "$@" -q 2>/dev/null | wc -l; }

# A long-running container to keep the others company (TERM ends it at once).
SOAK_LOOP='trap "exit 0" TERM; while :; do echo tick; sleep 0.3; done'

soak_client() {
  local kind=$1 id d=$SOAK_DOCKER
  export DOCKER_HOST=unix://$SOCK
  case $kind in
    ping) [ "$(soak_curl http://x/_ping)" = OK ] || soak_violation "ping: not OK" ;;
    version) $d version --format '{{.Server.APIVersion}}' ;;
    info) soak_curl http://x/info | jq -e .Containers >/dev/null ;;
    ps) $d ps -a -q ;;
    ps_curl) soak_curl 'http://x/containers/json?all=1&filters=%7B%22label%22%3A%5B%22apisoak%22%5D%7D' | jq length ;;
    images) $d images -q; soak_curl http://x/images/json | jq length ;;
    inspect) id=$(soak_pick) && [ -n "$id" ] && $d inspect -f '{{.State.Status}}' "$id" ;;
    logs) id=$(soak_pick) && [ -n "$id" ] && $d logs --tail 3 "$id" ;;
    logs_f) id=$(soak_pick running) && [ -n "$id" ] && timeout --foreground 30 $d logs -f "$id" ;;
    attach) id=$(soak_pick running) && [ -n "$id" ] && timeout --foreground 30 $d attach --no-stdin --sig-proxy=false "$id" ;;
    exec) id=$(soak_pick running) && [ -n "$id" ] && $d exec "$id" sh -c 'echo in-exec' ;;
    exec_i) id=$(soak_pick running) && [ -n "$id" ] && echo piped | $d exec -i "$id" cat ;;
    exec_long) id=$(soak_pick running) && [ -n "$id" ] && $d exec "$id" sh -c 'echo long; sleep 2' ;;
    exec_tty) id=$(soak_pick running) && [ -n "$id" ] && $d exec -t "$id" sh -c 'echo tty' ;;
    wait) id=$(soak_pick running) && [ -n "$id" ] && timeout --foreground 30 $d wait "$id" ;;
    stop) id=$(soak_pick running) && [ -n "$id" ] && $d stop -t 1 "$id" ;;
    kill) id=$(soak_pick running) && [ -n "$id" ] && $d kill "$id" ;;
    restart) id=$(soak_pick) && [ -n "$id" ] && $d restart -t 1 "$id" ;;
    rm) id=$(soak_pick) && [ -n "$id" ] && $d rm -f "$id" ;;
    run_d | run_tty | create_start | py_run)
      # Past the caps, make room instead.
      if [ "$(soak_count)" -ge "$SOAK_MAX_RUNNING" ] || [ "$(soak_count -a)" -ge "$SOAK_MAX_CONTAINERS" ]; then
        id=$(soak_pick) && [ -n "$id" ] && $d rm -f "$id"
        return
      fi
      case $kind in
        run_d) $d run -d --label apisoak=1 "$IMG" sh -c "$SOAK_LOOP" ;;
        run_tty) $d run -dit --label apisoak=1 "$IMG" sh ;;
        create_start)
          id=$(soak_curl -X POST -H 'Content-Type: application/json' http://x/containers/create \
            -d "{\"Image\":\"$IMG\",\"Cmd\":[\"sh\",\"-c\",\"$SOAK_LOOP\"],\"Labels\":{\"apisoak\":\"1\"}}" | jq -r .Id)
          [ -n "$id" ] && [ "$id" != null ] && soak_curl -X POST "http://x/containers/$id/start" ;;
        py_run)
          $SOAK_PY -c 'import docker,os,sys; c=docker.DockerClient(base_url=os.environ["DOCKER_HOST"]); print(c.containers.run(sys.argv[1], ["sh","-c",sys.argv[2]], detach=True, labels={"apisoak":"1"}).id)' \
            "$IMG" "$SOAK_LOOP" ;;
      esac ;;
    run_rm) $d run --rm "$IMG" sh -c 'echo hi; sleep 0.5' ;;
    run_i) echo stdin-data | $d run -i --rm "$IMG" cat ;;
    events_f) timeout --foreground 30 $d events ;;
    events_range) soak_curl "http://x/events?since=$(($(date +%s) - 5))&until=$(date +%s)" | wc -l ;;
    stats) id=$(soak_pick running) && [ -n "$id" ] && soak_curl "http://x/containers/$id/stats?stream=false" | head -c 200 ;;
    volume)
      local v=$SOAK_PREFIX-v$((RANDOM % 4))
      $d volume create "$v" && $d volume ls -q && $d volume rm "$v" ;;
    network)
      local n=$((RANDOM % 8))
      $d network create --subnet "10.217.$n.0/24" "$SOAK_PREFIX-n$n" && $d network ls -q && $d network rm "$SOAK_PREFIX-n$n" ;;
    bad_json) soak_expect_error bad_json 400 -X POST -H 'Content-Type: application/json' http://x/containers/create -d '{"Image": ' ;;
    bad_type) soak_expect_error bad_type 400 -X POST -H 'Content-Type: application/json' http://x/containers/create -d '{"Image": 5}' ;;
    bad_path) soak_expect_error bad_path 404 http://x/v1.41/no/such/thing ;;
    bad_header) soak_expect_error bad_header 431 -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" http://x/_ping ;;
    exec_missing) soak_expect_error exec_missing 404 -X POST -H 'Content-Type: application/json' -d '{}' http://x/exec/nosuch/start ;;
    garbage)
      local out
      out=$(printf 'NOT HTTP AT ALL\r\n\r\n' | timeout --foreground 20 socat -t 10 - "UNIX-CONNECT:$SOCK")
      [ -z "$out" ] || [[ "$out" == "HTTP/1.1 400"* ]] || soak_violation "garbage: answered $out" ;;
    half_body)
      { printf 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima'; sleep 30; } |
        timeout --foreground 30 socat -t 30 - "UNIX-CONNECT:$SOCK" ;;
    half_header) { printf 'GET /containers/json HTTP/1.1\r\nHost: x\r\nX-Hal'; sleep 30; } | timeout --foreground 30 socat -t 30 - "UNIX-CONNECT:$SOCK" ;;
    py_list) $SOAK_PY -c 'import docker,os; c=docker.DockerClient(base_url=os.environ["DOCKER_HOST"]); print(len(c.containers.list(all=True)), len(c.images.list()), len(c.volumes.list()), len(c.networks.list()))' ;;
    py_logs_f)
      id=$(soak_pick running) && [ -n "$id" ] &&
        timeout --foreground 30 $SOAK_PY -c 'import docker,os,sys; c=docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
for l in c.containers.get(sys.argv[1]).logs(stream=True, follow=True): pass' "$id" ;;
    py_exec)
      id=$(soak_pick running) && [ -n "$id" ] &&
        $SOAK_PY -c 'import docker,os,sys; c=docker.DockerClient(base_url=os.environ["DOCKER_HOST"])
r=c.containers.get(sys.argv[1]).exec_run(["sh","-c","echo py-exec"], tty=bool(int(sys.argv[2]))); print(r.exit_code, r.output)' "$id" $((RANDOM % 2)) ;;
    resize)
      id=$(soak_pick running) && [ -n "$id" ] && soak_curl -X POST "http://x/containers/$id/resize?h=$((RANDOM % 50 + 10))&w=$((RANDOM % 100 + 20))"
      soak_expect_error resize 404 -X POST 'http://x/exec/nosuch/resize?h=10&w=10' ;;
    *) echo "soak: unknown client kind $kind" >&2; return 2 ;;
  esac
}

# soak_launch KIND KILL_AFTER: run one client in its own session (so that
# SIGKILL reaches curl/docker/python and their children), killed after
# KILL_AFTER seconds unless that is 0. Meant to run in the background.
soak_launch() {
  local kind=$1 after=$2 pid
  setsid bash -c 'source "$1"; soak_client "$2"' _ "$SOAK_HELPERS" "$kind" >>"$SOAK_DIR/clients.log" 2>&1 3>&- &
  pid=$!
  if [ "$after" != 0 ]; then
    sleep "$after"
    kill -9 -- "-$pid" 2>/dev/null && echo "$kind" >>"$SOAK_DIR/killed"
  fi
  wait "$pid" 2>/dev/null
  echo "$kind" >>"$SOAK_DIR/done"
}

# soak_throttle CONCURRENCY: wait until fewer than CONCURRENCY of the
# clients in SOAK_PIDS run (not `wait`: that would wait for oci-api too).
soak_throttle() {
  local p live
  for (( ; ; )); do
    live=()
    for p in "${SOAK_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
    SOAK_PIDS=("${live[@]}")
    [ "${#SOAK_PIDS[@]}" -lt "$1" ] && return 0
    sleep 0.05
  done
}

# soak_run N CONCURRENCY KILL_PERCENT: N random clients, at most CONCURRENCY
# at once; KILL_PERCENT of them (and every stream) SIGKILLed after 0-1.5 s
# (streams 0.3-2.5 s). $RANDOM is seeded by the caller.
soak_run() {
  local n=$1 conc=$2 pct=$3 i kind after
  SOAK_PIDS=()
  for ((i = 0; i < n; i++)); do
    soak_throttle "$conc"
    kind=${SOAK_KINDS[RANDOM % ${#SOAK_KINDS[@]}]}
    after=0
    if [[ "$SOAK_STREAMS" == *" $kind "* ]]; then
      after=$(printf '%d.%02d' $((RANDOM % 2)) $((RANDOM % 100 + 30)))
      [ "${after%.*}" -lt 3 ] || after=2.5
    elif [ $((RANDOM % 100)) -lt "$pct" ]; then
      after=$(printf '%d.%02d' $((RANDOM % 2)) $((RANDOM % 50)))
    fi
    soak_launch "$kind" "$after" 3>&- &
    SOAK_PIDS+=($!)
  done
  soak_throttle 1
}

# soak_warmup CONCURRENCY [KIND...]: every kind (or those given) once, none
# killed but streams (the warm-up: thread stacks, malloc arenas).
soak_warmup() {
  local conc=$1 kind kinds=("${SOAK_KINDS[@]}")
  shift
  [ $# -eq 0 ] || kinds=("$@")
  SOAK_PIDS=()
  for kind in "${kinds[@]}"; do
    soak_throttle "$conc"
    if [[ "$SOAK_STREAMS" == *" $kind "* ]]; then soak_launch "$kind" 1 3>&- &
    else soak_launch "$kind" 0 3>&- &
    fi
    SOAK_PIDS+=($!)
  done
  soak_throttle 1
}

# oci-api's numbers: "RSS_KB FDS THREADS".
soak_metrics() {
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$API_PID/status") $(ls "/proc/$API_PID/fd" | wc -l) $(awk '/^Threads:/ {print $2}' "/proc/$API_PID/status")"
}

# Processes of this soak outside oci-api: their command line names our
# runtime root or state dir (monitors, runtimes, oci-run clients), as
# "PID PPID ARGS".
soak_tool_procs() {
  local f p args
  for f in $(grep -l -a -F -e "$ROOT" -e "$OCIKIT_STATE_DIR" /proc/[0-9]*/cmdline 2>/dev/null); do
    p=${f#/proc/}
    p=${p%/cmdline}
    [ "$p" != "$API_PID" ] || continue
    args=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    echo "$p $(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) $args"
  done
}

# Every container id this soak ever made (from the events journal).
soak_all_ids() {
  cat "$OCIKIT_EVENTS".1 "$OCIKIT_EVENTS" 2>/dev/null | jq -r 'select(.Type == "container" and .Action == "create") | .id // .Actor.ID // empty' 2>/dev/null | sort -u
}

# Processes in the cgroup of one of our containers, as "PID ID".
soak_container_procs() {
  local ids f id
  ids=" $(soak_all_ids | tr '\n' ' ') "
  grep -H -o '^0::/ocikit/[0-9a-f]\{64\}' /proc/[0-9]*/cgroup 2>/dev/null | while IFS=: read -r f _ _ id; do
    id=${id#/ocikit/}
    f=${f#/proc/}
    [[ "$ids" == *" $id "* ]] && echo "${f%/cgroup} $id"
  done
}

# The containers' monitors (their records' monitor_pid; a monitor keeps
# the command line of the oci-run that forked it: start, restart, run).
soak_monitor_pids() {
  cat "$OCIKIT_STATE_DIR"/containers/*/record.json 2>/dev/null | jq -r 'select(.monitor_pid > 0) | "\(.monitor_pid)"' 2>/dev/null
}

# soak_tool_procs without the monitors and their runtimes (`run --bundle`).
soak_other_procs() {
  local mons pid ppid args
  mons=" $(soak_monitor_pids | tr '\n' ' ') "
  soak_tool_procs | while read -r pid ppid args; do
    [[ "$mons" == *" $pid "* ]] && continue
    [[ "$mons" == *" $ppid "* && "$args" == *" run --bundle "* ]] && continue
    echo "$pid $ppid $args"
  done
}

# soak_quiesce THREADS: wait (up to 60 s) until oci-api has no children and
# no more than THREADS threads (keep-alive connections end with the read
# timeout), and no oci-run client of ours runs any more (exec'd commands end
# by themselves). 1 when it did not get there.
soak_quiesce() {
  local end=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$end" ]; do
    if [ -z "$(pgrep -P "$API_PID")" ] && [ "$(soak_metrics | cut -d' ' -f3)" -le "$1" ] &&
      [ -z "$(soak_other_procs)" ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# "ID STATE" of every container, by the API and by oci-run ps -a.
soak_api_states() { soak_curl 'http://x/containers/json?all=1' | jq -r '.[] | "\(.Id) \(.State)"' | sort; }
soak_oci_states() { "$OCI_RUN" --root "$ROOT" ps -a --no-trunc --format json | jq -r '"\(.ID) \(.State)"' | sort; }

# soak_check_state: the API lists what oci-run ps -a lists (ids, states), and
# every process, mount and runtime dir of ours belongs to a running container.
# A container may still be ending when the clients are done (a `docker kill`
# returns once the signal is sent; a killed `docker run --rm` client leaves
# its container to finish and be removed; its monitor then cleans up), so
# the host gets up to 20 s to settle; what is still wrong then is printed, and
# 1 returned.
soak_check_state() {
  local end=$((SECONDS + 20)) out
  while :; do
    out=$(soak_check_state_once) && return 0
    [ "$SECONDS" -lt "$end" ] || break
    sleep 0.5
  done
  echo "$out"
  return 1
}

soak_check_state_once() {
  local api oci i bad=0 running
  for i in 1 2 3 4 5; do
    api=$(soak_api_states)
    oci=$(soak_oci_states)
    [ "$api" = "$oci" ] && [ "$api" = "$(soak_api_states)" ] && break
    sleep 1
  done
  if [ "$api" != "$oci" ]; then
    echo "FAIL: the API and oci-run ps -a differ:"
    diff <(echo "$api") <(echo "$oci") | sed 's/^/  /'
    bad=1
  fi
  running=" $(awk '$2 == "running" || $2 == "restarting" || $2 == "paused" {print $1}' <<<"$oci" | tr '\n' ' ') "
  local pid ppid args id
  # monitors (and their runtimes) only for running containers
  while read -r pid ppid args; do
    [ -n "$pid" ] || continue
    id=$(grep -o '[0-9a-f]\{64\}' <<<"$args" | tail -1)
    [[ "$running" == *" $id "* ]] && continue
    echo "FAIL: the monitor or runtime of a container that does not run: $pid (parent $ppid) $args"
    bad=1
  done <<<"$(soak_tool_procs)"
  while read -r pid ppid args; do
    [ -n "$pid" ] || continue
    echo "FAIL: a process left behind: $pid (parent $ppid) $args"
    bad=1
  done <<<"$(soak_other_procs)"
  while read -r pid id; do
    [ -n "$pid" ] || continue
    [[ "$running" == *" $id "* ]] && continue
    echo "FAIL: container $id is not running but its process $pid is: $(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null)"
    bad=1
  done <<<"$(soak_container_procs)"
  local m
  while read -r m; do
    [ -n "$m" ] || continue
    id=$(grep -o '[0-9a-f]\{64\}' <<<"$m" | head -1)
    [ -n "$id" ] && [[ "$running" == *" $id "* ]] && continue
    echo "FAIL: a stray mount: $m"
    bad=1
  done <<<"$(awk -v d="$SOAK_DIR" 'index($2, d) == 1 {print $2}' /proc/self/mounts)"
  for m in "$ROOT"/*; do
    [ -e "$m" ] || continue
    [[ "$running" == *" $(basename "$m") "* ]] && continue
    # a stopped container keeps no runtime state
    echo "FAIL: runtime state of a container that does not run: $m"
    bad=1
  done
  return $bad
}

# soak_remove_all: remove every container, volume and network of ours
# through the API.
soak_remove_all() {
  local id
  for id in $(soak_curl 'http://x/containers/json?all=1' | jq -r '.[].Id'); do
    DOCKER_HOST=unix://$SOCK $SOAK_DOCKER rm -f "$id" >/dev/null
  done
  for id in $(DOCKER_HOST=unix://$SOCK $SOAK_DOCKER volume ls -q | grep "^$SOAK_PREFIX-"); do
    DOCKER_HOST=unix://$SOCK $SOAK_DOCKER volume rm "$id" >/dev/null
  done
  for id in $(DOCKER_HOST=unix://$SOCK $SOAK_DOCKER network ls --format '{{.Name}}' | grep "^$SOAK_PREFIX-"); do
    DOCKER_HOST=unix://$SOCK $SOAK_DOCKER network rm "$id" >/dev/null
  done
}
