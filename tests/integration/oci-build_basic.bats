#!/usr/bin/env bats
# oci-build: scratch and store bases, COPY/ADD, metadata instructions, RUN
# through oci-run and runc, the layer cache, reproducible builds, errors.
load helpers

setup() {
  build_setup okt-build/busybox
}

teardown() {
  build_cleanup
}

# config of image NAME (jq filter)
image_config() {
  local m c
  m=$(jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json" | cut -d: -f2)
  c=$(jq -r .config.digest "$OCIKIT_STORE/blobs/sha256/$m" | cut -d: -f2)
  cat "$OCIKIT_STORE/blobs/sha256/$c"
}

image_layers() {
  local m
  m=$(jq -r --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json" | cut -d: -f2)
  jq -r '.layers[].digest' "$OCIKIT_STORE/blobs/sha256/$m" | cut -d: -f2
}

@test "scratch base: one layer with the rootfs, CMD, tagged under the normalised name" {
  id=$(image_config docker.io/okt-build/busybox:latest | sha256sum | cut -d' ' -f1)
  [ "$(jq -r '.config.Cmd[0]' <<<"$(image_config docker.io/okt-build/busybox:latest)")" = /bin/sh ]
  [ "$(image_layers docker.io/okt-build/busybox:latest | wc -l)" -eq 1 ]
  l=$(image_layers docker.io/okt-build/busybox:latest)
  tar -tzf "$OCIKIT_STORE/blobs/sha256/$l" | grep -qx 'bin/busybox'
  [ -n "$id" ]
}

@test "metadata instructions change only the config; WORKDIR makes a missing directory" {
  mkdir -p "$T/ctx"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build/busybox
ARG V=1
ENV A=x B="y z"
LABEL org.test=yes other="$V"
WORKDIR /srv
WORKDIR sub
USER 1000:1000
EXPOSE 80 53/udp
VOLUME /data
ENTRYPOINT ["/bin/echo"]
CMD ["hi"]
SHELL ["/bin/sh", "-ec"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s CMD true
DF
  run "$OCI_BUILD" --build-arg V=2 --label extra=1 -t okt-build/meta "$T/ctx"
  [ "$status" -eq 0 ]
  c=$(image_config docker.io/okt-build/meta:latest)
  [ "$(jq -r '.config.Env | join(",")' <<<"$c")" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,A=x,B=y z" ]
  [ "$(jq -r '.config.Labels["org.test"]' <<<"$c")" = yes ]
  [ "$(jq -r '.config.Labels.other' <<<"$c")" = 2 ]
  [ "$(jq -r '.config.Labels.extra' <<<"$c")" = 1 ]
  [ "$(jq -r '.config.WorkingDir' <<<"$c")" = /srv/sub ]
  [ "$(jq -r '.config.User' <<<"$c")" = 1000:1000 ]
  [ "$(jq -r '.config.ExposedPorts | keys | join(",")' <<<"$c")" = "53/udp,80/tcp" ]
  [ "$(jq -r '.config.Volumes | keys | join(",")' <<<"$c")" = "/data" ]
  [ "$(jq -c '.config.Entrypoint' <<<"$c")" = '["/bin/echo"]' ]
  [ "$(jq -c '.config.Cmd' <<<"$c")" = '["hi"]' ]
  [ "$(jq -r '.config.StopSignal' <<<"$c")" = SIGTERM ]
  [ "$(jq -c '.config.Healthcheck.Test' <<<"$c")" = '["CMD-SHELL","true"]' ]
  [ "$(jq -r '.config.Healthcheck.Interval' <<<"$c")" = 5000000000 ]
  # WORKDIR /srv and WORKDIR sub make their directories (busybox has no
  # /srv), a layer each, as docker does; the rest changes only the config.
  [ "$(jq '.rootfs.diff_ids | length' <<<"$c")" -eq 3 ]
  [ "$(jq '[.history[] | select(.empty_layer == true)] | length' <<<"$c")" -eq 12 ]
  [ "$(output=$(image_layers docker.io/okt-build/meta:latest); echo "$output" | wc -l)" -eq 3 ]
  l=$(image_layers docker.io/okt-build/meta:latest | tail -1)
  [ "$(tar -tzf "$OCIKIT_STORE/blobs/sha256/$l" | sort | tr '\n' ' ')" = "srv/ srv/sub/ " ]
}

@test "COPY: dirs, files, wildcards, into an existing dir, --chown/--chmod, .dockerignore; ADD extracts a tar" {
  mkdir -p "$T/ctx/d/sub" "$T/ctx/t"
  echo a >"$T/ctx/a.txt"; echo b >"$T/ctx/b.txt"; echo s >"$T/ctx/d/sub/s"; echo secret >"$T/ctx/d/secret"
  echo inner >"$T/ctx/t/inner"; tar -C "$T/ctx/t" -czf "$T/ctx/arch.tgz" inner
  printf 'd/secret\n' >"$T/ctx/.dockerignore"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM scratch
COPY *.txt /w/
COPY d /dd
COPY a.txt /dd
COPY --chown=7:8 --chmod=600 a.txt /owned
WORKDIR /rel
COPY a.txt here
ADD arch.tgz /x/
DF
  run "$OCI_BUILD" -t okt-build/copy "$T/ctx"
  [ "$status" -eq 0 ]
  mkdir "$T/out"
  for l in $(image_layers docker.io/okt-build/copy:latest); do tar -C "$T/out" -xzf "$OCIKIT_STORE/blobs/sha256/$l"; done
  [ "$(cat "$T/out/w/a.txt" "$T/out/w/b.txt")" = "$(printf 'a\nb')" ]
  [ "$(cat "$T/out/dd/sub/s")" = s ]
  [ ! -e "$T/out/dd/secret" ]
  # a dest that is a directory in the image is one, however it is spelled
  [ "$(cat "$T/out/dd/a.txt")" = a ]
  [ "$(stat -c '%u:%g %a' "$T/out/owned")" = "7:8 600" ]
  [ "$(cat "$T/out/rel/here")" = a ]
  [ "$(cat "$T/out/x/inner")" = inner ]
}

@test "a missing COPY source fails with Dockerfile:LINE and tags nothing" {
  mkdir -p "$T/ctx"
  printf 'FROM scratch\nENV A=1\nCOPY nope /x\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:3: "*nope* ]]
  ! grep -q okt-build/bad "$OCIKIT_STORE/index.json"
}

@test "RUN: the upper dir becomes a layer; a failing RUN shows its exit code and tags nothing" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-build/busybox\nRUN echo built > /etc/marker && echo RUN""MARKER >&2\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/run "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *RUNMARKER* ]]
  l=$(image_layers docker.io/okt-build/run:latest | tail -1)
  [ "$(tar -xzOf "$OCIKIT_STORE/blobs/sha256/$l" etc/marker)" = built ]
  ! tar -tzf "$OCIKIT_STORE/blobs/sha256/$l" | grep -q '^proc'
  # cache hit: nothing runs the second time
  run "$OCI_BUILD" -t okt-build/run2 "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" != *RUNMARKER* ]]
  run "$OCI_BUILD" --no-cache -t okt-build/run3 "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *RUNMARKER* ]]
  printf 'FROM okt-build/busybox\nRUN exit 3\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/fail "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:2: RUN /bin/sh -c exit 3: exit code 3"* ]]
  ! grep -q okt-build/fail "$OCIKIT_STORE/index.json"
}

@test "RUN with --runtime runc, multi-stage COPY --from and --target" {
  require_cmd runc
  mkdir -p "$T/ctx"
  cat >"$T/ctx/Dockerfile" <<'DF'
FROM okt-build/busybox AS one
RUN echo from-one > /one
FROM okt-build/busybox AS two
COPY --from=one /one /copied
RUN cat /copied > /two
FROM two AS three
RUN false
DF
  run "$OCI_BUILD" --runtime runc --target two -t okt-build/stages "$T/ctx"
  [ "$status" -eq 0 ]
  l=$(image_layers docker.io/okt-build/stages:latest | tail -1)
  [ "$(tar -xzOf "$OCIKIT_STORE/blobs/sha256/$l" two)" = from-one ]
}

@test "SOURCE_DATE_EPOCH gives the same image id twice; the store validates" {
  mkdir -p "$T/ctx"
  echo x >"$T/ctx/f"
  printf 'FROM okt-build/busybox\nCOPY f /f\nRUN echo y > /y\n' >"$T/ctx/Dockerfile"
  run env SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" --iidfile "$T/iid1" -t okt-build/repro "$T/ctx"
  [ "$status" -eq 0 ]
  run env SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" --no-cache --iidfile "$T/iid2" "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(cat "$T/iid1")" = "$(cat "$T/iid2")" ]
  [ "$(image_config docker.io/okt-build/repro:latest | jq -r .created)" = 2023-11-14T22:13:20Z ]
  if command -v oci-image-tool >/dev/null; then
    oci-image-tool validate --type image --ref name=docker.io/okt-build/repro:latest "$OCIKIT_STORE"
  fi
}

@test "cache: a changed COPY source reruns the steps after it; a touched one does not" {
  mkdir -p "$T/ctx"
  echo one >"$T/ctx/f"
  printf 'FROM okt-build/busybox\nCOPY f /f\nRUN cat /f >&2 && echo CACHE""MARK >&2\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/cache "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *CACHEMARK* ]]
  touch -d '2001-01-01' "$T/ctx/f"
  run "$OCI_BUILD" -t okt-build/cache "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" != *CACHEMARK* ]]
  echo two >"$T/ctx/f"
  run "$OCI_BUILD" -t okt-build/cache "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *two*CACHEMARK* ]]
}

@test "RUN as a USER name from the image's /etc/passwd" {
  mkdir -p "$T/ctx"
  printf 'FROM okt-build/busybox\nUSER nobody\nRUN id -u >&2; id -g >&2; echo IDS-$(id -u)-$(id -g) >&2\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/user "$T/ctx"
  [ "$status" -eq 0 ]
  [[ "$output" == *IDS-65534-65534* ]]
  printf 'FROM okt-build/busybox\nUSER nosuch\nRUN true\n' >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build/user2 "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:3: "*nosuch* ]]
}
