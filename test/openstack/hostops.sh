# Functions of bringup.sh and teardown.sh that touch this host's processes and files, each
# checking or undoing what it touches. Sourcing this file changes nothing (the tests source it).
# shellcheck shell=bash

# POLICY_RC_D is Debian's hook that tells maintainer scripts whether they may start a service.
POLICY_RC_D=${POLICY_RC_D:-/usr/sbin/policy-rc.d}

# no_service_starts CMD...: runs CMD with a policy-rc.d that says 101 (the maintainer scripts start
# nothing: no systemd here, we start the services), unless the host has one of its own. Ours is
# removed however CMD ends: an EXIT trap covers errexit and a signal, so that a failed install never
# leaves every later service install on this host unable to start.
no_service_starts() {
	if [ -e "$POLICY_RC_D" ]; then
		"$@"
		return
	fi
	printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
	chmod +x "$POLICY_RC_D"
	# shellcheck disable=SC2064 # the path is fixed now
	trap "rm -f '$POLICY_RC_D'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	"$@"
	rm -f "$POLICY_RC_D"
	trap - EXIT INT TERM
}

# stoppid FILE NAME...: ends each process whose PID FILE holds, then waits for it (at most 20 s),
# if that process is still one of NAMEs (its /proc/PID/comm, which the kernel cuts to 15 bytes): a
# stale PID file may name a PID that the kernel has since given to another process, left alone.
stoppid() {
	local file=$1 pid p comm
	shift
	pid=$(cat "$file" 2>/dev/null) || return 0
	for p in $pid; do
		comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		if ! printf '%s\n' "$@" | grep -qxF -- "$comm"; then
			echo "  $file: pid $p is now '$comm', not $*: left alone" >&2
			continue
		fi
		kill "$p" 2>/dev/null || continue
		echo "  ended $comm pid $p ($file)"
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -f "$file"
}
