# Shared set-up for the oci-run_*.bats files: a busybox-static bundle made
# with `$OCI_RUN spec`, a private --root, and container ids prefixed
# okt-runtime- so that nothing collides on a shared machine. Works against
# runc too: OCI_RUN=runc bats tests/integration/oci-run_lifecycle.bats

load helpers

# ocirun ARGS...: the runtime under test with the private state root.
ocirun() { "$OCI_RUN" --root "$ROOT" "$@"; }

# cfg JQ-FILTER: edit the bundle's config.json in place.
cfg() {
  jq "$1" "$BUNDLE/config.json" >"$BUNDLE/config.json.new" && mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# set_args ARG...: set process.args (and turn the terminal off).
set_args() {
  local a
  a=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  cfg ".process.terminal=false | .process.args=$a"
}

oci_run_setup() {
  skip_unless_root
  require_cmd jq busybox
  TMP=$(mktemp -d /tmp/okt-runtime-XXXXXX)
  ROOT=$TMP/state
  BUNDLE=$TMP/bundle
  ID=okt-runtime-$$-$BATS_TEST_NUMBER
  mkdir -p "$BUNDLE"
  make_busybox_rootfs "$BUNDLE/rootfs"
  (cd "$BUNDLE" && "$OCI_RUN" spec)
  set_args true
}

oci_run_teardown() {
  [ -n "${TMP:-}" ] || return 0
  local c
  for c in $(ocirun list -q 2>/dev/null); do
    ocirun delete -f "$c" >/dev/null 2>&1 || true
  done
  # Anything a failed test left mounted under the bundle.
  grep -o " $TMP[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$TMP"
}
