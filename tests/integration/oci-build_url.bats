#!/usr/bin/env bats
# oci-build: ADD from http URLs (a python3 http.server on 127.0.0.1 only):
# file names, mode, mtime from Last-Modified, no extraction, --checksum,
# cache keys, errors.
load helpers

setup() {
  require_cmd python3
  build_setup
  mkdir -p "$T/www"
  echo "hello from http" >"$T/www/data.txt"
  touch -d '2020-01-02 03:04:05 UTC' "$T/www/data.txt"
  mkdir -p "$T/tarsrc" && echo inside >"$T/tarsrc/inner"
  tar -C "$T/tarsrc" -czf "$T/www/archive.tar.gz" inner
  (cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 0 >"$T/server.log" 2>&1) &
  SERVER=$!
  for _ in $(seq 50); do
    PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$T/server.log" | head -n1)
    [ -n "$PORT" ] && break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/server.log"; return 1; }
  URL=http://127.0.0.1:$PORT
}

teardown() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  build_cleanup
}

blob() { echo "$OCIKIT_STORE/blobs/sha256/${1#sha256:}"; }
manifest() {
  blob "$(jq -r --arg n "docker.io/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json")"
}
# layer NAME INDEX: the blob of the image's layer INDEX
layer() { blob "$(jq -r ".layers[$2].digest" "$(manifest "$1")")"; }

@test "ADD URL: name from the URL, mode 0600, mtime from Last-Modified, archives not extracted; cached by content" {
  sum=$(sha256sum "$T/www/data.txt" | cut -d' ' -f1)
  cat >"$T/ctx/Dockerfile" <<DF
FROM scratch
ADD --checksum=sha256:$sum $URL/data.txt /pinned
ADD $URL/archive.tar.gz /a/
ADD $URL/data.txt /d/
ADD --chmod=644 $URL/data.txt?x=1 /named.txt
DF
  run "$OCI_BUILD" -t okt-build3/url "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run tar -tvzf "$(layer okt-build3/url 2)"
  [[ "$output" == *"-rw------- 0/0"*"16 2020-01-02 03:04 d/data.txt"* ]] || { echo "$output"; false; }
  [ "$(tar -xzOf "$(layer okt-build3/url 2)" d/data.txt)" = "hello from http" ]
  tar -tzf "$(layer okt-build3/url 1)" | grep -qx a/archive.tar.gz
  ! tar -tzf "$(layer okt-build3/url 1)" | grep -q inner
  [ "$(tar -xzOf "$(layer okt-build3/url 0)" pinned)" = "hello from http" ]
  run tar -tvzf "$(layer okt-build3/url 3)"
  [[ "$output" == *"-rw-r--r-- 0/0"*"named.txt"* ]]
  # cached: nothing is downloaded again for the pinned one, the others by content
  gets=$(grep -c 'GET /data.txt ' "$T/server.log")
  run "$OCI_BUILD" -t okt-build3/url "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 4 ]
  [ "$(grep -c 'GET /data.txt ' "$T/server.log")" -eq $((gets + 1)) ]
  # a changed file on the server is a miss for the unpinned ADDs (the pinned one stays cached)
  echo "changed" >"$T/www/data.txt"
  run "$OCI_BUILD" -t okt-build3/url "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 2 ]
  [ "$(tar -xzOf "$(layer okt-build3/url 2)" d/data.txt)" = changed ]
}

@test "ADD URL: a bad checksum, a 404 and a URL without a file name fail and tag nothing" {
  printf 'FROM scratch\nADD --checksum=sha256:%064d %s/data.txt /x\n' 0 "$URL" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/bad "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Dockerfile:2: ADD $URL/data.txt: checksum mismatch: expected sha256:$(printf %064d 0), got sha256:$(sha256sum "$T/www/data.txt" | cut -d' ' -f1)"* ]]
  printf 'FROM scratch\nADD %s/missing /x\n' "$URL" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/bad "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Dockerfile:2: ADD $URL/missing: HTTP 404"* ]]
  printf 'FROM scratch\nADD %s/ /dir/\n' "$URL" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/bad "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Dockerfile:2: ADD $URL/: the URL names no file; give a destination file name"* ]]
  printf 'FROM scratch\nADD --checksum=md5:abc %s/data.txt /x\n' "$URL" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-build3/bad "$T/ctx"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Dockerfile:2: ADD --checksum: "* ]]
  [ ! -e "$OCIKIT_STORE/index.json" ] || ! grep -q okt-build3/bad "$OCIKIT_STORE/index.json"
}
