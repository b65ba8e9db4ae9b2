#!/usr/bin/env bats
# oci-run run IMAGE in the foreground: exit codes, --rm, run flags, bad input
# (one-line error, exit 125, nothing left behind), runc-mode dispatch.
load oci-run_manage_helpers

teardown() {
  [ -z "${NET_CLEANUP:-}" ] || "$OCI_NET" rm "$NET_CLEANUP" >/dev/null 2>&1 || true
  manage_teardown
}

@test "manage: run returns the container's exit code (0, N, 126, 127)" {
  run R run --rm "$IMG" sh -c 'echo hello; echo err >&2'
  [ "$status" -eq 0 ]
  [[ "$output" == *hello* ]] && [[ "$output" == *err* ]]
  run R run --rm "$IMG" sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run -127 R run --rm "$IMG" /no/such/command
  [ "$status" -eq 127 ]
  run R run --rm "$IMG" /etc/passwd
  [ "$status" -eq 126 ]
  no_leftovers
}

@test "manage: --rm leaves no container, mount or runtime state; without it ps -a shows the exit" {
  run R run --rm "$IMG" true
  [ "$status" -eq 0 ]
  no_leftovers
  run R run --name keep "$IMG" sh -c 'exit 5'
  [ "$status" -eq 5 ]
  run R ps -a --format json
  [ "$status" -eq 0 ]
  [ "$(jq -r .Names <<<"$output")" = keep ]
  [ "$(jq -r .State <<<"$output")" = exited ]
  [[ "$(jq -r .Status <<<"$output")" == "Exited (5)"* ]]
  # a stopped container is not mounted
  ! grep -q " $T" /proc/self/mounts
  # docker's Go-template forms of ps and inspect
  run R ps -a --format '{{.Names}}:{{.State}}'
  [ "$status" -eq 0 ] && [ "$output" = keep:exited ]
  run R ps -a --format 'table {{.Names}}\t{{.State}}'
  [ "${lines[0]}" = "NAMES     STATE" ] && [ "${lines[1]}" = "keep      exited" ]
  run R inspect -f '{{.State.ExitCode}} {{.Name}} {{json .State.Running}} {{index .Config.Cmd 0}}' keep
  [ "$status" -eq 0 ] && [ "$output" = "5 /keep false sh" ]
  run R inspect --format '{{.Nope}}' keep
  [ "$status" -ne 0 ] && [[ "$output" == *"can't evaluate field Nope"* ]]
  run R rm keep
  [ "$status" -eq 0 ]
  no_leftovers
}

@test "manage: bad input is one line, exit 125, and leaves nothing" {
  for args in "okt-manage/nosuchimage true" "--pull never okt-manage/nosuchimage" \
      "-v :/x $IMG true" "-v data:relative $IMG true" "-p 99999:80 $IMG true" "-p abc $IMG true" \
      "--restart sometimes $IMG true" "--memory lots $IMG true" "--bogus-flag $IMG" "okt-manage/nocmd" \
      "--security-opt apparmor2=x $IMG true" "-u nosuchuser $IMG true"; do
    run R run --rm $args
    echo "$args -> $status: $output"
    [ "$status" -eq 125 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "oci-run: error: "* ]]
    no_leftovers
  done
  run R run --rm okt-manage/nocmd
  [[ "$output" == *"no command specified"* ]]
  run R run -v :/x "$IMG" true
  [[ "$output" == *'invalid volume specification ":/x"'* ]]
}

@test "manage: a container name is unique" {
  run R create --name web "$IMG" true
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  run R run --name web "$IMG" true
  [ "$status" -eq 125 ]
  [ "$output" = 'oci-run: error: the container name "web" is already in use' ]
  [ "$(R ps -a -q | wc -l)" -eq 1 ]
  run R create --name 'bad/name' "$IMG" true
  [ "$status" -eq 125 ]
}

@test "manage: -e, --env-file, -w, -u, --entrypoint, --hostname, labels" {
  printf '# comment\nFROMFILE=yes\n\n' >"$T/env"
  run R run --rm -e A=1 -e B="two words" --env-file "$T/env" "$IMG" sh -c 'echo "$A|$B|$FROMFILE"'
  [ "$status" -eq 0 ]
  [ "$output" = "1|two words|yes" ]
  run R run --rm -w /tmp "$IMG" pwd
  [ "$output" = /tmp ]
  run R run --rm -u nobody "$IMG" id -u
  [ "$output" = 65534 ]
  run R run --rm -u 123:456 "$IMG" sh -c 'echo $(id -u):$(id -g)'
  [ "$output" = 123:456 ]
  run R run --rm --entrypoint /bin/echo "$IMG" via entrypoint
  [ "$output" = "via entrypoint" ]
  run R run --rm --hostname okt-host "$IMG" hostname
  [ "$output" = okt-host ]
  run R run --name lab --label a=b "$IMG" true
  run R inspect lab
  [ "$(jq -r '.[0].Config.Labels.a' <<<"$output")" = b ]
  [ "$(jq -r '.[0].State.ExitCode' <<<"$output")" = 0 ]
  [ "$(jq -r '.[0].Name' <<<"$output")" = /lab ]
}

@test "manage: volumes persist across containers; binds, :ro, tmpfs" {
  run R run --rm -v okt-data:/data "$IMG" sh -c 'echo kept > /data/f'
  [ "$status" -eq 0 ]
  run R run --rm -v okt-data:/data:ro "$IMG" sh -c 'cat /data/f; echo x > /data/g'
  [[ "$output" == kept* ]]
  [ "$status" -ne 0 ]
  [ -f "$OCIKIT_STATE_DIR/volumes/okt-data/_data/f" ]
  mkdir "$T/host"
  run R run --rm -v "$T/host:/h" "$IMG" sh -c 'echo bound > /h/b'
  [ "$(cat "$T/host/b")" = bound ]
  run R run --rm --mount "type=bind,source=$T/host,target=/m,readonly" "$IMG" cat /m/b
  [ "$output" = bound ]
  run R run --rm --tmpfs /scratch "$IMG" sh -c 'grep " /scratch " /proc/mounts'
  [[ "$output" == *tmpfs* ]]
  run R run --rm --read-only "$IMG" touch /x
  [ "$status" -ne 0 ]
  no_leftovers
}

@test "manage: runc mode stays for --bundle and ./config.json" {
  mkdir -p "$T/bundle/rootfs"
  make_busybox_rootfs "$T/bundle/rootfs"
  (cd "$T/bundle" && "$OCI_RUN" spec)
  jq '.process.args = ["sh", "-c", "exit 4"] | .process.terminal = false' "$T/bundle/config.json" >"$T/c" && mv "$T/c" "$T/bundle/config.json"
  run R run --bundle "$T/bundle" okt-runc-1
  [ "$status" -eq 4 ]
  cd "$T/bundle"
  run R run okt-runc-2
  [ "$status" -eq 4 ]
  # an image name wins over ./config.json
  run R run --rm "$IMG" sh -c 'exit 6'
  [ "$status" -eq 6 ]
}

@test "manage: --network NAME and -p go through oci-net hooks; host and none" {
  export OCIKIT_NET_DIR=$T/net
  NET_CLEANUP=okt-mgnet
  run "$OCI_NET" create okt-mgnet --subnet 10.213.77.0/24 -o bridge=okt-mg0
  [ "$status" -eq 0 ]
  run R run --rm --name netc --network okt-mgnet -p 18089:80 "$IMG" sh -c 'ip -4 addr show eth0; tail -1 /etc/hosts'
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"inet 10.213.77."* ]]
  [[ "$output" == *netc* ]]
  run R run --rm --network none "$IMG" sh -c 'ls /sys/class/net'
  [ "$output" = lo ]
  run R run --rm --network host "$IMG" sh -c 'ls /sys/class/net | wc -l'
  [ "$output" -gt 1 ]
  run R run --rm --network host -p 80 "$IMG" true
  [ "$status" -eq 125 ]
  # -p 80 and -P: free host ports, shown by port and inspect
  R run -d --name netp --network okt-mgnet -p 80 -P --expose 81 "$IMG" sleep 100
  local p80 p81
  p80=$(R port netp 80/tcp)
  p81=$(R port netp 81)
  [[ "$p80" == 0.0.0.0:* ]] && [[ "$p81" == 0.0.0.0:* ]] && [ "$p80" != "$p81" ]
  [ "$(R inspect netp | jq -r '.[0].NetworkSettings.Ports["80/tcp"][0].HostPort')" = "${p80#0.0.0.0:}" ]
  # docker's inspect -f idioms: a field after parentheses, range over a map
  [ "$(R inspect -f '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}' netp)" = "${p80#0.0.0.0:}" ]
  [[ "$(R inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' netp)" == 10.213.77.* ]]
  [ "$(R inspect -f '{{if .State.Running}}up{{else}}down{{end}}' netp)" = up ]
  [ "$(R inspect -f '{{.HostConfig.PublishAllPorts}}' netp)" = true ]
  # ps shows the ports as docker ps does, with the picked host ports
  run R ps --format '{{.Ports}}' --filter name=netp
  [ "$output" = "$p80->80/tcp, $p81->81/tcp" ] || { echo "$output"; false; }
  R run -d --name netq --network okt-mgnet -p 127.0.0.1:18090:80/udp "$IMG" sleep 100
  [ "$(R ps --format '{{.Ports}}' --filter name=netq)" = "127.0.0.1:18090->80/udp" ]
  R stop -t 0 netq
  [ -z "$(R ps -a --format '{{.Ports}}' --filter name=netq)" ]
  R rm -f netp netq
  no_leftovers
}
