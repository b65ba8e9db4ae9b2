#!/usr/bin/env bats
# Reproduced attacks, one test per vulnerability class, named after it. Each
# failed before its fix: the runtime's (runc's and crun's CVE classes) and the
# builder's (BuildKit's).

load oci-run_helpers

setup() {
  oci_run_setup
  cfg '.root.readonly=false'
}
teardown() {
  [ -z "${SRV:-}" ] || { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }
  oci_run_teardown
  [ -z "${BT:-}" ] || { net_cleanup "$BT"; rm -rf "$BT"; }
}

@test "CVE-2024-21626 class: a process.cwd through a leaked directory fd is refused" {
  mkdir -p "$TMP/host"
  cfg '.process.cwd="/proc/self/fd/7"'
  set_args sh -c 'touch escaped; echo ran'
  run ocirun run -b "$BUNDLE" "$ID" 7<"$TMP/host"
  [ "$status" -ne 0 ]
  [[ "$output" != *ran* ]]
  [ ! -e "$TMP/host/escaped" ]
  # Even when the fd is handed in on purpose (--preserve-fds).
  run ocirun run --preserve-fds 5 -b "$BUNDLE" "$ID-p" 7<"$TMP/host"
  [ "$status" -ne 0 ]
  [ ! -e "$TMP/host/escaped" ]
}

@test "CVE-2024-21626 class: no inherited fd reaches the container's process" {
  set_args sh -c 'ls /proc/self/fd | sort -n | tr "\n" " "'
  run ocirun run -b "$BUNDLE" "$ID" 7<"$TMP" 8>"$TMP/out"
  [ "$status" -eq 0 ]
  # 0-2 and the fd ls opens on /proc/self/fd.
  [ "$output" = "0 1 2 3 " ]
}

@test "CVE-2025-31133 class: a masked path stays masked when the container's /dev/null is a link to it" {
  # No /dev tmpfs: the rootfs's own /dev is used, with a planted link.
  cfg '.mounts |= map(select(.destination != "/dev" and (.destination | startswith("/dev/") | not)))'
  mkdir -p "$BUNDLE/rootfs/dev"
  ln -sf /proc/timer_list "$BUNDLE/rootfs/dev/null"
  [ "$(jq '.linux.maskedPaths | index("/proc/timer_list")' "$BUNDLE/config.json")" != null ]
  set_args sh -c 'wc -c </proc/timer_list'
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -eq 0 ]
  [ "$output" = 0 ]
}

@test "CVE-2025-52881 class: sysctl values are written to procfs only" {
  # A /proc that is not procfs (a directory the image controls): the write is refused.
  cfg '.mounts |= map(select(.destination != "/proc")) | .linux.maskedPaths=[] | .linux.readonlyPaths=[] | .linux.sysctl={"net.ipv4.ip_forward":"1"}'
  mkdir -p "$BUNDLE/rootfs/proc/sys/net/ipv4"
  echo 0 >"$BUNDLE/rootfs/proc/sys/net/ipv4/ip_forward"
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"sysctl /proc/sys/net/ipv4/ip_forward"* ]]
  [ "$(cat "$BUNDLE/rootfs/proc/sys/net/ipv4/ip_forward")" = 0 ]
}

@test "CVE-2022-29162 class: exec --cap raises no inheritable or ambient capability" {
  set_args sleep 30
  ocirun run -d -b "$BUNDLE" "$ID" >/dev/null 2>&1
  run ocirun exec --cap CAP_NET_ADMIN "$ID" sh -c 'grep -E "^Cap(Inh|Amb|Eff)" /proc/self/status'
  [ "$status" -eq 0 ]
  [[ "$output" == *"CapInh:	0000000000000000"* ]]
  [[ "$output" == *"CapAmb:	0000000000000000"* ]]
  # CAP_NET_ADMIN is bit 12.
  eff=$(sed -n 's/^CapEff:\t//p' <<<"$output")
  (( (0x$eff >> 12) & 1 ))
}

@test "seccomp default profile: pidfd_getfd and name_to_handle_at need the capabilities docker ties them to" {
  local prof
  prof=$("$OCIKIT_BUILD_ROOT/tools/oci-run/seccomp-default-profile")
  [ "$(jq '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("pidfd_getfd")' <<<"$prof")" = null ]
  [ "$(jq '[.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("name_to_handle_at")' <<<"$prof")" = null ]
}

# ---- the builder ----

build_ctx() {
  BT=$(mktemp -d)
  export OCIKIT_STORE=$BT/store OCIKIT_NET_DIR=$BT/net
  mkdir -p "$BT/base/rootfs" "$BT/ctx"
  make_busybox_rootfs "$BT/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$BT/base/Dockerfile"
  "$OCI_BUILD" -t okt-harden/base "$BT/base" >/dev/null 2>&1
}

@test "BuildKit scoped-resolution class: COPY through a symlink to / stays in the context" {
  build_ctx
  ln -s / "$BT/ctx/l"
  printf 'FROM okt-harden/base\nCOPY l/etc/shadow /x\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/esc "$BT/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"no such file"* ]]
  # The same path names the context's own file once there is one.
  mkdir -p "$BT/ctx/etc"
  echo context-shadow >"$BT/ctx/etc/shadow"
  ln -s ../../etc/shadow "$BT/ctx/up"
  printf 'FROM okt-harden/base\nCOPY l/etc/shadow /x\nCOPY up /y\nRUN cat /x /y\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/esc "$BT/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *"context-shadow"*"context-shadow"* ]]
  [[ "$output" != *"root:"* ]]
}

@test "BuildKit scoped-resolution class: COPY --from a stage holding a link to / stays in the stage" {
  build_ctx
  printf 'FROM okt-harden/base AS s\nRUN ln -s / /l && echo stage-file >/etc/only-in-stage\nFROM okt-harden/base\nCOPY --from=s /l/etc/only-in-stage /got\nCOPY --from=s /l/etc/hostname /h\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/from "$BT/ctx"
  # /l/etc/hostname resolves inside the stage, which has none: not the host's.
  [ "$status" -ne 0 ]
  [[ "$output" == *"/l/etc/hostname"* ]]
  printf 'FROM okt-harden/base AS s\nRUN ln -s / /l && echo stage-file >/etc/only-in-stage\nFROM okt-harden/base\nCOPY --from=s /l/etc/only-in-stage /got\nRUN cat /got\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/from "$BT/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *stage-file* ]]
}

@test "WORKDIR that the base image lacks, then RUN, with the default runtime (docker's most common pattern)" {
  build_ctx
  printf 'FROM okt-harden/base\nWORKDIR /app/src\nRUN pwd && touch made-here\nWORKDIR /empty\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/wd "$BT/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == */app/src* ]]
  run "$OCI_RUN" run --rm okt-harden/wd sh -c 'ls /app/src; test -d /empty && echo empty-dir'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'made-here\nempty-dir')" ]
}

@test ".dockerignore class: RUN --mount=type=bind of the context does not show ignored files" {
  build_ctx
  echo TOKEN=secret-value >"$BT/ctx/.env"
  mkdir -p "$BT/ctx/src"
  echo code >"$BT/ctx/src/main"
  printf '.env\n' >"$BT/ctx/.dockerignore"
  printf 'FROM okt-harden/base\nRUN --mount=type=bind,target=/ctx ls -a /ctx; cat /ctx/src/main; cat /ctx/.env || echo no-env\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/ign "$BT/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *code* ]]
  [[ "$output" == *no-env* ]]
  [[ "$output" != *secret-value* ]]
  # Naming the ignored file itself is an error, as for COPY.
  printf 'FROM okt-harden/base\nRUN --mount=type=bind,source=.env,target=/e cat /e\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-harden/ign "$BT/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"excluded by .dockerignore"* ]]
  [[ "$output" != *secret-value* ]]
}

@test "RUN confinement class: RUN gets the default seccomp profile, masked paths and a cgroup namespace" {
  build_ctx
  printf 'FROM okt-harden/base\nRUN unshare -U -r sh -c id 2>&1 || echo unshare-refused; wc -c </proc/kcore; grep -c "^0::/$\\|:/$" /proc/self/cgroup >/dev/null && echo cgroup-ns; grep Seccomp: /proc/self/status\n' >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" --no-cache -t okt-harden/conf "$BT/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *unshare-refused* ]]
  [[ "$output" != *"uid=0(root) gid=0(root) groups=65534"* ]]
  [[ "$output" == *"Seccomp:	2"* ]]
  [[ "$output" == *cgroup-ns* ]]
}

@test "RUN network class: RUN has its own network namespace, without the host's loopback services and abstract sockets" {
  require_cmd python3
  build_ctx
  local port=$((20000 + RANDOM % 20000))
  # a host service on every address and an abstract unix socket
  /usr/bin/python3 -c 'import socket,sys,http.server
a = socket.socket(socket.AF_UNIX); a.bind("\0okt-harden-abs"); a.listen()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(s): s.send_response(200); s.end_headers(); s.wfile.write(b"host-service\n")
    def log_message(s, *a): pass
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()' "$port" &
  SRV=$!
  local i
  for i in $(seq 50); do grep -q okt-harden-abs /proc/net/unix && break; sleep 0.1; done
  grep -q okt-harden-abs /proc/net/unix
  # (busybox-static's wget crashes on a refused connection: nc instead)
  printf 'FROM okt-harden/base\nRUN printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 127.0.0.1 %s || echo no-loopback-service; grep -c okt-harden-abs /proc/net/unix || echo no-abstract-socket; printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 10.87.0.1 %s\n' "$port" "$port" >"$BT/ctx/Dockerfile"
  run "$OCI_BUILD" --no-cache -t okt-harden/net "$BT/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *no-loopback-service* ]]
  [[ "$output" == *no-abstract-socket* ]]
  # outbound through the bridge works: the gateway's service answers
  [[ "$output" == *host-service* ]]
}

@test "CVE-2019-16884 class: a mount destination that resolves into /proc is refused unless it is procfs" {
  mkdir -p "$TMP/fake"
  echo fake >"$TMP/fake/attr"
  # A link in the image turns /data into /proc/self.
  ln -s /proc/self "$BUNDLE/rootfs/data"
  cfg ".mounts += [{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$TMP/fake\",\"options\":[\"rbind\"]}]"
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -ne 0 ]
  [[ "$output" == *"is inside /proc"* ]]
  # lxcfs-style files and binds from procfs stay allowed.
  cfg "del(.mounts[-1]) | .mounts += [{\"destination\":\"/proc/uptime\",\"type\":\"bind\",\"source\":\"$TMP/fake/attr\",\"options\":[\"bind\"]}]"
  set_args cat /proc/uptime
  run ocirun run -b "$BUNDLE" "$ID-ok"
  [ "$status" -eq 0 ]
  [ "$output" = fake ]
}

@test "CVE-2023-25809 class: the rootless spec's /sys keeps the host's cgroup hierarchies read-only" {
  rm "$BUNDLE/config.json"
  (cd "$BUNDLE" && "$OCI_RUN" spec --rootless)
  [ "$(jq -c '.mounts[] | select(.destination == "/sys") | .options | index("rro") != null' "$BUNDLE/config.json")" = true ]
  # Every mount under /sys, the cgroup hierarchies the rbind brings along
  # included, is read-only inside.
  set_args sh -c 'grep " /sys" /proc/mounts | cut -d" " -f2,4 | grep -v " ro" || echo all-read-only'
  run ocirun run -b "$BUNDLE" "$ID"
  [ "$status" -eq 0 ]
  [ "$output" = all-read-only ]
}
