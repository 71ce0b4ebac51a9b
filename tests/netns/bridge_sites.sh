# shellcheck shell=bash
# bridge_sites.sh: a sourceable library for the bridge's scenarios (scenario_bridge_*.sh), on
# top of topology.sh: two sites, each a LAN, joined only by a WAN that carries nothing but TCP.
#
#   LAN1 = site A: A (sender, receiver) .1; B (bridge A) rkl1 .2
#   LAN2 = site B: D (receivers) .4;        C (bridge B) rkl2 .3
#   LAN3 = the WAN (198.18.3.0/24): B rkl3 .2, C rkl3 .3, E rkl3 .5 (a NATS server)
#
# On every WAN interface an nftables rule drops all UDP and all multicast, both ways, and each
# bridge is given --interface of its LAN side only: a value can cross from one site to the
# other only through NATS. nats-server runs inside the namespaces, on ports there, with its
# JetStream storage in the scenario's temporary folder; it is stopped by its pid at teardown.
# SPDX-License-Identifier: MIT

. "$(dirname "${BASH_SOURCE[0]}")/topology.sh"

# bridge_need: the programs (SENDER, RECEIVER, BRIDGE), nats-server, nft and jq, or SKIP.
bridge_need() {
  topo_need_programs
  [ -n "${BRIDGE:-}" ] && [ -x "$BRIDGE" ] || topo_fail "BRIDGE (the built examples/bridge) is not set or not executable"
  NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
  [ -x "$NATS_SERVER" ] || topo_skip "nats-server is not installed (Debian package nats-server); not run"
  command -v nft >/dev/null 2>&1 || topo_skip "nft is not installed (Debian package nftables); not run"
  command -v jq >/dev/null 2>&1 || topo_skip "jq is not installed; not run"
}

# bridge_topology: the two sites and the WAN, with the WAN's UDP/multicast filter.
bridge_topology() {
  topo_lan 1
  topo_lan 2
  topo_lan 3
  local h
  for h in A B C D E; do topo_host "$h"; done
  topo_attach A 1 rkl1 1
  topo_attach B 1 rkl1 2 # first: B's multicast route goes to its LAN
  topo_attach B 3 rkl3 2
  topo_attach C 2 rkl2 3
  topo_attach C 3 rkl3 3
  topo_attach D 2 rkl2 4
  topo_attach E 3 rkl3 5
  topo_check_isolated
  for h in B C E; do bridge_wan_filter "$h"; done
  topo_log "topology up: site A = LAN1 A(.1) B(.2); site B = LAN2 C(.3) D(.4); WAN = LAN3 B(.2) C(.3) E(.5), TCP only"
}

# bridge_wan_filter ROLE: drop (and count) every UDP datagram and multicast frame on ROLE's WAN
# interface rkl3, in and out.
bridge_wan_filter() {
  topo_exec "$1" nft -f - <<'NFT' || topo_fail "nft rules on $1"
table inet rkwan {
  chain out {
    type filter hook output priority 0;
    oifname "rkl3" meta l4proto udp counter drop
    oifname "rkl3" meta pkttype multicast counter drop
  }
  chain in {
    type filter hook input priority 0;
    iifname "rkl3" meta l4proto udp counter drop
    iifname "rkl3" meta pkttype multicast counter drop
  }
}
NFT
}

# bridge_wan_udp_dropped ROLE: packets the WAN filter of ROLE dropped so far.
bridge_wan_udp_dropped() {
  topo_exec "$1" nft list table inet rkwan | awk '/counter packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}

# bridge_nats_start ROLE NAME PORT [ARGS...]: nats-server on ROLE, client PORT on every address,
# JetStream on with its storage in $TOPO_TMP/NAME; waits until it accepts clients. Sets
# BRIDGE_NATS_PID.
bridge_nats_start() {
  local role=$1 name=$2 port=$3
  shift 3
  topo_bg "$role" "$TOPO_TMP/$name.log" "$TOPO_TMP/$name.err" \
    "$NATS_SERVER" -n "$name" -a 0.0.0.0 -p "$port" -js -sd "$TOPO_TMP/$name" "$@"
  BRIDGE_NATS_PID=$TOPO_LAST_PID
  topo_wait_until 10000 "nats-server $name on $role accepts clients" \
    grep -q "Server is ready" "$TOPO_TMP/$name.err" "$TOPO_TMP/$name.log"
}

# bridge_start ROLE NAME SITE LANIF URL...: a bridge of stream "plant" on ROLE, JSON lines in
# $TOPO_TMP/NAME.out (stats every 300 ms); waits until it connected. Sets BRIDGE_PID.
bridge_start() {
  local role=$1 name=$2 site=$3 lanif=$4
  shift 4
  local urls=()
  local u
  for u in "$@"; do urls+=(--nats "$u"); done
  topo_bg "$role" "$TOPO_TMP/$name.out" "$TOPO_TMP/$name.err" "$BRIDGE" --stream plant --site "$site" \
    --interface "$lanif" "${urls[@]}" --format json --stats 300ms --announce-period 1s
  BRIDGE_PID=$TOPO_LAST_PID
  topo_wait_until 10000 "bridge $name on $role connected to NATS" \
    grep -q '"event":"nats","state":"connected"' "$TOPO_TMP/$name.out"
}

# bridge_counter FILE NAME: counter NAME in the last stats line of a bridge's JSON output.
bridge_counter() {
  jq -r --arg n "$2" 'select(.event == "stats") | .counters[$n]' "$1" 2>/dev/null | tail -n 1
}

# bridge_counter_at_least FILE NAME N: that counter is >= N.
bridge_counter_at_least() {
  local v
  v=$(bridge_counter "$1" "$2")
  [ -n "$v" ] && [ "$v" -ge "$3" ]
}

# bridge_messages FILE SUBJECT: how many "message" events a receiver printed for SUBJECT.
bridge_messages() {
  jq -r --arg s "$2" 'select(.event == "message" and .subject == $s) | .payload' "$1" 2>/dev/null | wc -l
}

# bridge_has FILE SUBJECT PAYLOAD: a receiver printed SUBJECT with PAYLOAD.
bridge_has() {
  jq -e --arg s "$2" --arg p "$3" 'select(.event == "message" and .subject == $s and .payload == $p)' "$1" >/dev/null 2>&1
}

# bridge_removed FILE SUBJECT REASON: a receiver printed SUBJECT removed for REASON.
bridge_removed() {
  jq -e --arg s "$2" --arg r "$3" 'select(.event == "removed" and .subject == $s and .reason == $r)' "$1" >/dev/null 2>&1
}
