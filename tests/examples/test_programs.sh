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
#   version      --version prints the project's version
#   durations    duration flags take units (250ms, 1.5s, 2m), a bare number is ms; bad ones named
#   env          RACKET_POOL, RACKET_PORTS, RACKET_INTERFACES give defaults; flags win
#   positional   sender STREAM SUBJECT [DATA] and receiver STREAM [FILTER]
#   quiet        receiver --quiet: no message lines, stats still printed
#   once         receiver --once: the current values and exit 0; nothing: exit 1 at its timeout
#   hint         one hint naming group, port and interface when nothing arrives; none otherwise
#   size         an over-size payload names its size and the limit, and the limit is exact
#   tail_probes  the sender's stats count the tail probes among its datagrams
#   json_stats   --stats with --format json: JSON lines with every counter, sender and receiver
#   list         receiver --list: two senders on two streams named with their subject counts
#                (text and JSON); a sender that stops is gone after expiry; nothing: exit 1, hint
#   file         sender --file publishes a file's bytes (fragmented); receiver --save writes them
#                byte-identical to DIR/SUBJECT; JSON size and xxh3 (= xxhsum -H3); a short
#                preview in human output; a missing file, one over --max-message, a --save DIR
#                that does not exist: named, exit 2
#   peers        sender --peer / --no-multicast and receiver --listen / --no-multicast: values by
#                unicast alone; a bad --peer, --no-multicast without --peer or --listen: exit 2
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
[ "${#cases[@]}" -gt 0 ] || cases=(help errors json stdin withdraw late_joiner demo version durations env positional quiet once hint size tail_probes json_stats list file peers)

. "$(dirname "$0")/../tools/harness.sh"
harness_start programs "$sender" "$receiver"

# ---------------------------------------------------------------------------------------------
case_help() {
  local prog opts
  for prog in sender receiver; do
    local bin="$sender"
    [ "$prog" = receiver ] && bin="$receiver"
    if [ "$prog" = sender ]; then
      opts="--pool --ports --interface --stream --subject --interval --data --count --rate --ttl --withdraw --exit --seed --quiet --help --version --format --stats --max-datagram --tail-probes --announce-period --file --max-message"
    else
      opts="--pool --ports --interface --stream --filter --format --count --timeout --stats --expiry-factor --busy-poll --help --version --quiet --once --hint-after --list --wait --announce-period --save --max-message"
    fi
    "$bin" --help >"$tmp/help.out" 2>"$tmp/help.err"
    expect "$prog --help exits 0" [ "$?" -eq 0 ]
    expect "$prog --help writes nothing to stderr" [ ! -s "$tmp/help.err" ]
    for o in $opts; do
      expect "$prog --help mentions $o" grep -q -E -e "^  (-[a-zA-Z],)?$o\\b" "$tmp/help.out"
    done
    for e in RACKET_POOL RACKET_PORTS RACKET_INTERFACES; do
      expect "$prog --help names the environment variable $e" grep -q -F "env:$e" "$tmp/help.out"
    done
    expect "$prog --help shows the positional form" grep -q -E "^Usage: $prog \\[OPTIONS\\] \\[STREAM\\]" "$tmp/help.out"
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
    run_bad "$prog" "a stream is required: STREAM or --stream NAME" --pool 239.255.0.0/16
    run_bad "$prog" "argument was not expected: --bogus" --stream s --bogus
    run_bad "$prog" "the stream is given twice: --stream 's' and 't'" --stream s t
    run_bad "$prog" "--count: '12x': expected a whole number from 1 to" --stream s --count 12x
    run_bad "$prog" "--count: '0'" --stream s --count 0
    run_bad "$prog" "--stream: 1 required NAME missing" --stream
    run_bad "$prog" "--stats: '5x': expected a duration such as 250ms, 2s or 1m (a bare number is milliseconds)" \
      --stream s --stats 5x
    run_bad "$prog" "--stats: '0ms': expected a duration from 1ms to" --stream s --stats 0ms
    run_bad "$prog" "stream name ''" --stream ""
  done
  run_bad sender "subject 'plant..temp': invalid subject" --stream s --subject plant..temp --data x
  run_bad sender "subject 'plant.*': invalid subject" --stream s --subject 'plant.*' --data x
  run_bad sender "subject ''" --stream s --subject '' --data x
  run_bad sender "--data needs at least one --subject" --stream s --data x
  run_bad sender "--interval: '-5': expected a duration" --stream s --interval -5
  run_bad sender "--interval: '5x': expected a duration such as 250ms, 2s or 1m (a bare number is milliseconds)" \
    --stream s --interval 5x
  run_bad sender "--interval: '2 s'" --stream s --interval '2 s'
  run_bad sender "--interval: '1.0001ms': not a whole number of milliseconds" --stream s --interval 1.0001ms
  run_bad sender "--tail-probes: 'soon'" --stream s --tail-probes soon
  run_bad sender "--ttl: '256'" --stream s --ttl 256
  run_bad sender "--rate: '0'" --stream s --rate 0
  run_bad sender "--exit = maybe" --stream s --exit=maybe
  run_bad sender "argument was not expected: extra" s a b extra
  run_bad sender "the payload is given twice: --data 'x' and 'y'" s a y --data x
  run_bad sender "--max-datagram: '100': expected a whole number from 128 to 65507" --stream s --max-datagram 100
  run_bad sender "--format: xml not in {human,json}" --stream s --format xml
  run_bad receiver "subject filter 'plant.**': invalid subject filter" --stream s --filter 'plant.**'
  run_bad receiver "subject filter 'pl*nt'" --stream s --filter 'pl*nt'
  run_bad receiver "subject filter 'a..b'" --stream s --filter '*' --filter 'a..b'
  run_bad receiver "--format: xml not in {human,json}" --stream s --format xml
  run_bad receiver "--timeout: 'soon': expected a duration" --stream s --timeout soon
  run_bad receiver "--hint-after: '3x'" --stream s --hint-after 3x
  run_bad receiver "--expiry-factor: '0'" --stream s --expiry-factor 0
  run_bad receiver "--busy-poll: 'fast': expected a duration such as 250ms, 2s or 1m (a bare number is microseconds)" \
    --stream s --busy-poll fast
  run_bad receiver "argument was not expected: extra" s f extra
  run_bad receiver "--once and --count do not go together" s --once --count 2
}

# The receiver's human lines start with the receive time.
ts='^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}  '

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
    if obj.get("event") == "stats":
        counters = obj.get("counters")
        if not isinstance(counters, dict) or not counters or not all(isinstance(v, int) for v in counters.values()):
            print(f"line {n}: stats without integer counters")
            ok = False
            continue
        words = " ".join(f"{k}={v}" for k, v in counters.items())
        extra = f" printed={obj['printed']}" if "printed" in obj else ""
        transport = obj.get("transport")
        if transport is not None:
            words += " " + " ".join(f"transport.{k}={v}" for k, v in transport.items())
        print("stats", obj["program"], "final" if obj["final"] is True else "periodic", extra.strip(), words)
        continue
    if obj.get("event") == "published":
        print("published", obj["stream"], obj["subject"], obj.get("payload", "hex:" + obj.get("payload_hex", "?")))
        continue
    for key in ("stream", "subject", "size", "xxh3", "publisher", "sequence", "timestamp_ns", "received_ns", "interval_ms", "new", "resend"):
        if key not in obj:
            print(f"line {n}: no {key!r}")
            ok = False
    if not (isinstance(obj.get("xxh3"), str) and len(obj["xxh3"]) == 16 and all(c in "0123456789abcdef" for c in obj["xxh3"])):
        print(f"line {n}: xxh3 is not 16 lower-case hex digits")
        ok = False
    if obj.get("size", 0) > 65536 and "payload" not in obj and "payload_hex" not in obj:
        payload = f"omitted:{obj['size']}:{obj.get('xxh3')}"
    elif "payload" in obj:
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
  expect "receiver printed its final stats as a JSON line" grep -q -E '^stats receiver final printed=7 .*delivered=7 ' "$tmp/json.summary"
  expect "and only on stdout (JSON mode)" bash -c "! grep -q -E '^receiver: (final )?stats' '$tmp/json.err'"
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
  expect "a.one = 1, after its receive time" grep -q -E "$ts"'a\.one +1 +1 +publisher=[0-9a-f]{16} seq=1 new$' "$tmp/stdin.out"
  expect "a.two = 'two words'" grep -q -E "$ts"'a\.two +9 +two words +publisher=' "$tmp/stdin.out"
  expect "b.only = 'first line'" grep -q -E "$ts"'b\.only +10 +first line ' "$tmp/stdin.out"
  expect "b.only = 'second line'" grep -q -E "$ts"'b\.only +11 +second line ' "$tmp/stdin.out"
  expect "no third line" bash -c "! grep -q 'third line' '$tmp/stdin.out'"
  expect "the --busy-poll receiver's stats count its busy-polled datagrams" \
    grep -q -E 'receiver: final stats: printed=4 .* transport\.busy_poll_datagrams=[0-9]+$' "$tmp/stdin.err"
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
  expect "overlapping filters print each subject once" [ "$(grep -c -E "$ts"'l\.x ' "$tmp/late2.out")" -eq 1 ]
  expect "resends are suppressed as duplicates" grep -q -E 'final stats: printed=2 .* duplicates=[1-9]' "$tmp/late2.err"
  expect "--stats prints periodic stats lines" grep -q '^receiver: stats: printed=' "$tmp/late2.err"
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

# ---------------------------------------------------------------------------------------------
# Issue 23: the command lines.

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# final_stat FILE NAME: NAME=value from the last "final stats" line of FILE
final_stat() { grep 'final stats:' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

case_version() {
  local prog bin
  for prog in sender receiver; do
    bin="$sender"
    [ "$prog" = receiver ] && bin="$receiver"
    "$bin" --version >"$tmp/v.out" 2>"$tmp/v.err"
    expect "$prog --version exits 0" [ "$?" -eq 0 ]
    expect "$prog --version prints '$prog (Racket) ${RACKET_EXPECTED_VERSION:-?}' (the CMake project version)" \
      grep -q -x -F "$prog (Racket) ${RACKET_EXPECTED_VERSION:-?}" "$tmp/v.out"
    "$bin" -V >"$tmp/v2.out" 2>&1
    expect "$prog -V prints the same" cmp -s "$tmp/v.out" "$tmp/v2.out"
  done
}

case_durations() {
  needs_netns durations
  local pair text want t0 ms status
  for pair in "250:250" "250ms:250" "1.5s:1500" "2m:120000" "1h:3600000" "0:0"; do
    text="${pair%%:*}"
    want="${pair##*:}"
    "$sender" --stream examples.dur --interval "$text" --exit </dev/null >/dev/null 2>"$tmp/dur.err"
    if [ "$want" -eq 0 ]; then
      expect "sender --interval $text: events, not re-sent" grep -q -F "events (interval 0: not re-sent)" "$tmp/dur.err"
    else
      expect "sender --interval $text is $want ms" grep -q -F "resend every $want ms" "$tmp/dur.err"
    fi
  done
  t0=$(date +%s%N)
  "$receiver" --stream examples.dur --timeout 1s --stats 300ms --hint-after 0 >/dev/null 2>"$tmp/dur-r.err"
  status=$?
  ms=$(ms_since "$t0")
  expect "receiver --timeout 1s exits 0" [ "$status" -eq 0 ]
  expect "receiver --timeout 1s ends after 1 s, not before (took $ms ms)" [ "$ms" -ge 950 -a "$ms" -lt 10000 ]
  expect "receiver --stats 300ms printed periodic stats within that second" \
    [ "$(grep -c '^receiver: stats: ' "$tmp/dur-r.err")" -ge 2 ]
  "$receiver" --stream examples.dur --timeout 200ms --busy-poll 2ms --hint-after 0 >/dev/null 2>&1
  expect "receiver --busy-poll 2ms (a unit on a microseconds flag) runs" [ "$?" -eq 0 ]
}

case_env() {
  needs_netns env
  RACKET_POOL=239.1.0.0/16 "$receiver" --stream examples.env --timeout 100ms --hint-after 0 >/dev/null 2>"$tmp/env.err"
  expect "RACKET_POOL sets the pool" grep -q -E "^receiver: stream 'examples.env' on 239\.1\.[0-9]+\.[0-9]+:" "$tmp/env.err"
  RACKET_POOL=239.1.0.0/16 "$receiver" --stream examples.env --pool 239.2.0.0/16 --timeout 100ms --hint-after 0 \
    >/dev/null 2>"$tmp/env.err"
  expect "--pool wins over RACKET_POOL" grep -q -E "^receiver: stream 'examples.env' on 239\.2\.[0-9]+\.[0-9]+:" "$tmp/env.err"
  RACKET_PORTS=20000 "$sender" --stream examples.env --exit </dev/null >/dev/null 2>"$tmp/env.err"
  expect "RACKET_PORTS sets the ports" grep -q -E "^sender: stream 'examples.env' -> [0-9.]+:20000 on lo" "$tmp/env.err"
  RACKET_PORTS=20000 "$sender" --stream examples.env --ports 20001 --exit </dev/null >/dev/null 2>"$tmp/env.err"
  expect "--ports wins over RACKET_PORTS" grep -q -E "^sender: stream 'examples.env' -> [0-9.]+:20001 on lo" "$tmp/env.err"
  RACKET_INTERFACES=nosuch0 run_bad receiver "interface 'nosuch0': unknown network interface" --stream examples.env
  RACKET_INTERFACES=lo,nosuch1 run_bad sender "interface 'nosuch1'" --stream examples.env
  RACKET_INTERFACES=nosuch0 "$receiver" --stream examples.env --interface lo --timeout 100ms --hint-after 0 \
    >/dev/null 2>"$tmp/env.err"
  expect "--interface wins over RACKET_INTERFACES" grep -q -E "^receiver: stream 'examples.env' on .* via lo," "$tmp/env.err"
  # Both programs from the environment alone meet on a group of that pool and port.
  export RACKET_POOL=239.3.0.0/16 RACKET_PORTS=20100-20101 RACKET_INTERFACES=lo
  start_receiver env examples.env --count 1 --timeout 5s
  "$sender" examples.env e.x from-env --interval 0 --exit >/dev/null 2>"$tmp/env-sender.err"
  expect "sender from the environment exits 0" [ "$?" -eq 0 ]
  wait "$receiver_pid"
  expect "receiver from the environment got the message" [ "$?" -eq 0 ]
  unset RACKET_POOL RACKET_PORTS RACKET_INTERFACES
  expect "on the environment's pool and ports" grep -q -E "^receiver: stream 'examples.env' on 239\.3\.[0-9.]+:2010[01] via lo" "$tmp/env.err"
  expect "the value arrived" grep -q -E "$ts"'e\.x +8 +from-env ' "$tmp/env.out"
}

case_positional() {
  needs_netns positional
  start_receiver pos examples.pos 'p.*' --count 2 --timeout 5s
  "$sender" examples.pos q.x not-matched --interval 0 --exit --quiet
  expect "sender STREAM SUBJECT DATA exits 0" [ "$?" -eq 0 ]
  "$sender" examples.pos p.a hello --interval 0 --exit >"$tmp/pos-sender.out" 2>"$tmp/pos-sender.err"
  expect "sender STREAM SUBJECT DATA publishes DATA on SUBJECT of STREAM" grep -q -x -F "p.a  5  hello" "$tmp/pos-sender.out"
  expect "on stream STREAM" grep -q "^sender: stream 'examples.pos' " "$tmp/pos-sender.err"
  printf 'from stdin\n' | "$sender" examples.pos p.b --interval 0 --exit --quiet
  expect "sender STREAM SUBJECT reads the payload from stdin" [ "$?" -eq 0 ]
  wait "$receiver_pid"
  expect "receiver STREAM FILTER got 2 messages" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/pos.out"
  expect "p.a = hello" grep -q -E "$ts"'p\.a +5 +hello ' "$tmp/pos.out"
  expect "p.b = 'from stdin'" grep -q -E "$ts"'p\.b +10 +from stdin ' "$tmp/pos.out"
  expect "q.x not printed: the positional FILTER applies" bash -c "! grep -q 'q\.x' '$tmp/pos.out'"
}

case_quiet() {
  needs_netns quiet
  start_receiver quiet examples.quiet --quiet --count 2 --timeout 5s
  "$sender" examples.quiet q.a 1 --interval 0 --exit --quiet
  "$sender" examples.quiet q.b 2 --interval 0 --exit --quiet
  wait "$receiver_pid"
  expect "receiver --quiet --count 2 still counts its messages (exit 0)" [ "$?" -eq 0 ]
  expect "and prints none of them" [ ! -s "$tmp/quiet.out" ]
  expect "but still its final stats" grep -q -E '^receiver: final stats: printed=2 ' "$tmp/quiet.err"
}

case_once() {
  needs_netns once
  "$sender" --stream examples.once --subject o.y --subject o.x --data now --interval 300ms \
    >"$tmp/once-sender.out" 2>"$tmp/once-sender.err" &
  local sender_pid=$! t0 ms status
  pids+=("$sender_pid")
  wait_for "$tmp/once-sender.out" '^o\.x ' 5 || fail "the sender did not publish: $(cat "$tmp/once-sender.err")"
  t0=$(date +%s%N)
  "$receiver" examples.once --once --timeout 3s >"$tmp/once.out" 2>"$tmp/once.err"
  status=$?
  ms=$(ms_since "$t0")
  sed 's/^/    | /' "$tmp/once.out" "$tmp/once.err"
  expect "receiver --once with a sender running exits 0" [ "$status" -eq 0 ]
  expect "it printed the current values, one line per subject, in subject order" \
    [ "$(grep -c -E "$ts"'o\.[xy] +3 +now +publisher=' "$tmp/once.out")" -eq 2 -a \
      "$(head -n 1 "$tmp/once.out" | grep -c -E "$ts"'o\.x ')" -eq 1 ]
  expect "and exited once the answers stopped, before its 3 s timeout (took $ms ms)" [ "$ms" -lt 2500 ]
  expect "no hint when values came" bash -c "! grep -q '^receiver: hint:' '$tmp/once.err'"
  "$receiver" examples.once o.x --once --format json >"$tmp/once-json.out" 2>/dev/null
  expect "receiver --once --format json exits 0" [ "$?" -eq 0 ]
  validate_json "$tmp/once-json.out" >"$tmp/once-json.summary"
  expect "valid JSON" grep -q -x valid "$tmp/once-json.summary"
  expect "exactly the filtered subject's value" [ "$(grep -c '^message examples.once o.x now ' "$tmp/once-json.summary")" -eq 1 -a \
    "$(grep -c '^message ' "$tmp/once-json.summary")" -eq 1 ]
  t0=$(date +%s%N)
  "$receiver" examples.once 'none.*' --once --timeout 500ms >"$tmp/once-none.out" 2>"$tmp/once-none.err"
  status=$?
  ms=$(ms_since "$t0")
  expect "receiver --once matching nothing exits 1" [ "$status" -eq 1 ]
  expect "after its 500 ms timeout, not before (took $ms ms)" [ "$ms" -ge 450 -a "$ms" -lt 5000 ]
  expect "printing no value" [ ! -s "$tmp/once-none.out" ]
  kill -INT "$sender_pid"
  wait "$sender_pid"
  "$receiver" examples.once.nobody --once --timeout 300ms >"$tmp/once-nobody.out" 2>"$tmp/once-nobody.err"
  expect "receiver --once with no sender exits 1" [ "$?" -eq 1 ]
  expect "with the hint" grep -q '^receiver: hint: no publisher answered' "$tmp/once-nobody.err"
}

case_hint() {
  needs_netns hint
  "$sender" --stream examples.hint --subject h.x --data v --interval 200ms >"$tmp/hint-sender.out" 2>&1 &
  local sender_pid=$! group n
  pids+=("$sender_pid")
  wait_for "$tmp/hint-sender.out" '^h\.x ' 5
  # A port range that does not match the sender's: nothing arrives.
  "$receiver" --stream examples.hint --ports 19200 --hint-after 500ms --timeout 2s >"$tmp/hint.out" 2>"$tmp/hint.err"
  expect "receiver without --count exits 0 on --timeout" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/hint.err"
  n="$(grep -c '^receiver: hint:' "$tmp/hint.err")"
  expect "one hint, not one per period ($n)" [ "$n" -eq 1 ]
  group="$(sed -n "s/^receiver: stream 'examples.hint' on \([0-9.]*\):19200 via lo,.*/\1/p" "$tmp/hint.err")"
  expect "it names the group ($group), the port and the interface" \
    grep -q -F "group ${group:-?} port 19200 on lo" "$tmp/hint.err"
  expect "and what to check" grep -q -F -- "same stream name, --pool and --ports" "$tmp/hint.err"
  # The sender's ports: messages arrive, no hint.
  "$receiver" --stream examples.hint --hint-after 500ms --timeout 1500ms >"$tmp/hint2.out" 2>"$tmp/hint2.err"
  expect "a receiver that gets messages exits 0" [ "$?" -eq 0 ]
  expect "and got the value" grep -q -E "$ts"'h\.x +1 +v ' "$tmp/hint2.out"
  expect "and printed no hint" bash -c "! grep -q '^receiver: hint:' '$tmp/hint2.err'"
  # Records of the stream that no filter matches: the hint is about the filter.
  "$receiver" --stream examples.hint --filter 'other.*' --hint-after 500ms --timeout 1500ms >/dev/null 2>"$tmp/hint3.err"
  expect "a filter that matches nothing gets a hint about the filter" \
    grep -q -E "^receiver: hint: [0-9]+ records of stream 'examples.hint' arrived on group .* but none matched the filter 'other\.\*'" \
    "$tmp/hint3.err"
  kill -INT "$sender_pid"
  wait "$sender_pid"
}

case_size() {
  needs_netns size
  local big limit=2000
  big="$(head -c 3000 /dev/zero | tr '\0' x)"
  # Over one datagram is no longer too large: the payload goes out in fragments (issue 20).
  "$sender" examples.size c.d "$big" --exit >/dev/null 2>"$tmp/size-ok.err"
  expect "a 3000-byte --data is published, in fragments (exit 0, fragments_sent=3)" \
    [ "$?" -eq 0 -a "$(final_stat "$tmp/size-ok.err" fragments_sent)" = 3 ]
  "$sender" examples.size c.d "$big" --exit --max-message "$limit" >/dev/null 2>"$tmp/size.err"
  expect "over --max-message 2000 it fails (exit 1)" [ "$?" -eq 1 ]
  sed 's/^/    | /' "$tmp/size.err"
  expect "naming the size and the limit" grep -q -E \
    "^sender: payload of 3000 bytes is over the limit of 2000 bytes \(--max-message\) for stream 'examples.size' and subject 'c.d'$" \
    "$tmp/size.err"
  "$sender" examples.size c.d "$(head -c "$limit" /dev/zero | tr '\0' x)" --exit --quiet --max-message "$limit"
  expect "a payload of exactly the limit ($limit bytes) is published" [ "$?" -eq 0 ]
  "$sender" examples.size c.d "$(head -c $((limit + 1)) /dev/zero | tr '\0' x)" --exit --max-message "$limit" \
    >/dev/null 2>"$tmp/size1.err"
  expect "one byte more is refused" grep -q -F "payload of $((limit + 1)) bytes is over the limit of $limit bytes" "$tmp/size1.err"
  "$sender" examples.size c.d x --max-message 67108865 >/dev/null 2>"$tmp/size-max.err"
  expect "--max-message over 64 MiB is a bad command line (exit 2)" [ "$?" -eq 2 ]
  printf 'c.d %s\nc.e ok\n' "$big" | "$sender" examples.size --interval 0 --exit --max-message "$limit" \
    >/dev/null 2>"$tmp/size-stdin.err"
  expect "from stdin too, and the next line still goes out (exit 1, published=1)" \
    [ "$(grep -c 'payload of 3000 bytes is over the limit' "$tmp/size-stdin.err")" -eq 1 -a \
      "$(final_stat "$tmp/size-stdin.err" published)" = 1 ]
}

case_tail_probes() {
  needs_netns tail_probes
  local published probes datagrams
  "$sender" --stream examples.tail --subject c.d --data p --count 6 --rate 20 --interval 0 --exit \
    >/dev/null 2>"$tmp/tail.err"
  expect "sender exits 0" [ "$?" -eq 0 ]
  grep 'final stats' "$tmp/tail.err" | sed 's/^/    | /'
  published="$(final_stat "$tmp/tail.err" published)"
  probes="$(final_stat "$tmp/tail.err" tail_probes)"
  datagrams="$(final_stat "$tmp/tail.err" datagrams_sent)"
  expect "published=6" [ "${published:-x}" = 6 ]
  expect "the stats show the tail probes (tail_probes=${probes:-?})" [ "${probes:-0}" -gt 0 ]
  expect "datagrams_sent (${datagrams:-?}) = the 6 messages + the tail probes: every datagram accounted for" \
    [ "${datagrams:-0}" -eq $((6 + ${probes:-0})) ]
  "$sender" --stream examples.tail --subject c.d --data p --count 6 --rate 20 --interval 0 --tail-probes 0 --exit \
    >/dev/null 2>"$tmp/tail0.err"
  expect "--tail-probes 0: none sent, one datagram per message" \
    [ "$(final_stat "$tmp/tail0.err" tail_probes)" = 0 -a "$(final_stat "$tmp/tail0.err" datagrams_sent)" = 6 ]
}

case_json_stats() {
  needs_netns json_stats
  "$sender" --stream examples.jstats --subject j.x --data v --interval 100ms --format json --stats 200ms \
    >"$tmp/js-sender.out" 2>"$tmp/js-sender.err" &
  local sender_pid=$!
  pids+=("$sender_pid")
  wait_for "$tmp/js-sender.out" '"event":"published"' 5
  "$receiver" --stream examples.jstats --format json --stats 200ms --timeout 1s >"$tmp/js.out" 2>"$tmp/js.err"
  expect "receiver exits 0" [ "$?" -eq 0 ]
  wait_for "$tmp/js-sender.out" '"event":"stats"' 5
  kill -INT "$sender_pid"
  wait "$sender_pid"
  expect "sender exits 0 on SIGINT" [ "$?" -eq 0 ]
  validate_json "$tmp/js.out" >"$tmp/js.summary"
  validate_json "$tmp/js-sender.out" >"$tmp/js-sender.summary"
  sed 's/^/    | /' "$tmp/js.summary" "$tmp/js-sender.summary"
  expect "receiver: every line is JSON" grep -q -x valid "$tmp/js.summary"
  expect "receiver: periodic stats lines" [ "$(grep -c '^stats receiver periodic ' "$tmp/js.summary")" -ge 2 ]
  expect "receiver: one final stats line" [ "$(grep -c '^stats receiver final ' "$tmp/js.summary")" -eq 1 ]
  expect "receiver: with every counter of the stream and the transport" \
    grep -q -E '^stats receiver final printed=1 datagrams_received=[0-9]+ .*duplicates=[0-9]+ .*tracked_subjects=1 .*transport\.datagrams_sent=.*transport\.busy_poll_datagrams=[0-9]+$' \
    "$tmp/js.summary"
  expect "receiver: no stats text on stderr in JSON mode" bash -c "! grep -q -E '^receiver: (final )?stats' '$tmp/js.err'"
  expect "sender: every line is JSON" grep -q -x valid "$tmp/js-sender.summary"
  expect "sender: published lines" grep -q '^published examples.jstats j.x v$' "$tmp/js-sender.summary"
  expect "sender: periodic stats lines" [ "$(grep -c '^stats sender periodic ' "$tmp/js-sender.summary")" -ge 1 ]
  expect "sender: one final stats line with every counter" \
    [ "$(grep -c -E '^stats sender final +published=1 resent=[0-9]+ .*tail_probes=[0-9]+ .*would_block=0( |$)' "$tmp/js-sender.summary")" -eq 1 ]
}

# ---------------------------------------------------------------------------------------------
case_list() {
  needs_netns list
  # Nothing announced yet: exit 1 and one hint naming the announce channel (239.255.63.170
  # port 19094 in the default pool: docs/wire-format.md, "Announcement (kind 3)").
  "$receiver" --list --wait 300ms >"$tmp/list0.out" 2>"$tmp/list0.err"
  expect "--list with nothing announced exits 1" [ "$?" -eq 1 ]
  expect "and prints nothing on stdout" [ ! -s "$tmp/list0.out" ]
  expect "and one hint naming the announce channel" grep -q -E '^receiver: hint: no stream was announced on group 239\.255\.63\.170 port 19094 on lo' "$tmp/list0.err"

  # Two senders on two streams: 3 subjects on one, 2 on the other; "list.slow" stops later.
  "$sender" list.plant --subject p.a --subject p.b --subject p.c --data v --interval 200 --count 100000 --rate 20 \
    --announce-period 500ms >"$tmp/list-a.out" 2>"$tmp/list-a.err" &
  local a_pid=$!
  pids+=("$a_pid")
  "$sender" list.fx --subject f.eur --subject f.usd --data 1.0 --interval 200 \
    --announce-period 500ms >"$tmp/list-b.out" 2>"$tmp/list-b.err" &
  local b_pid=$!
  pids+=("$b_pid")
  wait_for "$tmp/list-a.out" '^p\.c ' 5
  wait_for "$tmp/list-b.out" '^f\.usd ' 5
  "$receiver" --list --wait 1200ms >"$tmp/list1.out" 2>"$tmp/list1.err"
  expect "--list exits 0" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/list1.err" "$tmp/list1.out"
  expect "a banner names the announce channel" grep -q -F 'receiver: listing streams announced on 239.255.63.170:19094 via lo' "$tmp/list1.err"
  expect "a header line" grep -q -E '^STREAM +PUBLISHERS +SUBJECTS +MSGS/S +SUBSCRIBERS +HOSTS$' "$tmp/list1.out"
  expect "list.fx with 1 publisher and 2 subjects" grep -q -E '^list\.fx +1 +2 +[0-9.]+ +0 +[^ ]+ \(sender [0-9]+\)$' "$tmp/list1.out"
  expect "list.plant with 1 publisher and 3 subjects" grep -q -E '^list\.plant +1 +3 +[0-9.]+ +0 +[^ ]+ \(sender [0-9]+\)$' "$tmp/list1.out"
  expect "the columns are aligned" [ "$(awk '{ print index($0, $2) }' "$tmp/list1.out" | sort -u | wc -l)" -eq 1 ]
  expect "three lines: header and two streams" [ "$(wc -l <"$tmp/list1.out")" -eq 3 ]

  # JSON lines, and a receiver's own subscription announced too.
  start_receiver list-sub list.fx 'f.*' --quiet --announce-period 500ms
  sleep 0.3  # its first announcement has gone out: the listing below hears the next ones
  "$receiver" --list --wait 1200ms --format json >"$tmp/list2.out" 2>"$tmp/list2.err"
  expect "--list --format json exits 0" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/list2.out"
  python3 - "$tmp/list2.out" >"$tmp/list2.summary" <<'EOF2'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert o["event"] == "stream", o
    pubs = o["publishers"]
    subs = o["subscribers"]
    print(o["stream"], o["subjects"], len(pubs), len(subs),
          " ".join(p["program"] for p in pubs), " ".join(",".join(s["filters"]) for s in subs),
          "rate" if all(p["rate"] >= 0 for p in pubs) else "norate")
EOF2
  expect "JSON: list.fx, 2 subjects, 1 publisher, the receiver's subscription 'f.*'" grep -q -x -F "list.fx 2 1 1 sender f.* rate" "$tmp/list2.summary"
  expect "JSON: list.plant, 3 subjects, 1 publisher, no subscriber" grep -q -x -F "list.plant 3 1 0 sender  rate" "$tmp/list2.summary"
  expect "JSON: list.plant publishes about 20 messages/s" python3 -c "
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o['stream'] == 'list.plant': sys.exit(0 if 10 <= o['rate'] <= 30 else 1)
sys.exit(1)" "$tmp/list2.out"
  expect "--list STREAM lists only that stream" sh -c "'$receiver' --list list.plant --wait 1200ms 2>/dev/null | grep -c . | grep -q -x 2"

  # A sender that stops while the listing runs: heard first, then gone 3 announce periods
  # (1.5 s) after its last announcement, while the other stays.
  "$receiver" --list --wait 3500ms >"$tmp/list3.out" 2>"$tmp/list3.err" &
  local l_pid=$!
  pids+=("$l_pid")
  wait_for "$tmp/list3.err" '^receiver: listing ' 5
  sleep 0.8  # list.fx's publisher (500 ms period) is heard at least once
  kill -INT "$b_pid"
  wait "$b_pid"
  wait "$l_pid"
  expect "--list exits 0 with one sender left" [ "$?" -eq 0 ]
  sed 's/^/    | /' "$tmp/list3.out" "$tmp/list3.err"
  expect "the stopped sender's entry appeared and then disappeared" grep -q -E '^receiver: listed 2 streams: .*appeared=3 disappeared=1 ' "$tmp/list3.err"
  expect "list.plant is still listed" grep -q -E '^list\.plant +1 +3 ' "$tmp/list3.out"
  expect "but list.fx only with its subscriber" grep -q -E '^list\.fx +0 +0 +0\.0 +1 ' "$tmp/list3.out"
  kill -INT "$a_pid"
  wait "$a_pid"
}

# Keyed streams (docs/security.md): --gen-key, --key-file, a receiver with the key, one with
# the wrong key and one with none, and key files that are wrong.
case_keys() {
  needs_netns keys
  "$sender" --gen-key >"$tmp/k1"
  expect "--gen-key exits 0" [ "$?" -eq 0 ]
  "$sender" --gen-key >"$tmp/k2"
  expect "--gen-key prints 64 lowercase hex digits" grep -q -x -E '[0-9a-f]{64}' "$tmp/k1"
  expect "and a fresh key each time" bash -c "! cmp -s '$tmp/k1' '$tmp/k2'"
  echo "0123" >"$tmp/short"
  run_bad sender "key file '$tmp/short': a stream key has 64 hexadecimal digits, this text has 4 characters" \
    keys.plant a.b 1 --key-file "$tmp/short"
  expect "the message does not show the file's digits" bash -c "! grep -q 0123 '$tmp/bad.err'"
  run_bad receiver "key file '$tmp/none': cannot be read" keys.plant --key-file "$tmp/none"

  start_receiver keys-good keys.plant --key-file "$tmp/k1" --format json --count 2 --timeout 5000
  start_receiver keys-wrong keys.plant --key-file "$tmp/k2" --timeout 1500
  start_receiver keys-none keys.plant --timeout 1500
  "$sender" keys.plant --key-file "$tmp/k1" --subject k.a --data secret-value --count 2 --interval 0 --exit \
    >"$tmp/keys-sender.out" 2>"$tmp/keys-sender.err"
  expect "a keyed sender exits 0" [ "$?" -eq 0 ]
  wait "${pids[-3]}"
  expect "the receiver with the key got both messages" [ "$?" -eq 0 ]
  validate_json "$tmp/keys-good.out" >"$tmp/keys-good.summary"
  expect "with their payloads" grep -q -x -F "message keys.plant k.a secret-value#2 new live 0" "$tmp/keys-good.summary"
  wait "${pids[-2]}"
  wait "${pids[-1]}"
  sed 's/^/    | /' "$tmp/keys-wrong.err" "$tmp/keys-none.err"
  expect "the receiver with the wrong key delivered nothing" [ ! -s "$tmp/keys-wrong.out" ]
  expect "and counted the datagrams it refused" grep -q -E 'final stats: printed=0 .* delivered=0 .* rejected=[1-9]' "$tmp/keys-wrong.err"
  expect "the receiver without a key delivered nothing" [ ! -s "$tmp/keys-none.out" ]
  expect "and counted them too" grep -q -E 'final stats: printed=0 .* rejected=[1-9]' "$tmp/keys-none.err"
}

case_peers() {
  run_bad sender "--peer 'nohost': not HOST:PORT" peers.plant a.b 1 --peer nohost --exit
  run_bad sender "--peer '127.0.0.1:0': not HOST:PORT" peers.plant a.b 1 --peer 127.0.0.1:0 --exit
  run_bad sender "--no-multicast needs at least one --peer" peers.plant a.b 1 --no-multicast --exit
  run_bad receiver "--no-multicast needs --listen" peers.plant --no-multicast
  needs_netns peers
  start_receiver peers-uc peers.plant --listen 19611 --no-multicast --format json --count 2 --timeout 5000
  start_receiver peers-mc peers.plant --timeout 1500
  "$sender" peers.plant --subject p.a --subject p.b --data v --interval 0 --exit \
    --peer 127.0.0.1:19611 --no-multicast >"$tmp/peers-sender.out" 2>"$tmp/peers-sender.err"
  expect "sender --peer --no-multicast exits 0" [ "$?" -eq 0 ]
  wait "${pids[-2]}"
  expect "receiver --listen --no-multicast got both values" [ "$?" -eq 0 ]
  wait "${pids[-1]}"
  expect "a multicast-only receiver got nothing" [ ! -s "$tmp/peers-mc.out" ]
}

case_file() {
  # Without a network first: the command-line errors.
  run_bad sender "cannot read --file '$tmp/none.bin': No such file or directory" \
    examples.file f.a --file "$tmp/none.bin" --exit
  head -c 3000 /dev/urandom >"$tmp/small.bin"
  run_bad sender "--file '$tmp/small.bin' is 3000 bytes, over the limit of 2000 bytes (--max-message)" \
    examples.file f.a --file "$tmp/small.bin" --max-message 2000 --exit
  run_bad sender "--file and a payload" examples.file f.a x --file "$tmp/small.bin" --exit
  run_bad receiver "--save '$tmp/nodir': no such directory" examples.file --save "$tmp/nodir"
  needs_netns file
  head -c 300000 /dev/urandom >"$tmp/big.bin"
  printf 'a line of text, then more: %0300d' 0 >"$tmp/text.txt"
  mkdir "$tmp/saved"
  start_receiver file --stream examples.file --format json --save "$tmp/saved" --count 3 --timeout 8000
  start_receiver file-human examples.file --count 3 --timeout 8000
  "$sender" examples.file --subject f.big --subject f.copy --file "$tmp/big.bin" --interval 0 --exit \
    >"$tmp/file-sender.out" 2>"$tmp/file-sender.err"
  expect "sender --file on two subjects exits 0" [ "$?" -eq 0 ]
  "$sender" examples.file --subject f.text --file "$tmp/text.txt" --interval 0 --exit --quiet
  expect "sender --file of a text file exits 0" [ "$?" -eq 0 ]
  wait "${pids[-2]}"
  expect "receiver --save --count 3 exits 0" [ "$?" -eq 0 ]
  wait "${pids[-1]}"
  expect "receiver (human) --count 3 exits 0" [ "$?" -eq 0 ]
  expect "the file is saved byte-identical as DIR/f.big" cmp -s "$tmp/big.bin" "$tmp/saved/f.big"
  expect "and as DIR/f.copy" cmp -s "$tmp/big.bin" "$tmp/saved/f.copy"
  expect "and the text file as DIR/f.text" cmp -s "$tmp/text.txt" "$tmp/saved/f.text"
  expect "no temporary file is left in DIR" [ "$(ls -A "$tmp/saved" | wc -l)" -eq 3 ]
  local hash
  hash="$(xxhsum -H3 "$tmp/big.bin" | sed -E 's/.*= ([0-9a-f]{16}).*/\1/; s/^XXH3_([0-9a-f]{16}) .*/\1/')"
  validate_json "$tmp/file.out" >"$tmp/file.summary"
  sed 's/^/    | /' "$tmp/file.summary"
  expect "every JSON line is valid and carries size and xxh3" grep -q -x valid "$tmp/file.summary"
  expect "the 300000-byte message: size and xxh3 as xxhsum -H3 says ($hash), payload left out" \
    grep -q -x -F "message examples.file f.big omitted:300000:$hash new live 0" "$tmp/file.summary"
  expect "the small text file: its payload in the JSON line" grep -q -E "^message examples.file f.text a line of text" \
    "$tmp/file.summary"
  sed 's/^/    | /' "$tmp/file-human.out" | cut -c1-160
  expect "human output previews the large payload (first bytes, then the rest's count)" \
    grep -q -E "  f\.text  327  a line of text, then more: 0+\.\.\. \(\+263 bytes\)  publisher=" "$tmp/file-human.out"
  expect "the sender's echo previews it too" grep -q -E "^f\.big  300000  hex:[0-9a-f]{2,128}\.\.\. \(\+[0-9]+ bytes\)$" \
    "$tmp/file-sender.out"
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
    version) case_version ;;
    durations) case_durations ;;
    env) case_env ;;
    positional) case_positional ;;
    quiet) case_quiet ;;
    once) case_once ;;
    hint) case_hint ;;
    size) case_size ;;
    tail_probes) case_tail_probes ;;
    json_stats) case_json_stats ;;
    list) case_list ;;
    keys) case_keys ;;
    file) case_file ;;
    peers) case_peers ;;
    *) echo "test_programs.sh: unknown case '$c'" >&2; exit 2 ;;
  esac
done

harness_end programs
