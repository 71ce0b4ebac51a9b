#!/usr/bin/env bash
# test_programs.sh SENDER RECEIVER DEMO_SCRIPT [CASE...]
#
# Tests the example programs as a user runs them. CASEs (default: all):
#   help         --help of both exits 0 and mentions every option
#   errors       bad values give one line naming the value on stderr, exit status 2
#   json         a round trip with --format json: valid JSON lines with the published payloads
#   stdin        the sender reads 'SUBJECT PAYLOAD' lines (and PAYLOAD lines for one --subject)
#   withdraw     --withdraw at exit: receivers report the subject removed (withdrawn)
#   late_joiner  a receiver started after the sender gets the current values from resends
#   demo         examples/demo.sh passes
#
# Every case that sends runs only inside a private network namespace (CTest runs this script
# through tests/tools/in_netns.sh): when an interface other than `lo` is visible the script
# sends nothing and exits 77 (skipped; under CI=true it fails instead, tests/tools/skip.sh).
# SPDX-License-Identifier: MIT
set -u

if [ "$#" -lt 3 ]; then
  echo "usage: $0 SENDER RECEIVER DEMO_SCRIPT [CASE...]" >&2
  exit 2
fi
sender="$1"
receiver="$2"
demo="$3"
shift 3
cases=("$@")
[ "${#cases[@]}" -gt 0 ] || cases=(help errors json stdin withdraw late_joiner demo)

for p in "$sender" "$receiver"; do
  [ -x "$p" ] || { echo "test_programs.sh: '$p' is not an executable" >&2; exit 2; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/racket-examples-test.XXXXXX")" || exit 2
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
expect() {  # expect DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# wait_for FILE PATTERN SECONDS
wait_for() {
  local tenths=$(($3 * 10))
  while [ "$tenths" -gt 0 ]; do
    grep -q -E -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
    tenths=$((tenths - 1))
  done
  return 1
}

in_private_netns() {
  local names
  names="$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//')" || return 1
  [ -n "$names" ] || return 1
  [ "$names" = "lo" ]
}
. "$(dirname "$0")/../tools/skip.sh"
needs_netns() {
  if ! in_private_netns; then
    racket_skip "case '$1' sends multicast and this is not a private network namespace (run it through tests/tools/in_netns.sh)"
  fi
}

# ---------------------------------------------------------------------------------------------
case_help() {
  local prog opts
  for prog in sender receiver; do
    local bin="$sender"
    [ "$prog" = receiver ] && bin="$receiver"
    if [ "$prog" = sender ]; then
      opts="--pool --ports --interface --stream --subject --interval --data --count --rate --ttl --withdraw --exit --seed --quiet --help"
    else
      opts="--pool --ports --interface --stream --filter --format --count --timeout --stats --expiry-factor --busy-poll --help"
    fi
    "$bin" --help >"$tmp/help.out" 2>"$tmp/help.err"
    expect "$prog --help exits 0" [ "$?" -eq 0 ]
    expect "$prog --help writes nothing to stderr" [ ! -s "$tmp/help.err" ]
    for o in $opts; do
      expect "$prog --help mentions $o" grep -q -e "^  $o\\b" "$tmp/help.out"
    done
    "$bin" -h >/dev/null 2>&1
    expect "$prog -h exits 0" [ "$?" -eq 0 ]
  done
}

# run_bad PROGRAM EXPECTED_TEXT ARGS...: one line on stderr containing EXPECTED_TEXT, nothing on
# stdout, exit status 2.
run_bad() {
  local prog="$1" text="$2"
  shift 2
  local bin="$sender"
  [ "$prog" = receiver ] && bin="$receiver"
  timeout 10 "$bin" "$@" </dev/null >"$tmp/bad.out" 2>"$tmp/bad.err"
  local status=$?
  local lines
  lines="$(wc -l <"$tmp/bad.err")"
  if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/bad.out" ] &&
     grep -q -F -- "$prog: " "$tmp/bad.err" && grep -q -F -- "$text" "$tmp/bad.err"; then
    pass "$prog $* -> $(cat "$tmp/bad.err")"
  else
    fail "$prog $*: status $status (want 2), $lines stderr line(s) (want 1) containing \"$text\":"
    sed 's/^/    | /' "$tmp/bad.err" "$tmp/bad.out"
  fi
}

case_errors() {
  local prog
  for prog in sender receiver; do
    run_bad "$prog" "multicast pool '10.0.0.0/8': multicast pool is not inside a multicast range" \
      --stream s --pool 10.0.0.0/8
    run_bad "$prog" "multicast pool '239.255.0.1/16': multicast pool base address has host bits set" \
      --stream s --pool 239.255.0.1/16
    run_bad "$prog" "multicast pool '239.255.0.0/32'" --stream s --pool 239.255.0.0/32
    run_bad "$prog" "multicast pool 'nonsense'" --stream s --pool nonsense
    run_bad "$prog" "port range '0-10'" --stream s --ports 0-10
    run_bad "$prog" "port range '19097-19090'" --stream s --ports 19097-19090
    run_bad "$prog" "interface 'nosuch0': unknown network interface" --stream s --interface nosuch0
    run_bad "$prog" "interface 'nosuch1'" --stream s --interface lo --interface nosuch1
    run_bad "$prog" "--stream is required" --pool 239.255.0.0/16
    run_bad "$prog" "unknown option '--bogus'" --stream s --bogus
    run_bad "$prog" "unexpected argument 'extra'" --stream s extra
    run_bad "$prog" "--count '12x'" --stream s --count 12x
    run_bad "$prog" "--count '0'" --stream s --count 0
    run_bad "$prog" "option --stream needs a value" --stream
    run_bad "$prog" "stream name ''" --stream ""
  done
  run_bad sender "subject 'plant..temp': invalid subject" --stream s --subject plant..temp --data x
  run_bad sender "subject 'plant.*': invalid subject" --stream s --subject 'plant.*' --data x
  run_bad sender "subject ''" --stream s --subject '' --data x
  run_bad sender "--data needs at least one --subject" --stream s --data x
  run_bad sender "--interval '-5'" --stream s --interval -5
  run_bad sender "--ttl '256'" --stream s --ttl 256
  run_bad sender "--rate '0'" --stream s --rate 0
  run_bad sender "option --exit takes no value" --stream s --exit=yes
  run_bad receiver "subject filter 'plant.**': invalid subject filter" --stream s --filter 'plant.**'
  run_bad receiver "subject filter 'pl*nt'" --stream s --filter 'pl*nt'
  run_bad receiver "subject filter 'a..b'" --stream s --filter '*' --filter 'a..b'
  run_bad receiver "--format 'xml': expected human or json" --stream s --format xml
  run_bad receiver "--timeout 'soon'" --stream s --timeout soon
  run_bad receiver "--expiry-factor '0'" --stream s --expiry-factor 0
  run_bad receiver "--busy-poll 'fast'" --stream s --busy-poll fast
}

# validate_json FILE: every line a JSON object; prints a summary the caller greps.
validate_json() {
  python3 - "$1" <<'EOF'
import json, sys
ok = True
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    try:
        obj = json.loads(line)
    except ValueError as e:
        print(f"line {n}: not JSON: {e}: {line!r}")
        ok = False
        continue
    if not isinstance(obj, dict):
        print(f"line {n}: not an object")
        ok = False
        continue
    if obj.get("event") == "removed":
        print("removed", obj["subject"], obj["reason"])
        continue
    for key in ("stream", "subject", "size", "publisher", "sequence", "timestamp_ns", "interval_ms", "new", "resend"):
        if key not in obj:
            print(f"line {n}: no {key!r}")
            ok = False
    if "payload" in obj:
        payload = obj["payload"]
    elif "payload_hex" in obj:
        payload = "hex:" + obj["payload_hex"]
    else:
        print(f"line {n}: neither payload nor payload_hex")
        ok = False
        continue
    print("message", obj["stream"], obj["subject"], payload, "new" if obj["new"] else "changed",
          "resend" if obj["resend"] else "live", obj["interval_ms"])
print("valid" if ok else "INVALID")
EOF
}

# start_receiver NAME ARGS...: runs the receiver in the background, waits until it has joined.
start_receiver() {
  local name="$1"
  shift
  "$receiver" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  receiver_pid=$!
  pids+=("$receiver_pid")
  wait_for "$tmp/$name.err" '^receiver: stream ' 5 || fail "receiver $name did not start: $(cat "$tmp/$name.err")"
}

case_json() {
  needs_netns json
  start_receiver json --stream examples.json --format json --count 7 --timeout 5000
  "$sender" --stream examples.json --subject t.a --subject t.b --data 'hello "json" ✓' --count 3 \
    --interval 0 --exit >"$tmp/json-sender.out" 2>"$tmp/json-sender.err"
  expect "sender --data --count 3 --exit exits 0" [ "$?" -eq 0 ]
  printf 't.c \001\002\377\n' | "$sender" --stream examples.json --interval 0 --exit --quiet
  expect "sender from stdin --exit exits 0" [ "$?" -eq 0 ]
  wait "$receiver_pid"
  expect "receiver --count 7 exits 0 (got all 7 messages)" [ "$?" -eq 0 ]
  validate_json "$tmp/json.out" >"$tmp/json.summary"
  sed 's/^/    | /' "$tmp/json.out" "$tmp/json.summary"
  expect "every line is a valid JSON object with every field" grep -q -x valid "$tmp/json.summary"
  local s i
  for s in t.a t.b; do
    for i in 1 2 3; do
      expect "payload of $s #$i received" grep -q -x -F "message examples.json $s hello \"json\" ✓#$i new live 0" \
        "$tmp/json.summary"
    done
  done
  expect "binary payload shown as payload_hex" grep -q -x -F "message examples.json t.c hex:0102ff new live 0" \
    "$tmp/json.summary"
  expect "receiver printed its final stats" grep -q 'receiver: final stats: .*delivered=7 ' "$tmp/json.err"
  expect "sender printed its final stats" grep -q 'sender: final stats: published=6 ' "$tmp/json-sender.err"
}

case_stdin() {
  needs_netns stdin
  start_receiver stdin --stream examples.stdin --count 4 --timeout 5000 --busy-poll 2000
  printf '%s\n' "a.one 1" "" "a.two   two words" "bad..subject x" | \
    "$sender" --stream examples.stdin --interval 0 --exit >"$tmp/stdin-sender.out" 2>"$tmp/stdin-sender.err"
  local status=$?
  expect "a bad stdin line makes the sender exit 1" [ "$status" -eq 1 ]
  expect "and is reported naming the line and the subject" \
    grep -q -F "sender: stdin line 4: subject 'bad..subject': invalid subject" "$tmp/stdin-sender.err"
  printf '%s\n' "first line" "second line" "third line" | \
    "$sender" --stream examples.stdin --subject b.only --interval 0 --count 2 --exit --quiet
  expect "sender with one --subject takes whole lines as payloads, --count 2 stops after 2" [ "$?" -eq 0 ]
  wait "$receiver_pid"
  expect "receiver got 4 messages" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/stdin.out"
  expect "a.one = 1" grep -q -E '^a\.one +1 +1 +publisher=[0-9a-f]{16} seq=1 new$' "$tmp/stdin.out"
  expect "a.two = 'two words'" grep -q -E '^a\.two +9 +two words +publisher=' "$tmp/stdin.out"
  expect "b.only = 'first line'" grep -q -E '^b\.only +10 +first line ' "$tmp/stdin.out"
  expect "b.only = 'second line'" grep -q -E '^b\.only +11 +second line ' "$tmp/stdin.out"
  expect "no third line" bash -c "! grep -q 'third line' '$tmp/stdin.out'"
  expect "the --busy-poll receiver's stats count its busy-polled datagrams" \
    grep -q -E 'receiver: final stats: .*delivered=4 .* busy_polled=[0-9]+$' "$tmp/stdin.err"
}

case_withdraw() {
  needs_netns withdraw
  start_receiver withdraw --stream examples.withdraw --format json --timeout 1500
  "$sender" --stream examples.withdraw --subject w.x --data v --interval 1000 --withdraw --exit --quiet
  expect "sender --withdraw --exit exits 0" [ "$?" -eq 0 ]
  wait "$receiver_pid"
  expect "receiver without --count exits 0 on --timeout" [ "$?" -eq 0 ]
  validate_json "$tmp/withdraw.out" >"$tmp/withdraw.summary"
  sed 's/^/    | /' "$tmp/withdraw.out"
  expect "valid JSON" grep -q -x valid "$tmp/withdraw.summary"
  expect "the value was delivered" grep -q -x -F "message examples.withdraw w.x v new live 1000" "$tmp/withdraw.summary"
  expect "then removed (withdrawn)" grep -q -x -F "removed w.x withdrawn" "$tmp/withdraw.summary"
}

case_late_joiner() {
  needs_netns late_joiner
  "$sender" --stream examples.late --subject l.x --subject l.y --data current --interval 200 \
    >"$tmp/late-sender.out" 2>"$tmp/late-sender.err" &
  local sender_pid=$!
  pids+=("$sender_pid")
  wait_for "$tmp/late-sender.out" '^l\.y ' 5
  sleep 0.6  # the first send is long gone: only resends can tell a new receiver
  "$receiver" --stream examples.late --format json --count 2 --timeout 3000 >"$tmp/late.out" 2>"$tmp/late.err"
  expect "late receiver got 2 messages before its timeout" [ "$?" -eq 0 ]
  validate_json "$tmp/late.out" >"$tmp/late.summary"
  sed 's/^/    | /' "$tmp/late.out"
  expect "valid JSON" grep -q -x valid "$tmp/late.summary"
  expect "l.x current value, as a resend" grep -q -x -F "message examples.late l.x current new resend 200" "$tmp/late.summary"
  expect "l.y current value, as a resend" grep -q -x -F "message examples.late l.y current new resend 200" "$tmp/late.summary"
  "$receiver" --stream examples.late --filter 'l.*' --filter 'l.x' --stats 300 --timeout 1100 \
    >"$tmp/late2.out" 2>"$tmp/late2.err"
  expect "receiver without --count exits 0 on --timeout" [ "$?" -eq 0 ]
  expect "overlapping filters print each subject once" [ "$(grep -c '^l\.x ' "$tmp/late2.out")" -eq 1 ]
  expect "resends are suppressed as duplicates" grep -q -E 'final stats: .*delivered=2 duplicates=[1-9]' "$tmp/late2.err"
  expect "--stats prints periodic stats lines" grep -q '^receiver: stats: received=' "$tmp/late2.err"
  "$receiver" --stream examples.late --filter nothing.here --count 1 --timeout 300 >/dev/null 2>&1
  expect "--count not reached before --timeout exits 1" [ "$?" -eq 1 ]
  kill -INT "$sender_pid"
  wait "$sender_pid"
  expect "sender stops cleanly on SIGINT (exit 0)" [ "$?" -eq 0 ]
  expect "and prints its final stats" grep -q -E '^sender: final stats: published=2 resent=[1-9]' "$tmp/late-sender.err"
}

case_demo() {
  needs_netns demo
  timeout 60 bash "$demo" "$(dirname "$sender")" >"$tmp/demo.out" 2>&1
  local status=$?
  sed 's/^/    | /' "$tmp/demo.out"
  expect "examples/demo.sh passes" [ "$status" -eq 0 ]
}

for c in "${cases[@]}"; do
  echo "--- $c"
  case "$c" in
    help) case_help ;;
    errors) case_errors ;;
    json) case_json ;;
    stdin) case_stdin ;;
    withdraw) case_withdraw ;;
    late_joiner) case_late_joiner ;;
    demo) case_demo ;;
    *) echo "test_programs.sh: unknown case '$c'" >&2; exit 2 ;;
  esac
done

if [ "$failures" -ne 0 ]; then
  echo "test_programs.sh: $failures check(s) failed"
  exit 1
fi
echo "test_programs.sh: all passed (${cases[*]})"
