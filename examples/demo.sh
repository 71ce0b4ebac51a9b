#!/usr/bin/env bash
# demo.sh [DIR_WITH_BINARIES]
#
# Shows what Racket is for, with the example programs: a receiver started late still gets the
# current value of every subject (from the publisher's periodic resends), resends of a value it
# already has are suppressed as duplicates, a new value shows up as "changed", and when the
# publisher stops its subjects expire.
#
# The directory holding `sender` and `receiver` is the argument, else $RACKET_BUILD_DIR (its
# examples/ subdirectory is searched too). scripts/demo.sh builds them and runs this script.
#
# SAFETY: this script sends real multicast. It must run in a private network namespace
# (scripts/demo.sh uses tests/tools/in_netns.sh; by hand:
#   sudo unshare -n sh -c 'ip link set lo up && bash examples/demo.sh build/examples')
# and it refuses to run when it sees any interface other than `lo`.
#
# Exit status: 0 when every step showed what it should, 1 when one did not, 2 on a usage or
# environment problem (binaries not found, not in a private namespace).
# SPDX-License-Identifier: MIT
set -u

say() { printf '%s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 2; }

# --- find the programs -----------------------------------------------------------------------
dir="${1:-${RACKET_BUILD_DIR:-}}"
[ -n "$dir" ] || die "usage: demo.sh DIR_WITH_BINARIES (or set RACKET_BUILD_DIR)"
bin=
for d in "$dir" "$dir/examples"; do
  if [ -x "$d/sender" ] && [ -x "$d/receiver" ]; then
    bin="$(cd "$d" && pwd)"
    break
  fi
done
[ -n "$bin" ] || die "no sender and receiver programs in '$dir' (nor in '$dir/examples')"
sender="$bin/sender"
receiver="$bin/receiver"

# --- safety: only ever inside a private network namespace ------------------------------------
command -v ip >/dev/null 2>&1 || die "iproute2's 'ip' is needed to check the network namespace"
links="$(ip -o link show 2>/dev/null)" || die "'ip -o link show' failed"
while IFS= read -r line; do
  [ -n "$line" ] || continue
  name="$(printf '%s\n' "$line" | awk -F': ' '{print $2}')"
  name="${name%%@*}"
  if [ "$name" != "lo" ]; then
    die "refusing to run: interface '$name' is present, so this is not a private network namespace (run it through scripts/demo.sh, or: unshare -n sh -c 'ip link set lo up && bash $0 $dir')"
  fi
done <<< "$links"
ip link set lo up 2>/dev/null || true

# --- bookkeeping -----------------------------------------------------------------------------
tmp="$(mktemp -d "${TMPDIR:-/tmp}/racket-demo.XXXXXX")" || die "mktemp failed"
pids=()
cleanup() {
  exec 3>&- 2>/dev/null
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap '' PIPE

failures=0
check() {  # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then
    say "  [ok]   $what"
  else
    say "  [FAIL] $what"
    failures=$((failures + 1))
  fi
}
show() {  # show FILE: the file, indented
  sed 's/^/    | /' "$1"
}
heading() {
  say ""
  say "=== $* ==="
}
run_note() {
  say "  \$ $*"
}
# wait_lines FILE N SECONDS: until FILE has N lines matching PATTERN (default any)
wait_lines() {
  local file="$1" n="$2" tenths=$(($3 * 10)) pattern="${4:-.}"
  while [ "$tenths" -gt 0 ]; do
    [ "$(grep -c -- "$pattern" "$file" 2>/dev/null || true)" -ge "$n" ] && return 0
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}
count_lines() { grep -c -E -- "$2" "$1" 2>/dev/null || true; }
stat_of() {  # stat_of FILE NAME: NAME=value from the last stats line of FILE
  grep 'stats:' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

stream=plant
common=(--stream "$stream")
ts='^[0-9:.]* *'  # the receiver's lines start with the receive time, HH:MM:SS.mmm

say "Racket demo: broker-less publish/subscribe over IP multicast, in a private network namespace"
say "(programs from $bin)"

# --- 1. the publisher ------------------------------------------------------------------------
heading "1. A sender publishes three subjects on stream '$stream', re-sending each every 500 ms"
say "  The sender reads 'SUBJECT VALUE' lines on stdin; it keeps the last value of every"
say "  subject and re-sends it every 500 ms, so receivers that start later still learn it."
fifo="$tmp/sender.in"
mkfifo "$fifo" || die "mkfifo failed"
run_note "sender ${common[*]} --interval 500 < (lines below)"
"$sender" "${common[@]}" --interval 500 <"$fifo" >"$tmp/sender.out" 2>"$tmp/sender.err" &
sender_pid=$!
pids+=("$sender_pid")
exec 3>"$fifo"
start_time=$(date +%s%N)
printf '%s\n' "plant.line1.temp 21.5" "plant.line1.press 1013" "plant.line2.temp 19.0" >&3
wait_lines "$tmp/sender.out" 3 5
show "$tmp/sender.err"
show "$tmp/sender.out"
check "the sender published 3 values" [ "$(count_lines "$tmp/sender.out" "$ts"'plant\.')" -eq 3 ]

# Let it run ~1.5 s (about three resends) before anyone listens.
elapsed_ms=$((($(date +%s%N) - start_time) / 1000000))
[ "$elapsed_ms" -lt 1500 ] && sleep "$(printf '0.%03d' $((1500 - elapsed_ms)))"

# --- 2. a late joiner ------------------------------------------------------------------------
heading "2. A receiver started 1.5 s later (a late joiner) gets the current values from the resends"
say "  No broker, no history: the receiver asks for the current values (a snapshot request)"
say "  and the sender answers at once (flagged 'resend'); without that, the next periodic"
say "  resend would bring them within one interval."
run_note "receiver ${common[*]} --filter 'plant.*' --count 3 --timeout 3000"
"$receiver" "${common[@]}" --filter 'plant.*' --count 3 --timeout 3000 >"$tmp/r1.out" 2>"$tmp/r1.err"
r1_status=$?
show "$tmp/r1.out"
show "$tmp/r1.err"
check "the late joiner exited 0 (got its 3 messages before the timeout)" [ "$r1_status" -eq 0 ]
check "it got plant.line1.temp = 21.5, as a resend" \
  grep -q -E "$ts"'plant\.line1\.temp +4 +21\.5 .* new resend$' "$tmp/r1.out"
check "it got plant.line1.press = 1013, as a resend" \
  grep -q -E "$ts"'plant\.line1\.press +4 +1013 .* new resend$' "$tmp/r1.out"
check "it got plant.line2.temp = 19.0, as a resend" \
  grep -q -E "$ts"'plant\.line2\.temp +4 +19\.0 .* new resend$' "$tmp/r1.out"

# --- 3. duplicate suppression ----------------------------------------------------------------
heading "3. Duplicate suppression: a receiver hears every resend but delivers each value once"
say "  Every 500 ms the three values arrive again; the receiver compares each with the content"
say "  hash of the value it delivered and counts it as a duplicate instead of delivering it."
run_note "receiver ${common[*]} --filter 'plant.*' --stats 1000 --timeout 3500"
"$receiver" "${common[@]}" --filter 'plant.*' --stats 1000 --timeout 3500 >"$tmp/r2.out" 2>"$tmp/r2.err" &
r2_pid=$!
pids+=("$r2_pid")
wait_lines "$tmp/r2.err" 2 4 'stats:'  # two stats lines: about 2 s of listening
show "$tmp/r2.out"
show "$tmp/r2.err"
check "3 values delivered, once each" [ "$(count_lines "$tmp/r2.out" "$ts"'plant\.')" -eq 3 ]
dups="$(stat_of "$tmp/r2.err" duplicates)"
check "resends counted as duplicates (duplicates=${dups:-?} after ~2 s, at least 3)" [ "${dups:-0}" -ge 3 ]

# --- 4. a changed value ----------------------------------------------------------------------
heading "4. A new value: the sender publishes plant.line1.temp 22.0; the receiver shows it as changed"
run_note "echo 'plant.line1.temp 22.0' >> (sender's stdin)"
printf '%s\n' "plant.line1.temp 22.0" >&3
wait "$r2_pid"
r2_status=$?
show "$tmp/r2.out"
show "$tmp/r2.err"
check "the receiver delivered plant.line1.temp = 22.0 as 'changed' (live, not a resend)" \
  grep -q -E "$ts"'plant\.line1\.temp +4 +22\.0 .* changed$' "$tmp/r2.out"
check "4 deliveries in all: 3 first values + 1 change, no resend delivered twice" \
  [ "$(count_lines "$tmp/r2.out" "$ts"'plant\.')" -eq 4 ]
check "plant.line2.temp delivered exactly once" [ "$(count_lines "$tmp/r2.out" "$ts"'plant\.line2\.temp ')" -eq 1 ]
check "the receiver exited 0" [ "$r2_status" -eq 0 ]

# --- 5. expiry -------------------------------------------------------------------------------
heading "5. Expiry: the sender stops; subjects not refreshed within 3 intervals (1.5 s) expire"
say "  The sender is stopped without withdrawing its subjects (that would be --withdraw): a"
say "  receiver notices the silence and reports each subject REMOVED (expired)."
run_note "receiver ${common[*]} --filter 'plant.*' --timeout 3500"
"$receiver" "${common[@]}" --filter 'plant.*' --timeout 3500 >"$tmp/r3.out" 2>"$tmp/r3.err" &
r3_pid=$!
pids+=("$r3_pid")
wait_lines "$tmp/r3.out" 3 3 "$ts"'plant\.'
run_note "kill -TERM <sender>"
exec 3>&-
kill -TERM "$sender_pid" 2>/dev/null
wait "$sender_pid"
sender_status=$?
show "$tmp/sender.err"
sender_stopped_cleanly() { [ "$sender_status" -eq 0 ] && grep -q 'final stats:' "$tmp/sender.err"; }
check "the sender stopped cleanly on SIGTERM (exit 0, final stats printed)" sender_stopped_cleanly
wait "$r3_pid"
r3_status=$?
show "$tmp/r3.out"
show "$tmp/r3.err"
check "the receiver had the current values (plant.line1.temp = 22.0)" \
  grep -q -E "$ts"'plant\.line1\.temp +4 +22\.0 ' "$tmp/r3.out"
check "all 3 subjects reported REMOVED (expired)" [ "$(count_lines "$tmp/r3.out" ' REMOVED \(expired\)$')" -eq 3 ]
check "the receiver exited 0" [ "$r3_status" -eq 0 ]

elapsed_ms=$((($(date +%s%N) - start_time) / 1000000))
say ""
if [ "$failures" -eq 0 ]; then
  say "demo: every step showed what it should (${elapsed_ms} ms)"
  exit 0
fi
say "demo: $failures check(s) FAILED (${elapsed_ms} ms)"
exit 1
