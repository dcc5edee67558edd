#!/bin/bash
# boot.sh NAME PATTERN [openstack server create options...]: boots the server NAME (a TCG
# guest takes a core: run at most two at a time), waits for ACTIVE, then for PATTERN (an
# extended regexp) in its console log, prints both times and the matching lines, saves the
# console log as $CW_OS_STATE/log/NAME.console, and deletes the server. Fails on ERROR, or when ACTIVE takes
# more than 10 minutes or PATTERN 15.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
. "$CW_OS_STATE/admin-openrc"
name=$1 pattern=$2
shift 2
console=$CW_OS_LOG/$name.console
os server delete --wait "$name" >/dev/null 2>&1 || true
# cleanup deletes the server whatever happened. A failed delete is said, but it does not decide
# the boot (under errexit, a failing command in the trap would make the script's status 1);
# teardown.sh removes what is left.
cleanup() {
	local rc=$? err
	rm -f "$console.new"
	err=$(os server delete --wait "$name" 2>&1 >/dev/null) || echo "$name: the server's delete failed: $err" >&2
	exit $rc
}
trap cleanup EXIT
t0=$SECONDS
os server create "$@" "$name" -f value -c id
status=
until [ "$status" = ACTIVE ]; do
	status=$(os server show "$name" -f value -c status)
	[ "$status" = ERROR ] && { os server show "$name" -f value -c fault; exit 1; }
	[ $((SECONDS - t0)) -gt 600 ] && { echo "$name: $status after 600s"; exit 1; }
	sleep 2
done
t1=$SECONDS
echo "$name: ACTIVE in $((t1 - t0))s ($(os server show "$name" -f value -c addresses))"
id=$(os server show "$name" -f value -c id)
# consolelog: Nova's console log of the server into $console. Nova 26 on this machine at times
# answers with nothing ("Ignored error while reading from instance console pty" in
# nova-compute.log); then the file Nova serves it from (virtlogd writes it) stands in.
consolelog() {
	if os console log show "$name" >"$console.new" 2>/dev/null && [ -s "$console.new" ]; then
		mv "$console.new" "$console"
	elif [ -s "/var/lib/nova/instances/$id/console.log" ]; then
		cp "/var/lib/nova/instances/$id/console.log" "$console"
	fi
}
until consolelog && grep -Eq "$pattern" "$console"; do
	[ $((SECONDS - t1)) -gt 900 ] && { echo "$name: no /$pattern/ in the console log after 900s:"; tail -n 40 "$console"; exit 1; }
	sleep 5
done
echo "$name: /$pattern/ in the console log $((SECONDS - t1))s after ACTIVE ($((SECONDS - t0))s in all):"
grep -E "$pattern" "$console" | head -n 10
