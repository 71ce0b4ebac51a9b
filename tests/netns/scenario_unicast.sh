#!/usr/bin/env bash
# Scenario (issue 22): a LAN whose bridge drops every multicast frame (nftables on the
# switch: ip daddr 224.0.0.0/4, ip6 daddr ff00::/8). First plain multicast is shown NOT to get
# through (so the rest can fail); then a sender with --peer and --no-multicast and receivers
# with --listen and --no-multicast exchange values by unicast alone, and a receiver started
# later gets the cached values by snapshot well under the interval (60 s): it learns of the
# publisher from its announcement (sent to the peers too) and asks it by unicast.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
command -v nft >/dev/null 2>&1 || topo_skip "nftables (nft) is not installed; not run"
command -v jq >/dev/null 2>&1 || topo_skip "jq is not installed; not run"
T=$TOPO_TMP
topo_lan 1
for h in A B C; do topo_host "$h"; done
topo_attach A 1 rkl1 1
topo_attach B 1 rkl1 2
topo_attach C 1 rkl1 3
topo_check_isolated
ip netns exec "$TOPO_SWITCH" nft -f - <<'NFT' || topo_fail "nft rules on the switch"
table bridge rknomc {
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip daddr 224.0.0.0/4 counter drop
    ip6 daddr ff00::/8 counter drop
  }
}
NFT
dropped() {
  ip netns exec "$TOPO_SWITCH" nft list table bridge rknomc |
    awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
topo_log "LAN1 = A(198.18.1.1) B(.2) C(.3); the bridge drops every multicast frame"
echo "== scenario unicast: no multicast on the LAN, values and a late join through unicast peers"

# 1. Plain multicast does not get through.
topo_bg B "$T/m.out" "$T/m.err" "$RECEIVER" uc.check --count 1 --timeout 3000 --format json
RM=$TOPO_LAST_PID
topo_bg A "$T/ma.out" "$T/ma.err" "$SENDER" uc.check --subject m.one --data 1 --interval 200
SM=$TOPO_LAST_PID
wait "$RM"
rc=$?
topo_stop "$SM"
topo_check "multicast alone delivers nothing across this bridge (receiver exit $rc)" \
  bash -c "[ $rc -ne 0 ] && ! grep -q '\"event\":\"message\"' '$T/m.out'"
topo_check "the bridge dropped the multicast frames ($(dropped))" bash -c "[ $(dropped) -gt 0 ]"

# 2. Unicast peers alone.
N=5
subjects=()
for i in $(seq 1 $N); do subjects+=(--subject "uc.s$i"); done
topo_bg B "$T/b.out" "$T/b.err" "$RECEIVER" uc.plant --listen 19500 --no-multicast --format json --timeout 30000
RB=$TOPO_LAST_PID
sleep 0.3
topo_bg A "$T/a.out" "$T/a.err" "$SENDER" uc.plant "${subjects[@]}" --data v1 --interval 60000 \
  --peer 198.18.1.2:19500 --peer 198.18.1.3:19500 --no-multicast --announce-period 1s
SA=$TOPO_LAST_PID
have_all() { [ "$(topo_last_values "$1" | awk -F'\t' '$2 == "v1"' | wc -l)" -eq $N ]; }
topo_wait_until 5000 "receiver B has all $N values by unicast" have_all "$T/b.out"
topo_log "ok: B had all $N values after ${TOPO_WAITED_MS} ms"
topo_check "each value delivered once on B" \
  bash -c "[ \$(jq -c 'select(.event == \"message\")' '$T/b.out' | wc -l) -eq $N ]"

# 3. A late joiner: only a snapshot can deliver before the 60 s resend.
sleep 1
t0=$(topo_now_ms)
topo_bg C "$T/c.out" "$T/c.err" "$RECEIVER" uc.plant --listen 19500 --no-multicast --format json --timeout 30000
RC=$TOPO_LAST_PID
topo_wait_until 6000 "late receiver C has all $N values by snapshot (deadline 6 s, interval 60 s)" have_all "$T/c.out"
topo_log "ok: late receiver C had all $N values $(( $(topo_now_ms) - t0 )) ms after it started"
topo_check "C's values came as snapshot answers (resend), not live" \
  bash -c "! jq -e 'select(.event == \"message\" and .resend == false)' '$T/c.out' >/dev/null"
topo_stop "$RC"
topo_stop "$RB"
topo_stop "$SA"
echo "PASS: scenario unicast (peers without multicast)"
