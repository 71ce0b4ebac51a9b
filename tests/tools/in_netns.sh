#!/bin/sh
# in_netns.sh COMMAND [ARGS...]
#
# Runs COMMAND in a fresh private network namespace whose only interface is `lo` (brought up),
# so nothing it sends can leave through the machine's real interfaces. CTest runs every test
# under tests/net/ through this (the targets' CROSSCOMPILING_EMULATOR).
#
#   - as root:               unshare -n
#   - otherwise / if denied: unshare -rn (a user namespace mapping us to root)
#   - if neither works:      prints "SKIP: ..." and exits 77 (CTest's SKIP_RETURN_CODE):
#                            the command is NEVER run on the host network. Under CI (CI=true,
#                            tools/skip.sh) it prints "FAIL: ..." and exits 1 instead, so a CI
#                            run cannot pass with its network tests skipped.
#
# Exception: a Catch2 listing (`--list-*` options only, used by catch_discover_tests at build
# time) sends nothing, so when no namespace can be made it runs on the host so the test cases
# are still registered (and then reported as skipped, or failed under CI, when run).
#
# Only this script skips: a command that itself exits 77 (a Catch2 test with 77 failed
# assertions, or a test script that found itself outside a private namespace) is reported
# as failed (exit 1), not as skipped.
#
# Inside, RACKET_TEST_NETNS=1 is exported; a test that sends may check it.
# SPDX-License-Identifier: MIT

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

. "$(dirname "$0")/skip.sh"

# The probe does everything the real run does, except the command.
setup='ip link set lo up'
mode=
if unshare -n sh -c "$setup" 2>/dev/null; then
  mode=-n
elif unshare -rn sh -c "$setup" 2>/dev/null; then
  mode=-rn
fi

if [ -z "$mode" ]; then
  listing=
  for arg in "$@"; do
    case "$arg" in
      --list-*) listing=1 ;;
    esac
  done
  if [ -n "$listing" ]; then
    exec "$@"
  fi
  racket_skip "cannot create a private network namespace (need root for 'unshare -n', or" \
    "user namespaces for 'unshare -rn', and iproute2's 'ip'); not running: $*"
fi

RACKET_TEST_NETNS=1
export RACKET_TEST_NETNS
unshare "$mode" sh -c "$setup"' && exec "$@"' in_netns.sh "$@"
status=$?
if [ "$status" -eq 77 ]; then
  echo "FAIL: '$1' exited 77 inside the namespace; only in_netns.sh itself reports a skip (77)," \
       "so this counts as a failure"
  exit 1
fi
exit "$status"
