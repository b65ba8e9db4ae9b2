#!/usr/bin/env bats
# Every tool answers --help and --version, and rejects bad usage with exit 2.

load helpers

tools() { echo "$OCI_FETCH $OCI_PUSH $OCI_BUILD $OCI_RUN $OCI_NET"; }

@test "every tool answers --help with exit 0" {
  for t in $(tools); do
    run "$t" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage:"* ]] || [[ "$output" == *"usage:"* ]]
  done
}

@test "every tool answers --version with its name" {
  for t in $(tools); do
    run "$t" --version
    [ "$status" -eq 0 ]
    [[ "$output" == "$(basename "$t") version "* ]]
  done
}

@test "an unknown flag is a usage error (exit 2) with a one-line message" {
  for t in $(tools); do
    run "$t" --no-such-flag
    [ "$status" -eq 2 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" == "$(basename "$t"): error: "* ]]
  done
}

@test "a bad --log-level is a usage error" {
  run "$OCI_FETCH" --log-level loud docker://127.0.0.1:1/x
  [ "$status" -eq 2 ]
  [ "$output" = 'oci-fetch: error: invalid log level "loud" (want debug, info, warn or error)' ]
}
