# Shared by the benchmarks that run podman beside ocikit (manage.sh,
# api.sh): a private podman storage and the same busybox-static image in
# both stores. Source after tests/integration/helpers.bash.
#
# bench_podman_init PREFIX   work=$(mktemp -d /tmp/PREFIX-XXXXXX); P=(podman
#                            with its root, runroot, crun, cgroupfs there)
# bench_busybox_image        okt-bench/busybox: built by oci-build into
#                            $work/store, loaded into podman from its layout
# bench_podman_cleanup       podman's containers and images, mounts under
#                            $work, then $work

bench_podman_init() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  P=(podman --root "$work/podman" --runroot "$work/podman-run" --runtime crun --cgroup-manager cgroupfs
     --events-backend none --storage-driver overlay)
}

bench_busybox_image() {
  mkdir -p "$work/ctx/rootfs"
  make_busybox_rootfs "$work/ctx/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$work/ctx/Dockerfile"
  OCIKIT_STORE=$work/store "$OCI_BUILD" -t okt-bench/busybox "$work/ctx" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; return 1; }
  tar -C "$work/store" -cf "$work/busybox.tar" oci-layout index.json blobs
  "${P[@]}" load -q -i "$work/busybox.tar" >/dev/null  # named docker.io/okt-bench/busybox:latest
}

bench_podman_cleanup() {
  "${P[@]}" rm -af >/dev/null 2>&1 || true
  "${P[@]}" rmi -af >/dev/null 2>&1 || true
  awk -v t="$work" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
