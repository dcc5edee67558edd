#!/usr/bin/env bash
# Captures the example snapshots from real network namespaces (run as root; needs iproute2).
# Each scenario is a folder with addrs.json (`ip -j addr show`) and routes.json
# (`ip -j route show default` followed by `ip -6 -j route show default`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ns=cwcap-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT

capture() { # name setup-commands...
	local name=$1; shift
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add eth0 type veth peer name peer0
	ip -n "$ns" link set peer0 up
	ip -n "$ns" link set eth0 up
	for c in "$@"; do ip -n "$ns" $c; done
	mkdir -p "$here/$name"
	ip -n "$ns" -j addr show > "$here/$name/addrs.json"
	{ ip -n "$ns" -j route show default; ip -n "$ns" -6 -j route show default; } > "$here/$name/routes.json"
	ip netns del "$ns"
}

capture dual-stack \
	"addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600" \
	"addr add 2001:db8:1::10/64 dev eth0 nodad valid_lft 7200 preferred_lft 3600" \
	"route add default via 192.0.2.1 dev eth0" \
	"-6 route add default via 2001:db8:1::1 dev eth0"
capture ipv4-only \
	"addr add 192.0.2.10/24 dev eth0 valid_lft 3600 preferred_lft 3600" \
	"route add default via 192.0.2.1 dev eth0"
capture ipv6-only \
	"addr add 2001:db8:1::10/64 dev eth0 nodad valid_lft 7200 preferred_lft 3600" \
	"-6 route add default via 2001:db8:1::1 dev eth0"
capture no-address
