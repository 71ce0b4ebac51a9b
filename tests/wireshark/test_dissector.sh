#!/usr/bin/env bash
# test_dissector.sh CASE LUA DOC [SENDER RECEIVER]
#
# Tests tools/wireshark/racket.lua with tshark. CASEs:
#   vectors   every test vector of docs/wire-format.md (hex read from the document, written into
#             a pcap by dissector_test.py): every field as the document gives it, no expert info
#   hostile   truncated, bad-version, bad-kind, garbage and bad-length datagrams, every
#             truncation and thousands of mutations of the vectors: each flagged with expert
#             info, no Lua error, tshark exits 0
#   capture   in a private network namespace: dumpcap on lo while the real sender publishes
#             three subjects, receiver --once asks for a snapshot, the sender withdraws them at
#             exit (tombstones) and a second sender publishes on another stream; then the
#             capture is decoded: streams, subjects, sequence numbers, the request
# vectors and hostile only read files (nothing is sent). capture runs itself again through
# tests/tools/in_netns.sh and sends only inside that namespace.
#
# RACKET_KEEP_CAPTURE=FILE keeps the capture case's pcapng file.
# Without tshark (or dumpcap, or python3) the test is skipped with a message; under CI=true it
# fails instead (tests/tools/skip.sh).
# SPDX-License-Identifier: MIT
set -u

if [ "$#" -lt 3 ]; then
  echo "usage: $0 vectors|hostile|capture LUA DOC [SENDER RECEIVER]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../tools/harness.sh"
case_name="$1"
lua="$2"
doc="$3"

for tool in tshark python3; do
  command -v "$tool" >/dev/null 2>&1 ||
    racket_skip "'$tool' is not installed (Debian: apt-get install tshark python3; scripts/setup-deps.sh installs both)"
done

harness_start wireshark

capture_in_netns() {
  local sender="$1" receiver="$2" demo=ws.demo other=ws.other status
  if ! in_private_netns; then
    echo "FAIL: the capture case sends multicast and this is not a private network namespace"
    exit 1
  fi
  dumpcap -i lo -f udp -w "$tmp/live.pcapng" -q 2>"$tmp/dumpcap.err" &
  local dumpcap_pid=$!
  pids+=("$dumpcap_pid")
  wait_for "$tmp/dumpcap.err" "^Capturing on" 10 || {
    echo "FAIL: dumpcap did not start capturing within 10 s:"
    cat "$tmp/dumpcap.err"
    exit 1
  }
  # "Capturing on" can come before the capture is live (a run missed the sender's first three
  # datagrams): send a start sentinel (port 7) until the file holds one, then start sending.
  local tenths=100
  until tshark -n -r "$tmp/live.pcapng" -Y 'udp.dstport == 7' 2>/dev/null | grep -q .; do
    [ "$tenths" -gt 0 ] || { echo "FAIL: no start sentinel reached the capture file within 10 s"; exit 1; }
    python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"start of test", ("127.0.0.1", 7))'
    sleep 0.1
    tenths=$((tenths - 1))
  done

  "$sender" "$demo" --subject ws.a --subject ws.b --subject ws.c --data hello --interval 300ms --withdraw \
    --announce-period 300ms \
    >"$tmp/sender.out" 2>"$tmp/sender.err" &
  local sender_pid=$!
  pids+=("$sender_pid")
  wait_for "$tmp/sender.out" '^ws\.c ' 10 || { echo "FAIL: the sender did not publish:"; cat "$tmp/sender.err"; exit 1; }
  "$receiver" "$demo" 'ws.*' --once --timeout 3s >"$tmp/once.out" 2>"$tmp/once.err"
  status=$?
  sed 's/^/    | receiver: /' "$tmp/once.out"
  [ "$status" -eq 0 ] || { echo "FAIL: receiver --once exited $status:"; cat "$tmp/once.err"; exit 1; }
  # The sender's announcement must be in the capture: stop it only once a listing has heard it
  # (its first announcement goes out 100-200 ms after the stream's first use).
  "$receiver" --list "$demo" --wait 1500ms >"$tmp/list.out" 2>"$tmp/list.err" ||
    { echo "FAIL: receiver --list did not hear the sender's announcement:"; cat "$tmp/list.err"; exit 1; }
  "$sender" "$other" ws.x 42 --exit >"$tmp/other.out" 2>"$tmp/other.err" ||
    { echo "FAIL: the second sender failed:"; cat "$tmp/other.err"; exit 1; }
  kill -INT "$sender_pid"
  wait_exit "$sender_pid" 10 || { echo "FAIL: the sender did not stop on SIGINT"; exit 1; }
  # dumpcap drops what it has not read yet when it stops: end with a sentinel datagram and
  # stop only once the file holds it, so everything sent before it is in the file too.
  python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"end of test", ("127.0.0.1", 9))'
  tenths=100
  until tshark -n -r "$tmp/live.pcapng" -Y 'udp.dstport == 9' 2>/dev/null | grep -q .; do
    [ "$tenths" -gt 0 ] || { echo "FAIL: the sentinel datagram never reached the capture file"; exit 1; }
    sleep 0.1
    tenths=$((tenths - 1))
  done
  kill -INT "$dumpcap_pid"
  wait_exit "$dumpcap_pid" 10 || { echo "FAIL: dumpcap did not stop on SIGINT"; exit 1; }
  sed 's/^/    | dumpcap: /' "$tmp/dumpcap.err"
  [ -z "${RACKET_KEEP_CAPTURE:-}" ] || cp "$tmp/live.pcapng" "$RACKET_KEEP_CAPTURE"
  python3 "$here/dissector_test.py" capture "$tmp/live.pcapng" "$lua" "$demo" "$other"
}

case "$case_name" in
  vectors | hostile)
    python3 "$here/dissector_test.py" "$case_name" "$doc" "$lua" "$tmp"
    ;;
  capture)
    [ "$#" -eq 5 ] || { echo "usage: $0 capture LUA DOC SENDER RECEIVER" >&2; exit 2; }
    command -v dumpcap >/dev/null 2>&1 ||
      racket_skip "'dumpcap' is not installed (Debian package wireshark-common, which tshark brings)"
    # The namespace is made here, after the tools are known to be there: in_netns.sh reports a
    # 77 from inside as a failure, so a skip must happen outside.
    sh "$here/../tools/in_netns.sh" bash "$0" capture-netns "$lua" "$doc" "$4" "$5"
    ;;
  capture-netns)
    capture_in_netns "$4" "$5"
    ;;
  *)
    echo "test_dissector.sh: unknown case '$case_name'" >&2
    exit 2
    ;;
esac
