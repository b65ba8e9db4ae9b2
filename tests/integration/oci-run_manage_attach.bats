#!/usr/bin/env bats
# oci-run: start failures as docker reports them (127/126, left "created"),
# a foreground client killed while its container runs on, attach (stdin,
# --no-stdin, --sig-proxy, detach keys), start -a/-ai, window resizes through tmux,
# --ulimit, streaming stats.
load oci-run_manage_helpers

teardown() {
  local s
  for s in "$T"/tmux*.sock; do [ -S "$s" ] && tmux -S "$s" kill-server 2>/dev/null; done
  manage_teardown
}

# in_new_tmux NAME CMD: replace the tmux server at $TMUX_SOCK by a new one,
# $T/NAME.sock, whose 80x20 window runs CMD.
in_new_tmux() {
  tmux -S "$TMUX_SOCK" kill-server
  TMUX_SOCK=$T/$1.sock
  tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 80 -y 20 "$2"
  sleep 1
}

# pty_follows_resize COLS ROWS: resize the tmux window; the shell in it
# must then report that size (`stty size` prints "ROWS COLS").
pty_follows_resize() {
  tmux -S "$TMUX_SOCK" resize-window -x "$1" -y "$2"
  sleep 0.5
  tmux -S "$TMUX_SOCK" send-keys 'stty size' Enter
  wait_until sh -c "tmux -S '$TMUX_SOCK' capture-pane -p | grep -q '^$2 $1'"
}

@test "attach: run -d and start of a missing or unrunnable command fail as docker's" {
  run -127 R run -d --name miss "$IMG" nosuch
  [ "$status" -eq 127 ]
  [ "$output" = 'oci-run: error: exec: "nosuch": executable file not found in $PATH' ]
  run R ps -a --format json
  [ "$(jq -r 'select(.Names == "miss") | .State' <<<"$output")" = created ]
  run R inspect miss
  [ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 127 ]
  [ "$(jq -r '.[0].State.Error' <<<"$output")" = 'exec: "nosuch": executable file not found in $PATH' ]
  # nothing of the failed start stays mounted, and the log is empty
  ! grep -q " $T" /proc/self/mounts
  id=$(R inspect miss | jq -r '.[0].Id')
  [ ! -s "$OCIKIT_STATE_DIR/containers/$id/$id-json.log" ]
  run -127 R start miss
  [ "$status" -eq 127 ]
  [ "$output" = 'oci-run: error: exec: "nosuch": executable file not found in $PATH' ]
  run -126 R run -d "$IMG" /etc/passwd
  [ "$status" -eq 126 ]
  [ "$output" = 'oci-run: error: exec: "/etc/passwd": permission denied' ]
  # the foreground run says the same; --rm leaves nothing
  run -127 R run --rm "$IMG" /no/such
  [ "$status" -eq 127 ]
  [ "$output" = 'oci-run: error: exec: "/no/such": stat /no/such: no such file or directory' ]
  R rm miss
  R rm "$(R ps -a -q)"
  no_leftovers
}

@test "attach: a SIGKILLed foreground client leaves its container running and managed" {
  R run --name fg "$IMG" sh -c 'trap "echo bye; exit 3" TERM; echo first; while true; do echo tick; sleep 0.1; done' >"$T/out" 2>&1 &
  client=$!
  wait_until grep -q first "$T/out"
  kill -9 "$client"
  wait "$client" || true
  run R ps --format json
  [ "$(jq -r .Names <<<"$output")" = fg ]
  [ "$(jq -r .State <<<"$output")" = running ]
  n=$(R logs fg | grep -c tick)
  wait_until sh -c "[ \$('$OCI_RUN' --root '$ROOT' logs fg | grep -c tick) -gt $n ]"
  run R stop -t 5 fg
  [ "$status" -eq 0 ]
  run R wait fg
  [ "$output" = 3 ]
  R logs fg | grep -q bye
  R rm fg
  no_leftovers
}

@test "attach: stdin (-i), --no-stdin, --sig-proxy" {
  R run -d -i --name cat "$IMG" sh -c 'cat; echo cat-done; exit 4' >/dev/null
  run sh -c "printf 'hello\n' | '$OCI_RUN' --root '$ROOT' attach cat"
  [ "$status" -eq 4 ]
  [ "$output" = "hello
cat-done" ]
  R logs cat | grep -q hello
  # --no-stdin: output only; a client killed by a signal it does not proxy leaves the container
  R run -d -i --name tick "$IMG" sh -c 'while true; do echo tick; sleep 0.1; done' >/dev/null
  run timeout 1 "$OCI_RUN" --root "$ROOT" attach --no-stdin --sig-proxy=false tick
  [ "$status" -eq 124 ]
  [[ "$output" == *tick* ]]
  run R ps --format json -q
  [ "$(R inspect tick | jq -r '.[0].State.Status')" = running ]
  # --sig-proxy (default): the client's SIGTERM reaches the container
  R run -d --name sig "$IMG" sh -c 'trap "echo got-term; exit 7" TERM; while true; do sleep 0.1; done' >/dev/null
  "$OCI_RUN" --root "$ROOT" attach sig >"$T/sig" 2>&1 &
  client=$!
  sleep 0.5
  kill -TERM "$client"
  rc=0
  wait "$client" || rc=$?
  [ "$rc" -eq 7 ]
  grep -q got-term "$T/sig"
  run R attach nosuch
  [ "$status" -ne 0 ]
  run R attach sig
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot attach to a stopped container"* ]]
}

@test "attach: start -a and -ai attach before the start; a running container is attached to" {
  R create --name sa "$IMG" sh -c 'echo out; echo err >&2; exit 3' >/dev/null
  run R start -a sa
  [ "$status" -eq 3 ]
  [[ "$output" == *out* && "$output" == *err* ]]
  # an exited container starts again, its output attached again
  run R start --attach sa
  [ "$status" -eq 3 ]
  [[ "$output" == *out* ]]
  R create -i --name si "$IMG" sh -c 'echo started; cat; exit 5' >/dev/null
  run sh -c "printf 'typed\n' | '$OCI_RUN' --root '$ROOT' start -ai si"
  [ "$status" -eq 5 ]
  [ "$output" = "started
typed" ]
  R logs si | grep -q typed
  R run -d --name sr "$IMG" sh -c 'sleep 1; echo late; exit 6' >/dev/null
  run R start -a sr
  [ "$status" -eq 6 ]
  [ "$output" = late ]
  run R start -a sa si
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot start and attach multiple containers at once"* ]]
  R rm sa si sr >/dev/null
  no_leftovers
}

@test "attach: detach keys leave a -it container running; window sizes reach the pty" {
  require_cmd tmux
  R run -d -it --name term "$IMG" sh >/dev/null
  TMUX_SOCK=$T/tmux.sock
  tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 91 -y 23 "'$OCI_RUN' --root '$ROOT' attach term; echo attach-rc=\$?; sleep 30"
  sleep 1
  tmux -S "$TMUX_SOCK" send-keys 'stty size' Enter
  wait_until sh -c "tmux -S '$TMUX_SOCK' capture-pane -p | grep -q '^23 91'"
  pty_follows_resize 101 27
  # ctrl-p ctrl-q: the client leaves, the shell stays
  tmux -S "$TMUX_SOCK" send-keys C-p C-q
  wait_until sh -c "tmux -S '$TMUX_SOCK' capture-pane -p | grep -q 'attach-rc=0'"
  [ "$(R inspect term | jq -r '.[0].State.Status')" = running ]
  # exec -t follows the resize of its own terminal too
  in_new_tmux tmux2 "'$OCI_RUN' --root '$ROOT' exec -it term sh; sleep 30"
  pty_follows_resize 111 33
  # and a foreground run -it
  in_new_tmux tmux3 "'$OCI_RUN' --root '$ROOT' run --rm -it '$IMG' sh; sleep 30"
  pty_follows_resize 77 19
  tmux -S "$TMUX_SOCK" send-keys 'exit' Enter
  wait_until sh -c "[ \$('$OCI_RUN' --root '$ROOT' ps -q | wc -l) -eq 1 ]"
}

@test "attach: --ulimit on run and create" {
  run R run --rm --ulimit nofile=512:1024 --ulimit core=0 "$IMG" sh -c 'echo $(ulimit -n) $(ulimit -Hn) $(ulimit -c)'
  [ "$status" -eq 0 ]
  [ "$output" = "512 1024 0" ]
  R create --name lim --ulimit nproc=200:300 "$IMG" sh -c 'echo $(ulimit -u) $(ulimit -Hu)' >/dev/null
  run R inspect lim
  [ "$(jq -c '[.[0].HostConfig.Ulimits[] | [.Name, .Soft, .Hard]]' <<<"$output")" = '[["nproc",200,300]]' ]
  R start lim
  run R wait lim
  [ "$output" = 0 ]
  [ "$(R logs lim)" = "200 300" ]
  run R run --rm --ulimit nofile=10:5 "$IMG" true
  [ "$status" -eq 125 ]
  [ "$output" = 'oci-run: error: invalid --ulimit "nofile=10:5": the soft limit must be less than or equal to the hard limit' ]
  run R run --rm --ulimit files=1 "$IMG" true
  [ "$status" -eq 125 ]
  [ "$output" = 'oci-run: error: invalid --ulimit "files=1": unknown limit "files"' ]
  R rm lim
  no_leftovers
}

@test "attach: stats streams one JSON object a second until stopped" {
  R run -d --name st --memory 64m "$IMG" sleep 100 >/dev/null
  run timeout 3 "$OCI_RUN" --root "$ROOT" stats --format json st
  [ "$status" -eq 124 ]
  [ "${#lines[@]}" -ge 2 ]
  for l in "${lines[@]}"; do
    [ "$(jq -r .Name <<<"$l")" = st ]
    [ "$(jq -r .MemLimit <<<"$l")" = 67108864 ]
  done
  # streaming a named container ends when it stops
  "$OCI_RUN" --root "$ROOT" stats st >"$T/stats" &
  s=$!
  sleep 1.5
  R stop -t 1 st >/dev/null
  rc=0
  wait "$s" || rc=$?
  [ "$rc" -eq 0 ]
  grep -q "CONTAINER ID" "$T/stats"
}
