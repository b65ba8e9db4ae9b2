#!/usr/bin/env bats
# oci-api: terminals. POST /exec/{id}/resize sets the size of a tty exec's
# terminal (oci-api gives `oci-run exec --tty` a raw pty of its own as stdin;
# oci-run's relay passes the size on), POST /containers/{id}/resize the
# size of a tty container's terminal through its monitor (`oci-run resize`),
# attached or not; the docker CLI's own resize of `docker run -it`; docker's
# answers for what cannot be resized. python3-docker and curl on a private
# socket, as oci-api.bats.
load oci-api_helpers


setup_file() {
  require_cmd /usr/bin/docker curl jq
  manage_setup_file
}

setup() {
  manage_setup
  api_start --read-timeout 3
}

teardown() {
  [ -n "${T:-}" ] || return 0
  api_stop
  manage_teardown
}

# code: the HTTP status of the last `run api` (its last line; an empty body
# leaves no line of its own).
code() { echo "${lines[${#lines[@]}-1]}"; }

need_py() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import docker' 2>/dev/null || skip "python3-docker not installed"; }

# py_exec_tty CONTAINER READY INPUT CMD...: a tty exec with stdin through
# python3-docker's low-level API: resized to 33x111 once started, INPUT
# (Python escapes) sent once READY (when not empty) was output, its raw
# output printed as a Python bytes repr, then its exit code.
py_exec_tty() {
  /usr/bin/python3 - "$@" <<'PY'
import os, socket, sys, time, docker
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"])
cid, ready, cmd = sys.argv[1], sys.argv[2].encode(), sys.argv[4:]
data = sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
ex = api.exec_create(cid, cmd, stdin=True, tty=True)["Id"]
sock = api.exec_start(ex, tty=True, socket=True)
s = sock._sock
api.exec_resize(ex, height=33, width=111)
s.settimeout(20)
out = b""
while ready and ready not in out:
    b = s.recv(4096)
    if not b:
        break
    out += b
s.sendall(data)
while True:
    try:
        b = s.recv(4096)
    except socket.timeout:
        break
    if not b:
        break
    out += b
print(repr(out))
for i in range(50):
    r = api.exec_inspect(ex)
    if not r["Running"]:
        break
    time.sleep(0.1)
print(r["ExitCode"])
PY
}

@test "oci-api tty: exec_resize to 33x111 reaches stty size in a tty exec; bytes pass raw both ways" {
  need_py
  local id
  id=$($DOCKER run -dit $IMG sh)
  # a shell on the exec's terminal: the size is there before it reads a command
  run py_exec_tty "$id" "" 'stty size; exit 3\n' sh
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  [[ "${lines[0]}" == *"33 111\\r\\n"* ]] || { echo "$output"; false; }
  [ "${lines[1]}" = 3 ]
  # oci-api's terminal is raw: \r and ^C (0x03) arrive unchanged in the
  # container (a cooked one would make \n and a SIGINT of oci-run of them),
  # and output bytes are the container pty's own (\n -> \r\n there, nothing more).
  run py_exec_tty "$id" ready 'a\rb\x03c' sh -c 'stty raw -echo; echo ready; head -c 5 | od -An -tx1; printf "x\ny\r\n"'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "${lines[0]}" == *" 61 0d 62 03 63"* ]] || { echo "$output"; false; }
  [[ "${lines[0]}" == *'x\ny\r\n'* ]] || { echo "$output"; false; }
  [ "${lines[1]}" = 0 ]
  wait_until bash -c "! pgrep -P $API_PID"
}

@test "oci-api tty: a tty container's resize reaches its terminal, attached or not; oci-run resize" {
  local id
  id=$($DOCKER run -dit --name tty-c $IMG sh)
  run api POST "/containers/tty-c/resize?h=33&w=111"
  [ "$(code)" = 200 ] || { echo "$output"; cat "$T/api.log"; false; }
  # the container's own terminal (its sh's stdin), seen from an exec
  [ "$($DOCKER exec tty-c stty -F /proc/1/fd/0 size)" = "33 111" ]
  # with a client attached (its oci-run attach's hello carries no size)
  curl -s -N --unix-socket "$SOCK" -X POST "http://localhost/containers/tty-c/attach?stream=1&stdout=1" >/dev/null 3>&- &
  local att=$!
  wait_until pgrep -P "$API_PID"
  run api POST "/containers/$id/resize?h=20&w=50"
  [ "$(code)" = 200 ]
  [ "$($DOCKER exec tty-c stty -F /proc/1/fd/0 size)" = "20 50" ]
  kill $att
  wait $att 2>/dev/null || true
  # the same through oci-run
  R resize --height 40 --width 90 tty-c
  [ "$($DOCKER exec tty-c stty -F /proc/1/fd/0 size)" = "40 90" ]
  run R resize --height 0 --width 90 tty-c
  [ "$status" -eq 2 ] && [[ "$output" == *"invalid window size 0x90"* ]]
  $DOCKER run -d --name notty-c $IMG sleep 100
  run R resize --height 10 --width 10 notty-c
  [ "$status" -eq 1 ] && [[ "$output" == *"cannot resize container notty-c: it has no terminal"* ]]
  $DOCKER rm -f tty-c notty-c
}

@test "oci-api tty: docker run -it resizes to the CLI's terminal (script gives it one)" {
  require_cmd script
  run timeout 60 script -qec "stty rows 33 cols 111; $DOCKER run --rm -it $IMG stty size" /dev/null
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  [[ "$output" == *"33 111"* ]] || { echo "$output"; false; }
  [[ "$output" != *"failed to resize tty"* ]]
}

@test "oci-api tty: docker's answers for what cannot be resized" {
  # no tty: nothing to resize, success as dockerd (containerd's shim) answers
  $DOCKER run -d --name plain $IMG sleep 100
  run api POST "/containers/plain/resize?h=10&w=10"
  [ "$(code)" = 200 ]
  # a container that does not run: 409
  local id
  id=$($DOCKER create --name stopped -t $IMG sh)
  run api POST "/containers/stopped/resize?h=10&w=10"
  [ "${lines[1]}" = 409 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "Container $id is not running" ] || { echo "$output"; false; }
  run api POST "/containers/nosuch/resize?h=10&w=10"
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "No such container: nosuch" ]
  run api POST "/containers/plain/resize?h=ten&w=10"
  [ "${lines[1]}" = 400 ] && jq -e '.message | contains("invalid resize parameter h")' <<<"${lines[0]}"
  # exec instances: a missing one is 404, a finished one 409, a non-tty one 200
  run api POST "/exec/nosuch/resize?h=10&w=10"
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "No such exec instance: nosuch" ]
  local ex
  ex=$(api POST /containers/plain/exec -H 'Content-Type: application/json' -d '{"Cmd":["true"]}' | head -1 | jq -r .Id)
  run api POST "/exec/$ex/resize?h=10&w=10"
  [ "$(code)" = 200 ]
  run api POST "/exec/$ex/start" -H 'Content-Type: application/json' -d '{"Detach":false,"Tty":false}'
  run api POST "/exec/$ex/resize?h=10&w=10"
  [ "${lines[1]}" = 409 ] && jq -e '.message | contains("is not running")' <<<"${lines[0]}"
  $DOCKER rm -f plain stopped
}
