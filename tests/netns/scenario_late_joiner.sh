#!/usr/bin/env bash
# Scenario b: a receiver started late gets every subject's last value within one interval
# (plus the resend jitter, 5 %, and process start-up).
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
INTERVAL=1000
N=20
echo "== scenario b: late receiver on C gets all $N last values within one interval ($INTERVAL ms)"
subjects=()
for i in $(seq -w 1 $N); do subjects+=(--subject "late.s$i"); done
topo_bg A "$T/a.out" "$T/a.err" "$SENDER" --stream late "${subjects[@]}" --data v1 --interval $INTERVAL
SA=$TOPO_LAST_PID
topo_wait_until 3000 "sender published $N subjects" bash -c "[ \$(wc -l < '$T/a.out') -ge $N ]"
# Be late on purpose: start the receiver more than one interval after the first publish, so
# only resends can tell it the values.
sleep 1.3
t0=$(topo_now_ms)
topo_bg C "$T/c.out" "$T/c.err" "$RECEIVER" --stream late --format json --timeout 20000
RC=$TOPO_LAST_PID
have_all() { [ "$(topo_last_values "$T/c.out" | awk -F'\t' '$2 == "v1"' | wc -l)" -eq $N ]; }
DEADLINE=$((INTERVAL + INTERVAL / 20 + 400))
topo_wait_until $DEADLINE "late receiver has all $N values (deadline ${DEADLINE} ms)" have_all
topo_log "ok: late receiver had all $N last values $(( $(topo_now_ms) - t0 )) ms after it started (deadline $DEADLINE ms)"
topo_check "every value it got is a resend (it started late)" \
  bash -c "! jq -e 'select(.event == \"message\" and .resend == false)' '$T/c.out' >/dev/null"
topo_stop "$RC"
topo_stop "$SA"
echo "PASS: scenario b (late joiner)"
