#!/usr/bin/env bash
# Bridge scenario 2 (issue 22): two sites, each with its own nats-server, the two servers a
# cluster (JetStream on, storage in this run's temporary folder) routed over the TCP-only WAN.
# Site B's server is killed mid-run and restarted: bridge B says it reconnected, re-reads the
# bucket (and so delivers the value published at A while its server was down), and forwards
# new values again; a bridge started afterwards at B serves a late receiver from the bucket.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/bridge_sites.sh"
topo_init
bridge_need
bridge_topology
T=$TOPO_TMP
SUBJECT=plant.line1.temp
echo "== bridge scenario 2: sites A and B, a two-server NATS cluster, site B's server restarted"

nats_b() {
  bridge_nats_start C nats_b 4222 --cluster_name rkc --cluster nats://198.18.3.3:6222 --routes nats://198.18.3.2:6222
  NB=$BRIDGE_NATS_PID
}
bridge_nats_start B nats_a 4222 --cluster_name rkc --cluster nats://198.18.3.2:6222 --routes nats://198.18.3.3:6222
NA=$BRIDGE_NATS_PID
nats_b
topo_wait_until 20000 "the cluster elected its JetStream leader" \
  grep -q "metadata leader" "$T/nats_a.err" "$T/nats_b.err"

# Each bridge talks to its own site's server.
bridge_start B bridge_a a rkl1 nats://127.0.0.1:4222
BA=$BRIDGE_PID
bridge_start C bridge_b b rkl2 nats://127.0.0.1:4222
BB=$BRIDGE_PID
topo_bg D "$T/rb.out" "$T/rb.err" "$RECEIVER" --stream plant --interface rkl2 --format json
RB=$TOPO_LAST_PID
topo_wait_until 3000 "receiver at site B started" grep -q 'receiver: stream' "$T/rb.err"

mkfifo "$T/in"
exec 3<>"$T/in" # read-write: opening does not wait for the other end
TOPO_BG_STDIN="$T/in" topo_bg A "$T/s.out" "$T/s.err" "$SENDER" --stream plant --interface rkl1 \
  --subject "$SUBJECT" --interval 500ms --announce-period 1s
SA=$TOPO_LAST_PID
echo "v1" >&3
topo_wait_until 15000 "site B got v1 through the cluster" bridge_has "$T/rb.out" "$SUBJECT" v1
topo_wait_until 10000 "bridge A put v1 in the bucket" bridge_counter_at_least "$T/bridge_a.out" kv_puts 1

# Site B's server dies.
kill -KILL "$NB" 2>/dev/null
wait "$NB" 2>/dev/null
topo_log "killed site B's nats-server"
topo_wait_until 10000 "bridge B noticed the disconnection" \
  grep -q '"event":"nats","state":"disconnected"' "$T/bridge_b.out"

# A value published meanwhile reaches NATS through site A's server, not bridge B.
echo "v2" >&3
topo_wait_until 5000 "bridge A exported v2" bridge_counter_at_least "$T/bridge_a.out" exported 2
sleep 0.5 # nothing must arrive at B now; checked right below, not waited for
topo_check "site B did not get v2 while its server was down" bash -c "! jq -e 'select(.payload == \"v2\")' '$T/rb.out' >/dev/null"

# The server comes back with its storage; the cluster re-forms.
nats_b
topo_wait_until 20000 "bridge B reconnected (its log says so)" \
  grep -q '"event":"nats","state":"reconnected"' "$T/bridge_b.out"
topo_wait_until 5000 "bridge B's stats count the reconnection" bridge_counter_at_least "$T/bridge_b.out" reconnects 1
topo_wait_until 30000 "site B got v2 from the bucket after the reconnection" bridge_has "$T/rb.out" "$SUBJECT" v2

# New values flow again.
echo "v3" >&3
topo_wait_until 15000 "site B got v3 after the restart" bridge_has "$T/rb.out" "$SUBJECT" v3
topo_check "site B got each value once" \
  [ "$(jq -r 'select(.event == "message") | .payload' "$T/rb.out" | sort | uniq -d | wc -l)" -eq 0 ]

# A bridge started now at B knows v3 only from the bucket (bridge A exports on change only).
topo_stop "$BB"
topo_stop "$RB"
bridge_start C bridge_b2 b rkl2 nats://127.0.0.1:4222
BB2=$BRIDGE_PID
topo_wait_until 20000 "bridge B2 read the bucket" bridge_counter_at_least "$T/bridge_b2.out" bucket_entries 1
topo_bg D "$T/rb2.out" "$T/rb2.err" "$RECEIVER" --stream plant --interface rkl2 --format json
RB2=$TOPO_LAST_PID
topo_wait_until 10000 "late receiver at site B got v3 from bridge B2 (the bucket)" bridge_has "$T/rb2.out" "$SUBJECT" v3
topo_check "bridge B2 exported nothing" [ "$(bridge_counter "$T/bridge_b2.out" exported)" -eq 0 ]
topo_check "bridge A imported nothing" [ "$(bridge_counter "$T/bridge_a.out" imported)" -eq 0 ]
exec 3>&-
topo_stop "$SA"
topo_stop "$RB2"
topo_stop "$BB2"
topo_stop "$BA"
topo_stop "$NA"
echo "PASS: bridge scenario 2 (a NATS cluster, one server restarted)"
