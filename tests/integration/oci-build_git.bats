#!/usr/bin/env bats
# oci-build: ADD <git ref> <dir> from a git daemon on 127.0.0.1 serving a
# repository made here: the default branch, a tag's subdir, a branch with
# --keep-git-dir, a commit id; cache keys follow the commit; bad refs, a
# subdir that leaves the checkout and an unreachable remote fail cleanly.
load helpers
load registry_helpers

setup() {
  require_cmd git
  build_setup
  git_repo "$T/src"
  git clone -q --bare "$T/src" "$T/srv/repo.git"
  PORT=$(free_port)
  git daemon --export-all --base-path="$T/srv" --listen=127.0.0.1 --port="$PORT" --reuseaddr \
    --pid-file="$T/daemon.pid" >"$T/daemon.log" 2>&1 &
  DAEMON=$!
  for _ in $(seq 50); do
    git ls-remote "git://127.0.0.1:$PORT/repo.git" >/dev/null 2>&1 && break
    sleep 0.1
  done
  REPO=git://127.0.0.1:$PORT/repo.git
}

teardown() {
  [ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  build_cleanup
}

# git_repo DIR: main (a.txt "two", sub/b.txt 0755, a symlink out), tag v1
# (a.txt "one"), branch feature (f.txt).
git_repo() {
  mkdir -p "$1" && cd "$1"
  git init -q -b main .
  git config user.email t@example.invalid && git config user.name t
  mkdir sub && echo one >a.txt && echo inner >sub/b.txt && chmod 755 sub/b.txt && ln -s /etc out
  git add -A && git commit -qm one && git tag -a v1 -m v1
  echo two >a.txt && git commit -qam two
  git checkout -qb feature && echo feat >f.txt && git add f.txt && git commit -qm feat && git checkout -q main
  cd - >/dev/null
}

blob() { echo "$OCIKIT_STORE/blobs/sha256/${1#sha256:}"; }
manifest() {
  blob "$(jq -r --arg n "docker.io/$1:latest" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$OCIKIT_STORE/index.json")"
}
layer() { blob "$(jq -r ".layers[$2].digest" "$(manifest "$1")")"; }

@test "ADD git: branch, tag with subdir, --keep-git-dir, commit id; cached by commit" {
  v1=$(git -C "$T/src" rev-parse v1^{commit})
  cat >"$T/ctx/Dockerfile" <<DF
FROM scratch
ADD $REPO /src
ADD $REPO#v1:sub /v1sub/
ADD --keep-git-dir=true $REPO#feature /feat
ADD --chown=7:8 $REPO#$v1 /pinned
DF
  run "$OCI_BUILD" -t okt-git/a "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(tar -xzOf "$(layer okt-git/a 0)" src/a.txt)" = two ]
  ! tar -tzf "$(layer okt-git/a 0)" | grep -q '^src/.git'
  run tar -tvzf "$(layer okt-git/a 0)"
  [[ "$output" == *"-rwxr-xr-x 0/0"*"src/sub/b.txt"* ]] || { echo "$output"; false; }
  [[ "$output" == *"src/out -> /etc"* ]]
  [ "$(tar -tzf "$(layer okt-git/a 1)" | sort | tr '\n' ' ')" = "v1sub/ v1sub/b.txt " ]
  tar -tzf "$(layer okt-git/a 2)" | grep -qx feat/.git/HEAD
  [ "$(tar -xzOf "$(layer okt-git/a 2)" feat/f.txt)" = feat ]
  [ "$(tar -xzOf "$(layer okt-git/a 3)" pinned/a.txt)" = one ]
  run tar -tvzf "$(layer okt-git/a 3)"
  [[ "$output" == *"7/8"*"pinned/a.txt"* ]]
  # the same commits: all cached; a new commit on main: only /src is rebuilt
  run "$OCI_BUILD" -t okt-git/a "$T/ctx"
  [ "$status" -eq 0 ]
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 4 ]
  echo three >"$T/src/a.txt"
  git -C "$T/src" commit -qam three
  git -C "$T/src" push -q "$T/srv/repo.git" main
  run "$OCI_BUILD" -t okt-git/a "$T/ctx"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c 'Using cache' <<<"$output")" -eq 0 ]
  [ "$(tar -xzOf "$(layer okt-git/a 0)" src/a.txt)" = three ]
}

@test "ADD git: an unknown ref, a subdir out of the checkout, a dead remote and two sources fail" {
  printf 'FROM scratch\nADD %s#nosuch /x\n' "$REPO" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-git/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:2: ADD $REPO: no branch or tag \"nosuch\" there"* ]] || { echo "$output"; false; }
  printf 'FROM scratch\nADD %s#main:out /x\n' "$REPO" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-git/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"\"out\" leads out of the repository"* ]] || { echo "$output"; false; }
  printf 'FROM scratch\nADD %s#main:../x /x\n' "$REPO" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-git/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"leaves the repository"* ]]
  printf 'FROM scratch\nADD %s %s /x/\n' "$REPO" "$REPO" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-git/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"takes it as the only source"* ]]
  kill "$DAEMON" && wait "$DAEMON" 2>/dev/null || true
  DAEMON=
  printf 'FROM scratch\nADD %s /x\n' "$REPO" >"$T/ctx/Dockerfile"
  run "$OCI_BUILD" -t okt-git/bad "$T/ctx"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Dockerfile:2: ADD $REPO: fatal:"* ]] || { echo "$output"; false; }
  [ ! -e "$OCIKIT_STORE/index.json" ] || ! grep -q okt-git/bad "$OCIKIT_STORE/index.json"
}
