#!/usr/bin/env bash
# test_monitor.sh SENDER MONITOR [CASE...]
#
# Tests examples/monitor as a user runs it, with senders publishing. CASEs (default: all):
#   help     --help exits 0 and names every option and endpoint; --version
#   errors   bad flags give one line naming the value on stderr, exit status 2; an HTTP port
#            in use: exit 1 naming it
#   api      two senders on two streams: /api/streams lists both with their subjects;
#            /api/streams/NAME has each subject's preview (text, hex, cut), size, xxh3, age and
#            the publishers' host, program and pid; a value that changes is seen changing;
#            --stream watches only the named stream; 404 for an unknown one; SIGTERM: exit 0
#   metrics  /metrics parses as Prometheus text (prometheus_client's parser): the families,
#            their types and labels (a stream name with a quote and a backslash escaped), and
#            the message counters grow between two scrapes
#   browser  headless Chromium loads the page: the DOM shows the streams, subjects and a
#            value, and the value shown changes; a screenshot is saved to
#            $RACKET_MONITOR_SCREENSHOT (default: monitor.png in the current directory)
#
# Every case runs only inside a private network namespace (CTest runs this script through
# tests/tools/in_netns.sh): when an interface other than `lo` is visible it sends nothing and
# exits 77 (skipped; under CI=true it fails instead, tests/tools/skip.sh).
# SPDX-License-Identifier: MIT
set -u

if [ "$#" -lt 2 ]; then
  echo "usage: $0 SENDER MONITOR [CASE...]" >&2
  exit 2
fi
sender="$1"
monitor="$2"
shift 2
cases=("$@")
[ "${#cases[@]}" -gt 0 ] || cases=(help errors api metrics browser)

. "$(dirname "$0")/../tools/harness.sh"
harness_start monitor "$sender" "$monitor"

port=18088
base="http://127.0.0.1:$port"

# start_monitor NAME ARGS...: the monitor in the background, once it serves.
start_monitor() {
  local name="$1"
  shift
  "$monitor" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  monitor_pid=$!
  pids+=("$monitor_pid")
  wait_for "$tmp/$name.err" '^monitor: serving ' 5 || fail "monitor $name did not start: $(cat "$tmp/$name.err")"
}

# The publishers of the api, metrics and browser cases:
#   mon.plant: p.temp and p.pressure, a new value 10 times a second ("21.5#N");
#   mon.fx:    fx.eur (one value), fx.long (300 bytes), fx.bin (bytes 01 02 ff, from stdin);
#   with --quote: also a stream named mon.q"b\s (a quote and a backslash).
start_senders() {
  "$sender" mon.plant --subject p.temp --subject p.pressure --data 21.5 --count 1000000 --rate 10 \
    --interval 200 --announce-period 500ms >"$tmp/plant.out" 2>"$tmp/plant.err" &
  plant_pid=$!
  pids+=("$plant_pid")
  "$sender" mon.fx --subject fx.eur --data 1.0842 --interval 200 --announce-period 500ms \
    >"$tmp/fx.out" 2>"$tmp/fx.err" &
  fx_pid=$!
  pids+=("$fx_pid")
  "$sender" mon.fx --subject fx.long --data "$(printf 'x%.0s' $(seq 300))" --interval 200 --announce-period 500ms \
    >"$tmp/long.out" 2>"$tmp/long.err" &
  pids+=("$!")
  # Its stdin stays open (fd 7 of this script) so it keeps publishing; no helper process
  # outlives the script.
  mkfifo "$tmp/bin.fifo"
  "$sender" mon.fx --interval 200 --announce-period 500ms <"$tmp/bin.fifo" >"$tmp/bin.out" 2>"$tmp/bin.err" &
  pids+=("$!")
  exec 7>"$tmp/bin.fifo"
  printf 'fx.bin \001\002\377\n' >&7
  if [ "${1:-}" = --quote ]; then
    "$sender" 'mon.q"b\s' --subject q.x --data 1 --count 1000000 --rate 10 --interval 200 --announce-period 500ms \
      >"$tmp/quote.out" 2>"$tmp/quote.err" &
    pids+=("$!")
  fi
}

# py SCRIPT ARGS...: python3 with get(path) -> (status, body) and wait_json(path, predicate).
py() {
  local script="$1"
  shift
  "${python:-python3}" - "$base" "$@" <<EOF
import json, sys, time, urllib.error, urllib.parse, urllib.request
base = sys.argv[1]
args = sys.argv[2:]
def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8")
def get_json(path):
    return json.loads(get(path)[2])
def wait_json(path, pred, seconds=10):
    end = time.time() + seconds
    while True:
        try:
            j = get_json(path)
            if pred(j):
                return j
        except Exception:
            j = None
        if time.time() > end:
            print("timed out waiting on", path, json.dumps(j)[:2000])
            sys.exit(1)
        time.sleep(0.2)
$script
EOF
}

# ---------------------------------------------------------------------------------------------
case_help() {
  "$monitor" --help >"$tmp/help.out" 2>"$tmp/help.err"
  expect "--help exits 0" [ "$?" -eq 0 ]
  expect "--help writes nothing to stderr" [ ! -s "$tmp/help.err" ]
  local o
  for o in --pool --ports --interface --stream --filter --http --announce-period --expiry-factor --max-streams \
    --help --version; do
    expect "--help mentions $o" grep -q -E -e "^  (-[a-zA-Z],)?$o\\b" "$tmp/help.out"
  done
  for o in /api/streams /api/streams/NAME /api/snapshot /metrics; do
    expect "--help names the endpoint $o" grep -q -E -e "^  $o " "$tmp/help.out"
  done
  expect "--help shows the positional form" grep -q -E '^Usage: monitor \[OPTIONS\] \[STREAM\.\.\.\]' "$tmp/help.out"
  expect "--help names the default address" grep -q -F '127.0.0.1:8088' "$tmp/help.out"
  "$monitor" --version >"$tmp/version.out" 2>&1
  expect "--version exits 0" [ "$?" -eq 0 ]
  expect "--version prints the version" grep -q -x -F "monitor (Racket) ${RACKET_EXPECTED_VERSION:-unknown}" "$tmp/version.out"
}

# run_bad EXPECTED_TEXT ARGS...: one line on stderr containing EXPECTED_TEXT, nothing on
# stdout, exit status 2.
run_bad() {
  local text="$1"
  shift
  "$monitor" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err"
  local status=$?
  expect "monitor $* exits 2" [ "$status" -eq 2 ]
  expect "monitor $* prints one line on stderr" [ "$(wc -l <"$tmp/bad.err")" -eq 1 ]
  expect "monitor $* names the problem ($text)" grep -q -F -- "$text" "$tmp/bad.err"
  expect "monitor $* prints nothing on stdout" [ ! -s "$tmp/bad.out" ]
}

case_errors() {
  needs_netns errors
  run_bad "monitor: --http 'nope': expected ADDR:PORT" --http nope
  run_bad "monitor: --http '127.0.0.1:99999': expected a port from 0 to 65535" --http 127.0.0.1:99999
  run_bad "monitor: --http 'localhost:80': 'localhost' is not an IP address" --http localhost:80
  run_bad "monitor: subject filter 'a..b': invalid" --filter a..b
  run_bad "monitor: multicast pool '10.0.0.0/8'" --pool 10.0.0.0/8
  run_bad "--max-streams: '0': expected a whole number from 1 to 4096" --max-streams 0
  run_bad "--announce-period: '5x': expected a duration" --announce-period 5x
  run_bad "The following argument was not expected: --bogus" --bogus
  run_bad "monitor: interface 'nosuch0'" --interface nosuch0
  # An HTTP port in use: exit 1, naming it.
  start_monitor first --http "127.0.0.1:$port" --announce-period 0
  "$monitor" --http "127.0.0.1:$port" >"$tmp/second.out" 2>"$tmp/second.err"
  expect "a second monitor on the same port exits 1" [ "$?" -eq 1 ]
  expect "naming the address" grep -q -F "monitor: cannot listen on --http '127.0.0.1:$port'" "$tmp/second.err"
  "$monitor" --http 127.0.0.1:0 --announce-period 0 >"$tmp/any.out" 2>"$tmp/any.err" &
  local any_pid=$!
  pids+=("$any_pid")
  wait_for "$tmp/any.err" '^monitor: serving ' 5
  expect "--http ADDR:0 serves on a free port and says which" \
    grep -q -E '^monitor: serving http://127\.0\.0\.1:[1-9][0-9]*/ ' "$tmp/any.err"
  kill -INT "$any_pid"
  wait "$any_pid"
  expect "SIGINT: exit 0" [ "$?" -eq 0 ]
  expect "and says it stopped" grep -q -x 'monitor: stopped' "$tmp/any.err"
}

case_api() {
  needs_netns api
  start_senders
  start_monitor api --http "127.0.0.1:$port" --announce-period 500ms
  py '
j = wait_json("/api/streams", lambda j: {s["name"]: s["subjects"] for s in j["streams"]} == {"mon.plant": 2, "mon.fx": 3})
print("streams", " ".join(s["name"] + ":" + str(s["subjects"]) for s in j["streams"]))
print("pool", j["pool"])
' >"$tmp/api1.out" 2>&1
  expect "/api/streams lists mon.plant (2 subjects) and mon.fx (3)" grep -q -x 'streams mon.fx:3 mon.plant:2' "$tmp/api1.out"
  expect "and names the pool" grep -q '^pool 239\.255\.0\.0/16' "$tmp/api1.out"
  sed 's/^/    | /' "$tmp/api1.out"

  py '
import re
j = wait_json("/api/streams/mon.fx", lambda j: len(j["subjects"]) == 3 and len(j["publishers"]) == 3
              and all(p["announced"] for p in j["publishers"]))
subs = {s["subject"]: s for s in j["subjects"]}
e, l, b = subs["fx.eur"], subs["fx.long"], subs["fx.bin"]
print("eur", e["text"], e["size"], e["cut"], bool(re.fullmatch("[0-9a-f]{16}", e["xxh3"])), e["age_ms"] >= 0)
print("long", len(l["text"]), l["size"], l["cut"])
print("bin", b.get("hex"), b["size"], "text" in b)
print("publishers", " ".join(sorted(p["program"] for p in j["publishers"])),
      all(p["host"] and p["pid"] > 0 for p in j["publishers"]))
print("pids", " ".join(str(p["pid"]) for p in j["publishers"]))
print("counters", j["counters"]["received"] > 0, "gaps" in j["counters"])
' >"$tmp/api2.out" 2>&1
  sed 's/^/    | /' "$tmp/api2.out"
  expect "fx.eur: text preview, size, xxh3, age" grep -q -x 'eur 1.0842 6 False True True' "$tmp/api2.out"
  expect "fx.long: a preview cut to 96 of its 300 bytes" grep -q -x 'long 96 300 True' "$tmp/api2.out"
  expect "fx.bin: a hex preview" grep -q -x 'bin 0102ff 3 False' "$tmp/api2.out"
  expect "three publishers, program sender, with host and pid" grep -q -x 'publishers sender sender sender True' "$tmp/api2.out"
  expect "the publishers' pids are the senders'" grep -q -w "$fx_pid" "$tmp/api2.out"
  expect "the stream's counters" grep -q -x 'counters True True' "$tmp/api2.out"

  py '
first = wait_json("/api/streams/mon.plant", lambda j: any(s["subject"] == "p.temp" for s in j["subjects"]))
v1 = next(s["text"] for s in first["subjects"] if s["subject"] == "p.temp")
later = wait_json("/api/streams/mon.plant", lambda j: next(s["text"] for s in j["subjects"] if s["subject"] == "p.temp") != v1)
v2 = next(s["text"] for s in later["subjects"] if s["subject"] == "p.temp")
print("changed", v1.startswith("21.5#"), v2.startswith("21.5#"), v1 != v2)
p = later["publishers"][0]
print("rate", 5 <= p["rate"] <= 40, p["messages"] > 0)
print("status", get("/api/streams/no.such")[0], get("/nothing")[0])
print("type", get("/api/streams")[1])
' >"$tmp/api3.out" 2>&1
  sed 's/^/    | /' "$tmp/api3.out"
  expect "p.temp's value is seen changing" grep -q -x 'changed True True True' "$tmp/api3.out"
  expect "its publisher's rate is about 20 messages/s (2 subjects at 10/s)" grep -q -x 'rate True True' "$tmp/api3.out"
  expect "an unknown stream or path: 404" grep -q -x 'status 404 404' "$tmp/api3.out"
  expect "JSON is served as application/json" grep -q -x 'type application/json' "$tmp/api3.out"

  kill -TERM "$monitor_pid"
  wait "$monitor_pid"
  expect "SIGTERM: exit 0" [ "$?" -eq 0 ]
  expect "and says it stopped" grep -q -x 'monitor: stopped' "$tmp/api.err"

  # --stream: only the named stream, subscribed at once (no announcement needed).
  start_monitor named --http "127.0.0.1:$port" --stream mon.fx --announce-period 0
  py '
j = wait_json("/api/streams", lambda j: j["streams"] and j["streams"][0]["subjects"] == 3, 5)
import time; time.sleep(1.2)
j = get_json("/api/streams")
print("named", " ".join(s["name"] for s in j["streams"]))
' >"$tmp/api4.out" 2>&1
  expect "--stream mon.fx watches only mon.fx" grep -q -x 'named mon.fx' "$tmp/api4.out"
  sed 's/^/    | /' "$tmp/api4.out"
}

case_metrics() {
  needs_netns metrics
  # Debian's python3-prometheus-client is in the system python: a python3 earlier on PATH
  # (a virtualenv, pyenv) may not have it.
  local python=
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import prometheus_client' 2>/dev/null; then
      python="$p"
      break
    fi
  done
  if [ -z "$python" ]; then
    fail "python3 has no prometheus_client (scripts/setup-deps.sh installs python3-prometheus-client)"
    return
  fi
  start_senders --quote
  start_monitor metrics --http "127.0.0.1:$port" --announce-period 500ms
  py '
from prometheus_client.parser import text_string_to_metric_families
wait_json("/api/streams", lambda j: len(j["streams"]) == 3 and all(s["subjects"] and s["publishers"] for s in j["streams"]))
time.sleep(1.2)  # a tick: the rates and the counters are in
def scrape():
    status, ctype, text = get("/metrics")
    assert status == 200, status
    print("type", ctype)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    return text, fams
text, a = scrape()
for name, typ in [("racket_stream_received", "counter"), ("racket_stream_gaps", "counter"),
                  ("racket_stream_repairs_requested", "counter"), ("racket_stream_tracked_subjects", "gauge"),
                  ("racket_stream_subjects", "gauge"), ("racket_stream_rate", "gauge"),
                  ("racket_publisher_messages", "counter"), ("racket_publisher_gaps", "counter"),
                  ("racket_publisher_rate", "gauge"), ("racket_publisher_info", "gauge"),
                  ("racket_transport_kernel_drops", "counter"), ("racket_directory_announcements", "counter"),
                  ("racket_monitor_streams", "gauge")]:
    f = a.get(name)
    print("family", name, f.type if f else None, bool(f and f.documentation))
def samples(fams, name, stream):
    return [s for s in fams[name].samples if s.labels.get("stream") == stream]
print("labels", sorted(samples(a, "racket_publisher_messages", "mon.plant")[0].labels))
print("info", sorted(samples(a, "racket_publisher_info", "mon.plant")[0].labels.items())[1:])
print("quoted", len(samples(a, "racket_stream_received", "mon.q\"b\\s")), "racket_stream_received_total{stream=\"mon.q\\\"b\\\\s\"}" in text)
print("subjects", samples(a, "racket_stream_subjects", "mon.fx")[0].value)
print("counter names", all(s.name.endswith("_total") for s in a["racket_stream_received"].samples))
first = samples(a, "racket_publisher_messages", "mon.plant")[0].value
first_rx = samples(a, "racket_stream_received", "mon.plant")[0].value
deadline = time.time() + 10  # scrape until both counters grew (the model ticks every second)
while True:
    time.sleep(0.2)
    text, b = scrape()
    second = samples(b, "racket_publisher_messages", "mon.plant")[0].value
    second_rx = samples(b, "racket_stream_received", "mon.plant")[0].value
    if (second > first and second_rx > first_rx) or time.time() > deadline:
        break
print("grows", second > first, second_rx > first_rx)
' >"$tmp/metrics.out" 2>&1
  sed 's/^/    | /' "$tmp/metrics.out"
  expect "served as text/plain version 0.0.4" grep -q -x -F 'type text/plain; version=0.0.4; charset=utf-8' "$tmp/metrics.out"
  local f
  for f in "racket_stream_received counter" "racket_stream_gaps counter" "racket_stream_repairs_requested counter" \
    "racket_stream_tracked_subjects gauge" "racket_stream_subjects gauge" "racket_stream_rate gauge" \
    "racket_publisher_messages counter" "racket_publisher_gaps counter" "racket_publisher_rate gauge" \
    "racket_publisher_info gauge" "racket_transport_kernel_drops counter" "racket_directory_announcements counter" \
    "racket_monitor_streams gauge"; do
    expect "family $f, with HELP" grep -q -x -F "family $f True" "$tmp/metrics.out"
  done
  expect "publisher samples are labelled stream and publisher" grep -q -x -F "labels ['publisher', 'stream']" "$tmp/metrics.out"
  expect "racket_publisher_info names host, pid, program" grep -q -E "^info \[\('pid', '[0-9]+'\), \('program', 'sender'\), \('publisher', '[0-9a-f]{16}'\), \('stream', 'mon.plant'\)\]$" "$tmp/metrics.out"
  expect "a stream name with a quote and a backslash is escaped and parses back" grep -q -x 'quoted 1 True' "$tmp/metrics.out"
  expect "racket_stream_subjects of mon.fx is 3" grep -q -x 'subjects 3.0' "$tmp/metrics.out"
  expect "counters end in _total" grep -q -x 'counter names True' "$tmp/metrics.out"
  expect "the message counters grow between two scrapes" grep -q -x 'grows True True' "$tmp/metrics.out"
}

# chromium_run OUT ARGS...: headless Chromium with a private profile, its output in OUT.
chromium_run() {
  local out="$1"
  shift
  HOME="$tmp/home" timeout 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
    --disable-dev-shm-usage --user-data-dir="$tmp/chrome" "$@" >"$out" 2>"$tmp/chromium.err"
}

case_browser() {
  needs_netns browser
  if ! command -v chromium >/dev/null; then
    racket_skip "chromium is not installed (scripts/setup-deps.sh installs it)"
  fi
  mkdir -p "$tmp/home"
  start_senders
  start_monitor browser --http "127.0.0.1:$port" --announce-period 500ms
  py 'wait_json("/api/streams", lambda j: len(j["streams"]) == 2 and all(s["subjects"] for s in j["streams"]))' \
    || fail "the monitor did not list both streams"
  chromium_run "$tmp/dom1.html" --virtual-time-budget=5000 --dump-dom "$base/"
  expect "chromium --dump-dom exits 0" [ "$?" -eq 0 ]
  python3 - "$tmp/dom1.html" >"$tmp/dom1.out" <<'EOF'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.cells, self.h2 = [], [], []
    def handle_starttag(self, tag, attrs):
        self.stack.append((tag, dict(attrs).get("class", "")))
    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass
    def handle_data(self, data):
        if not self.stack:
            return
        tag, cls = self.stack[-1]
        if tag == "h2":
            self.h2.append(data)
        if any(t == "td" and "value" in c for t, c in self.stack):
            self.cells.append(data)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
print("streams", " ".join(sorted(p.h2)))
print("values", " ".join(v for v in p.cells if v.startswith("21.5#")) or "none")
print("eur", "1.0842" in p.cells)
EOF
  sed 's/^/    | /' "$tmp/dom1.out"
  expect "the page shows both streams" grep -q -x 'streams mon.fx mon.plant' "$tmp/dom1.out"
  expect "and the value of fx.eur" grep -q -x 'eur True' "$tmp/dom1.out"
  expect "and the subjects" grep -q -F '>p.temp<' "$tmp/dom1.html"
  expect "and a value of p.temp" grep -q -E '^values 21\.5#[0-9]+' "$tmp/dom1.out"
  # The value shown changes when the sender publishes a new one: load the page again until it
  # shows another value (the sender publishes 10 per second), at most 5 times.
  local shot="${RACKET_MONITOR_SCREENSHOT:-$PWD/monitor.png}" try
  grep -o -E '21\.5#[0-9]+' "$tmp/dom1.html" | sort -u >"$tmp/v1"
  for try in 1 2 3 4 5; do
    chromium_run "$tmp/dom2.html" --virtual-time-budget=5000 --dump-dom "$base/"
    grep -o -E '21\.5#[0-9]+' "$tmp/dom2.html" | sort -u >"$tmp/v2"
    [ -s "$tmp/v2" ] && ! cmp -s "$tmp/v1" "$tmp/v2" && break
  done
  expect "a second load shows a new value of p.temp" bash -c "[ -s '$tmp/v2' ] && ! cmp -s '$tmp/v1' '$tmp/v2'"
  rm -f "$shot"
  chromium_run "$tmp/shot.out" --virtual-time-budget=5000 --hide-scrollbars --window-size=1280,800 \
    --screenshot="$shot" "$base/"
  expect "a screenshot is saved to $shot" [ -s "$shot" ]
  if [ "$failures" -ne 0 ]; then sed 's/^/    chromium| /' "$tmp/chromium.err" | tail -20; fi
}

for c in "${cases[@]}"; do
  echo "--- $c"
  case "$c" in
    help) case_help ;;
    errors) case_errors ;;
    api) case_api ;;
    metrics) case_metrics ;;
    browser) case_browser ;;
    *) echo "test_monitor.sh: unknown case '$c'" >&2; exit 2 ;;
  esac
done

harness_end monitor
