#!/usr/bin/env bats
# oci-api with a real multi-service docker-compose project (Debian's
# /usr/bin/docker-compose 1.29; no dockerd): build, depends_on, a named
# volume, a user network, a published port reached from the host, service
# discovery by name, exec, scale, logs and down -v leaving nothing behind.
# Also docker's default network ("bridge") and the inspect shapes compose
# and `docker port` rely on. Networks use 10.216.0.0/16, names apicmp*.
load oci-run_manage_helpers
load registry_helpers

: "${OCI_API:=$OCIKIT_BUILD_ROOT/tools/oci-api/oci-api}"
DOCKER=/usr/bin/docker
COMPOSE=/usr/bin/docker-compose

setup_file() {
  require_cmd /usr/bin/docker /usr/bin/docker-compose curl
  manage_setup_file
}

setup() {
  manage_setup
  export OCIKIT_NET_DIR=$T/net
  export OCIKIT_EVENTS=$T/state/events.log
  mkdir -p "$T/state"
  # docker's default network is oci-net's "bridge"; defined here with this
  # file's subnet and link name (not ocikit0) so that it clashes with no
  # other test.
  OCIKIT_NET_DIR=$T/net "$OCI_NET" create --subnet 10.216.1.0/24 -o bridge=apicmp0 bridge >/dev/null
  SOCK=$T/api.sock
  export DOCKER_HOST=unix://$SOCK
  "$OCI_API" -H "unix://$SOCK" --root "$ROOT" 2>"$T/api.log" 3>&- &
  API_PID=$!
  wait_until test -S "$SOCK"
}

teardown() {
  [ -n "${T:-}" ] || return 0
  if [ -d "$T/proj" ]; then
    (cd "$T/proj" && timeout 60 $COMPOSE -p apicmp down -v -t 1 >/dev/null 2>&1) || true
  fi
  [ -z "${API_PID:-}" ] || { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null || true; }
  manage_teardown_keep
  net_cleanup "$T"
  rm -rf "$T"
}

# manage_teardown without removing $T yet (net_cleanup needs $T/net).
manage_teardown_keep() {
  local id
  for id in $("$OCI_RUN" --root "$ROOT" ps -a -q --no-trunc 2>/dev/null); do
    "$OCI_RUN" --root "$ROOT" rm -f -v "$id" >/dev/null 2>&1 || true
  done
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
}

dc() { timeout 90 $COMPOSE -p apicmp "$@"; }

# the project: web (built, httpd on :80 published at $HOSTPORT) depends on
# db (a tiny "database": nc answering on 5432, its data in the volume
# dbdata), worker (scaled), all on the user network back.
write_project() {
  HOSTPORT=$(free_port)
  mkdir -p "$T/proj/web"
  cat >"$T/proj/web/Dockerfile" <<EOF
FROM $IMG
RUN mkdir -p /www && echo hello-from-web > /www/index.html
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
EOF
  cat >"$T/proj/docker-compose.yml" <<YML
version: "3.8"
services:
  web:
    build: ./web
    image: apicmp/web
    ports:
      - "$HOSTPORT:80"
    depends_on:
      - db
    networks:
      - back
  db:
    image: $IMG
    command: sh -c 'echo db-ready; echo stored >/data/row; while :; do echo db-answer | nc -l -p 5432; done'
    volumes:
      - dbdata:/data
    networks:
      - back
  worker:
    image: $IMG
    command: sh -c 'echo worker-up; sleep 300'
    networks:
      - back
volumes:
  dbdata:
networks:
  back:
    ipam:
      config:
        - subnet: 10.216.2.0/24
YML
}

@test "oci-api compose: up --build, depends_on, port, names, exec, scale, logs, down -v" {
  write_project
  cd "$T/proj"
  run dc up -d --build
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  # depends_on: db was created and started before web.
  local order
  order=$(timeout 10 $DOCKER events --since 0 --until "$(($(date +%s) + 1))" --filter event=start --format '{{.Actor.Attributes.name}}')
  [ "$(echo "$order" | grep -n apicmp_db_1 | cut -d: -f1)" -lt "$(echo "$order" | grep -n apicmp_web_1 | cut -d: -f1)" ] || { echo "$order"; false; }
  [ "$($DOCKER inspect -f '{{.State.Running}}' apicmp_web_1 apicmp_db_1 apicmp_worker_1 | sort -u)" = true ]
  # the published port, reached from the host
  wait_until curl -sf "http://127.0.0.1:$HOSTPORT/index.html"
  [ "$(curl -s "http://127.0.0.1:$HOSTPORT/index.html")" = hello-from-web ]
  [ "$($DOCKER port apicmp_web_1 80)" = "0.0.0.0:$HOSTPORT" ]
  [ "$($DOCKER inspect -f '{{json .Config.ExposedPorts}}' apicmp_web_1)" = '{"80/tcp":{}}' ]
  # service discovery: by service name and by container name
  [[ "$($DOCKER inspect -f '{{json (index .NetworkSettings.Networks "apicmp_back").Aliases}}' apicmp_db_1)" == *'"db"'* ]]
  run dc exec -T web nslookup db
  [ "$status" -eq 0 ] && [[ "$output" == *10.216.2.* ]] || { echo "$output"; false; }
  run $DOCKER exec apicmp_web_1 sh -c 'nc db 5432 </dev/null'
  [ "$output" = db-answer ] || { echo "$output"; false; }
  run $DOCKER exec apicmp_web_1 sh -c 'nc apicmp_db_1 5432 </dev/null'
  [ "$output" = db-answer ] || { echo "$output"; false; }
  run $DOCKER exec apicmp_worker_1 wget -q -O - http://web/index.html
  [ "$output" = hello-from-web ]
  # exec returns the command's exit code
  run dc exec -T web sh -c 'echo in-web; exit 7'
  [ "$status" -eq 7 ] && [ "$output" = in-web ]
  # the named volume holds db's data
  [ "$($DOCKER volume ls -q)" = apicmp_dbdata ]
  run $DOCKER exec apicmp_db_1 cat /data/row
  [ "$output" = stored ]
  # scale
  run dc up -d --scale worker=3
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run dc ps
  [ "$(grep -c '^apicmp_worker_[123] .* Up ' <<<"$output")" = 3 ] || { echo "$output"; false; }
  [ "$(grep -c ' Up ' <<<"$output")" = 5 ]
  run dc up -d --scale worker=1 -t 1
  [ "$status" -eq 0 ]
  [ "$($DOCKER ps -a --filter label=com.docker.compose.service=worker --format '{{.Names}}')" = apicmp_worker_1 ]
  # labels filter as docker's: every label given must match (compose numbers
  # a service's containers from this list)
  [ "$($DOCKER ps -a --filter label=com.docker.compose.project=apicmp --filter label=com.docker.compose.service=web --format '{{.Names}}')" = apicmp_web_1 ]
  # logs
  run dc logs --no-color db worker
  [[ "$output" == *"db_1"*"db-ready"* ]] && [[ "$output" == *worker-up* ]]
  # down -v: nothing left (the network's bridge, the containers' veths and
  # netns, its nft table and resolver gone too)
  local info br links netns
  info=$(OCIKIT_NET_DIR=$T/net "$OCI_NET" inspect apicmp_back)
  br=$(jq -r '.[0].bridge' <<<"$info")
  links=$(jq -r '.[0].containers[].host_interface' <<<"$info")
  netns=$(jq -r '.[0].containers[].netns' <<<"$info")
  [ -n "$br" ] && [ "$(wc -l <<<"$links")" = 3 ]
  ip link show "$br" >/dev/null
  pgrep -f "dnsmasq.*$T/" >/dev/null
  run dc down -v -t 1
  [ "$status" -eq 0 ] || { echo "$output"; cat "$T/api.log"; false; }
  [ -z "$(R ps -a -q)" ]
  [ -z "$(R volume ls -q)" ]
  [ "$(OCIKIT_NET_DIR=$T/net "$OCI_NET" ls -q | tr '\n' ' ')" = "bridge " ]
  ! nft list tables | grep -q 'ocikit-apicmp_back'
  ! ip link show "$br" 2>/dev/null
  local l
  for l in $links; do ! ip link show "$l" 2>/dev/null; done
  for l in $netns; do [ ! -e "$l" ] || [ "$(stat -f -c %T "$l")" != nsfs ]; done
  [ "$(pgrep -f "$T/" | grep -vx "$API_PID")" = "" ] || { pgrep -af "$T/"; false; }
  no_leftovers
}

@test "oci-api compose: docker run gets docker's default bridge network; none and host still work" {
  $DOCKER run -d --name apicmp-a $IMG sleep 100
  $DOCKER run -d --name apicmp-b --network bridge $IMG sleep 100
  local ip_a ip_b
  ip_a=$($DOCKER inspect -f '{{.NetworkSettings.IPAddress}}' apicmp-a)
  ip_b=$($DOCKER inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' apicmp-b)
  [[ "$ip_a" == 10.216.1.* ]] && [[ "$ip_b" == 10.216.1.* ]] && [ "$ip_a" != "$ip_b" ]
  [ "$($DOCKER inspect -f '{{.HostConfig.NetworkMode}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.IPPrefixLen}}' apicmp-a)" = "default 10.216.1.1 24" ]
  [ "$($DOCKER inspect -f '{{.HostConfig.NetworkMode}}' apicmp-b)" = bridge ]
  # the MAC docker reports is the container's eth0, in the container and the network
  local mac
  mac=$($DOCKER exec apicmp-a cat /sys/class/net/eth0/address)
  [[ "$mac" =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]]
  [ "$($DOCKER inspect -f '{{.NetworkSettings.MacAddress}} {{.NetworkSettings.Networks.bridge.MacAddress}}' apicmp-a)" = "$mac $mac" ]
  [ "$($DOCKER network inspect -f '{{range .Containers}}{{if eq .Name "apicmp-a"}}{{.MacAddress}}{{end}}{{end}}' bridge)" = "$mac" ]
  # they reach each other by IP
  run $DOCKER exec apicmp-a ping -c 1 -W 2 "$ip_b"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run $DOCKER ps --format '{{.Names}} {{.Networks}}'
  [[ "$output" == *"apicmp-a bridge"* ]]
  # none: loopback only; host: the host's links
  run $DOCKER run --rm --network none $IMG sh -c 'ls /sys/class/net | sort | tr "\n" " "'
  [ "$output" = "lo " ]
  [ "$($DOCKER run --rm --network none $IMG sh -c 'true'; echo $?)" = 0 ]
  run $DOCKER run --rm --network host $IMG ls /sys/class/net
  [[ "$output" == *apicmp0* ]]
  [ -z "$($DOCKER inspect -f '{{.NetworkSettings.IPAddress}}' "$($DOCKER create --network none $IMG true)")" ]
  $DOCKER rm -f apicmp-a apicmp-b
  [ -z "$(OCIKIT_NET_DIR=$T/net "$OCI_NET" inspect bridge | jq -r '.[0].containers | keys[]')" ]
}

@test "oci-api compose: inspect shapes of ports and image; docker port and inspect -f print what docker prints" {
  local hp
  hp=$(free_port)
  $DOCKER run -d --name apicmp-p -p "$hp:80" --expose 81 $IMG httpd -f -p 80 -h /
  run $DOCKER inspect apicmp-p
  local j=$output
  [ "$(jq -c '.[0].HostConfig.PortBindings' <<<"$j")" = "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"$hp\"}]}" ]
  [ "$(jq -c '.[0].NetworkSettings.Ports["80/tcp"]' <<<"$j")" = "[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"$hp\"}]" ]
  [ "$(jq -c '.[0].NetworkSettings.Ports["81/tcp"]' <<<"$j")" = null ]
  [ "$(jq -cS '.[0].Config.ExposedPorts' <<<"$j")" = '{"80/tcp":{},"81/tcp":{}}' ]
  [ "$(jq -r '.[0].Image' <<<"$j")" = "$($DOCKER image inspect -f '{{.Id}}' $IMG)" ]
  [[ "$(jq -r '.[0].Image' <<<"$j")" == sha256:* ]]
  [ "$(jq -r '.[0].Config.Image' <<<"$j")" = $IMG ]
  [ "$($DOCKER port apicmp-p)" = "80/tcp -> 0.0.0.0:$hp" ]
  [ "$($DOCKER port apicmp-p 80/tcp)" = "0.0.0.0:$hp" ]
  run $DOCKER port apicmp-p 82
  [ "$status" -ne 0 ]
  [ "$($DOCKER inspect -f '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}' apicmp-p)" = "$hp" ]
  [[ "$($DOCKER inspect -f '{{.NetworkSettings.IPAddress}}' apicmp-p)" == 10.216.1.* ]]
  [ "$($DOCKER ps --format '{{.Ports}}' --filter name=apicmp-p)" = "0.0.0.0:$hp->80/tcp" ]
  wait_until curl -sf "http://127.0.0.1:$hp/etc/passwd"
  # -p 80 and -p 127.0.0.1::80: a free host port each (docker's), in the
  # kernel's ephemeral range, reached from the host; PortBindings keep ""
  local lo hi p1 p2
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  $DOCKER run -d --name apicmp-e -p 80 -p 127.0.0.1::8080 $IMG httpd -f -p 80 -h /
  p1=$($DOCKER port apicmp-e 80/tcp)
  p1=${p1##*:}
  p2=$($DOCKER inspect -f '{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostIp}}:{{(index (index .NetworkSettings.Ports "8080/tcp") 0).HostPort}}' apicmp-e)
  [[ "$p2" == 127.0.0.1:* ]] && p2=${p2#127.0.0.1:}
  [ "$p1" -ge "$lo" ] && [ "$p1" -le "$hi" ] && [ "$p2" -ge "$lo" ] && [ "$p2" -le "$hi" ] && [ "$p1" != "$p2" ]
  [ "$($DOCKER inspect apicmp-e | jq -cS ".[0].HostConfig.PortBindings")" = '{"80/tcp":[{"HostIp":"","HostPort":""}],"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}' ] || { $DOCKER inspect apicmp-e | jq -c ".[0].HostConfig.PortBindings"; false; }
  [[ "$($DOCKER ps --format '{{.Ports}}' --filter name=apicmp-e)" == *"0.0.0.0:$p1->80/tcp"* ]]
  wait_until curl -sf "http://127.0.0.1:$p1/etc/passwd"
  # a second one gets another port
  $DOCKER run -d --name apicmp-e2 -p 80 $IMG httpd -f -p 80 -h /
  [ "$($DOCKER port apicmp-e2 80/tcp)" != "0.0.0.0:$p1" ]
  # -P: every exposed port (here --expose) on a free host port
  $DOCKER run -d --name apicmp-P -P --expose 80 --expose 90/udp $IMG httpd -f -p 80 -h /
  [ "$($DOCKER inspect -f '{{.HostConfig.PublishAllPorts}}' apicmp-P)" = true ]
  local pp
  pp=$($DOCKER port apicmp-P 80/tcp)
  pp=${pp##*:}
  [ "$pp" -ge "$lo" ] && [ "$pp" -le "$hi" ] && [ "$pp" != "$p1" ]
  [[ "$($DOCKER port apicmp-P 90/udp)" == 0.0.0.0:* ]]
  wait_until curl -sf "http://127.0.0.1:$pp/etc/passwd"
  $DOCKER rm -f apicmp-e apicmp-e2 apicmp-P
  # a user network: no top-level IPAddress (as docker), the network's entry has it
  $DOCKER network create --subnet 10.216.3.0/24 apicmp-net
  $DOCKER run -d --name apicmp-u --network apicmp-net --network-alias apicmp-alias $IMG sleep 100
  [ -z "$($DOCKER inspect -f '{{.NetworkSettings.IPAddress}}' apicmp-u)" ]
  [[ "$($DOCKER inspect -f '{{(index .NetworkSettings.Networks "apicmp-net").IPAddress}}' apicmp-u)" == 10.216.3.* ]]
  [[ "$($DOCKER inspect -f '{{(index .NetworkSettings.Networks "apicmp-net").Aliases}}' apicmp-u)" == *apicmp-alias* ]]
  $DOCKER rm -f apicmp-p apicmp-u
  $DOCKER network rm apicmp-net
}
