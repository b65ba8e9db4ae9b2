#!/usr/bin/env bash
# oci-build vs `buildah bud --layers`: a scratch busybox build with a COPY and
# a RUN, cold (empty store) and fully cached. Prints each time and the ratio
# oci-build/buildah (targets: cold <= 0.7, cached <= 0.1). Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
OCI_BUILD=${OCI_BUILD:-build/tools/oci-build/oci-build}
command -v buildah >/dev/null || { echo "buildah not installed" >&2; exit 1; }
T=$(mktemp -d)
trap 'buildah --root "$T/bh" --runroot "$T/bhrun" rm -a >/dev/null 2>&1 || true; umount -R "$T/bh" 2>/dev/null || true; rm -rf "$T"' EXIT
mkdir -p "$T/ctx/rootfs/bin" "$T/ctx/rootfs/etc"
cp "$(command -v busybox)" "$T/ctx/rootfs/bin/busybox"
for a in sh echo cat; do ln -sf busybox "$T/ctx/rootfs/bin/$a"; done
for i in $(seq 1 300); do echo "$i" >"$T/ctx/rootfs/etc/f$i"; done
printf 'FROM scratch\nCOPY rootfs/ /\nENV A=1\nRUN echo hi > /hi\nCMD ["/bin/sh"]\n' >"$T/ctx/Dockerfile"

now() { date +%s.%N; }
timeit() { local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc; }

ob() { OCIKIT_STORE=$T/store "$OCI_BUILD" -t bench:1 "$T/ctx"; }
bh() { buildah --root "$T/bh" --runroot "$T/bhrun" --storage-driver overlay bud --layers --isolation chroot -t bench:1 "$T/ctx"; }

oc=$(timeit ob); occ=$(timeit ob)
bc_=$(timeit bh); bcc=$(timeit bh)
printf 'cold:   oci-build %.2fs  buildah %.2fs  ratio %.2f\n' "$oc" "$bc_" "$(echo "$oc / $bc_" | bc -l)"
printf 'cached: oci-build %.2fs  buildah %.2fs  ratio %.2f\n' "$occ" "$bcc" "$(echo "$occ / $bcc" | bc -l)"
