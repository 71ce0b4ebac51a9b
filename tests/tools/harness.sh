# shellcheck shell=bash
# harness.sh: what the test scripts that drive the programs share (tests/examples/test_*.sh,
# tests/wireshark/test_dissector.sh). Sourced by bash; it sources skip.sh too.
#
#   harness_start NAME [EXECUTABLE...]  checks that each EXECUTABLE is one (exit 2 otherwise),
#                         makes $tmp (racket-NAME-test.XXXXXX) and removes it at exit (unless
#                         KEEP_TMP is set), and stops every pid in $pids at exit
#   pass / fail TEXT      one "ok: TEXT" or "FAIL: TEXT" line; fail counts into $failures
#   expect TEXT CMD...    pass or fail by CMD's status
#   harness_end NAME      "NAME: all passed (cases)" and exit 0, or the failures and exit 1
#   wait_for FILE PATTERN SECONDS   polls every 100 ms until FILE has a line matching PATTERN
#   until_true SECONDS CMD...       polls CMD every 100 ms until it succeeds or time is up
#   wait_exit PID SECONDS           waits for a background child to end, up to a deadline:
#                                   its exit status, or 1 when time is up
#   in_private_netns      true when `lo` is the only interface visible
#   needs_netns CASE      skips (racket_skip, skip.sh) a case that sends when it is not in one
# SPDX-License-Identifier: MIT

. "$(dirname "${BASH_SOURCE[0]}")/skip.sh"

failures=0
pids=()

harness_start() {
  local name="$1" p
  shift
  for p in "$@"; do
    [ -x "$p" ] || { echo "test_$name.sh: '$p' is not an executable" >&2; exit 2; }
  done
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/racket-$name-test.XXXXXX")" || exit 2
  trap harness_cleanup EXIT
}

harness_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "${tmp:-}" ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$tmp"; fi
}

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
expect() { # expect DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

harness_end() {
  if [ "$failures" -ne 0 ]; then
    echo "test_$1.sh: $failures check(s) failed"
    exit 1
  fi
  echo "test_$1.sh: all passed (${cases[*]})"
  exit 0
}

wait_for() { # wait_for FILE PATTERN SECONDS
  local tenths=$(($3 * 10))
  while [ "$tenths" -gt 0 ]; do
    grep -q -E -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}

until_true() { # until_true SECONDS COMMAND...
  local tenths=$(($1 * 10))
  shift
  while [ "$tenths" -gt 0 ]; do
    "$@" 2>/dev/null && return 0
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}

wait_exit() { # wait_exit PID SECONDS
  local tenths=$(($2 * 10))
  while kill -0 "$1" 2>/dev/null; do
    [ "$tenths" -gt 0 ] || return 1
    sleep 0.1
    tenths=$((tenths - 1))
  done
  wait "$1"
}

in_private_netns() {
  local names
  names="$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//')" || return 1
  [ -n "$names" ] || return 1
  [ "$names" = "lo" ]
}

needs_netns() {
  if ! in_private_netns; then
    racket_skip "case '$1' sends multicast and this is not a private network namespace (run it through tests/tools/in_netns.sh)"
  fi
}
