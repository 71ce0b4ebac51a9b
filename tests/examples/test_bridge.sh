#!/usr/bin/env bash
# test_bridge.sh SENDER RECEIVER BRIDGE [CASE...]
#
# Tests examples/bridge as a user runs it, on `lo` of one private namespace, with nats-server
# started here. CASEs (default: all):
#   help     --help exits 0 and names every flag; --version prints the project's version
#   errors   bad flags give one line naming the value on stderr, exit status 2
#   offline  no NATS server answers: the bridge starts anyway, the LAN side goes on (a
#            receiver gets the sender's value), the export is dropped and counted
#            (export_dropped), and SIGTERM ends it with its final stats, exit 0
#   late     nats-server starts after the bridge: the bridge connects by itself (its log says
#            so) and what the LAN publishes then reaches NATS and the bucket
#   loopback two "sites" on one host (two port ranges of the pool): a value crosses from one
#            to the other through NATS, once, and is not exported back
#   siblings two bridges of one site on one LAN: a value imported from the other site is on
#            their LAN once and never comes back to the site it came from (a bridge skips its
#            sibling's copy by the echo hash or the sibling's announcement; a copy exported in
#            the race before either is known is dropped by the origin's bridge,
#            import_echoes); a value of their LAN exported by both is imported once at the
#            other site
#
# Every case that sends runs only inside a private network namespace (CTest runs this script
# through tests/tools/in_netns.sh): when an interface other than `lo` is visible it sends
# nothing and exits 77 (skipped; under CI=true it fails instead, tests/tools/skip.sh).
# SPDX-License-Identifier: MIT
set -u

if [ "$#" -lt 3 ]; then
  echo "usage: $0 SENDER RECEIVER BRIDGE [CASE...]" >&2
  exit 2
fi
sender="$1"
receiver="$2"
bridge="$3"
shift 3
cases=("$@")
[ "${#cases[@]}" -gt 0 ] || cases=(help errors offline late loopback siblings)

. "$(dirname "$0")/../tools/harness.sh"
harness_start bridge "$sender" "$receiver" "$bridge"
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
needs_nats() {
  [ -x "$nats_server" ] || racket_skip "case '$1' needs nats-server (Debian package nats-server)"
  command -v jq >/dev/null 2>&1 || racket_skip "case '$1' needs jq"
}

# start NAME PROGRAM ARGS...: in the background, output in $tmp/NAME.out and .err; sets last_pid.
start() {
  local name="$1"
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  last_pid=$!
  pids+=("$last_pid")
}
stop() { # stop PID: SIGTERM and wait; returns its exit status
  kill -TERM "$1" 2>/dev/null
  wait "$1"
}
start_nats() { # start_nats NAME PORT: JetStream on, storage in $tmp/NAME
  start "$1" "$nats_server" -a 127.0.0.1 -p "$2" -js -sd "$tmp/$1"
  nats_pid=$last_pid
  until_true 10 grep -q "Server is ready" "$tmp/$1.err" || fail "nats-server $1 did not start: $(tail -3 "$tmp/$1.err")"
}
# counter FILE NAME: the counter in the last JSON stats line.
counter() { jq -r --arg n "$2" 'select(.event == "stats") | .counters[$n]' "$1" 2>/dev/null | tail -n 1; }
at_least() { local v; v=$(counter "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
has_value() { jq -e --arg s "$2" --arg p "$3" 'select(.event == "message" and .subject == $s and .payload == $p)' "$1" >/dev/null 2>&1; }

case_help() {
  local out
  out=$("$bridge" --help)
  expect "--help exits 0" [ $? -eq 0 ]
  local flag
  for flag in --nats --stream --filter --site --pool --ports --interface --ttl --announce-period --max-message \
    --stats --format --quiet --version NATS_URL; do
    expect "--help names $flag" grep -q -- "$flag" <<<"$out"
  done
  out=$("$bridge" --version)
  expect "--version prints the version" [ "$out" = "bridge (Racket) ${RACKET_EXPECTED_VERSION:-}" ]
}

# bad ARGS... PATTERN: exit 2 and one stderr line matching PATTERN.
bad() {
  local pattern="${*: -1}"
  local args=("${@:1:$#-1}")
  local err status
  err=$("$bridge" "${args[@]}" 2>&1 >/dev/null)
  status=$?
  expect "bridge ${args[*]}: exit 2" [ "$status" -eq 2 ]
  expect "bridge ${args[*]}: one line naming it ($pattern)" bash -c '[ "$(wc -l <<<"$1")" -eq 1 ] && grep -q -- "$2" <<<"$1"' _ "$err" "$pattern"
}

case_errors() {
  bad "stream is required"
  bad plant --site "two words" "two words"
  bad plant --filter "a..b" "a..b"
  bad plant --ttl 300 "300"
  bad plant --format xml "xml"
  bad plant --announce-period 5 --stats 0 "0"
  bad plant --pool 10.0.0.0/8 "10.0.0.0/8"
  bad plant --interface nosuch0 "nosuch0"
}

case_offline() {
  needs_netns offline
  command -v jq >/dev/null 2>&1 || racket_skip "case 'offline' needs jq"
  # Port 1 of lo: nothing listens, the connection is refused at once, again and again.
  start bridge "$bridge" plant --site off --nats nats://127.0.0.1:1 --interface lo --format json --stats 200ms
  local b=$last_pid
  start rx "$receiver" plant --interface lo --format json
  start tx "$sender" plant plant.a 1 --interface lo --interval 300ms
  local s=$last_pid
  expect "the LAN works without NATS: the receiver got the value" until_true 5 has_value "$tmp/rx.out" plant.a 1
  expect "the bridge dropped and counted the export" until_true 5 at_least "$tmp/bridge.out" export_dropped 1
  expect "it exported nothing to NATS" [ "$(counter "$tmp/bridge.out" nats_published)" = 0 ]
  expect "it is not connected" [ "$(counter "$tmp/bridge.out" connected)" = 0 ]
  stop "$s"
  stop "$b"
  expect "SIGTERM: exit 0" [ $? -eq 0 ]
  expect "final stats printed" grep -q '"event":"stats","program":"bridge","final":true' "$tmp/bridge.out"
}

case_late() {
  needs_netns late
  needs_nats late
  start bridge "$bridge" plant --site late --nats nats://127.0.0.1:14222 --interface lo --format json --stats 200ms
  local b=$last_pid
  sleep 0.5 # the bridge tries and fails at least once (nothing to wait for: that is the point)
  start_nats nats_late 14222
  expect "the bridge connected by itself" until_true 10 grep -q '"event":"nats","state":"connected"' "$tmp/bridge.out"
  start tx "$sender" plant plant.b 2 --interface lo --interval 300ms
  local s=$last_pid
  expect "the value went to NATS" until_true 5 at_least "$tmp/bridge.out" nats_published 1
  expect "and into the bucket" until_true 10 at_least "$tmp/bridge.out" kv_puts 1
  expect "no bucket errors" [ "$(counter "$tmp/bridge.out" kv_errors)" = 0 ]
  stop "$s"
  stop "$b"
  stop "$nats_pid"
}

case_loopback() {
  needs_netns loopback
  needs_nats loopback
  start_nats nats_loopback 14223
  local url=nats://127.0.0.1:14223
  start ba "$bridge" plant --site a --ports 19090-19097 --nats "$url" --interface lo --format json --stats 200ms
  local ba=$last_pid
  start bb "$bridge" plant --site b --ports 19190-19197 --nats "$url" --interface lo --format json --stats 200ms
  local bb=$last_pid
  until_true 10 grep -q '"state":"connected"' "$tmp/ba.out" || fail "bridge a did not connect"
  until_true 10 grep -q '"state":"connected"' "$tmp/bb.out" || fail "bridge b did not connect"
  start rb "$receiver" plant --ports 19190-19197 --interface lo --format json
  start tx "$sender" plant plant.c 'x y' --ports 19090-19097 --interface lo --interval 300ms --withdraw
  local s=$last_pid
  expect "site b received the value" until_true 10 has_value "$tmp/rb.out" plant.c 'x y'
  expect "bridge b heard its own publisher and skipped it" until_true 5 at_least "$tmp/bb.out" skipped_own 1
  expect "site b received it once" [ "$(jq -r 'select(.event == "message") | .payload' "$tmp/rb.out" | wc -l)" -eq 1 ]
  expect "bridge b exported nothing" [ "$(counter "$tmp/bb.out" exported)" = 0 ]
  expect "bridge a imported nothing" [ "$(counter "$tmp/ba.out" imported)" = 0 ]
  stop "$s"
  expect "the withdrawal crossed" until_true 5 grep -q '"event":"removed".*"reason":"withdrawn"' "$tmp/rb.out"
  stop "$ba"
  stop "$bb"
  stop "$nats_pid"
}

case_siblings() {
  needs_netns siblings
  needs_nats siblings
  start_nats nats_siblings 14224
  local url=nats://127.0.0.1:14224 name
  start a1 "$bridge" plant --site a --ports 19090-19097 --nats "$url" --interface lo --format json --stats 200ms
  start a2 "$bridge" plant --site a --ports 19090-19097 --nats "$url" --interface lo --format json --stats 200ms
  start b "$bridge" plant --site b --ports 19190-19197 --nats "$url" --interface lo --format json --stats 200ms
  for name in a1 a2 b; do
    until_true 10 grep -q '"state":"connected"' "$tmp/$name.out" || fail "bridge $name did not connect"
  done
  start ra "$receiver" plant --ports 19090-19097 --interface lo --format json
  # From site b: both bridges of site a import it and publish it on their LAN.
  start txb "$sender" plant plant.from_b 1 --ports 19190-19197 --interface lo --interval 300ms
  expect "site a received the value of site b" until_true 10 has_value "$tmp/ra.out" plant.from_b 1
  expect "a bridge of site a imported it" until_true 5 bash -c '
    [ "$(jq -r "select(.event == \"stats\") | .counters.imported" "$1" | tail -n 1)" -ge 1 ] ||
    [ "$(jq -r "select(.event == \"stats\") | .counters.imported" "$2" | tail -n 1)" -ge 1 ]' _ "$tmp/a1.out" "$tmp/a2.out"
  # A sibling's copy heard before this bridge's own import (and before the sibling was heard
  # announced) may be exported: it must not come back to site b.
  expect "site b never imported its own value back" [ "$(counter "$tmp/b.out" imported)" = 0 ]
  expect "site a's receiver got it once" [ "$(jq -r 'select(.event == "message") | .payload' "$tmp/ra.out" | wc -l)" -eq 1 ]
  # From site a: both bridges export it; site b imports it once.
  start txa "$sender" plant plant.from_a 2 --ports 19090-19097 --interface lo --interval 300ms
  expect "both bridges of site a exported it" until_true 5 bash -c '
    [ "$(jq -r "select(.event == \"stats\") | .counters.exported" "$1" | tail -n 1)" -ge 1 ] &&
    [ "$(jq -r "select(.event == \"stats\") | .counters.exported" "$2" | tail -n 1)" -ge 1 ]' _ "$tmp/a1.out" "$tmp/a2.out"
  expect "site b's bridge dropped the second copy as a duplicate" until_true 5 at_least "$tmp/b.out" import_duplicates 1
  expect "and imported the value once" [ "$(counter "$tmp/b.out" imported)" = 1 ]
  expect "site b's bridge exported only its own sender's value" [ "$(counter "$tmp/b.out" exported)" = 1 ]
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  pids=()
}

for c in "${cases[@]}"; do
  case "$c" in
    help | errors | offline | late | loopback | siblings) "case_$c" ;;
    *) fail "unknown case '$c'" ;;
  esac
done
harness_end bridge
