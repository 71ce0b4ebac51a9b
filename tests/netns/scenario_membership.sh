#!/usr/bin/env bash
# Scenario f: /proc/net/igmp (and igmp6) in a receiver's namespace shows it joined its group
# on exactly the interfaces it was given (or, by default, every multicast-capable one), and
# the group is left once the receiver exits.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
topo_init
topo_need_programs
topo_standard
T=$TOPO_TMP
echo "== scenario f: receivers on multi-homed A join exactly the interfaces they were given, and leave"
n=0
check_joins() {  # $1: expected devices (sorted, space separated); rest: receiver options
  local want=$1 group pid
  shift
  n=$((n + 1))
  topo_bg A "$T/r$n.out" "$T/r$n.err" "$RECEIVER" --stream "member$n" --timeout 30000 "$@"
  pid=$TOPO_LAST_PID
  topo_wait_until 3000 "receiver $n started" grep -q 'receiver: stream' "$T/r$n.err"
  group=$(topo_group_of "$T/r$n.err")
  got_want() { [ "$(topo_igmp_devices A "$group")" = "$want" ]; }
  topo_wait_until 2000 "A joined $group on exactly '$want' (has '$(topo_igmp_devices A "$group")')" got_want
  topo_log "ok: receiver ${*:-(default interfaces)}: $group joined on '$(topo_igmp_devices A "$group")'"
  topo_stop "$pid"
  gone() { [ -z "$(topo_igmp_devices A "$group")" ]; }
  topo_wait_until 2000 "A left $group after the receiver exited" gone
  topo_log "ok: after the receiver exited, $group is joined nowhere"
}
check_joins "rkl1" --interface rkl1
check_joins "rkl2" --interface rkl2
check_joins "lo rkl1 rkl2" --interface rkl1 --interface rkl2 --interface lo
check_joins "lo rkl1 rkl2"   # default: every up, multicast-capable interface, lo included

echo "== scenario f (IPv6): default selection on A joins rkl1 and rkl2 (never lo), and leaves"
topo_bg A "$T/v6.out" "$T/v6.err" "$RECEIVER" --pool ff15::/16 --stream member6 --timeout 30000
pid=$TOPO_LAST_PID
topo_wait_until 3000 "IPv6 receiver started" grep -q 'receiver: stream' "$T/v6.err"
group=$(topo_group_of "$T/v6.err")
both6() { topo_igmp6_has A rkl1 "$group" && topo_igmp6_has A rkl2 "$group" && ! topo_igmp6_has A lo "$group"; }
topo_wait_until 2000 "A joined $group on rkl1 and rkl2 (igmp6)" both6
topo_log "ok: $group joined on rkl1 and rkl2, not lo"
topo_stop "$pid"
none6() { ! topo_igmp6_has A rkl1 "$group" && ! topo_igmp6_has A rkl2 "$group"; }
topo_wait_until 2000 "A left $group after the IPv6 receiver exited" none6
topo_log "ok: after the receiver exited, $group is joined nowhere"
echo "PASS: scenario f (memberships)"
