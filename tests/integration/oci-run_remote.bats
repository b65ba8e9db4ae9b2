#!/usr/bin/env bats
# oci-run -H ssh://, contexts, and images moved between hosts over ssh,
# against a real sshd serving a second "host" in a network namespace
# (veth 10.202.0.1/30 <-> 10.202.0.2/30), with its own host key, an
# authorized_keys holding a key made here (environment= gives the remote
# side its own store, state dir and runtime root through a wrapper on its
# PATH), and a private client config (OCIKIT_SSH_CONFIG: the key, a
# known_hosts written here, StrictHostKeyChecking yes, BatchMode yes).
load helpers
load registry_helpers
bats_require_minimum_version 1.5.0

RHOST=10.202.0.2

setup_file() {
  skip_unless_root
  [ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd"
  export D=$(mktemp -d /tmp/rem-remote-XXXXXX)
  export NS=rem-ssh-${D##*-}
  export VETH=rem${D##*-}
  ip netns add "$NS"
  ip link add "$VETH" type veth peer name "${VETH}p"
  ip link set "${VETH}p" netns "$NS"
  ip addr add 10.202.0.1/30 dev "$VETH"
  ip link set "$VETH" up
  ip -n "$NS" addr add "$RHOST/30" dev "${VETH}p"
  ip -n "$NS" link set "${VETH}p" up
  ip -n "$NS" link set lo up
  # keys: the server's, the client's, and one the server does not know
  ssh-keygen -q -t ed25519 -N '' -f "$D/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$D/id_key"
  ssh-keygen -q -t ed25519 -N '' -f "$D/bad_key"
  # the remote side: its own store, state dir, runtime root; oci-run and
  # the other tools on its PATH
  mkdir -p "$D/rbin" "$D/remote"
  printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$OCI_RUN" "$D/remote/root" >"$D/rbin/oci-run"
  chmod +x "$D/rbin/oci-run"
  ln -s "$OCI_FETCH" "$D/rbin/oci-fetch"
  ln -s "$OCI_PUSH" "$D/rbin/oci-push"
  ln -s "$OCI_BUILD" "$D/rbin/oci-build"
  local envs="environment=\"PATH=$D/rbin:/usr/sbin:/usr/bin:/sbin:/bin\",environment=\"OCIKIT_STORE=$D/remote/store\""
  envs+=",environment=\"OCIKIT_STATE_DIR=$D/remote/state\",environment=\"OCIKIT_NET_DIR=$D/remote/net\""
  envs+=",environment=\"OCIKIT_BLOB_LOCATIONS=$D/remote/blobloc\",environment=\"OCIKIT_CONTEXT_DIR=$D/remote/contexts\""
  echo "$envs $(cat "$D/id_key.pub")" >"$D/authorized_keys"
  cat >"$D/sshd_config" <<CFG
ListenAddress $RHOST
HostKey $D/host_key
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment yes
StrictModes no
UsePAM no
CFG
  mkdir -p /run/sshd
  # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup
  # hierarchies the remote containers need
  /usr/bin/nsenter --net="/run/netns/$NS" /usr/sbin/sshd -D -f "$D/sshd_config" -E "$D/sshd.log" 3>&- &
  echo $! >"$D/sshd.bgpid"
  echo "$RHOST $(cut -d' ' -f1,2 "$D/host_key.pub")" >"$D/known_hosts"
  cat >"$D/ssh_config" <<CFG
Host *
  IdentityFile $D/id_key
  IdentitiesOnly yes
  UserKnownHostsFile $D/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
CFG
  export OCIKIT_SSH_CONFIG=$D/ssh_config
  local i
  for i in $(seq 50); do
    /usr/bin/ssh -F "$D/ssh_config" -o ConnectTimeout=2 root@$RHOST true 2>/dev/null && break
    sleep 0.1
  done
  # the image, in both stores
  mkdir -p "$D/base/rootfs"
  make_busybox_rootfs "$D/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$D/base/Dockerfile"
  OCIKIT_STORE=$D/local/store "$OCI_BUILD" -t rem/busybox "$D/base" >/dev/null 2>&1
  OCIKIT_STORE=$D/remote/store "$OCI_BUILD" -t rem/busybox "$D/base" >/dev/null 2>&1
}

teardown_file() {
  [ -n "${D:-}" ] || return 0
  local st
  for st in local remote; do
    for id in $(OCIKIT_STATE_DIR=$D/$st/state OCIKIT_STORE=$D/$st/store "$OCI_RUN" --root "$D/$st/root" ps -aq --no-trunc 2>/dev/null); do
      OCIKIT_STATE_DIR=$D/$st/state "$OCI_RUN" --root "$D/$st/root" rm -f "$id" >/dev/null 2>&1 || true
    done
  done
  [ -f "$D/sshd.bgpid" ] && kill "$(cat "$D/sshd.bgpid")" 2>/dev/null
  [ -f "$D/sshd.pid" ] && kill "$(cat "$D/sshd.pid")" 2>/dev/null
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip link del "$VETH" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  grep -o " $D[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$D"
}

setup() {
  skip_unless_root
  export OCIKIT_STORE=$D/local/store OCIKIT_STATE_DIR=$D/local/state OCIKIT_CONTEXT_DIR=$D/contexts
  export OCIKIT_BLOB_LOCATIONS=$D/local/blobloc
  export OCIKIT_SSH_CONFIG=$D/ssh_config
  unset OCIKIT_HOST OCIKIT_CONTEXT OCIKIT_SSH_COMMAND
  L() { "$OCI_RUN" --root "$D/local/root" "$@"; }
}

@test "remote: -H ssh:// runs on the other host: output, exit code, stdin, ps" {
  run L -H ssh://root@$RHOST run --rm rem/busybox echo hi
  [ "$status" -eq 0 ]
  [ "$output" = hi ]
  run L -H ssh://root@$RHOST run --rm rem/busybox sh -c 'exit 7'
  [ "$status" -eq 7 ]
  # words with blanks and quotes arrive as they were
  run L -H ssh://root@$RHOST run --rm rem/busybox sh -c 'echo "$1|$2"' x "a b" "it's \$HOME"
  [ "$output" = "a b|it's \$HOME" ]
  run bash -c "printf 'line1\nline2\n' | '$OCI_RUN' -H ssh://root@$RHOST run --rm -i rem/busybox wc -l"
  [ "$status" -eq 0 ]
  [ "$(echo $output)" = 2 ]
  # a container there, none here: ps says so on each side
  L -H ssh://root@$RHOST run -d --name rem-far rem/busybox sleep 100 >/dev/null
  L run -d --name rem-near rem/busybox sleep 100 >/dev/null
  run L -H ssh://root@$RHOST ps --format json
  [ "$(jq -r .Names <<<"$output")" = rem-far ]
  run L ps --format json
  [ "$(jq -r .Names <<<"$output")" = rem-near ]
  # OCIKIT_HOST does the same; the runc-style side stays local
  run env OCIKIT_HOST=ssh://root@$RHOST "$OCI_RUN" --root "$D/local/root" ps --format json
  [ "$(jq -r .Names <<<"$output")" = rem-far ]
  run env OCIKIT_HOST=ssh://root@$RHOST "$OCI_RUN" --root "$D/local/root" list -q
  [ "$(wc -w <<<"$output")" -eq 1 ]
  L -H ssh://root@$RHOST rm -f rem-far >/dev/null
  L rm -f rem-near >/dev/null
  run L -H ssh://root@$RHOST ps -aq
  [ -z "$output" ]
}

@test "remote: contexts: create, use, ls, inspect, rm" {
  run L context create rem-far --docker host=ssh://root@$RHOST --description "the netns host"
  [ "$status" -eq 0 ]
  run L context create rem-far --docker host=ssh://root@$RHOST
  [ "$status" -ne 0 ]
  [[ "$output" == *'context "rem-far" already exists'* ]]
  run L context create rem-bad --docker host=tcp://$RHOST:2375
  [ "$status" -ne 0 ]
  run L context create rem-bad --docker 'host=ssh://-oProxyCommand=touch${IFS}x'
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid ssh address"* ]]
  run L context ls -q
  [ "$output" = "$(printf 'default\nrem-far')" ]
  run L --context rem-far run --rm rem/busybox hostname
  [ "$status" -eq 0 ]
  L context use rem-far
  run L context show
  [ "$output" = rem-far ]
  run L context ls --format json
  [ "$(jq -r 'select(.Current) | .Name' <<<"$output")" = rem-far ]
  [ "$(jq -r 'select(.Name == "rem-far") | .DockerEndpoint' <<<"$output")" = "ssh://root@$RHOST" ]
  # the current context applies to every docker-style line
  L run -d --name rem-ctx rem/busybox sleep 100 >/dev/null
  run L ps --format json
  [ "$(jq -r .Names <<<"$output")" = rem-ctx ]
  run L --context default ps -q
  [ -z "$output" ]
  [ "$(L context inspect rem-far | jq -r '.[0].Endpoints.docker.Host')" = "ssh://root@$RHOST" ]
  run L context rm rem-far
  [ "$status" -ne 0 ]
  [[ "$output" == *"in use"* ]]
  L rm -f rem-ctx >/dev/null
  L context use default
  L context rm rem-far
  run L context ls -q
  [ "$output" = default ]
}

@test "remote: an unreachable host, a refused key and a bad address fail in one line" {
  # nothing listens on that port: refused at once
  run L -H ssh://root@$RHOST:$(free_port) ps
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"Connection refused"* ]]
  # no answer at all (an address nobody has behind the veth): ConnectTimeout
  ip route add 10.202.0.4/30 dev "$VETH"
  run env OCIKIT_SSH_COMMAND="/usr/bin/ssh -o ConnectTimeout=2" "$OCI_RUN" -H ssh://root@10.202.0.5 ps
  ip route del 10.202.0.4/30 dev "$VETH"
  [ "$status" -eq 255 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"10.202.0.5"* ]]
  # the server does not know this key
  run env OCIKIT_SSH_COMMAND="/usr/bin/ssh -o IdentityFile=$D/bad_key -o IdentitiesOnly=yes -o UserKnownHostsFile=$D/known_hosts -o BatchMode=yes -o StrictHostKeyChecking=yes" \
    OCIKIT_SSH_CONFIG=/dev/null "$OCI_RUN" -H ssh://root@$RHOST ps
  [ "$status" -eq 255 ]
  [[ "$output" == *"Permission denied (publickey)"* ]]
  # an unknown host key is refused too
  : >"$D/empty_known_hosts"
  run env OCIKIT_SSH_COMMAND="/usr/bin/ssh -o UserKnownHostsFile=$D/empty_known_hosts" "$OCI_RUN" -H ssh://root@$RHOST ps
  [ "$status" -eq 255 ]
  [[ "$output" == *"verification failed"* ]]
  run L -H 'ssh://root@-oProxyCommand=x' ps
  [ "$status" -eq 2 ]
  [ "$output" = "oci-run: error: invalid ssh address \"ssh://root@-oProxyCommand=x\": a host may not start with '-'" ]
  run L -H unix:///var/run/docker.sock ps
  [ "$status" -eq 2 ]
  [[ "$output" == *"only through ssh://"* ]]
}

@test "remote: oci-push to ssh:// and oci-fetch from ssh:// move an image, sending only missing blobs" {
  # a second image here, on top of the shared base: one new layer
  mkdir -p "$D/extra"
  echo payload >"$D/extra/file"
  printf 'FROM rem/busybox\nCOPY file /file\n' >"$D/extra/Dockerfile"
  "$OCI_BUILD" -t rem/extra "$D/extra" >/dev/null 2>&1
  run "$OCI_PUSH" --log-level info rem/extra ssh://root@$RHOST/rem/extra:pushed
  [ "$status" -eq 0 ]
  # base layer, config and manifest of rem/busybox are there already: the new layer, config, manifest
  [[ "$output" == *"ssh: sending 3 of 4 blobs"* ]]
  run L -H ssh://root@$RHOST run --rm rem/extra:pushed cat /file
  [ "$output" = payload ]
  # again: nothing to send
  run "$OCI_PUSH" --log-level info rem/extra ssh://root@$RHOST/rem/extra:pushed
  [ "$status" -eq 0 ]
  [[ "$output" == *"ssh: sending 0 of 4 blobs"* ]]
  # back the other way, into an empty store
  run env OCIKIT_STORE=$D/back/store "$OCI_FETCH" ssh://root@$RHOST/rem/extra:pushed
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
  run env OCIKIT_STORE=$D/back/store "$OCI_RUN" --root "$D/local/root" run --rm rem/extra:pushed cat /file
  [ "$output" = payload ]
  run env OCIKIT_STORE=$D/back/store "$OCI_FETCH" --log-level info ssh://root@$RHOST/rem/extra:pushed
  [ "$status" -eq 0 ]
  [[ "$output" == *"ssh: receiving 0 of 4 blobs"* ]]
  # the same digest on every side
  d1=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | test("rem/extra")) | .digest' "$D/local/store/index.json")
  d2=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | test("extra:pushed")) | .digest' "$D/remote/store/index.json")
  d3=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | test("extra:pushed")) | .digest' "$D/back/store/index.json")
  [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]
}

@test "remote: a receiver that gets a lying or cut stream stores no name and no bad blob" {
  mkdir -p "$D/victim"
  blob=$(printf 'not the content' | sha256sum | cut -d' ' -f1)
  man='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'$blob'","size":15},"layers":[]}'
  mdg=$(printf '%s' "$man" | sha256sum | cut -d' ' -f1)
  line='{"ocikit-images":1,"top":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'$mdg'","size":'${#man}'},"blobs":[{"digest":"sha256:'$blob'","size":15},{"digest":"sha256:'$mdg'","size":'${#man}'}]}'
  # wrong bytes for the config blob
  run bash -c "{ printf '%s\n' '$line'; printf 'not THE content'; printf '%s' '$man'; } | '$OCI_FETCH' --store '$D/victim/store' --receive-stdio rem/evil"
  [ "$status" -ne 0 ]
  [[ "$output" == *"sha256:$blob"* ]]
  [ ! -e "$D/victim/store/blobs/sha256/$blob" ]
  ! grep -q rem/evil "$D/victim/store/index.json"
  # cut short after the first blob
  run bash -c "{ printf '%s\n' '$line'; printf 'not the content'; printf 'abc'; } | '$OCI_FETCH' --store '$D/victim/store' --receive-stdio rem/evil"
  [ "$status" -ne 0 ]
  [[ "$output" == *"closed the connection"* ]]
  [ ! -e "$D/victim/store/blobs/sha256/$mdg" ]
  ! grep -q rem/evil "$D/victim/store/index.json"
  # not a stream at all
  run bash -c "echo garbage | '$OCI_FETCH' --store '$D/victim/store' --receive-stdio rem/evil"
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  # an unreachable host: one line, nothing stored
  run env OCIKIT_STORE=$D/victim/store "$OCI_FETCH" ssh://root@$RHOST:$(free_port)/rem/busybox
  [ "$status" -ne 0 ]
  [[ "$output" == *"Connection refused"* ]]
  ! grep -q busybox "$D/victim/store/index.json"
}

@test "remote: on a terminal ssh gets -t: the container sees a tty of this window's size" {
  [ -x /usr/bin/script ] || skip "no script(1)"
  # script(1) gives oci-run a pty of 37 rows and 111 columns
  run /usr/bin/script -qec "stty rows 37 cols 111; '$OCI_RUN' -H ssh://root@$RHOST run --rm -it rem/busybox sh -c 'stty size; tty'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"37 111"* ]]
  [[ "$output" == *"/dev/pts/"* ]] || [[ "$output" == *"/dev/console"* ]]
  # the exit status comes through the pty too
  run /usr/bin/script -qec "'$OCI_RUN' -H ssh://root@$RHOST run --rm -it rem/busybox sh -c 'exit 3'" /dev/null
  [ "$status" -eq 3 ]
}

@test "remote: oci-build -H sends the context through ssh; - reads a context tar from stdin" {
  mkdir -p "$D/bctx/sub"
  echo "built far away" >"$D/bctx/sub/msg"
  printf 'FROM rem/busybox\nCOPY sub/msg /msg\nRUN cat /msg > /copy\n' >"$D/bctx/Containerfile"
  run "$OCI_BUILD" -H ssh://root@$RHOST -f "$D/bctx/Containerfile" -t rem/built --network none "$D/bctx"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" =~ ^sha256:[0-9a-f]{64}$ ]]
  run L -H ssh://root@$RHOST run --rm rem/built cat /copy
  [ "$output" = "built far away" ]
  # not here
  run L run --rm --pull never rem/built true
  [ "$status" -ne 0 ]
  run "$OCI_BUILD" -H ssh://root@$RHOST -f /etc/hostname -t rem/x "$D/bctx"
  [ "$status" -eq 2 ]
  [[ "$output" == *"inside the context"* ]]
  # a tar on stdin, locally
  run bash -c "tar -C '$D/bctx' -cf - . | '$OCI_BUILD' -f Containerfile -t rem/fromtar --network none -"
  [ "$status" -eq 0 ]
  run L run --rm rem/fromtar cat /copy
  [ "$output" = "built far away" ]
  # an escaping entry is refused
  run bash -c "python3 -c 'import tarfile,io,sys; t=tarfile.open(fileobj=sys.stdout.buffer,mode=\"w|\"); i=tarfile.TarInfo(\"../evil\"); d=b\"x\"; i.size=1; t.addfile(i,io.BytesIO(d)); t.close()' | '$OCI_BUILD' -t rem/evil -"
  [ "$status" -ne 0 ]
  [[ "$output" == *"escapes"* ]]
}

# Start `oci-run [-H ...] run` of a container trapping TERM and INT, without
# a terminal, in the background; wait for "ready"; send SIG to oci-run
# itself; echo oci-run's exit status.
sp_signal_run() {
  local sig=$1 out=$2
  shift 2
  local body='trap "echo got-term; exit 5" TERM; trap "echo got-int; exit 6" INT; echo ready; while :; do sleep 1 & wait $!; done'
  "$OCI_RUN" --root "$D/local/root" "$@" run --rm --name sp-sig rem/busybox sh -c "$body" </dev/null >"$out" 2>&1 3>&- &
  local pid=$! i rc=0
  for i in $(seq 300); do grep -q ready "$out" && break; sleep 0.1; done
  grep -q ready "$out" || { kill -9 "$pid"; echo "no ready: $(cat "$out")" >&2; return 1; }
  kill -"$sig" "$pid"
  for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    echo "oci-run still runs after SIG$sig: $(cat "$out")" >&2
    return 1
  fi
  wait "$pid" || rc=$?
  echo "$rc"
}

@test "remote: without a terminal, SIGTERM and SIGINT to oci-run reach the container there, as here" {
  local sig want word rc
  for sig in TERM INT; do
    [ "$sig" = TERM ] && want=5 word=got-term || { want=6; word=got-int; }
    # here: oci-run proxies the signal to the container (--sig-proxy)
    rc=$(sp_signal_run "$sig" "$D/sp-local.out")
    [ "$rc" -eq "$want" ]
    grep -qx "$word" "$D/sp-local.out"
    # there: the same, through the second ssh (remote-signal)
    rc=$(sp_signal_run "$sig" "$D/sp-remote.out" -H ssh://root@$RHOST)
    echo "SIG$sig: $rc: $(cat "$D/sp-remote.out")"
    [ "$rc" -eq "$want" ]
    grep -qx "$word" "$D/sp-remote.out"
    run L -H ssh://root@$RHOST ps -aq
    [ -z "$output" ]
    # the remote oci-run's session record is gone with it
    [ -z "$(ls -A "$D/remote/state/remote")" ]
  done
  [ "$(stat -c %a "$D/remote/state/remote")" = 700 ]
}

@test "remote: --remote-token and remote-signal refuse bad tokens and unknown sessions" {
  run L --remote-token ../../etc/passwd ps
  [ "$status" -eq 2 ]
  [[ "$output" == *"invalid remote token"* ]]
  run L --remote-token 0123456789ABCDEF0123456789abcdef ps
  [ "$status" -eq 2 ]
  run L remote-signal ../x SIGTERM
  [ "$status" -eq 2 ]
  [[ "$output" == *"invalid remote token"* ]]
  run L remote-signal 0123456789abcdef0123456789abcdef SIGTERM
  [ "$status" -ne 0 ]
  [[ "$output" == *"no remote session"* ]]
  # a record whose process is gone (a recycled pid would have another start time) is never signalled
  mkdir -p -m 700 "$D/local/state/remote"
  sleep 100 3>&- &
  local victim=$!
  echo "$victim 1" >"$D/local/state/remote/00000000000000000000000000000001"
  run L remote-signal 00000000000000000000000000000001 SIGTERM
  [ "$status" -ne 0 ]
  [[ "$output" == *"has ended"* ]]
  kill -0 "$victim"
  kill "$victim"
  [ ! -e "$D/local/state/remote/00000000000000000000000000000001" ]
}
