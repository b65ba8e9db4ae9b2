#!/usr/bin/env bash
# oci-build vs `buildah bud --layers`, three Dockerfiles, each cold (empty
# store) and fully cached (same build again):
#   simple: FROM scratch, COPY a busybox rootfs (300 small files), ENV, RUN, CMD
#   multi:  two independent stages with a RUN each, a final stage copying from both
#   ctx3k:  COPY of a 3000-file context, then a RUN
# Prints each time and the ratio oci-build/buildah (targets: cold <= 0.7,
# cached <= 0.1). Needs root. CASES="simple multi" picks cases.
set -euo pipefail
cd "$(dirname "$0")/.."
OCI_BUILD=${OCI_BUILD:-build/tools/oci-build/oci-build}
command -v buildah >/dev/null || { echo "buildah not installed" >&2; exit 1; }
T=$(mktemp -d)
trap 'buildah --root "$T/bh" --runroot "$T/bhrun" rm -a >/dev/null 2>&1 || true; umount -R "$T/bh" 2>/dev/null || true; rm -rf "$T"' EXIT

rootfs() {  # rootfs DIR: busybox with a few applets and 300 small files
  mkdir -p "$1/bin" "$1/etc"
  cp "$(command -v busybox)" "$1/bin/busybox"
  for a in sh echo cat; do ln -sf busybox "$1/bin/$a"; done
  for i in $(seq 1 300); do echo "$i" >"$1/etc/f$i"; done
}

mkdir -p "$T/simple" "$T/multi" "$T/ctx3k/src"
rootfs "$T/simple/rootfs"
printf 'FROM scratch\nCOPY rootfs/ /\nENV A=1\nRUN echo hi > /hi\nCMD ["/bin/sh"]\n' >"$T/simple/Dockerfile"
rootfs "$T/multi/rootfs"
printf 'FROM scratch AS base\nCOPY rootfs/ /\nFROM base AS a\nRUN echo a > /a\nFROM base AS b\nRUN echo b > /b\nFROM base\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n' >"$T/multi/Dockerfile"
rootfs "$T/ctx3k/rootfs"
for d in $(seq 1 30); do
  mkdir -p "$T/ctx3k/src/d$d"
  for i in $(seq 1 100); do echo "file $d $i" >"$T/ctx3k/src/d$d/f$i"; done
done
printf 'FROM scratch\nCOPY rootfs/ /\nCOPY src/ /src/\nRUN ls -R /src | wc -l > /count\n' >"$T/ctx3k/Dockerfile"

now() { date +%s.%N; }
timeit() { local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc; }
ob() { OCIKIT_STORE=$T/store-$1 "$OCI_BUILD" -t "bench-$1:1" "$T/$1"; }
bh() { buildah --root "$T/bh" --runroot "$T/bhrun" --storage-driver overlay bud --layers --isolation chroot -t "bench-$1:1" "$T/$1"; }

tc=0 tcc=0 bc_all=0 bcc_all=0
for c in ${CASES:-simple multi ctx3k}; do
  oc=$(timeit ob "$c"); occ=$(timeit ob "$c")
  bc_=$(timeit bh "$c"); bcc=$(timeit bh "$c")
  printf '%-7s cold:   oci-build %.2fs  buildah %.2fs  ratio %.2f\n' "$c" "$oc" "$bc_" "$(echo "$oc / $bc_" | bc -l)"
  printf '%-7s cached: oci-build %.2fs  buildah %.2fs  ratio %.2f\n' "$c" "$occ" "$bcc" "$(echo "$occ / $bcc" | bc -l)"
  tc=$(echo "$tc + $oc" | bc); tcc=$(echo "$tcc + $occ" | bc)
  bc_all=$(echo "$bc_all + $bc_" | bc); bcc_all=$(echo "$bcc_all + $bcc" | bc)
done
printf 'total   cold ratio %.2f  cached ratio %.2f\n' "$(echo "$tc / $bc_all" | bc -l)" "$(echo "$tcc / $bcc_all" | bc -l)"
