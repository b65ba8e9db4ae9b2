# Helpers for the oci-fetch / oci-push bats files: start and stop Debian's
# docker-registry on 127.0.0.1 (optionally behind htpasswd Basic auth), and
# build small OCI layouts with jq + sha256sum.

: "${FAULT_PROXY:=$OCIKIT_BUILD_ROOT/tests/integration/fault_proxy}"
export OCIKIT_RETRY_DELAY_MS=20

# free_port: print a TCP port on 127.0.0.1 nobody listens on.
free_port() {
  local p lo=32768
  # Below the kernel's ephemeral range: a port there can be taken by any
  # outgoing connection between this probe and the server's bind.
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$lo" -gt 11000 ] 2>/dev/null || lo=32768
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# start_registry DIR [htpasswd-file]: start a registry storing into DIR/data;
# sets REG_PORT and REG_PID (written to DIR/pid). $REG_EXTRA_CONFIG, when
# set, is appended to its config.yml (top-level YAML sections).
start_registry() {
  local dir=$1 htpasswd=${2:-}
  mkdir -p "$dir/data"
  REG_PORT=$(free_port)
  {
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$REG_PORT"
    if [ -n "$htpasswd" ]; then
      printf 'auth:\n  htpasswd:\n    realm: okt-registry\n    path: %s\n' "$htpasswd"
    fi
    if [ -n "${REG_EXTRA_CONFIG:-}" ]; then printf '%s\n' "$REG_EXTRA_CONFIG"; fi
  } >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  REG_PID=$!
  echo "$REG_PID" >"$dir/pid"
  local i
  for i in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$REG_PORT/v2/"; then return 0; fi
    sleep 0.05
  done
  echo "registry did not start: $(cat "$dir/log")" >&2
  return 1
}

# stop_registry DIR: stop the registry started in DIR.
stop_registry() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  wait "$(cat "$dir/pid")" 2>/dev/null || true
  rm -f "$dir/pid"
}

# start_proxy UPSTREAM_PORT MODE COUNT: start fault_proxy; sets PROXY_PORT, PROXY_PID.
start_proxy() {
  local out
  out=$(mktemp)
  "$FAULT_PROXY" "$@" >"$out" &
  PROXY_PID=$!
  for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.02
  done
  PROXY_PORT=$(cat "$out")
  rm -f "$out"
}

stop_proxy() {
  [ -n "${PROXY_PID:-}" ] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
}

# _blob LAYOUT FILE: move FILE into LAYOUT's blobs by digest; print "sha256:hex size".
_blob() {
  local layout=$1 f=$2 hex size
  hex=$(sha256sum "$f" | cut -d' ' -f1)
  size=$(stat -c %s "$f")
  mkdir -p "$layout/blobs/sha256"
  mv "$f" "$layout/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# make_image_manifest LAYOUT ARCH SEED: write a config + one gzip layer (a
# busybox rootfs plus a file holding SEED) and their manifest as blobs;
# print "digest size" of the manifest.
make_image_manifest() {
  local layout=$1 arch=$2 seed=$3 tmp l c m ld ls cd cs diffid
  tmp=$(mktemp -d)
  make_busybox_rootfs "$tmp/root"
  echo "$seed" >"$tmp/root/etc/seed"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$tmp/root" -cf "$tmp/layer.tar" .
  diffid=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
  gzip -n -1 -c "$tmp/layer.tar" >"$tmp/layer.tgz"
  read -r ld ls < <(_blob "$layout" "$tmp/layer.tgz")
  jq -cn --arg arch "$arch" --arg d "sha256:$diffid" \
    '{architecture:$arch, os:"linux", config:{Cmd:["/bin/sh"]}, rootfs:{type:"layers", diff_ids:[$d]}}' >"$tmp/config.json"
  read -r cd cs < <(_blob "$layout" "$tmp/config.json")
  jq -cn --arg cd "$cd" --argjson cs "$cs" --arg ld "$ld" --argjson ls "$ls" \
    '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json", digest:$cd, size:$cs},
      layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip", digest:$ld, size:$ls}]}' >"$tmp/manifest.json"
  _blob "$layout" "$tmp/manifest.json"
  rm -rf "$tmp"
}

# make_oci_image LAYOUT TAG [ARCH]: a one-platform OCI layout tagged TAG.
make_oci_image() {
  local layout=$1 tag=$2 arch=${3:-amd64} md ms
  mkdir -p "$layout"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  read -r md ms < <(make_image_manifest "$layout" "$arch" "$tag-$arch")
  jq -cn --arg d "$md" --argjson s "$ms" --arg t "$tag" \
    '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$d, size:$s,
      annotations:{"org.opencontainers.image.ref.name":$t}}]}' >"$layout/index.json"
}

# make_oci_multiarch LAYOUT TAG: an OCI layout whose TAG is an index of
# linux/amd64 and linux/arm64 images.
make_oci_multiarch() {
  local layout=$1 tag=$2 ad as bd bs tmp id is
  mkdir -p "$layout"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  read -r ad as < <(make_image_manifest "$layout" amd64 "$tag-amd64")
  read -r bd bs < <(make_image_manifest "$layout" arm64 "$tag-arm64")
  tmp=$(mktemp)
  jq -cn --arg ad "$ad" --argjson asz "$as" --arg bd "$bd" --argjson bsz "$bs" \
    '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json", manifests:[
      {mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$ad, size:$asz, platform:{architecture:"amd64", os:"linux"}},
      {mediaType:"application/vnd.oci.image.manifest.v1+json", digest:$bd, size:$bsz, platform:{architecture:"arm64", os:"linux", variant:"v8"}}]}' >"$tmp"
  read -r id is < <(_blob "$layout" "$tmp")
  jq -cn --arg d "$id" --argjson s "$is" --arg t "$tag" \
    '{schemaVersion:2, manifests:[{mediaType:"application/vnd.oci.image.index.v1+json", digest:$d, size:$s,
      annotations:{"org.opencontainers.image.ref.name":$t}}]}' >"$layout/index.json"
}

# registry_digest PORT REPO TAG: the manifest digest the registry serves.
registry_digest() {
  curl -sI -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$1/v2/$2/manifests/$3" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

# start_token_registry DIR USER PASS: a registry using the distribution
# "token" auth scheme, with a token server (socat + token_handler.sh, JWTs
# signed by a throwaway key) granting USER:PASS what it asks. Sets REG_PORT,
# TOKEN_PORT; the token server logs each request to DIR/token.log.
start_token_registry() {
  local dir=$1 i
  mkdir -p "$dir/data"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -days 1 -subj /CN=okt-token 2>/dev/null
  TOKEN_PORT=$(free_port)
  : >"$dir/token.log"
  TOKEN_USER=$2 TOKEN_PASS=$3 TOKEN_KEY=$dir/key.pem TOKEN_CERT=$dir/cert.pem TOKEN_LOG=$dir/token.log \
    socat TCP-LISTEN:"$TOKEN_PORT",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"bash $BATS_TEST_DIRNAME/token_handler.sh" 2>"$dir/token.err" &
  echo $! >"$dir/token.pid"
  REG_PORT=$(free_port)
  {
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$dir/data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$REG_PORT"
    printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: okt-registry\n' "$TOKEN_PORT"
    printf '    issuer: okt-issuer\n    rootcertbundle: %s\n' "$dir/cert.pem"
  } >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for i in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" &&
      curl -s -o /dev/null "http://127.0.0.1:$TOKEN_PORT/token"; then return 0; fi
    sleep 0.05
  done
  echo "token registry did not start: $(cat "$dir/log" "$dir/token.err")" >&2
  return 1
}

# stop_token_registry DIR
stop_token_registry() {
  local dir=$1
  stop_registry "$dir"
  if [ -f "$dir/token.pid" ]; then
    kill "$(cat "$dir/token.pid")" 2>/dev/null || true
    wait "$(cat "$dir/token.pid")" 2>/dev/null || true
    rm -f "$dir/token.pid"
  fi
}

# registry_digest_auth REPO TAG: registry_digest on the token registry, with
# a pull token from the token server for bob.
registry_digest_auth() {
  local tok
  tok=$(curl -s -u bob:t0ken-pass "http://127.0.0.1:$TOKEN_PORT/token?service=okt-registry&scope=repository:$1:pull" | jq -r .token)
  curl -sI -H "Authorization: Bearer $tok" \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$REG_PORT/v2/$1/manifests/$2" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

# layout_digest DIR TAG: the manifest digest an oci: layout's TAG points to.
layout_digest() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$t) | .digest' "$1/index.json"
}
