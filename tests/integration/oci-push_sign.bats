#!/usr/bin/env bats
# Image trust: sigstore signatures written by oci-push and by upstream
# skopeo (v1.9.3 with sigstore, ../shared/tools/skopeo: Debian's is built
# without), read back by the other, and oci-fetch's containers-policy.json
# checks, against Debian's docker-registry on 127.0.0.1.

load helpers
load registry_helpers

setup_file() {
  require_cmd docker-registry jq curl
  export SKOPEO_SIG="$OCIKIT_SOURCE_ROOT/../shared/tools/skopeo"
  export WORK=$(mktemp -d /tmp/okt-sig.XXXXXX)
  start_registry "$WORK/reg"
  export REG_PORT
  export R=127.0.0.1:$REG_PORT
  make_oci_image "$WORK/src" v1
  make_oci_image "$WORK/src2" v2
  echo "first pass" >"$WORK/pass1"
  echo "second pass" >"$WORK/pass2"
  "$OCI_PUSH" generate-sigstore-key --output-prefix "$WORK/k1" --passphrase-file "$WORK/pass1"
  "$OCI_PUSH" generate-sigstore-key --output-prefix "$WORK/k2" --passphrase-file "$WORK/pass2"
  # skopeo reads and writes attachments only where registries.d says so.
  mkdir -p "$WORK/registries.d"
  printf 'docker:\n  %s:\n    use-sigstore-attachments: true\n' "$R" >"$WORK/registries.d/okt.yaml"
  policy_for "$WORK/k1.pub" >"$WORK/policy-k1.json"
  policy_for "$WORK/k2.pub" >"$WORK/policy-k2.json"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/accept.json"
}

teardown_file() {
  stop_registry "$WORK/reg"
  rm -rf "$WORK"
}

setup() {
  T=$(mktemp -d "$WORK/t.XXXXXX")
}

# policy_for PUBKEY: reject by default, sigstoreSigned by PUBKEY for this registry.
policy_for() {
  jq -n --arg k "$1" --arg s "$R" \
    '{default:[{type:"reject"}], transports:{docker:{($s):[{type:"sigstoreSigned", keyPath:$k}]}}}'
}

need_skopeo() {
  [ -x "$SKOPEO_SIG" ] || skip "no sigstore-enabled skopeo at $SKOPEO_SIG (Debian's has sigstore off)"
}

# push_unsigned LAYOUT TAG REPO:TAG: push without signing; print the digest.
push_unsigned() {
  "$OCI_PUSH" oci:"$1":"$2" docker://$R/"$3"
}

# refused IMAGE POLICY PATTERN: oci-fetch refuses IMAGE under POLICY with one
# line matching PATTERN, stores nothing, and takes it under insecureAcceptAnything.
refused() {
  local store
  store=$(mktemp -u "$T/refused.XXXXXX")
  run "$OCI_FETCH" --policy "$2" --store "$store" docker://"$1"
  echo "$output"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"rejected by policy"* ]]
  [[ "$output" == *$3* ]]
  [ ! -e "$store" ]
  run "$OCI_FETCH" --policy "$2" --verify-only docker://"$1"
  [ "$status" -eq 1 ]
  run "$OCI_FETCH" --policy "$WORK/accept.json" --store "$store" docker://"$1"
  [ "$status" -eq 0 ]
  [ -s "$store/index.json" ]
}

# put_blob REPO FILE: upload FILE as a blob of REPO; print its digest.
put_blob() {
  local d loc
  d=sha256:$(sha256sum "$2" | cut -d' ' -f1)
  loc=$(curl -sfi -X POST "http://$R/v2/$1/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case $loc in http*) ;; *) loc="http://$R$loc" ;; esac
  case $loc in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$2" "$loc" >/dev/null
  echo "$d"
}

# put_manifest REPO TAG FILE
put_manifest() {
  curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$3" \
    "http://$R/v2/$1/manifests/$2" >/dev/null
}

# sig_manifest REPO DIGEST: the attachment manifest of DIGEST.
sig_manifest() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/$1/manifests/sha256-${2#sha256:}.sig"
}

@test "skopeo signs with a key oci-push generated; oci-fetch accepts it under sigstoreSigned" {
  need_skopeo
  grep -q 'BEGIN ENCRYPTED COSIGN PRIVATE KEY' "$WORK/k1.private"
  "$SKOPEO_SIG" --insecure-policy --registries.d "$WORK/registries.d" copy -q --dest-tls-verify=false \
    --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/sk/signed:v1
  want=$(registry_digest "$REG_PORT" sk/signed v1)
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" --verify-only docker://$R/sk/signed:v1
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" --store "$T/store" docker://$R/sk/signed:v1
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
  [ -s "$T/store/blobs/sha256/${want#sha256:}" ]
  # the same signature, another key: refused
  refused $R/sk/signed:v1 "$WORK/policy-k2.json" "does not verify"
  # oci-push sign adds a second signature to skopeo's attachment; skopeo
  # reads both
  "$OCI_PUSH" sign --sign-by-sigstore-private-key "$WORK/k2.private" --sign-passphrase-file "$WORK/pass2" \
    docker://$R/sk/signed:v1
  [ "$(sig_manifest sk/signed "$want" | jq '.layers | length')" -eq 2 ]
  for k in k1 k2; do
    "$SKOPEO_SIG" --policy "$WORK/policy-$k.json" --registries.d "$WORK/registries.d" copy -q --remove-signatures \
      --src-tls-verify=false docker://$R/sk/signed:v1 oci:"$T/sk-$k":v1
  done
}

@test "oci-push signs; skopeo's --policy accepts it, and rejects it with another key" {
  need_skopeo
  run "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/ok/pushed:v1
  [ "$status" -eq 0 ]
  want=$output
  sig_manifest ok/pushed "$want" | jq -e '.layers[0].mediaType == "application/vnd.dev.cosign.simplesigning.v1+json"
    and (.layers[0].annotations["dev.cosignproject.cosign/signature"] | length > 0)'
  "$SKOPEO_SIG" --policy "$WORK/policy-k1.json" --registries.d "$WORK/registries.d" copy -q --remove-signatures \
    --src-tls-verify=false docker://$R/ok/pushed:v1 oci:"$T/back":v1
  [ "$(layout_digest "$T/back" v1)" = "$want" ]
  run "$SKOPEO_SIG" --policy "$WORK/policy-k2.json" --registries.d "$WORK/registries.d" copy -q --remove-signatures \
    --src-tls-verify=false docker://$R/ok/pushed:v1 oci:"$T/back2":v1
  [ "$status" -ne 0 ]
  [[ "$output" == *"signature verification failed"* ]]
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" --store "$T/store" docker://$R/ok/pushed:v1
  [ "$status" -eq 0 ]
}

@test "oci-push sign: an image already pushed is signed without pushing it again" {
  want=$(push_unsigned "$WORK/src" v1 later/img:v1)
  refused $R/later/img:v1 "$WORK/policy-k1.json" "no signature exists"
  run "$OCI_PUSH" sign --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    docker://$R/later/img:v1
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
  # a second key adds a second signature beside the first
  "$OCI_PUSH" sign --sign-by-sigstore-private-key "$WORK/k2.private" --sign-passphrase-file "$WORK/pass2" \
    docker://$R/later/img:v1
  [ "$(sig_manifest later/img "$want" | jq '.layers | length')" -eq 2 ]
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" --verify-only docker://$R/later/img:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" --policy "$WORK/policy-k2.json" --verify-only docker://$R/later/img@$want
  [ "$status" -eq 0 ]
  # a wrong passphrase signs nothing
  run "$OCI_PUSH" sign --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass2" \
    docker://$R/later/img:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"wrong passphrase"* ]]
}

@test "refused: an unsigned image" {
  push_unsigned "$WORK/src" v1 un/signed:v1 >/dev/null
  refused $R/un/signed:v1 "$WORK/policy-k1.json" "a signature was required, but no signature exists"
}

@test "refused: a signature by another key" {
  "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k2.private" --sign-passphrase-file "$WORK/pass2" \
    oci:"$WORK/src":v1 docker://$R/other/key:v1 >/dev/null
  refused $R/other/key:v1 "$WORK/policy-k1.json" "does not verify with the policy's key"
}

@test "refused: the payload names another repository (identity mismatch)" {
  "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    --sign-identity $R/somewhere/else:v1 oci:"$WORK/src":v1 docker://$R/id/mismatch:v1 >/dev/null
  refused $R/id/mismatch:v1 "$WORK/policy-k1.json" "identity \"$R/somewhere/else:v1\" does not match"
  # ... which a policy allowing that identity accepts
  jq -n --arg k "$WORK/k1.pub" --arg s "$R/id" --arg r "$R/somewhere/else" \
    '{default:[{type:"reject"}], transports:{docker:{($s):[{type:"sigstoreSigned", keyPath:$k,
      signedIdentity:{type:"exactRepository", dockerRepository:$r}}]}}}' >"$T/p.json"
  run "$OCI_FETCH" --policy "$T/p.json" --verify-only docker://$R/id/mismatch:v1
  [ "$status" -eq 0 ]
}

@test "refused: a valid signature moved onto another image (the payload names another digest)" {
  a=$("$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/moved/img:v1)
  b=$(push_unsigned "$WORK/src2" v2 moved/img:v2)
  [ "$a" != "$b" ]
  sig_manifest moved/img "$a" >"$T/sig.json"
  put_manifest moved/img "sha256-${b#sha256:}.sig" "$T/sig.json"
  refused $R/moved/img:v2 "$WORK/policy-k1.json" "the signature is for manifest $a, not $b"
}

@test "refused: a tampered signature layer" {
  d=$("$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/tamper/img:v1)
  sig_manifest tamper/img "$d" >"$T/sig.json"
  ld=$(jq -r '.layers[0].digest' "$T/sig.json")
  curl -sf "http://$R/v2/tamper/img/blobs/$ld" | jq -c '.optional.creator = "mallory"' >"$T/payload"
  nd=$(put_blob tamper/img "$T/payload")
  jq --arg d "$nd" --argjson s "$(stat -c %s "$T/payload")" '.layers[0].digest = $d | .layers[0].size = $s' \
    "$T/sig.json" >"$T/sig2.json"
  put_manifest tamper/img "sha256-${d#sha256:}.sig" "$T/sig2.json"
  refused $R/tamper/img:v1 "$WORK/policy-k1.json" "does not verify"
}

@test "refused: a policy whose default is reject" {
  "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/def/img:v1 >/dev/null
  echo '{"default":[{"type":"reject"}]}' >"$T/reject.json"
  refused $R/def/img:v1 "$T/reject.json" "scope \"default\"): requirement reject"
  # the most specific scope wins: the repository over the registry
  jq -n --arg k "$WORK/k1.pub" --arg reg "$R" --arg repo "$R/def/img" \
    '{default:[{type:"insecureAcceptAnything"}], transports:{docker:{($reg):[{type:"reject"}],
      ($repo):[{type:"sigstoreSigned", keyPath:$k}]}}}' >"$T/scoped.json"
  run "$OCI_FETCH" --policy "$T/scoped.json" --verify-only docker://$R/def/img:v1
  [ "$status" -eq 0 ]
  push_unsigned "$WORK/src" v1 def/other:v1 >/dev/null
  refused $R/def/other:v1 "$T/scoped.json" "scope \"$R\"): requirement reject"
}

@test "a key in the newer ENCRYPTED SIGSTORE PRIVATE KEY form signs too" {
  sed 's/ENCRYPTED COSIGN PRIVATE KEY/ENCRYPTED SIGSTORE PRIVATE KEY/' "$WORK/k1.private" >"$T/sigstore.key"
  grep -q 'BEGIN ENCRYPTED SIGSTORE PRIVATE KEY' "$T/sigstore.key"
  run "$OCI_PUSH" --sign-by-sigstore-private-key "$T/sigstore.key" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/newer/key:v1
  [ "$status" -eq 0 ]
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" --verify-only docker://$R/newer/key:v1
  [ "$status" -eq 0 ]
}

@test "bad keys, policies and passphrases give one clear line" {
  run "$OCI_PUSH" generate-sigstore-key --output-prefix "$WORK/k1" --passphrase-file "$WORK/pass1"
  [ "$status" -eq 1 ]
  [[ "$output" == *"already exists"* ]]
  run "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.pub" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/bad/key:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"ENCRYPTED COSIGN PRIVATE KEY"* ]]
  # nothing was pushed before the key failed
  [ -z "$(registry_digest "$REG_PORT" bad/key v1)" ]
  echo '{"default":[{"type":"sigstoreSigned"}]}' >"$T/p.json"
  run "$OCI_FETCH" --policy "$T/p.json" --verify-only docker://$R/ok/pushed:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *"exactly one of keyPath and keyData"* ]]
  echo '{"default":[{"type":"insecureAcceptAnything","typo":1}]}' >"$T/p.json"
  run "$OCI_FETCH" --policy "$T/p.json" --verify-only docker://$R/ok/pushed:v1
  [ "$status" -eq 1 ]
  [[ "$output" == *'unknown field "typo"'* ]]
  run "$OCI_FETCH" --policy "$T/missing.json" --verify-only docker://$R/ok/pushed:v1
  [ "$status" -eq 1 ]
}

@test "oci-build's FROM pulls satisfy --policy too" {
  "$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/build/signed:v1 >/dev/null
  push_unsigned "$WORK/src2" v2 build/unsigned:v1 >/dev/null
  mkdir -p "$T/ok" "$T/bad"
  printf 'FROM %s\nLABEL signed=yes\n' "$R/build/signed:v1" >"$T/ok/Dockerfile"
  printf 'FROM %s\nLABEL signed=no\n' "$R/build/unsigned:v1" >"$T/bad/Dockerfile"
  run "$OCI_BUILD" --store "$T/store" --policy "$WORK/policy-k1.json" -t sig-build/ok "$T/ok"
  [ "$status" -eq 0 ]
  run "$OCI_BUILD" --store "$T/store2" --policy "$WORK/policy-k1.json" -t sig-build/bad "$T/bad"
  [ "$status" -eq 1 ]
  [[ "$output" == *"build/unsigned:v1 rejected by policy"*"no signature exists"* ]]
  # nothing of the refused image was stored
  [ "$(find "$T/store2/blobs" -type f 2>/dev/null | wc -l)" -eq 0 ]
}

@test "copies keep signatures: oci-fetch to oci:DIR and oci-push from it (--remove-signatures drops them)" {
  d=$("$OCI_PUSH" --sign-by-sigstore-private-key "$WORK/k1.private" --sign-passphrase-file "$WORK/pass1" \
    oci:"$WORK/src":v1 docker://$R/copy/orig:v1)
  sigtag="sha256-${d#sha256:}.sig"
  run "$OCI_FETCH" --policy "$WORK/policy-k1.json" docker://$R/copy/orig:v1 oci:"$T/lay":v1
  [ "$status" -eq 0 ]
  jq -e --arg t "$sigtag" '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | index($t) != null' \
    "$T/lay/index.json"
  run "$OCI_FETCH" --remove-signatures docker://$R/copy/orig:v1 oci:"$T/nosig":v1
  [ "$status" -eq 0 ]
  jq -e --arg t "$sigtag" '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | index($t) == null' \
    "$T/nosig/index.json"
  # pushed elsewhere, the signature still names copy/orig: a policy that
  # accepts that signed repository takes the copy, the default rule does not
  "$OCI_PUSH" oci:"$T/lay":v1 docker://$R/copy/moved:v1
  [ "$(sig_manifest copy/moved "$d" | jq '.layers | length')" -eq 1 ]
  jq -n --arg k "$WORK/k1.pub" --arg s "$R/copy" --arg r "$R/copy/orig" \
    '{default:[{type:"reject"}], transports:{docker:{($s):[{type:"sigstoreSigned", keyPath:$k,
      signedIdentity:{type:"exactRepository", dockerRepository:$r}}]}}}' >"$T/p.json"
  run "$OCI_FETCH" --policy "$T/p.json" --verify-only docker://$R/copy/moved:v1
  [ "$status" -eq 0 ]
  refused $R/copy/moved:v1 "$WORK/policy-k1.json" "does not match"
  "$OCI_PUSH" --remove-signatures oci:"$T/lay":v1 docker://$R/copy/bare:v1
  run sig_manifest copy/bare "$d"
  [ "$status" -ne 0 ]
  # pushing again does not duplicate the signature
  "$OCI_PUSH" oci:"$T/lay":v1 docker://$R/copy/moved:v1
  [ "$(sig_manifest copy/moved "$d" | jq '.layers | length')" -eq 1 ]
}

@test "oci-run create/run pull under --signature-policy (podman's flag)" {
  push_unsigned "$WORK/src2" v2 run/unsigned:v1 >/dev/null
  export OCIKIT_STORE=$T/store OCIKIT_STATE_DIR=$T/state
  run "$OCI_RUN" create --signature-policy "$WORK/policy-k1.json" --name sig-run-refused $R/run/unsigned:v1 true
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"run/unsigned:v1 rejected by policy"*"no signature exists"* ]]
  [ "$(find "$T/store/blobs" -type f 2>/dev/null | wc -l)" -eq 0 ]
  [ ! -e "$T/state/containers/sig-run-refused" ]
}
