# Shared setup of the oci-run_manage*.bats files: a busybox image built once
# per file into a temp store, and per test a temp state dir and runtime root.
# The bats hooks below are the defaults; a file redefines those it extends.
load helpers
bats_require_minimum_version 1.5.0

setup_file() { manage_setup_file; }
teardown_file() { manage_teardown_file; }
setup() { manage_setup; }
teardown() { manage_teardown; }

# setup_file: the image store with okt-manage/busybox (CMD sh) and
# okt-manage/nocmd (no CMD).
manage_setup_file() {
  skip_unless_root
  export MANAGE_T=$(mktemp -d /tmp/okt-manage-XXXXXX)
  export OCIKIT_STORE=$MANAGE_T/store
  mkdir -p "$MANAGE_T/base/rootfs"
  make_busybox_rootfs "$MANAGE_T/base/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$MANAGE_T/base/Dockerfile"
  "$OCI_BUILD" -t okt-manage/busybox "$MANAGE_T/base" >/dev/null 2>&1
  printf 'FROM scratch\nCOPY rootfs/ /\n' >"$MANAGE_T/base/Dockerfile"
  "$OCI_BUILD" -t okt-manage/nocmd "$MANAGE_T/base" >/dev/null 2>&1
}

manage_teardown_file() {
  [ -n "${MANAGE_T:-}" ] || return 0
  grep -o " $MANAGE_T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$MANAGE_T"
}

manage_setup() {
  skip_unless_root
  T=$(mktemp -d "$MANAGE_T/t-XXXXXX")
  export OCIKIT_STATE_DIR=$T/state
  ROOT=$T/root
  # oci-run with this test's runtime root (state dir and store come from the env).
  R() { "$OCI_RUN" --root "$ROOT" "$@"; }
  IMG=okt-manage/busybox
}

# Remove every container of the test (killing running ones) and check that
# nothing is left mounted.
manage_teardown() {
  [ -n "${T:-}" ] || return 0
  local id
  for id in $("$OCI_RUN" --root "$ROOT" ps -a -q --no-trunc 2>/dev/null); do
    "$OCI_RUN" --root "$ROOT" rm -f -v "$id" >/dev/null 2>&1 || true
  done
  for id in $("$OCI_RUN" --root "$ROOT" list -q 2>/dev/null); do
    "$OCI_RUN" --root "$ROOT" delete -f "$id" >/dev/null 2>&1 || true
  done
  grep -o " $T[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$T"
}

# no_leftovers: no container dirs, mounts or runtime state of this test.
no_leftovers() {
  [ -z "$(ls -A "$OCIKIT_STATE_DIR/containers" 2>/dev/null | grep -v '^\.lock$')" ] || { ls -la "$OCIKIT_STATE_DIR/containers"; return 1; }
  ! grep -q " $T" /proc/self/mounts || { grep " $T" /proc/self/mounts; return 1; }
  [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || { ls -la "$ROOT"; return 1; }
}

# wait_until CMD...: retry for up to 10 s.
wait_until() {
  local i
  for i in $(seq 100); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
