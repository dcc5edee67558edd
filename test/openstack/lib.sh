# Shared by bringup.sh, teardown.sh and e2e.sh: the step wrapper and the state directory.
# shellcheck shell=bash

# require_host: the cloud is Debian 12's OpenStack Zed, installed and started as root; every
# script says so before it touches anything, not halfway through.
require_host() {
	[ "$(id -u)" -eq 0 ] || { echo "test/openstack: run as root (it installs packages and starts services)" >&2; exit 2; }
	local codename
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ "$codename" = bookworm ] || { echo "test/openstack: needs Debian 12 (bookworm) for its OpenStack Zed packages; this is '${codename:-unknown}'" >&2; exit 2; }
}

require_host

# CW_OS_STATE holds what the bring-up made (PIDs it started, the admin openrc, the logs) so that
# teardown.sh undoes exactly that.
CW_OS_STATE=${CW_OS_STATE:-/var/lib/clearwater-openstack}
CW_OS_LOG=$CW_OS_STATE/log
mkdir -p "$CW_OS_STATE" "$CW_OS_LOG"
export CW_OS_STATE CW_OS_LOG

# os CMD...: the openstack client, bounded: an API that never answers fails the script, not hangs it.
os() { timeout 300 openstack "$@"; }

# step NAME [timeout=SECONDS] CMD...: runs CMD under timeout (default 300 s), its output to
# $CW_OS_LOG/NAME.log, and on failure names the step and shows the log's tail.
step() {
	local name=$1 secs=300
	shift
	case $1 in timeout=*) secs=${1#timeout=}; shift ;; esac
	local t0=$SECONDS rc=0
	# bash -c: CMD may be a function of the caller's (exported with export -f).
	timeout --kill-after=10 "$secs" bash -c '"$@"' "$name" "$@" >"$CW_OS_LOG/$name.log" 2>&1 </dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -eq 124 ] && echo "step $name: timed out after ${secs}s" >&2
		echo "step $name FAILED (exit $rc): $*" >&2
		tail -n 30 "$CW_OS_LOG/$name.log" >&2
		return "$rc"
	fi
	printf '  %-28s %4ds\n' "$name" $((SECONDS - t0))
}

# phase NAME: prints the time of the phase before and starts NAME.
CW_PHASE=
CW_PHASE_T0=$SECONDS
phase() {
	[ -n "$CW_PHASE" ] && printf 'phase %-20s %5ds\n' "$CW_PHASE" $((SECONDS - CW_PHASE_T0))
	CW_PHASE=$1
	CW_PHASE_T0=$SECONDS
	[ -n "$1" ] && echo "== $1"
	return 0
}


# retry SECONDS CMD...: runs CMD once a second until it succeeds or SECONDS pass.
retry() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 1
	done
}
export -f retry

# running NAME: whether the init script NAME's daemon runs. OpenStack's scripts (openstack-pkg-
# tools) answer "status" by the daemon's binary, and every uwsgi API has the same one: ask
# their PID file instead.
running() {
	local f=/etc/init.d/$1
	if grep -q '^PROJECT_NAME=' "$f"; then
		start-stop-daemon --status --pidfile "$(pidfile "$1")"
	elif [ "$1" = rabbitmq-server ]; then
		# Its "status" runs rabbitmqctl, which starts an epmd when none runs.
		# (start-stop-daemon refuses its PID file: it belongs to rabbitmq, not root.)
		[ -s /run/rabbitmq/pid ] && kill -0 "$(cat /run/rabbitmq/pid)" 2>/dev/null
	else
		"$f" status >/dev/null 2>&1
	fi
}

# pidfile NAME: the PID file of the OpenStack init script NAME.
pidfile() {
	(
		eval "$(grep -E '^(PROJECT_NAME|NAME)=' "/etc/init.d/$1")"
		echo "/run/$PROJECT_NAME/$NAME.pid"
	)
}
export -f running pidfile
