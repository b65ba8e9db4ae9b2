#!/usr/bin/env bash
# bench/fuzz.sh: the libFuzzer harnesses of tests/fuzz, each in turn, built
# with clang, AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer;
# prints per harness the executions, the seconds and the findings.
#
#   bench/fuzz.sh [SECONDS] [HARNESS...]   (default 600 s each, every harness)
#
# Seeds: tests/fuzz/corpus/<harness> (in the repository), copied to a work
# corpus so that what a run learns does not change the repository; the
# Dockerfile harness also reads ../shared/dockerfile-corpus where it exists.
# A finding (crash, leak, sanitizer report, timeout, out of memory) is kept
# in $OUT/<harness>/ (default /tmp/okt-fuzz) as libFuzzer's artifact; replay
# it with `BUILD/tests/fuzz/<harness> FILE` and turn it into a unit test.
# Needs Debian's clang (its libFuzzer runtime); exits 77 without it.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${1:-600}
shift || true
BUILD=${FUZZ_BUILD:-$here/build-fuzz}
OUT=${OUT:-/tmp/okt-fuzz}
all=(fuzz_dockerfile fuzz_dockerignore fuzz_reference fuzz_image_json fuzz_runtime_spec fuzz_layer_apply fuzz_auth fuzz_link fuzz_cni_config fuzz_signature fuzz_policy)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

command -v clang++ >/dev/null || { echo "fuzz.sh: skipped: needs clang (apt-get install clang)" >&2; exit 77; }
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$BUILD" "$here" -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null ||
    { echo "fuzz.sh: error: meson setup failed" >&2; exit 1; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/$h"); done
ninja -C "$BUILD" "${targets[@]}" >/dev/null || { echo "fuzz.sh: error: build failed" >&2; exit 1; }

rm -rf "$OUT" && mkdir -p "$OUT"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
printf '%-20s %12s %8s %9s\n' harness executions seconds findings
total_findings=0
for h in "${harnesses[@]}"; do
  name=${h#fuzz_}
  work=$OUT/$h/corpus
  mkdir -p "$work" "$OUT/$h/artifacts"
  cp -r "$here/tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  extra=()
  [ "$h" = fuzz_dockerfile ] && [ -d "$here/../shared/dockerfile-corpus" ] && extra=("$here/../shared/dockerfile-corpus")
  if [ "$h" = fuzz_dockerfile ] && [ ${#extra[@]} -gt 0 ]; then
    # libFuzzer reads files, not trees: the corpus's Dockerfiles as seeds.
    find "${extra[0]}" -type f \( -name Dockerfile -o -name 'Dockerfile*' \) -exec sh -c 'cp "$1" "$2/shared-$(echo "$1" | md5sum | cut -c1-12)"' _ {} "$work" \;
  fi
  start=$(date +%s)
  "$BUILD/tests/fuzz/$h" "$work" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$OUT/$h/artifacts/" -print_final_stats=1 >"$OUT/$h/log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$h/log" | tail -1)
  found=$(find "$OUT/$h/artifacts" -type f | wc -l)
  [ "$rc" -eq 0 ] || [ "$found" -gt 0 ] || found=1  # a failure without an artifact is a finding too
  total_findings=$((total_findings + found))
  printf '%-20s %12s %8s %9s\n' "$h" "${execs:-?}" "$secs" "$found"
done
echo "findings: $total_findings (artifacts and logs in $OUT)"
[ "$total_findings" -eq 0 ]
