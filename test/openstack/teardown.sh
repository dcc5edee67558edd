#!/bin/bash
# teardown.sh: stops everything bringup.sh started and removes what Neutron and libvirt made on
# this machine: the Nova guests (libvirt domains), the services (by their init scripts; libvirtd,
# virtlogd and epmd by the PIDs the bring-up recorded), Neutron's dnsmasq/radvd/haproxy/keepalived
# (by their PID files under /var/lib/neutron), its namespaces, its brq* bridges with their taps,
# and the provider veth pairs. The packages and the databases stay, so a second bring-up is quick.
# Safe to run twice, and when the bring-up stopped halfway.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

. "$here/hostops.sh"

echo "== teardown"
# The guests first, while libvirtd still runs: Nova's instance-* and spike A's cwos-tiny.
if [ -s "$CW_OS_STATE/libvirtd.pid" ] && command -v virsh >/dev/null; then
	for d in $(timeout 30 virsh list --all --name 2>/dev/null | grep -E '^(instance-|cwos-)'); do
		timeout 60 virsh destroy "$d" >/dev/null 2>&1
		timeout 30 virsh undefine --nvram "$d" >/dev/null 2>&1 || timeout 30 virsh undefine "$d" >/dev/null 2>&1
		echo "  domain $d removed"
	done
fi

for s in neutron-l3-agent neutron-dhcp-agent neutron-metadata-agent neutron-linuxbridge-agent \
	neutron-rpc-server neutron-api nova-compute nova-scheduler nova-conductor nova-api-metadata nova-api \
	placement-api glance-api keystone rabbitmq-server memcached mariadb; do
	[ -x /etc/init.d/$s ] || continue
	running $s || continue
	timeout 120 /etc/init.d/$s stop >/dev/null 2>&1 && echo "  $s stopped" || echo "  $s: stop failed" >&2
done

# What Neutron's agents spawned outlives them by design (dnsmasq, radvd, haproxy, keepalived).
for f in $(find /var/lib/neutron \( -name '*.pid*' -o -name pid \) -type f 2>/dev/null); do
	stoppid "$f" dnsmasq radvd haproxy keepalived neutron-keepali
done
# Only the namespaces and the bridge of our network and router (bringup.sh recorded them).
for ns in $(cat "$CW_OS_STATE/netns" 2>/dev/null); do
	ip netns list | grep -q "^$ns\b" || continue
	for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	ip netns delete "$ns" && echo "  netns $ns deleted"
done
for br in $(cat "$CW_OS_STATE/bridge" 2>/dev/null); do
	ip link show "$br" >/dev/null 2>&1 || continue
	for port in $(ip -o link show master "$br" | awk -F': ' '{sub(/@.*/, "", $2); print $2}'); do
		case $port in cwos-prov*) ;; *) ip link delete "$port" 2>/dev/null ;; esac
	done
	ip link delete "$br" && echo "  bridge $br deleted"
done
for end in "" 6; do
	ip link show cwos-host$end >/dev/null 2>&1 && ip link delete cwos-host$end && echo "  veth cwos-host$end/cwos-prov$end deleted"
done

stoppid "$CW_OS_STATE/libvirtd.pid" libvirtd
stoppid "$CW_OS_STATE/virtlogd.pid" virtlogd
# rabbitmqctl stop needs epmd; without it, the init script stops nothing: end the node by PID.
running rabbitmq-server && stoppid /run/rabbitmq/pid beam.smp

# RabbitMQ's epmd outlives it by design: end it if none ran before the bring-up.
if [ -f "$CW_OS_STATE/epmd" ]; then
	pidof epmd >"$CW_OS_STATE/epmd.pid" && stoppid "$CW_OS_STATE/epmd.pid" epmd
	rm -f "$CW_OS_STATE/epmd" "$CW_OS_STATE/epmd.pid"
fi

# What is left of ours, if anything, is a bug: name it.
left=$(ps -eo pid=,args= | grep -E 'uwsgi|nova-|neutron-|glance-|keystone|mariadbd|beam.smp|memcached|libvirtd|virtlogd|qemu-system.*instance-' |
	grep -v grep || true)
if [ -n "$left" ]; then
	echo "teardown: still running:" >&2
	echo "$left" >&2
	exit 1
fi
echo "  nothing left running"
