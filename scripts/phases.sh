#!/usr/bin/env bash
# phases.sh runs make targets one after another, stops at the first that fails, and prints
# each one's time and the total at the end (on failure too), so that a run says where its time
# went (CONTRIBUTING.md "Where the time goes").
#
#   scripts/phases.sh [--background T --after A --before U] TARGET...
#
# --background T --after A --before U: T runs in the background from the end of A (its output
# kept in a log, printed if it fails) and is waited for just before U; make check starts the
# test images this way once deps has installed debootstrap, so that debootstrap waits on the
# network and the disk while the static checks use the cores.
set -uo pipefail
MAKE=${MAKE:-make}
bg= after= before=
while [[ ${1:-} == --* ]]; do
	case $1 in
	--background) bg=$2 ;;
	--after) after=$2 ;;
	--before) before=$2 ;;
	*) echo "phases.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
[[ -z $bg || (-n $after && -n $before) ]] || { echo "phases.sh: --background needs --after and --before" >&2; exit 2; }

names=() times=()
start=$(date +%s)
report() {
	local i
	echo "== where the time went"
	for i in "${!names[@]}"; do printf '%6d s  %s\n' "${times[$i]}" "${names[$i]}"; done
	printf '%6d s  total\n' $(($(date +%s) - start))
}
trap report EXIT

bgpid= bglog= bgstart=
# start_background runs $bg in a process group of its own, so that a failure can stop all of it.
start_background() {
	bglog=$(mktemp)
	bgstart=$(date +%s)
	set -m
	{ $MAKE --no-print-directory "$bg" >"$bglog" 2>&1; rc=$?; date +%s >"$bglog.end"; exit "$rc"; } &
	bgpid=$!
	set +m
}
stop_background() {
	[[ -n $bgpid ]] || return 0
	kill -TERM -- "-$bgpid" 2>/dev/null
	wait "$bgpid" 2>/dev/null
	rm -f "$bglog" "$bglog.end"
}
for t in "$@"; do
	if [[ $t == "$before" && -n $bgpid ]]; then
		t0=$(date +%s)
		wait "$bgpid"
		rc=$?
		bgpid=
		end=$(cat "$bglog.end")
		names+=("$bg (in the background from the end of $after; $before waited $(($(date +%s) - t0)) s for it)")
		times+=($((end - bgstart)))
		rm -f "$bglog.end"
		if ((rc != 0)); then
			tail -n 60 "$bglog" >&2
			rm -f "$bglog"
			echo "phases.sh: $bg failed (its log's end is above)" >&2
			exit "$rc"
		fi
		rm -f "$bglog"
	fi
	t0=$(date +%s)
	$MAKE --no-print-directory "$t"
	rc=$?
	names+=("$t") times+=($(($(date +%s) - t0)))
	if ((rc != 0)); then
		stop_background
		exit "$rc"
	fi
	[[ $t != "$after" || -z $bg || -n $bgstart ]] || start_background
done
