#!/usr/bin/env bash
# Scenario g: an interface added to host D after its receiver started is joined within the
# rescan period (udp_transport's default rescan_interval, 5 s), and when D's original
# interface disappears the receiver carries on over the new one, without errors.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
RESCAN_MS=5000
echo "== scenario g: interfaces appearing and vanishing under a running receiver on D"
mkfifo "$T/in"
exec 3<>"$T/in"   # read-write: opening does not wait for the other end
TOPO_BG_STDIN="$T/in" topo_bg A "$T/a.out" "$T/a.err" "$SENDER" --stream hotplug --interface rkl2 --interval 300
SA=$TOPO_LAST_PID
echo "hot.value one" >&3
topo_bg D "$T/d.out" "$T/d.err" "$RECEIVER" --stream hotplug --format json --timeout 60000 --stats 500
RD=$TOPO_LAST_PID
topo_wait_until 3000 "receiver on D started" grep -q 'receiver: stream' "$T/d.err"
GROUP=$(topo_group_of "$T/d.err")
value_is() { [ "$(topo_last_values "$T/d.out" | awk -F'\t' '$1 == "hot.value" { print $2 }')" = "$1" ]; }
topo_wait_until 3000 "D receives hot.value=one over rkl2" value_is one
topo_log "ok: D joined $GROUP on '$(topo_igmp_devices D "$GROUP")' and received hot.value=one"

topo_attach D 2 rkl2b 14   # a second cable to LAN2, plugged in after the receiver started
t0=$(topo_now_ms)
topo_log "plugged rkl2b (198.18.2.14) into D"
topo_wait_until $((RESCAN_MS + 1500)) "D's receiver joins $GROUP on the new rkl2b within the rescan period" \
  topo_igmp_has D rkl2b "$GROUP"
topo_log "ok: joined on rkl2b $(( $(topo_now_ms) - t0 )) ms after it appeared (rescan every $RESCAN_MS ms): '$(topo_igmp_devices D "$GROUP")'"
# With --format json the stats are JSON lines on stdout.
last_stats() { jq -c 'select(.event == "stats") | .counters' "$T/d.out" 2>/dev/null | tail -n 1; }
dups() { [ "$(last_stats | jq -r '.duplicates' 2>/dev/null)" -gt 0 ] 2>/dev/null; }
topo_wait_until 3000 "D hears the resends on both LAN2 interfaces (duplicates counted)" dups
topo_log "ok: resends heard on rkl2 and rkl2b are suppressed: $(last_stats)"

topo_detach D 2 rkl2   # unplug the original interface: it vanishes from D
t0=$(topo_now_ms)
topo_log "deleted D's original interface rkl2"
topo_check "rkl2 is gone from D" bash -c "! ip -n $(topo_ns D) link show rkl2 >/dev/null 2>&1"
echo "hot.value two" >&3
topo_wait_until 3000 "D receives hot.value=two over rkl2b after rkl2 vanished" value_is two
topo_log "ok: hot.value=two arrived over rkl2b $(( $(topo_now_ms) - t0 )) ms after rkl2 vanished"
# Let a rescan drop rkl2, then check the receiver still works and said nothing wrong.
sleep $(( (RESCAN_MS + 500) / 1000 ))
echo "hot.value three" >&3
topo_wait_until 3000 "D receives hot.value=three after the rescan dropped rkl2" value_is three
topo_check "receiver still running" kill -0 "$RD"
topo_check "receiver printed no error" bash -c "! grep -i -e error -e fail '$T/d.err'"
topo_check "D still joined on rkl2b" topo_igmp_has D rkl2b "$GROUP"
topo_check "D still joined on lo" topo_igmp_has D lo "$GROUP"
exec 3>&-
topo_stop "$RD"
topo_stop "$SA"
jq -c 'select(.event == "stats" and .final)' "$T/d.out" | sed 's/^/  /'
echo "PASS: scenario g (interface rescan)"
