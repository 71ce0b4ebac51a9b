# shellcheck shell=bash
# topology.sh: a sourceable library that builds small multi-host networks out of network
# namespaces, veth pairs and bridges, and always tears them down again.
#
#   . tests/netns/topology.sh
#   topo_init                      # root + `ip netns add` check (exit 77 = SKIP; under
#                                  # CI=true exit 1 = FAIL), traps
#   topo_standard                  # A,B,C on LAN1; D on LAN2; A on LAN2 too (multi-homed)
#   topo_exec B receiver ...       # run a command on host B
#   topo_bg B OUT ERR receiver ... # start one in the background (killed at teardown)
#
# Layout: one "switch" namespace holds a bridge per LAN; every host is its own namespace; a
# host's interface is one end of a veth whose other end sits in the switch namespace,
# enslaved to the LAN's bridge. Every veth is created INSIDE the switch namespace with its
# peer put straight into the host namespace, so nothing ever appears in the host's (the
# machine's) own namespace, and no host setting (address, route, firewall, sysctl) is read or
# changed: every `ip` and `sysctl` runs inside a test namespace.
#
# Addresses (benchmarking ranges only): LAN n is 198.18.n.0/24 and 2001:2:n::/64 (nodad);
# host A is .1 / ::1, B .2, C .3, D .4, E .5 (see topo_host_number); a second interface of a
# host on the same LAN adds 10 (.13 for C's second interface on LAN1).
#
# Names: every namespace is "<prefix>-<role>" with a prefix unique to this run ("rk<pid>");
# interface names inside host namespaces start with "rk" (rkl1 = the host's LAN1 interface,
# rkl1b its second one, rkl2 on LAN2). Teardown kills only the processes this run started
# (by pid, and whatever still runs inside this run's own namespaces) and deletes the
# namespaces, which deletes every veth and bridge in them.
# SPDX-License-Identifier: MIT

TOPO_PREFIX=${TOPO_PREFIX:-rk$$}
TOPO_SWITCH="${TOPO_PREFIX}-sw"
TOPO_NAMESPACES=()   # every namespace created, switch included
TOPO_PIDS=()         # background processes started with topo_bg
TOPO_TMP=""
TOPO_T0=$(date +%s%N)
TOPO_DEADLINE_S=${TOPO_DEADLINE_S:-100}   # whole-scenario deadline (CTest's TIMEOUT is larger)

topo_log() { printf '[%6.2fs] %s\n' "$(topo_elapsed_s)" "$*"; }
topo_elapsed_s() { awk -v a="$(date +%s%N)" -v b="$TOPO_T0" 'BEGIN { printf "%.2f", (a - b) / 1e9 }'; }
topo_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# topo_fail MESSAGE: print and exit 1 (the EXIT trap tears everything down).
topo_fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# topo_skip MESSAGE: this scenario cannot run here: "SKIP: ..." and exit 77 (skipped), or
# under CI "FAIL: ..." and exit 1 (tests/tools/skip.sh). Nothing was sent.
. "$(dirname "${BASH_SOURCE[0]}")/../tools/skip.sh"
topo_skip() { racket_skip "$@"; }

# Namespace name of a host role ("A" -> rk1234-a).
topo_ns() { printf '%s-%s' "$TOPO_PREFIX" "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')"; }

topo_host_number() {
  case "$1" in A) echo 1 ;; B) echo 2 ;; C) echo 3 ;; D) echo 4 ;; E) echo 5 ;; F) echo 6 ;;
    *) topo_fail "unknown host role '$1'" ;; esac
}

# Checks that we can build namespaces (else SKIP, exit 77; FAIL under CI), installs the teardown trap and
# creates the switch namespace. Call once, before anything else.
topo_init() {
  [ "$(id -u)" -eq 0 ] || topo_skip "needs root to create network namespaces (ip netns add); not run"
  command -v ip >/dev/null 2>&1 || topo_skip "iproute2's 'ip' is missing; not run"
  local probe="${TOPO_PREFIX}-probe"
  if ! ip netns add "$probe" 2>/dev/null; then
    topo_skip "'ip netns add' is not permitted here; not run (nothing was sent)"
  fi
  ip netns del "$probe"
  trap topo_teardown EXIT
  trap 'exit 130' INT
  trap 'echo "FAIL: terminated (scenario deadline ${TOPO_DEADLINE_S} s, or killed)" >&2; exit 143' TERM
  TOPO_TMP=$(mktemp -d "/tmp/${TOPO_PREFIX}.XXXXXX")
  # Watchdog: CTest kills a timed-out test with SIGKILL, which no trap sees, so the scenario
  # stops itself first (SIGTERM -> trap -> teardown) well before CTest's TIMEOUT.
  local self=$$
  (
    i=0
    while [ "$i" -lt "$TOPO_DEADLINE_S" ]; do sleep 1; i=$((i + 1)); done  # killable within 1 s
    kill -TERM "$self" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  TOPO_PIDS+=("$!")
  topo_add_ns "$TOPO_SWITCH"
  # The switch has no addresses and must not originate anything (no IPv6 RS/MLD of its own).
  ip netns exec "$TOPO_SWITCH" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

topo_add_ns() {
  ip netns add "$1" || topo_fail "cannot create namespace $1"
  TOPO_NAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# Stops what this run started and deletes every namespace it made. Idempotent; the EXIT trap.
topo_teardown() {
  local rc=$?
  trap - EXIT INT TERM
  local pid ns
  for pid in "${TOPO_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ns in "${TOPO_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${TOPO_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${TOPO_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
  TOPO_NAMESPACES=()
  TOPO_PIDS=()
  [ -n "$TOPO_TMP" ] && [ -z "${TOPO_KEEP_TMP:-}" ] && rm -rf "$TOPO_TMP"
  if ip netns list 2>/dev/null | grep -q "^${TOPO_PREFIX}-"; then
    echo "WARNING: namespaces of this run are left: $(ip netns list | grep "^${TOPO_PREFIX}-" | tr '\n' ' ')" >&2
  fi
  exit "$rc"
}

# topo_lan N: a bridge for LAN N in the switch namespace (multicast snooping off, so the
# bridge floods multicast to every port like a plain hub).
topo_lan() {
  local br="br$1"
  ip -n "$TOPO_SWITCH" link add "$br" type bridge mcast_snooping 0 || topo_fail "cannot create bridge $br"
  ip -n "$TOPO_SWITCH" link set "$br" up
}

# topo_host ROLE: a host namespace with lo up, namespace-local sysctls for tests: no DAD (so
# IPv6 addresses work at once), no reverse-path filter (a host with two interfaces on one LAN
# must accept multicast on both).
topo_host() {
  local ns
  ns=$(topo_ns "$1")
  topo_add_ns "$ns"
  ip netns exec "$ns" sysctl -qw \
    net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

# topo_attach ROLE LAN IFNAME HOSTPART: a veth from LAN's bridge to host ROLE, named IFNAME
# in the host, addressed 198.18.LAN.HOSTPART/24 and 2001:2:LAN::HOSTPART/64 (nodad), up, with
# multicast routes (224.0.0.0/4, ff00::/8) through it unless the host has them already.
topo_attach() {
  local role=$1 lan=$2 ifname=$3 hostpart=$4 ns sw
  ns=$(topo_ns "$role")
  sw="$(printf '%s' "$role" | tr '[:upper:]' '[:lower:]')${lan}${ifname#rkl?}"
  sw="h${sw}"
  ip -n "$TOPO_SWITCH" link add "$sw" type veth peer name "$ifname" netns "$ns" ||
    topo_fail "cannot create veth $sw/$ifname for host $role"
  ip -n "$TOPO_SWITCH" link set "$sw" master "br$lan"
  ip -n "$TOPO_SWITCH" link set "$sw" up
  ip -n "$ns" addr add "198.18.${lan}.${hostpart}/24" dev "$ifname"
  ip -n "$ns" addr add "2001:2:${lan}::${hostpart}/64" dev "$ifname" nodad
  ip netns exec "$ns" sysctl -qw "net.ipv4.conf.${ifname}.rp_filter=0"
  ip -n "$ns" link set "$ifname" up
  ip -n "$ns" route show 224.0.0.0/4 | grep -q . || ip -n "$ns" route add 224.0.0.0/4 dev "$ifname"
  ip -n "$ns" -6 route show ff00::/8 table main | grep -q . ||
    ip -n "$ns" -6 route add ff00::/8 dev "$ifname" table main 2>/dev/null || true
}

# topo_detach ROLE LAN IFNAME: pulls that cable (deletes the veth from the switch side).
topo_detach() {
  local role=$1 lan=$2 ifname=$3 sw
  sw="h$(printf '%s' "$role" | tr '[:upper:]' '[:lower:]')${lan}${ifname#rkl?}"
  ip -n "$TOPO_SWITCH" link del "$sw"
}

# The standard topology of the scenarios:
#   LAN1 (198.18.1.0/24, 2001:2:1::/64): A rkl1 .1, B rkl1 .2, C rkl1 .3
#   LAN2 (198.18.2.0/24, 2001:2:2::/64): A rkl2 .1, D rkl2 .4
topo_standard() {
  topo_lan 1
  topo_lan 2
  local h
  for h in A B C D; do topo_host "$h"; done
  topo_attach A 1 rkl1 1
  topo_attach A 2 rkl2 1
  topo_attach B 1 rkl1 2
  topo_attach C 1 rkl1 3
  topo_attach D 2 rkl2 4
  topo_check_isolated
  topo_log "topology up: LAN1 = A(rkl1 198.18.1.1) B(.2) C(.3); LAN2 = A(rkl2 198.18.2.1) D(.4); prefix $TOPO_PREFIX"
}

# Refuses to go on unless every host namespace holds only lo and rk* interfaces with test
# addresses: the programs run there can then reach nothing but the test LANs.
topo_check_isolated() {
  local ns bad
  for ns in "${TOPO_NAMESPACES[@]}"; do
    [ "$ns" = "$TOPO_SWITCH" ] && continue
    bad=$(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -v -e '^lo$' -e '^rk' || true)
    [ -z "$bad" ] || topo_fail "namespace $ns has unexpected interfaces: $bad"
    bad=$(ip -n "$ns" -o addr show | awk '{ print $4 }' |
      grep -v -e '^127\.' -e '^::1/' -e '^fe80:' -e '^198\.1[89]\.' -e '^2001:2:' || true)
    [ -z "$bad" ] || topo_fail "namespace $ns has non-test addresses: $bad"
  done
}

# topo_exec ROLE CMD...: runs CMD on host ROLE (in its namespace).
topo_exec() {
  local ns
  ns=$(topo_ns "$1")
  shift
  ip netns exec "$ns" "$@"
}

# topo_bg ROLE STDOUT STDERR CMD...: starts CMD on host ROLE in the background; sets
# TOPO_LAST_PID. Its stdin is /dev/null, or the file (FIFO) named by TOPO_BG_STDIN.
topo_bg() {
  local ns out=$2 err=$3
  ns=$(topo_ns "$1")
  shift 3
  ip netns exec "$ns" "$@" <"${TOPO_BG_STDIN:-/dev/null}" >"$out" 2>"$err" &
  TOPO_LAST_PID=$!
  TOPO_PIDS+=("$TOPO_LAST_PID")
}

# topo_stop PID: SIGTERM one process this run started, and wait for it (at most 5 s).
topo_stop() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$pid" 2>/dev/null
  return 0
}

# topo_wait_until TIMEOUT_MS DESCRIPTION CMD...: polls CMD every 50 ms until it succeeds;
# prints how long it took, or fails with DESCRIPTION when the deadline passes.
# Sets TOPO_WAITED_MS.
topo_wait_until() {
  local timeout=$1 what=$2 start now
  shift 2
  start=$(topo_now_ms)
  while true; do
    if "$@"; then
      now=$(topo_now_ms)
      TOPO_WAITED_MS=$((now - start))
      return 0
    fi
    now=$(topo_now_ms)
    if [ $((now - start)) -ge "$timeout" ]; then
      topo_fail "timed out after ${timeout} ms waiting for: $what"
    fi
    sleep 0.05
  done
}

# topo_check DESCRIPTION CMD...: prints "check: DESCRIPTION ... ok" or fails.
topo_check() {
  local what=$1
  shift
  if "$@"; then
    topo_log "ok: $what"
  else
    topo_fail "$what"
  fi
}

# topo_igmp_has ROLE IFNAME GROUP: host ROLE has joined IPv4 GROUP on IFNAME (/proc/net/igmp).
topo_igmp_has() {
  topo_exec "$1" cat /proc/net/igmp | awk -v dev="$2" -v want="$(topo_igmp_key "$3")" '
    /^[0-9]/ { split($0, a, /[\t :]+/); cur = a[2] }
    /^\t/ { if (cur == dev && $1 == want) found = 1 }
    END { exit !found }'
}

# GROUP as /proc/net/igmp prints it: the network-order address as a host-order hex word.
topo_igmp_key() {
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  printf '%02X%02X%02X%02X' "$4" "$3" "$2" "$1"
}

# topo_igmp6_has ROLE IFNAME GROUP: host ROLE has joined IPv6 GROUP on IFNAME (/proc/net/igmp6).
topo_igmp6_has() {
  local key
  key=$(python3 -c 'import ipaddress,sys; print(ipaddress.IPv6Address(sys.argv[1]).exploded.replace(":",""))' "$3")
  topo_exec "$1" cat /proc/net/igmp6 | awk -v dev="$2" -v want="$key" '$2 == dev && $3 == want { f = 1 } END { exit !f }'
}

# topo_igmp_devices ROLE GROUP: the devices on which ROLE joined IPv4 GROUP, sorted, one line.
topo_igmp_devices() {
  topo_exec "$1" cat /proc/net/igmp | awk -v want="$(topo_igmp_key "$2")" '
    /^[0-9]/ { split($0, a, /[\t :]+/); cur = a[2] }
    /^\t/ { if ($1 == want) print cur }' | sort | tr '\n' ' ' | sed 's/ $//'
}

# Group and port a receiver/sender printed on stderr ("... on 239.255.190.19:19091 via lo").
# IPv6 groups are printed in brackets ("on [ff15::1]:19094 via ...").
topo_group_of() {
  sed -n -E 's/.* on \[([0-9a-fA-F:]+)\]:[0-9]+ via .*/\1/p; s/.* on ([0-9.]+):[0-9]+ via .*/\1/p' "$1" | head -n 1
}

# topo_need_programs: SENDER and RECEIVER must be executables.
topo_need_programs() {
  [ -n "${SENDER:-}" ] && [ -x "$SENDER" ] || topo_fail "SENDER (the built examples/sender) is not set or not executable"
  [ -n "${RECEIVER:-}" ] && [ -x "$RECEIVER" ] || topo_fail "RECEIVER (the built examples/receiver) is not set or not executable"
}

# last_values FILE: "subject<TAB>payload" of the last message per subject in a receiver's
# JSON lines (subjects removed since are left out).
topo_last_values() {
  jq -r 'if .event == "message" then "M\t\(.subject)\t\(.payload)" elif .event == "removed" then "R\t\(.subject)\t" else empty end' "$1" 2>/dev/null |
    awk -F'\t' '$1 == "M" { v[$2] = $3 } $1 == "R" { delete v[$2] } END { for (s in v) print s "\t" v[s] }' | sort
}
