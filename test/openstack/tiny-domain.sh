#!/bin/bash
# tiny-domain.sh: spike A's check that libvirtd (started by hand, no systemd) runs a TCG guest:
# a transient 64 MiB domain with no disk and no network (SeaBIOS finds nothing to boot and
# waits), created, seen running with its QEMU process, then destroyed. Prints the time from
# `virsh create` to a running domain.
set -euo pipefail
name=cwos-tiny
virsh -q destroy $name >/dev/null 2>&1 || true
xml=$(mktemp)
trap 'rm -f "$xml"; virsh -q destroy $name >/dev/null 2>&1 || true' EXIT
cat >"$xml" <<XML
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices><serial type='pty'/><console type='pty'/></devices>
</domain>
XML
t0=$(date +%s.%N)
virsh -q create "$xml"
for _ in $(seq 100); do
	[ "$(virsh domstate $name)" = running ] && break
	sleep 0.1
done
t1=$(date +%s.%N)
state=$(virsh domstate $name)
pid=$(cat /run/libvirt/qemu/$name.pid)
[ "$state" = running ] && kill -0 "$pid" || { echo "tiny domain: state $state"; exit 1; }
printf 'tiny TCG domain running in %.2fs (qemu pid %s: %s)\n' "$(echo "$t1 - $t0" | bc)" "$pid" \
	"$(tr '\0' ' ' </proc/$pid/cmdline | grep -o 'accel=[a-z]*\|-accel [a-z]*' | head -1)"
