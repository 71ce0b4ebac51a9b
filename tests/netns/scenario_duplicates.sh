#!/usr/bin/env bash
# Scenario d: host C has two interfaces on LAN1 and its receiver joins on both, so it hears
# every datagram twice; it must deliver each message once (duplicates > 0, delivered == published).
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
topo_attach C 1 rkl1b 13
topo_check_isolated
T=$TOPO_TMP
echo "== scenario d: C on LAN1 twice (rkl1, rkl1b) hears each datagram twice, delivers once"
topo_bg C "$T/c.out" "$T/c.err" "$RECEIVER" --stream dup --format json --interface rkl1 --interface rkl1b --timeout 20000
RC=$TOPO_LAST_PID
topo_wait_until 3000 "receiver on C started" grep -q 'receiver: stream' "$T/c.err"
GROUP=$(topo_group_of "$T/c.err")
joined_both() { [ "$(topo_igmp_devices C "$GROUP")" = "rkl1 rkl1b" ]; }
topo_wait_until 2000 "C joined $GROUP on exactly rkl1 and rkl1b" joined_both
topo_log "ok: /proc/net/igmp on C: $GROUP joined on $(topo_igmp_devices C "$GROUP")"
subjects=()
for i in $(seq 1 10); do subjects+=(--subject "dup.s$i"); done
topo_exec B "$SENDER" --stream dup --interface rkl1 "${subjects[@]}" --data v --count 3 --interval 1000 --exit \
  >"$T/b.out" 2>"$T/b.err" || topo_fail "sender on B failed: $(cat "$T/b.err")"
PUBLISHED=$(sed -n 's/.*final stats: published=\([0-9]*\).*/\1/p' "$T/b.err")
topo_log "sender on B published $PUBLISHED messages (10 subjects x 3 values, no resends)"
[ "$PUBLISHED" = 30 ] || topo_fail "sender published '$PUBLISHED', expected 30"
topo_wait_until 3000 "C delivered $PUBLISHED messages" bash -c "[ \$(grep -c '\"event\":\"message\"' '$T/c.out') -ge $PUBLISHED ]"
sleep 0.3  # let any second copy still in flight arrive before the stats are read
topo_stop "$RC"
# With --format json the final stats are a JSON line on stdout (every counter under "counters").
STATS=$(jq -c 'select(.event == "stats" and .final)' "$T/c.out")
topo_log "receiver: $STATS"
delivered=$(jq -r '.printed' <<<"$STATS")
duplicates=$(jq -r '.counters.duplicates' <<<"$STATS")
received=$(jq -r '.counters.received' <<<"$STATS")
topo_check "delivered ($delivered) == published ($PUBLISHED)" [ "$delivered" = "$PUBLISHED" ]
topo_check "duplicates ($duplicates) > 0" [ "$duplicates" -gt 0 ]
topo_check "each message heard twice: received ($received) == 2 x published" [ "$received" = $((2 * PUBLISHED)) ]
topo_check "no (subject, payload) printed twice" bash -c "[ -z \"\$(jq -r 'select(.event == \"message\") | .subject + \" \" + .payload' '$T/c.out' | sort | uniq -d)\" ]"
echo "PASS: scenario d (duplicate suppression across two interfaces)"
