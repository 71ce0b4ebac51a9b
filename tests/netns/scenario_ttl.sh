#!/usr/bin/env bash
# Scenario h: what leaves a host carries the TTL (IPv4) or hop limit (IPv6) it was given, so
# that it can cross routers: a sender on A with --ttl 5, a receiver on B with --ttl 7 and one
# on C with the default (1). A capture on B's LAN interface, decoded with the Wireshark
# dissector (tools/wireshark/racket.lua), must show A's data and announcements with 5, B's
# snapshot requests and announcements with 7, C's requests with 1; over an IPv4 pool and an
# IPv6 (ff15::/16) pool. This kernel has no multicast routing (TESTBED.md), so crossing a
# router is checked by what goes out, not by routing it.
# SPDX-License-Identifier: MIT
set -u
. "$(dirname "$0")/topology.sh"
LUA="$(cd "$(dirname "$0")/../../tools/wireshark" && pwd)/racket.lua"
topo_init
topo_need_programs
for tool in dumpcap tshark; do
  command -v "$tool" >/dev/null || topo_skip "'$tool' is not installed (Debian: tshark; scripts/setup-deps.sh installs it)"
done
topo_standard
T=$TOPO_TMP

# Captures on B's rkl1 while FUNCTION runs, into $T/$1.pcapng; stops once a sentinel datagram
# sent after FUNCTION is in the file (dumpcap drops what it has not written when stopped).
capture() {
  local name=$1 fn=$2 pid tenths=100
  topo_bg B "$T/$name.dumpcap.out" "$T/$name.dumpcap.err" dumpcap -i rkl1 -f udp -w "$T/$name.pcapng" -q
  pid=$TOPO_LAST_PID
  topo_wait_until 10000 "dumpcap capturing on B's rkl1" grep -q '^Capturing on' "$T/$name.dumpcap.err"
  "$fn"
  topo_exec A python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"end", ("198.18.1.2", 9))'
  until topo_exec B tshark -n -r "$T/$name.pcapng" -Y 'udp.dstport == 9' 2>/dev/null | grep -q .; do
    [ "$tenths" -gt 0 ] || topo_fail "the sentinel datagram never reached the capture file"
    sleep 0.1
    tenths=$((tenths - 1))
  done
  topo_stop "$pid"
}

# table PCAP SRC_FIELD TTL_FIELD: one line "source kind ttl" per Racket datagram (one tshark
# run: tshark with the Lua dissector takes seconds to start).
table() {
  tshark -n -r "$1" -X "lua_script:$LUA" -Y racket -T fields -e "$2" -e racket.kind -e "$3" 2>/dev/null
}

# run_family LABEL POOL SRC_FIELD TTL_FIELD ADDR_A ADDR_B ADDR_C
run_family() {
  local label=$1 pool=$2 src=$3 field=$4 a=$5 b=$6 c=$7 stream="ttl.$1" pcap
  traffic() {
    topo_bg A "$T/$label.a.out" "$T/$label.a.err" "$SENDER" --pool "$pool" --stream "$stream" \
      --subject t.a --subject t.b --data v --interval 300ms --ttl 5 --announce-period 200ms
    SA=$TOPO_LAST_PID
    topo_wait_until 5000 "the sender on A published" grep -q '^t\.b ' "$T/$label.a.out"
    # B and C ask for snapshots as they start (a full request each), and announce.
    topo_bg B "$T/$label.b.out" "$T/$label.b.err" "$RECEIVER" --pool "$pool" --stream "$stream" \
      --format json --ttl 7 --announce-period 200ms --timeout 20000
    SB=$TOPO_LAST_PID
    topo_bg C "$T/$label.c.out" "$T/$label.c.err" "$RECEIVER" --pool "$pool" --stream "$stream" \
      --format json --announce-period 200ms --timeout 20000
    SC=$TOPO_LAST_PID
    for h in b c; do
      topo_wait_until 5000 "receiver $h got t.b" grep -q '"subject":"t.b"' "$T/$label.$h.out"
    done
    # Long enough for more resends (300 ms) and announcements (200 ms +-20 %) of each.
    sleep 0.8
    topo_stop "$SA"; topo_stop "$SB"; topo_stop "$SC"
  }
  capture "$label" traffic
  pcap="$T/$label.pcapng"
  table "$pcap" "$src" "$field" >"$T/$label.table"
  check_ttl() {  # $1: what, $2: source, $3: kind, $4: wanted value
    local got frames
    got=$(awk -v s="$2" -v k="$3" '$1 == s && $2 == k { print $3 }' "$T/$label.table" | sort -u | tr '\n' ' ' | sed 's/ $//')
    frames=$(awk -v s="$2" -v k="$3" '$1 == s && $2 == k' "$T/$label.table" | wc -l)
    [ "$got" = "$4" ] || topo_fail "$label: $1: $field of kind $3 from $2 is '$got', not '$4'; all (source kind $field): $(sort "$T/$label.table" | uniq -c | tr '\n' ';')"
    topo_log "ok: $label: $1: $field $got ($frames datagrams)"
  }
  check_ttl "A's data" "$a" 1 5
  check_ttl "A's announcements" "$a" 3 5
  check_ttl "B's snapshot requests" "$b" 2 7
  check_ttl "B's announcements" "$b" 3 7
  check_ttl "C's snapshot requests (default 1)" "$c" 2 1
  check_ttl "C's announcements (default 1)" "$c" 3 1
}

echo "== scenario h: TTL and hop limit of what the programs send, captured on LAN1"
run_family v4 239.255.0.0/16 ip.src ip.ttl 198.18.1.1 198.18.1.2 198.18.1.3
run_family v6 ff15::/16 ipv6.src ipv6.hlim 2001:2:1::1 2001:2:1::2 2001:2:1::3
echo "PASS: scenario h (TTL and hop limit on the wire)"
