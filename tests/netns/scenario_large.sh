#!/usr/bin/env bash
# Scenario: large messages over real UDP with 5 % random loss on the receiver (nftables in its
# namespace; issue 20). (1) A 16 MiB file published by `sender --file` (a cached value, re-sent
# only every 60 s) is saved by `receiver --save` byte-identical, well before that resend: the
# lost fragments are asked for and re-sent. (2) A receiver started later gets an 8 MiB cached
# value through its snapshot request, also well before the next resend, byte-identical.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
LOSS=5
INTERVAL=60000   # the next periodic resend: far after every deadline below
DEADLINE=30000   # ms for each value to arrive whole
echo "== scenario large: $LOSS % loss on B; a 16 MiB file saved byte-identical; a late joiner gets an 8 MiB cached value via its snapshot"
command -v nft >/dev/null || topo_skip "nftables (nft) is not installed"
command -v cmp >/dev/null || topo_skip "cmp is not installed"
topo_exec B nft add table inet rkloss
topo_exec B nft add chain inet rkloss input '{ type filter hook input priority 0; policy accept; }'
topo_exec B nft add rule inet rkloss input meta l4proto udp numgen random mod 100 lt $LOSS counter drop
topo_log "nftables in B drops $LOSS % of incoming UDP"
drops() { topo_exec B nft list chain inet rkloss input | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

head -c $((16 << 20)) /dev/urandom >"$T/big.bin"
head -c $((8 << 20)) /dev/urandom >"$T/late.bin"
mkdir "$T/saved" "$T/late"

# (1) The receiver first, then the sender: every fragment goes out live once; what B's
# nftables drops must come back through fragment requests.
topo_bg B "$T/b.out" "$T/b.err" "$RECEIVER" --stream large --save "$T/saved" --format json --count 1 \
  --timeout $((DEADLINE + 5000))
RB=$TOPO_LAST_PID
topo_wait_until 3000 "receiver on B started" grep -q 'receiver: stream' "$T/b.err"
t0=$(topo_now_ms)
topo_bg A "$T/a.out" "$T/a.err" "$SENDER" --stream large --subject files.big --file "$T/big.bin" \
  --interval $INTERVAL --format json
SA=$TOPO_LAST_PID
saved() { [ -f "$T/saved/files.big" ] && ! kill -0 "$RB" 2>/dev/null; }
topo_wait_until $DEADLINE "the 16 MiB file saved on B" saved
took=$(( $(topo_now_ms) - t0 ))
wait "$RB" || topo_fail "receiver on B exited with status $? (see $T/b.err)"
cmp -s "$T/big.bin" "$T/saved/files.big" || topo_fail "the saved file differs from the one published"
topo_log "16 MiB saved byte-identical on B in $took ms (nftables dropped $(drops) datagrams so far)"
stats=$(jq -c 'select(.event == "stats" and .final) | .counters' "$T/b.out")
echo "  receiver: $stats"
req=$(jq -r 'select(.event == "stats" and .final) | .counters.fragment_requests_sent' "$T/b.out")
[ "${req:-0}" -gt 0 ] || topo_fail "no fragment request was sent: did the loss hit nothing?"
[ "$(jq -r 'select(.event == "message") | .xxh3' "$T/b.out")" = "$(xxhsum -H3 "$T/big.bin" | sed -E 's/.*= ([0-9a-f]{16}).*/\1/')" ] ||
  topo_fail "the JSON line's xxh3 is not the file's"
topo_stop "$SA"
answered=$(jq -r 'select(.event == "stats" and .final) | .counters.fragment_requests_answered' "$T/a.out" | tail -1)
topo_log "sender: fragment_requests_answered=${answered:-?}; receiver: fragment_requests_sent=$req"
[ "${answered:-0}" -gt 0 ] || topo_fail "the sender answered no fragment request"

# (2) A cached 8 MiB value, published before the late receiver starts.
topo_bg A "$T/a2.out" "$T/a2.err" "$SENDER" --stream large --subject files.late --file "$T/late.bin" \
  --interval $INTERVAL --format json
SA=$TOPO_LAST_PID
sleep 2   # well after the live send: the receiver below can only get it from a snapshot
topo_bg B "$T/b2.out" "$T/b2.err" "$RECEIVER" --stream large --save "$T/late" --format json --count 1 \
  --timeout $((DEADLINE + 5000))
RB=$TOPO_LAST_PID
t0=$(topo_now_ms)
late_saved() { [ -f "$T/late/files.late" ] && ! kill -0 "$RB" 2>/dev/null; }
topo_wait_until $DEADLINE "the late joiner saved the 8 MiB value" late_saved
took=$(( $(topo_now_ms) - t0 ))
wait "$RB" || topo_fail "late receiver on B exited with status $? (see $T/b2.err)"
cmp -s "$T/late.bin" "$T/late/files.late" || topo_fail "the late joiner's file differs from the one published"
msg=$(jq -c 'select(.event == "message") | {subject, size, sequence, resend, new}' "$T/b2.out")
echo "  late joiner: $msg"
[ "$(jq -r 'select(.event == "message") | "\(.size) \(.resend)"' "$T/b2.out")" = "8388608 true" ] ||
  topo_fail "the late joiner's message is not the cached value re-sent"
topo_stop "$SA"
snap=$(jq -r 'select(.event == "stats" and .final) | .counters.snapshot_records' "$T/a2.out" | tail -1)
[ "${snap:-0}" -gt 0 ] || topo_fail "the sender answered no snapshot with the value"
topo_log "late joiner: 8 MiB through the snapshot in $took ms, byte-identical (snapshot_records=$snap, dropped $(drops))"
echo "PASS: scenario large (16 MiB file and 8 MiB late joiner under $LOSS % loss)"
