#!/bin/bash
# capture.sh builds each scenario in network namespaces of its own, then records what ip prints:
#   <scenario>/addrs.json   ip -j addr show                      (in the host namespace)
#   <scenario>/routes.json  ip -j route show default; ip -6 -j route show default  (two arrays)
# plus, for dual-stack, addrs-d.json (ip -j -d addr show) and addrs-dev.json (ip -j addr show dev eth0).
# Needs root, iproute2 and radvd. Everything it makes (namespaces, links, radvd) is removed on exit.
# Usage: capture.sh [OUTDIR]   (default: the folder of this script)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root (network namespaces)" >&2; exit 1; }
for tool in ip radvd sysctl; do
	command -v $tool >/dev/null || { echo "capture.sh: needs $tool" >&2; exit 1; }
done
out=${1:-$(cd "$(dirname "$0")" && pwd)}
work=$(mktemp -d /tmp/netstate-capture.XXXXXX)
P=nscap$$ # namespace prefix, unique to this run
H=$P-host S=$P-srv S2=$P-srv2 S3=$P-srv3

cleanup() {
	for f in "$work"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
	for n in $H $S $S2 $S3; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# fresh: new host and server namespaces; DAD off unless $1 = dad.
fresh() {
	cleanup_ns
	for n in $H $S $S2 $S3; do
		ip netns add "$n"
		ip -n "$n" link set dev lo up
		ip netns exec "$n" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
	done
	if [ "${1:-}" = dad ]; then
		ip netns exec $H sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.all.accept_dad=1
	fi
}
cleanup_ns() {
	for f in "$work"/*.pid; do [ -e "$f" ] && { kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; }; done
	for n in $H $S $S2 $S3; do ip netns del "$n" 2>/dev/null || true; done
}

# wire HOSTIF SRVNS SRVIF MACBYTE: a veth pair, HOSTIF in the host namespace, both ends up.
# Fixed MACs keep link-local and SLAAC addresses (and RA gateways) the same from run to run.
wire() {
	ip link add "$1" netns $H address "02:00:00:00:00:$4" type veth peer name "$3" netns "$2" address "02:00:00:00:01:$4"
	ip -n "$2" link set dev "$3" up
	ip -n $H link set dev "$1" up
}

# radvd_on NS IF PREFIX: router advertisements for PREFIX/64 from NS, every 3-10 s.
radvd_on() {
	cat >"$work/$1.conf" <<CONF
interface $2 { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 10;
  prefix $3/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 86400; AdvPreferredLifetime 14400; }; };
CONF
	ip netns exec "$1" radvd -C "$work/$1.conf" -p "$work/$1.pid" -m logfile -l "$work/$1.log"
}

# wait_for NS COMMAND...: until COMMAND succeeds in NS, at most 10 s.
wait_for() {
	local ns=$1; shift
	for _ in $(seq 100); do
		ip netns exec "$ns" "$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "capture: timed out waiting for: $*" >&2
	return 1
}
# slaac_ready: a global, non-tentative, non-temporary IPv6 address and an IPv6 default route.
slaac_ready() {
	wait_for $H sh -c "ip -6 -j addr show scope global -tentative | grep -q mngtmpaddr && ip -6 route show default | grep -q via"
}

save() {
	mkdir -p "$out/$1"
	ip -n $H -j addr show >"$out/$1/addrs.json"
	{ ip -n $H -j route show default; ip -n $H -6 -j route show default; } >"$out/$1/routes.json"
	echo "captured $1"
}

# --- scenarios ---
# ipv4-only: DHCP-like lease (dynamic, valid_lft 3600) and a default route.
fresh
wire eth0 $S s0 01
ip -n $H addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600
ip -n $H route add default via 192.0.2.1 dev eth0
save ipv4-only

# ipv6-slaac: radvd in the server namespace, SLAAC address and RA default route, no IPv4.
fresh
wire eth0 $S s0 02
ip -n $S addr add 2001:db8:1::1/64 dev s0
radvd_on $S s0 2001:db8:1::
slaac_ready
save ipv6-slaac

# dual-stack: DHCP-like IPv4 + SLAAC IPv6, both default routes.
fresh
wire eth0 $S s0 03
ip -n $H addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600
ip -n $H route add default via 192.0.2.1 dev eth0
radvd_on $S s0 2001:db8:1::
slaac_ready
save dual-stack
ip -n $H -j -d addr show >"$out/dual-stack/addrs-d.json"
ip -n $H -j addr show dev eth0 >"$out/dual-stack/addrs-dev.json"

# tentative: IPv4 plus a global IPv6 whose DAD (100 probes, 10 s apart) cannot finish during capture.
fresh dad
wire eth0 $S s0 04
ip netns exec $H sysctl -qw net.ipv6.conf.eth0.dad_transmits=100 net.ipv6.neigh.eth0.retrans_time_ms=10000
ip -n $H addr add 192.0.2.10/24 dev eth0
ip -n $H route add default via 192.0.2.1 dev eth0
ip -n $H addr add 2001:db8:1::10/64 dev eth0
ip -n $H route add default via 2001:db8:1::1 dev eth0
save tentative

# dadfailed: the server already holds 2001:db8:1::10 on the link; the host's copy fails DAD.
fresh dad
wire eth0 $S s0 05
ip -n $S addr add 2001:db8:1::10/64 dev s0 nodad
ip -n $H addr add 192.0.2.10/24 dev eth0
ip -n $H route add default via 192.0.2.1 dev eth0
ip -n $H addr add 2001:db8:1::10/64 dev eth0
wait_for $H sh -c "ip -6 addr show dev eth0 | grep -q dadfailed"
# The link-local address runs DAD too: wait for it to pass, so that the capture does not depend on
# how fast the machine is.
wait_for $H sh -c "! ip -6 addr show dev eth0 scope link | grep -q tentative"
save dadfailed

# deprecated: 2001:db8:1::20 with preferred_lft 0, beside a usable 2001:db8:1::21; IPv6 only.
fresh
wire eth0 $S s0 06
ip -n $H addr add 2001:db8:1::21/64 dev eth0 valid_lft 7200 preferred_lft 3600
ip -n $H addr add 2001:db8:1::20/64 dev eth0 valid_lft 7200 preferred_lft 0
ip -n $H route add default via 2001:db8:1::1 dev eth0
save deprecated

# temporary: SLAAC with use_tempaddr=2: a mngtmpaddr address and a temporary (privacy) one.
fresh
ip netns exec $H sysctl -qw net.ipv6.conf.default.use_tempaddr=2
wire eth0 $S s0 07
radvd_on $S s0 2001:db8:1::
slaac_ready
wait_for $H sh -c "ip -6 addr show dev eth0 | grep -q temporary"
save temporary

# ula-global: a ULA and a global IPv6 on eth0 (the ULA listed first), IPv6 default route on eth0.
fresh
wire eth0 $S s0 08
ip -n $H addr add 2001:db8:1::10/64 dev eth0
ip -n $H addr add fd00:1::10/64 dev eth0
ip -n $H route add default via 2001:db8:1::1 dev eth0
save ula-global

# docker-bridge: docker0 (lower ifindex, up through a veth port) with 172.17.0.1/16, eth0 with the route.
fresh
ip -n $H link add docker0 address 02:42:00:00:00:01 type bridge
ip -n $H link add vethd0c1 address 02:00:00:00:02:01 type veth peer name ctr0 address 02:00:00:00:02:02
ip -n $H link set dev vethd0c1 master docker0
ip -n $H link set dev ctr0 up
ip -n $H link set dev vethd0c1 up
ip -n $H link set dev docker0 up
ip -n $H addr add 172.17.0.1/16 dev docker0
wire eth0 $S s0 09
ip -n $H addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600
ip -n $H route add default via 192.0.2.1 dev eth0
wait_for $H sh -c "ip link show dev docker0 | grep -q 'state UP'"
save docker-bridge

# two-nics: eth0 and eth1 both dual-stack; both default routes on eth1 (the higher ifindex).
fresh
wire eth0 $S s0 0a
wire eth1 $S2 s1 0b
ip -n $H addr add 192.0.2.10/24 dev eth0
ip -n $H addr add 2001:db8:1::10/64 dev eth0
ip -n $H addr add 198.51.100.10/24 dev eth1
ip -n $H addr add 2001:db8:2::10/64 dev eth1
ip -n $H route add default via 198.51.100.1 dev eth1
ip -n $H route add default via 2001:db8:2::1 dev eth1
save two-nics

# link-down: eth0 administratively down with addresses; eth1 up but its peer down (NO-CARRIER).
fresh
wire eth0 $S s0 0c
wire eth1 $S2 s1 0d
ip -n $H addr add 192.0.2.10/24 dev eth0
ip -n $H addr add 2001:db8:1::10/64 dev eth0
ip -n $H addr add 198.51.100.10/24 dev eth1
ip -n $H link set dev eth0 down
ip -n $S2 link set dev s1 down
wait_for $H sh -c "ip link show dev eth1 | grep -q NO-CARRIER"
save link-down

# loopback-only: nothing but lo (127.0.0.1/8, ::1/128).
fresh
save loopback-only
