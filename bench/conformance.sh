#!/usr/bin/env bash
# bench/conformance.sh: the OCI runtime-tools validation suite against
# oci-run, runc and crun side by side; prints each program's verdict per
# runtime and the table of programs passed.
#
#   bench/conformance.sh [PROGRAM...]     (default: every validation program)
#
# The suite (opencontainers/runtime-tools at 0105384, the revision Debian
# packages) is not in Debian: its sources are taken from $RT_TARBALL
# (default ../shared/tools/runtime-tools-0105384.tar.gz) and built once with
# Debian's golang-go into $RT_DIR (default /var/cache/ocikit/runtime-tools).
# Without either the script exits 77, saying why.
#
# Every runtime runs under the same conditions, as ../shared/tools/README.md
# says: in a private mount namespace (some programs run a container without
# one), with /sys/fs/cgroup/unified unmounted there (crun 1.8 refuses this
# hybrid host otherwise), with its own --root and its own TMPDIR. A program
# passes when it exits 0, prints no "not ok", its plan matches the
# assertions it printed, and (the hook programs print only YAML) no
# diagnostic with a non-empty "error" appears. Logs: $OUT (default /tmp/okt-conformance), one
# RUNTIME/PROGRAM.tap each.
#
# Environment: OCI_RUN (default build/tools/oci-run/oci-run), RUNTIMES
# (default "oci-run runc crun"), TIMEOUT per program (default 120 s).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
OCI_RUN=${OCI_RUN:-$here/build/tools/oci-run/oci-run}
RT_TARBALL=${RT_TARBALL:-$here/../shared/tools/runtime-tools-0105384.tar.gz}
RT_DIR=${RT_DIR:-/var/cache/ocikit/runtime-tools}
RUNTIMES=${RUNTIMES:-oci-run runc crun}
TIMEOUT=${TIMEOUT:-120}
OUT=${OUT:-/tmp/okt-conformance}
[ "$(id -u)" -eq 0 ] || { echo "conformance.sh: needs root" >&2; exit 77; }

# ---- the suite, built once ----
if [ ! -x "$RT_DIR/runtime-tools/runtimetest" ] || [ ! -d "$RT_DIR/runtime-tools/validation" ]; then
  [ -f "$RT_TARBALL" ] || { echo "conformance.sh: skipped: no runtime-tools sources at $RT_TARBALL (set RT_TARBALL or RT_DIR)" >&2; exit 77; }
  command -v go >/dev/null || { echo "conformance.sh: skipped: needs Debian's golang-go to build the suite (apt-get install golang-go)" >&2; exit 77; }
  mkdir -p "$RT_DIR" && tar xzf "$RT_TARBALL" -C "$RT_DIR" || exit 1
  echo "conformance.sh: building the validation suite in $RT_DIR (about 2 minutes)" >&2
  (cd "$RT_DIR/runtime-tools" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 \
     make runtimetest validation-executables >"$RT_DIR/build.log" 2>&1) ||
    { echo "conformance.sh: error: building the suite failed, see $RT_DIR/build.log" >&2; exit 1; }
fi
suite=$RT_DIR/runtime-tools

if [ $# -gt 0 ]; then
  programs=("$@")
else
  mapfile -t programs < <(cd "$suite/validation" && for d in */; do d=${d%/}; [ -x "$d/$d.t" ] && echo "$d"; done)
fi

declare -A path
for rt in $RUNTIMES; do
  case $rt in
    oci-run) path[$rt]=$OCI_RUN ;;
    *) path[$rt]=$(command -v "$rt") || { echo "conformance.sh: $rt not installed" >&2; exit 77; } ;;
  esac
done

rm -rf "$OUT" && mkdir -p "$OUT"
work=$(mktemp -d /tmp/okt-conformance-run-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Searchable by every uid: the user-namespace programs map root to another
# host uid, which must still reach the bundles under it.
chmod 755 "$work"

# One program against one runtime, inside the private mount namespace.
cat >"$work/one.sh" <<'ONE'
#!/bin/bash
# one.sh SUITE WRAPPER TMP PROGRAM TIMEOUT: the TAP output on stdout
suite=$1 wrapper=$2 tmp=$3 prog=$4 timeout=$5
umount /sys/fs/cgroup/unified 2>/dev/null || true
mkdir -p -m 755 "$tmp"
cd "$suite" || exit 1
RUNTIME=$wrapper TMPDIR=$tmp timeout -k 5 "$timeout" "validation/$prog/$prog.t" 2>&1
echo "exit: $?"
ONE

verdict() {  # LOG -> pass|fail
  local log=$1 code plan asserts
  code=$(sed -n 's/^exit: //p' "$log" | tail -1)
  [ "$code" = 0 ] || { echo fail; return; }
  grep -q '^not ok' "$log" && { echo fail; return; }
  plan=$(grep -oE '^1\.\.[0-9]+' "$log" | head -1 | cut -d. -f3)
  asserts=$(grep -cE '^ok ' "$log")
  if [ -n "$plan" ]; then
    [ "$plan" = "$asserts" ] || { echo fail; return; }
  elif [ "$asserts" = 0 ]; then
    # The hook programs report failure as a YAML diagnostic with an error.
    grep -qE '"error": *"[^"]' "$log" && { echo fail; return; }
  fi
  echo pass
}

cleanup_runtime() {  # RT ROOT: delete what the suite left behind
  local rt=$1 root=$2 id
  for id in $("${path[$rt]}" --root "$root" list -q 2>/dev/null); do
    "${path[$rt]}" --root "$root" kill "$id" KILL >/dev/null 2>&1
    "${path[$rt]}" --root "$root" delete -f "$id" >/dev/null 2>&1
  done
  find /sys/fs/cgroup -depth -type d \( -name 'cgrouptest*' -o -name 'testdir*' \) -exec rmdir {} \; 2>/dev/null
}

declare -A passed verdicts
for rt in $RUNTIMES; do
  passed[$rt]=0
  mkdir -p "$OUT/$rt"
  printf '#!/bin/sh\nexec %q --root %q "$@"\n' "${path[$rt]}" "$work/root-$rt" >"$work/wrap-$rt"
  chmod +x "$work/wrap-$rt"
done
for prog in "${programs[@]}"; do
  line=$(printf '%-28s' "$prog")
  for rt in $RUNTIMES; do
    log=$OUT/$rt/$prog.tap
    unshare -m --propagation private bash "$work/one.sh" "$suite" "$work/wrap-$rt" "$work/tmp-$rt" "$prog" "$TIMEOUT" >"$log" 2>&1
    cleanup_runtime "$rt" "$work/root-$rt"
    v=$(verdict "$log")
    verdicts[$rt/$prog]=$v
    [ "$v" = pass ] && passed[$rt]=$((passed[$rt] + 1))
    line+=$(printf ' %-8s' "$rt:$v")
  done
  echo "$line"
done

echo
echo "| runtime | programs passed (of ${#programs[@]}) |"
echo "|---|---|"
for rt in $RUNTIMES; do echo "| $rt | ${passed[$rt]} |"; done

# Programs another runtime passes and oci-run fails.
if [[ " $RUNTIMES " == *" oci-run "* ]]; then
  lost=()
  for prog in "${programs[@]}"; do
    [ "${verdicts[oci-run/$prog]}" = fail ] || continue
    for rt in $RUNTIMES; do
      [ "$rt" != oci-run ] && [ "${verdicts[$rt/$prog]}" = pass ] && { lost+=("$prog"); break; }
    done
  done
  echo
  echo "passed by runc or crun, failed by oci-run: ${#lost[@]}${lost:+ (${lost[*]})}"
fi
echo "logs: $OUT"
