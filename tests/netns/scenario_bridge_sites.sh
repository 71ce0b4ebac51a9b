#!/usr/bin/env bash
# Bridge scenario 1 (issue 22): two sites joined by one NATS server over a WAN that carries
# only TCP. A value published at site A is received once at site B with its subject and
# payload; nothing loops back to A; a bridge started later at site B gets it from the bucket
# and hands it to a late receiver; the sender's withdrawal at A removes it at B.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/bridge_sites.sh"
topo_init
bridge_need
bridge_topology
T=$TOPO_TMP
echo "== bridge scenario 1: site A -> NATS (E) -> site B"

bridge_nats_start E nats 4222
NATS_URL_WAN=nats://198.18.3.5:4222
bridge_start B bridge_a a rkl1 "$NATS_URL_WAN"
BA=$BRIDGE_PID
bridge_start C bridge_b b rkl2 "$NATS_URL_WAN"
BB=$BRIDGE_PID

topo_bg D "$T/rb.out" "$T/rb.err" "$RECEIVER" --stream plant --interface rkl2 --format json
RB=$TOPO_LAST_PID
topo_bg A "$T/ra.out" "$T/ra.err" "$RECEIVER" --stream plant --interface rkl1 --format json
RA=$TOPO_LAST_PID
topo_wait_until 3000 "receivers started" bash -c "grep -q 'receiver: stream' '$T/rb.err' && grep -q 'receiver: stream' '$T/ra.err'"

# The sender re-sends every 500 ms and withdraws its subject when stopped.
topo_bg A "$T/s.out" "$T/s.err" "$SENDER" --stream plant --interface rkl1 --subject plant.line1.temp \
  --data 21.5 --interval 500ms --withdraw --announce-period 1s
SA=$TOPO_LAST_PID

topo_wait_until 10000 "receiver at site B got plant.line1.temp = 21.5" bridge_has "$T/rb.out" plant.line1.temp 21.5
topo_log "ok: site B received the value $TOPO_WAITED_MS ms after waiting began"
# Let several resends (and the imported value's own resends at B) pass, then count.
topo_wait_until 5000 "bridge A's export is in the bucket" bridge_counter_at_least "$T/bridge_a.out" kv_puts 1
topo_wait_until 5000 "bridge B imported" bridge_counter_at_least "$T/bridge_b.out" imported 1
topo_wait_until 5000 "bridge B heard its own LAN publisher (and skipped it)" \
  bridge_counter_at_least "$T/bridge_b.out" skipped_own 1
topo_wait_until 5000 "bridge A saw its own export come back from NATS (and skipped it)" \
  bridge_counter_at_least "$T/bridge_a.out" skipped_own_site 1
# Two more stats ticks with everything settled.
n=$(grep -c '"event":"stats"' "$T/bridge_b.out")
topo_wait_until 3000 "two more stats lines" bash -c "[ \$(grep -c '\"event\":\"stats\"' '$T/bridge_b.out') -ge $((n + 2)) ]"
topo_check "site B received it once (resends suppressed)" [ "$(bridge_messages "$T/rb.out" plant.line1.temp)" -eq 1 ]
topo_check "site A's receiver received it once (nothing came back)" [ "$(bridge_messages "$T/ra.out" plant.line1.temp)" -eq 1 ]
topo_check "bridge B exported nothing (no re-export)" [ "$(bridge_counter "$T/bridge_b.out" exported)" -eq 0 ]
topo_check "bridge A imported nothing (no loop)" [ "$(bridge_counter "$T/bridge_a.out" imported)" -eq 0 ]
topo_check "bridge A exported once" [ "$(bridge_counter "$T/bridge_a.out" exported)" -eq 1 ]
topo_check "site B's value came from bridge B's publisher" \
  bash -c "[ \"\$(jq -r 'select(.event == \"message\") | .publisher' '$T/rb.out' | head -n 1)\" != \"\$(jq -r 'select(.event == \"message\") | .publisher' '$T/ra.out' | head -n 1)\" ]"
topo_log "the WAN filters dropped $(bridge_wan_udp_dropped B) (B), $(bridge_wan_udp_dropped C) (C) UDP/multicast packets"

# A new bridge at site B knows the value only from the bucket: bridge A exports on change only.
topo_stop "$BB"
topo_stop "$RB"
# The old bridge's value expires at site B (3 intervals): the new one must bring it back.
bridge_start C bridge_b2 b rkl2 "$NATS_URL_WAN"
BB2=$BRIDGE_PID
topo_wait_until 5000 "bridge B2 read the bucket" bridge_counter_at_least "$T/bridge_b2.out" bucket_entries 1
topo_bg D "$T/rb2.out" "$T/rb2.err" "$RECEIVER" --stream plant --interface rkl2 --format json
RB2=$TOPO_LAST_PID
topo_wait_until 5000 "late receiver at site B got the value from bridge B2 (the bucket)" \
  bridge_has "$T/rb2.out" plant.line1.temp 21.5
topo_check "bridge B2 imported it from the bucket, not live" [ "$(bridge_counter "$T/bridge_b2.out" imported)" -ge 1 ]

# The sender withdraws on exit: the tombstone crosses, and the subject is removed at site B.
topo_stop "$SA"
topo_wait_until 5000 "site A's receiver saw the withdrawal" bridge_removed "$T/ra.out" plant.line1.temp withdrawn
topo_wait_until 5000 "late receiver at site B saw the withdrawal" bridge_removed "$T/rb2.out" plant.line1.temp withdrawn
topo_wait_until 3000 "bridge B2 imported the tombstone" bridge_counter_at_least "$T/bridge_b2.out" imported_removals 1
topo_check "bridge B2 exported nothing" [ "$(bridge_counter "$T/bridge_b2.out" exported_removals)" -eq 0 ]
topo_wait_until 3000 "bridge A deleted the bucket entry" bridge_counter_at_least "$T/bridge_a.out" kv_deletes 1
topo_stop "$RB2"
topo_stop "$RA"
topo_stop "$BB2"
topo_stop "$BA"
topo_check "bridge A's final stats: no kv errors" [ "$(jq -r 'select(.event == "stats" and .final) | .counters.kv_errors' "$T/bridge_a.out")" -eq 0 ]
echo "PASS: bridge scenario 1 (two sites, one NATS server)"
