#!/usr/bin/env bash
# Scenario c: with 5 % random loss on the receiver (nftables in its namespace), every one of
# 50 subjects converges to its latest value within two resend intervals, round after round.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
INTERVAL=400
N=50
MIN_ROUNDS=10
MAX_ROUNDS=100
MIN_DROPS=3   # keep changing values until the loss has really hit some datagrams
LOSS=5
echo "== scenario c: $LOSS % loss on D; $N subjects, rounds of changes (>= $MIN_ROUNDS, until >= $MIN_DROPS datagrams dropped), each converges within 2 intervals ($INTERVAL ms)"
command -v nft >/dev/null || topo_skip "nftables (nft) is not installed"
topo_exec D nft add table inet rkloss
topo_exec D nft add chain inet rkloss input '{ type filter hook input priority 0; policy accept; }'
topo_exec D nft add rule inet rkloss input meta l4proto udp numgen random mod 100 lt $LOSS counter drop
topo_log "nftables in D drops $LOSS % of incoming UDP"

mkfifo "$T/in"
exec 3<>"$T/in"   # read-write: opening does not wait for the other end
TOPO_BG_STDIN="$T/in" topo_bg A "$T/a.out" "$T/a.err" "$SENDER" --stream lossy --interval $INTERVAL
SA=$TOPO_LAST_PID
topo_bg D "$T/d.out" "$T/d.err" "$RECEIVER" --stream lossy --format json --timeout 120000
RD=$TOPO_LAST_PID
topo_wait_until 3000 "receiver on D started" grep -q 'receiver: stream' "$T/d.err"

converged() { [ "$(topo_last_values "$T/d.out" | awk -F'\t' -v v="$1" '$2 == v' | wc -l)" -eq $N ]; }
DEADLINE=$((2 * INTERVAL + 2 * INTERVAL / 20 + 250))  # two intervals + their jitter + polling
worst=0
drops() { topo_exec D nft list chain inet rkloss input | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
r=0
while [ $r -lt $MIN_ROUNDS ] || [ "$(drops)" -lt $MIN_DROPS ]; do
  r=$((r + 1))
  [ $r -le $MAX_ROUNDS ] || topo_fail "only $(drops) datagrams dropped after $MAX_ROUNDS rounds: is the nftables rule working?"
  for i in $(seq -w 1 $N); do echo "lossy.s$i r$r"; done >&3
  t0=$(topo_now_ms)
  if ! (topo_wait_until $DEADLINE "round $r: all $N subjects show r$r on D (deadline ${DEADLINE} ms)" converged "r$r"); then
    topo_log "subjects not at r$r: $(topo_last_values "$T/d.out" | awk -F'\t' -v v="r$r" '$2 != v { printf "%s=%s ", $1, $2 }')"
    sleep 2
    topo_log "2 s later, still not at r$r: $(topo_last_values "$T/d.out" | awk -F'\t' -v v="r$r" '$2 != v { printf "%s=%s ", $1, $2 }')"
    topo_fail "round $r: not every subject converged to r$r within 2 intervals ($DEADLINE ms)"
  fi
  took=$(( $(topo_now_ms) - t0 ))
  [ $took -gt $worst ] && worst=$took
  topo_log "round $r: all $N subjects converged in $took ms (dropped so far: $(drops))"
done
topo_log "ok: all $r rounds converged within 2 intervals (worst $worst ms, deadline $DEADLINE ms); nftables dropped $(drops) datagrams"
exec 3>&-
topo_stop "$RD"
topo_stop "$SA"
jq -c 'select(.event == "stats" and .final)' "$T/d.out" | sed 's/^/  /'
echo "PASS: scenario c (5 % loss)"
