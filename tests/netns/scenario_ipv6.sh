#!/usr/bin/env bash
# Scenario e: an IPv6 pool (ff15::/16) across the bridges: the multi-homed sender on A
# reaches receivers on B and C (LAN1) and D (LAN2); each receiver joined the group on its LAN
# interface (/proc/net/igmp6).
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
POOL=ff15::/16
echo "== scenario e: IPv6 pool $POOL from A over both bridges to B, C (LAN1) and D (LAN2)"
for h in B C D; do
  topo_bg $h "$T/$h.out" "$T/$h.err" "$RECEIVER" --pool $POOL --stream six --format json --timeout 20000
done
for h in B C D; do topo_wait_until 3000 "receiver on $h started" grep -q 'receiver: stream' "$T/$h.err"; done
GROUP=$(topo_group_of "$T/B.err")
case "$GROUP" in ff15:*) ;; *) topo_fail "receiver did not report an ff15:: group (got '$GROUP'): $(cat "$T/B.err")" ;; esac
topo_wait_until 2000 "B joined $GROUP on rkl1" topo_igmp6_has B rkl1 "$GROUP"
topo_wait_until 2000 "D joined $GROUP on rkl2" topo_igmp6_has D rkl2 "$GROUP"
topo_log "ok: /proc/net/igmp6: B joined $GROUP on rkl1, D on rkl2"
topo_bg A "$T/a.out" "$T/a.err" "$SENDER" --pool $POOL --stream six --subject v6.temp --data 42 --interval 300
SA=$TOPO_LAST_PID
for h in B C D; do
  topo_wait_until 3000 "$h receives v6.temp=42 over IPv6" grep -q '"subject":"v6.temp".*"payload":"42"' "$T/$h.out"
  topo_log "ok: $h received v6.temp=42 over IPv6 (${TOPO_WAITED_MS} ms)"
done
topo_check "the sender used both LAN interfaces and not lo" bash -c "grep -q 'rkl1' '$T/a.err' && grep -q 'rkl2' '$T/a.err' && ! grep -q ' lo' '$T/a.err'"
topo_stop "$SA"
topo_check "sender had no send errors" grep -q 'send_errors=0' "$T/a.err"
echo "PASS: scenario e (IPv6 across the bridge)"
