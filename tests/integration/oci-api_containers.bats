#!/usr/bin/env bats
# oci-api's container endpoints around contents and resources (update, top,
# stats, archive, export, commit, prune), driven by Debian's docker CLI
# (/usr/bin/docker 20.10; no dockerd), python3-docker and curl on a private
# socket. Setup as oci-api.bats: own state dir, runtime root and oci-api per test.
load oci-api_helpers
load registry_helpers

PY=/usr/bin/python3

setup_file() {
  require_cmd /usr/bin/docker curl /usr/bin/python3
  /usr/bin/python3 -c 'import docker' 2>/dev/null || skip "python3-docker is not installed"
  manage_setup_file
}

setup() {
  manage_setup
  api_start --read-timeout 5
}

teardown() {
  [ -n "${T:-}" ] || return 0
  api_stop
  manage_teardown
}


# cg CONTAINER CONTROLLER FILE: a cgroup file of the container's init
# (cgroup v1: the controller's hierarchy; v2: the unified one).
cg() {
  local pid path
  pid=$($DOCKER inspect -f '{{.State.Pid}}' "$1")
  if [ -d "/sys/fs/cgroup/$2" ]; then
    path=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup/$2$path/$3"
  else
    path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
    cat "/sys/fs/cgroup$path/$3"
  fi
}

@test "oci-api: docker update puts the limits in the container's cgroup and record; docker top" {
  $DOCKER run -d --name apictr-up -m 32m $IMG sh -c 'sleep 777 & sleep 1000' 
  run $DOCKER update --memory 64m --memory-swap 128m --cpu-shares 512 --cpus 0.5 --pids-limit 50 \
    --restart on-failure:3 apictr-up
  [ "$status" -eq 0 ] && [ "$output" = apictr-up ]
  if [ -d /sys/fs/cgroup/memory ]; then
    [ "$(cg apictr-up memory memory.limit_in_bytes)" = 67108864 ]
    [ ! -e /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ] ||
      [ "$(cg apictr-up memory memory.memsw.limit_in_bytes)" = 134217728 ]
    [ "$(cg apictr-up cpu cpu.shares)" = 512 ]
    [ "$(cg apictr-up cpu cpu.cfs_quota_us)" = 50000 ] && [ "$(cg apictr-up cpu cpu.cfs_period_us)" = 100000 ]
  else
    [ "$(cg apictr-up memory memory.max)" = 67108864 ]
    [ "$(cg apictr-up cpu cpu.max)" = "50000 100000" ]
  fi
  [ "$(cg apictr-up pids pids.max)" = 50 ]
  run $DOCKER inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}' apictr-up
  [ "$output" = "67108864 500000000 50 on-failure:3" ]
  # A stopped container keeps them for its next start.
  $DOCKER update --memory 48m --memory-swap 96m apictr-up
  $DOCKER restart -t 1 apictr-up
  if [ -d /sys/fs/cgroup/memory ]; then
    [ "$(cg apictr-up memory memory.limit_in_bytes)" = 50331648 ]
  else
    [ "$(cg apictr-up memory memory.max)" = 50331648 ]
  fi
  run $DOCKER update --memory 1m apictr-up
  [ "$status" -ne 0 ] && [[ "$output" == *"minimum memory limit"* ]]
  run $DOCKER update --cpus 1 nosuch-apictr
  [ "$status" -ne 0 ] && [[ "$output" == *"No such container: nosuch-apictr"* ]]

  run $DOCKER top apictr-up
  [ "$status" -eq 0 ] && [[ "${lines[0]}" == UID*PID*PPID*CMD ]] && [[ "$output" == *"sleep 1000"* ]]
  [[ "$output" == *"sleep 777"* ]] || { echo "$output"; false; }
  run $DOCKER top apictr-up -o pid,comm
  [[ "${lines[0]}" =~ ^PID\ +COMMAND$ ]] && [ "${#lines[@]}" -ge 3 ]
  run api GET '/containers/apictr-up/top?ps_args=-o%20pid,args'
  [ "${lines[1]}" = 200 ] && [ "$(jq -c '.Titles' <<<"${lines[0]}")" = '["PID","COMMAND"]' ]
  jq -e '[.Processes[][1]] | index("sleep 777") != null' <<<"${lines[0]}"
  $DOCKER stop -t 1 apictr-up
  run $DOCKER top apictr-up
  [ "$status" -ne 0 ] && [[ "$output" == *"is not running"* ]]
}

@test "oci-api: docker stats --no-stream and docker-py stats (one-shot, two samples, stream) from the cgroup" {
  $DOCKER run -d --name apictr-st -m 64m --cpus 0.3 $IMG sh -c 'while :; do :; done'
  run $DOCKER stats --no-stream --format '{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}' apictr-st
  [ "$status" -eq 0 ]
  IFS='|' read -r name mem pids cpu <<<"$output"
  [ "$name" = apictr-st ] && [[ "$mem" == *"/ 64MiB" ]] && [ "$pids" = 1 ]
  [[ "$cpu" =~ ^[0-9]+\.[0-9]+%$ ]] && [ "$cpu" != 0.00% ]
  run $PY - <<'EOF'
import docker
c = docker.from_env().containers.get('apictr-st')
s = c.stats(stream=False)
cpu, pre = s['cpu_stats'], s['precpu_stats']
assert s['name'] == '/apictr-st' and s['id'] == c.id, s
assert cpu['cpu_usage']['total_usage'] > pre['cpu_usage']['total_usage'] > 0, s
assert cpu['system_cpu_usage'] > pre['system_cpu_usage'] > 0 and cpu['online_cpus'] >= 1, s
assert cpu['cpu_usage']['usage_in_usermode'] + cpu['cpu_usage']['usage_in_kernelmode'] > 0, s
assert s['memory_stats']['usage'] > 0 and s['memory_stats']['limit'] == 64 << 20, s
assert s['memory_stats']['stats'] and s['pids_stats']['current'] == 1, s
assert 'throttling_data' in cpu and s['read'] != s['preread'], s
one = c.stats(stream=False, one_shot=True)
assert one['cpu_stats']['cpu_usage']['total_usage'] > 0 and one['precpu_stats']['cpu_usage']['total_usage'] == 0
it = c.stats(stream=True, decode=True)
a, b = next(it), next(it)
assert b['cpu_stats']['cpu_usage']['total_usage'] > a['cpu_stats']['cpu_usage']['total_usage'], (a, b)
assert b['precpu_stats']['cpu_usage']['total_usage'] == a['cpu_stats']['cpu_usage']['total_usage'], (a, b)
it.close()
print('ok')
EOF
  [ "$status" -eq 0 ] && [ "$output" = ok ]
  # The stream ends when the container stops.
  run $PY -c "
import docker, threading
c = docker.from_env().containers.get('apictr-st')
threading.Timer(1.5, lambda: c.kill()).start()
print(sum(1 for _ in c.stats(stream=True, decode=True)) >= 1)"
  [ "$output" = True ]
  # Stopped: docker's zeros.
  run api GET '/containers/apictr-st/stats?stream=false'
  [ "${lines[1]}" = 200 ] && [ "$(jq -r '.name, .cpu_stats.cpu_usage.total_usage' <<<"${lines[0]}" | xargs)" = "/apictr-st 0" ]
  wait_until no_children
}

@test "oci-api: docker cp both ways (file, dir, stopped container); docker's stat header and missing-path errors" {
  $DOCKER run -d --name apictr-cp $IMG sleep 1000
  echo hello >"$T/f.txt"
  mkdir -p "$T/d/sub" && echo a >"$T/d/sub/a" && ln -s sub/a "$T/d/link"
  $DOCKER cp "$T/f.txt" apictr-cp:/tmp/
  $DOCKER cp "$T/d" apictr-cp:/tmp/dd
  [ "$($DOCKER exec apictr-cp cat /tmp/f.txt /tmp/dd/sub/a /tmp/dd/link | xargs)" = "hello a a" ]
  $DOCKER exec apictr-cp sh -c 'mkdir -p /out/in && echo x >/out/x && ln -s x /out/l && chmod 751 /out/in'
  $DOCKER cp apictr-cp:/out "$T/out"
  [ "$(cat "$T/out/x")" = x ] && [ "$(readlink "$T/out/l")" = x ] && [ "$(stat -c %a "$T/out/in")" = 751 ]
  $DOCKER cp apictr-cp:/out/x "$T/x2"
  [ "$(cat "$T/x2")" = x ]
  $DOCKER cp apictr-cp:/out/. "$T/contents" && [ -f "$T/contents/x" ]
  # docker cp CONTAINER:PATH - is the tar itself.
  [ "$($DOCKER cp apictr-cp:/out - | tar t | sort | xargs)" = "out/ out/in/ out/l out/x" ]
  run $DOCKER cp apictr-cp:/nonexistent "$T/n"
  [ "$status" -eq 1 ] && [[ "$output" == *"No such container:path: apictr-cp:/nonexistent"* ]]
  run $DOCKER cp "$T/f.txt" apictr-cp:/nonexistent/dir/
  [ "$status" -ne 0 ] && [ ! -e "$T/n" ]
  run api GET '/containers/apictr-cp/archive?path=/nonexistent'
  [ "${lines[1]}" = 404 ] && [ "$(jq -r .message <<<"${lines[0]}")" = "Could not find the file /nonexistent in container apictr-cp" ]
  # HEAD: the stat header (Go's FileMode: the dir bit is 1<<31).
  hdr=$(curl -s -I --unix-socket "$SOCK" 'http://localhost/containers/apictr-cp/archive?path=/out/in' |
    tr -d '\r' | sed -n 's/^X-Docker-Container-Path-Stat: //Ip')
  [ "$(base64 -d <<<"$hdr" | jq -r '"\(.name) \(.mode)"')" = "in $(((1 << 31) | 8#751))" ]
  run $PY -c "
import docker
c = docker.from_env().containers.get('apictr-cp')
bits, st = c.get_archive('/out/l')
print(st['name'], st['linkTarget'], st['mode'] & (1 << 27) != 0, len(b''.join(bits)) >= 1024)"
  [ "$output" = "l x True True" ]
  # Into and out of a stopped container (its filesystem mounted for the copy).
  $DOCKER stop -t 1 apictr-cp
  $DOCKER cp "$T/f.txt" apictr-cp:/stopped.txt
  $DOCKER cp apictr-cp:/stopped.txt "$T/back.txt"
  [ "$(cat "$T/back.txt")" = hello ]
  wait_until no_children
}

@test "oci-api: a hostile tar PUT to the archive endpoint writes nothing outside the container's root" {
  $DOCKER run -d --name apictr-evil $IMG sleep 1000
  mkdir -p "$T/host"
  $PY - "$T" <<'EOF'
import io, sys, tarfile
t = sys.argv[1]
def tar(name, entries):
    with tarfile.open(f'{t}/{name}', 'w') as tf:
        for e in entries:
            tf.addfile(*e)
def f(name, data=b'pwned\n'):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, io.BytesIO(data))
def l(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; return (i,)
def h(name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.LNKTYPE; i.linkname = target; return (i,)
tar('dotdot.tar', [f('ok-before'), f('../../../../../../../..' + t + '/host/dotdot')])
tar('abslink.tar', [l('evil', '/'), f('evil/apictr-abs'), l('up', '../../../../../../../..'), f('up/apictr-up')])
tar('hostlink.tar', [l('evil', t + '/host'), f('evil/x')])
tar('hardlink.tar', [h('hl', '../../../../../../../..' + t + '/host/x')])
EOF
  run api PUT '/containers/apictr-evil/archive?path=/tmp' --data-binary @"$T/dotdot.tar"
  [ "${lines[-1]}" = 400 ] && jq -e '.message | contains("escapes")' <<<"${lines[0]}"
  run api PUT '/containers/apictr-evil/archive?path=/tmp' --data-binary @"$T/abslink.tar"
  [ "${lines[-1]}" = 200 ]
  run api PUT '/containers/apictr-evil/archive?path=/tmp' --data-binary @"$T/hostlink.tar"
  [ "${lines[-1]}" = 400 ]
  run api PUT '/containers/apictr-evil/archive?path=/tmp' --data-binary @"$T/hardlink.tar"
  [ "${lines[-1]}" = 400 ]
  [ -z "$(ls -A "$T/host")" ] && [ ! -e /apictr-abs ] && [ ! -e /apictr-up ]
  # The links resolved beneath the extraction directory.
  [ "$($DOCKER exec apictr-evil cat /tmp/apictr-abs /tmp/apictr-up | xargs)" = "pwned pwned" ]
  run api PUT '/containers/apictr-evil/archive?path=/nonexistent' --data-binary @"$T/abslink.tar"
  [ "${lines[-1]}" = 404 ]
  # A file where a directory is: refused (noOverwriteDirNonDir), as docker.
  printf 'x' >"$T/tmp" && tar -C "$T" -cf "$T/dirfile.tar" tmp
  run api PUT '/containers/apictr-evil/archive?path=/' --data-binary @"$T/dirfile.tar"
  [ "${lines[-1]}" = 400 ] && jq -e '.message | contains("cannot overwrite directory")' <<<"${lines[0]}"
  # A body beyond the 16 MiB JSON limit streams through.
  head -c 20000000 /dev/urandom >"$T/big" && tar -C "$T" -cf "$T/big.tar" big
  run api PUT '/containers/apictr-evil/archive?path=/tmp' --data-binary @"$T/big.tar"
  [ "${lines[-1]}" = 200 ]
  [ "$($DOCKER exec apictr-evil md5sum /tmp/big | cut -d' ' -f1)" = "$(md5sum <"$T/big" | cut -d' ' -f1)" ]
  wait_until no_children
}

@test "oci-api: docker export, docker commit (changes, config) then run, docker container prune" {
  $DOCKER run -d --name apictr-cm -l keep=1 $IMG sh -c 'echo committed >/marker; sleep 1000'
  [ "$($DOCKER export apictr-cm | tar t | grep -cE '^(\./)?bin/busybox$')" = 1 ]
  wait_until $DOCKER exec apictr-cm test -f /marker
  run $DOCKER commit -c 'CMD ["cat", "/marker"]' -c 'ENV APICTR=one' -m msg -a me apictr-cm apictr/committed:v1
  [ "$status" -eq 0 ] && [[ "$output" == sha256:* ]]
  [ "$($DOCKER run --rm apictr/committed:v1)" = committed ]
  [ "$($DOCKER run --rm apictr/committed:v1 sh -c 'echo $APICTR')" = one ]
  [ "$($DOCKER image inspect -f '{{.Author}}' apictr/committed:v1)" = me ]
  # without changes the image takes the container's config, as dockerd's:
  # its command, -e, -w, -u, labels, and its published and exposed ports
  [ "$($DOCKER inspect -f '[{{.Config.User}}]' apictr-cm)" = "[]" ]
  $DOCKER run -d --name apictr-cm2 -e RUNENV=r1 -w /tmp -u 1000:1000 -l made=here -p 127.0.0.1::8080 --expose 9090/udp $IMG sh -c 'sleep 1000'
  [ "$($DOCKER inspect -f '{{.Config.User}}' apictr-cm2)" = 1000:1000 ]
  $DOCKER commit apictr-cm2 apictr/committed:v3 >/dev/null
  [ "$($DOCKER image inspect -f '{{json .Config.Cmd}} {{.Config.WorkingDir}} {{.Config.Labels.made}} {{.Config.User}}' apictr/committed:v3)" = '["sh","-c","sleep 1000"] /tmp here 1000:1000' ]
  [ "$($DOCKER image inspect -f '{{json .Config.ExposedPorts}}' apictr/committed:v3)" = '{"8080/tcp":{},"9090/udp":{}}' ]
  [ "$($DOCKER image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' apictr/committed:v3 | grep -c '^RUNENV=r1$')" = 1 ]
  ! $DOCKER image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' apictr/committed:v3 | grep -q '^HOSTNAME='
  [ "$($DOCKER run --rm apictr/committed:v3 sh -c 'echo $RUNENV; pwd; id -u')" = "r1
/tmp
1000" ]
  $DOCKER rm -f apictr-cm2 >/dev/null
  $DOCKER rmi apictr/committed:v3 >/dev/null
  # docker-py: the body is a Config whose fields replace the image's.
  run $PY -c "
import docker
d = docker.from_env()
img = d.containers.get('apictr-cm').commit('apictr/committed', 'v2', conf={'Env': ['APICTR=two \$x'], 'Cmd': ['sh', '-c', 'echo \$APICTR']})
print(d.containers.run('apictr/committed:v2', remove=True).decode().strip())"
  [ "$output" = 'two $x' ]
  run api POST '/commit?container=nosuch-apictr'
  [ "${lines[1]}" = 404 ]

  $DOCKER run --name apictr-p1 -l apictr=1 $IMG true
  $DOCKER run --name apictr-p2 $IMG true
  run $DOCKER container prune -f --filter label=apictr=1
  [ "$status" -eq 0 ] && [[ "$output" == *"Deleted Containers:"* ]] && [[ "$output" == *"Total reclaimed space:"* ]]
  [ "$($DOCKER ps -a --format '{{.Names}}' | sort | xargs)" = "apictr-cm apictr-p2" ]
  run api POST '/containers/prune?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D'
  [ "${lines[1]}" = 400 ]
  run api POST /containers/prune
  [ "${lines[1]}" = 200 ] && [ "$(jq -r '.ContainersDeleted | length' <<<"${lines[0]}")" = 1 ]
  [ "$($DOCKER ps -a --format '{{.Names}}')" = apictr-cm ]
  $DOCKER rmi apictr/committed:v1 apictr/committed:v2 >/dev/null
  wait_until no_children
}
