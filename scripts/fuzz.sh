#!/usr/bin/env bash
# fuzz.sh TIME: runs every fuzz target of the module (each `func FuzzX` in a _test.go file of a
# package that `go list ./...` names) for TIME (a -fuzztime value: 60s, 5s, 1000x), one target
# at a time, and prints for each its executions, executions per second and the new interesting
# inputs it found, from go test's last "fuzz: elapsed: ..., execs: N (R/sec), new interesting: K"
# line (the rate printed is execs over elapsed, the baseline coverage run included). A target that
# fails, finds a crasher (which go test writes under the package's testdata/fuzz/) or does not
# build fails the run, after the others have run. FUZZPARALLEL sets go test's -parallel (the
# fuzzing workers; default GOMAXPROCS); FUZZLOGS keeps each target's output in that directory;
# FUZZMINIMIZE sets -fuzzminimizetime (default: internal/fuzztest's cap). The short pass sets 0:
# Go reports a minimization cut off by -fuzztime as a failure, "context deadline exceeded".
set -uo pipefail

time=${1:?usage: fuzz.sh TIME}
go=${GO:-go}
logs=${FUZZLOGS:-$(mktemp -d)}
[ -n "${FUZZLOGS:-}" ] || trap 'rm -rf "$logs"' EXIT
mkdir -p "$logs"
parallel=()
[ -z "${FUZZPARALLEL:-}" ] || parallel=(-parallel="$FUZZPARALLEL")
[ -z "${FUZZMINIMIZE:-}" ] || parallel+=(-fuzzminimizetime="$FUZZMINIMIZE")

# elapsed "1m0s" / "59s" / "2h1m3s" -> seconds
seconds() {
	awk -v d="$1" 'BEGIN { s = 0; while (match(d, /^[0-9.]+[hms]/)) {
		n = substr(d, 1, RLENGTH - 1); u = substr(d, RLENGTH, 1); d = substr(d, RLENGTH + 1)
		s += n * (u == "h" ? 3600 : u == "m" ? 60 : 1) } print s }'
}

targets=()
while read -r dir pkg; do
	for name in $(grep -hoE '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | cut -d' ' -f2); do
		targets+=("$pkg $name")
	done
done < <($go list -f '{{.Dir}} {{.ImportPath}}' ./...)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }

start=$SECONDS
failed=()
printf '%-22s %-34s %6s %12s %10s %8s  %s\n' target package time execs execs/s new result
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	log="$logs/$name.log"
	t0=$SECONDS
	$go test -run='^$' -fuzz="^$name\$" -fuzztime="$time" "${parallel[@]}" "$pkg" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^fuzz: elapsed: .*, execs: ' "$log" | tail -n 1)
	execs=$(sed -nE 's/.*execs: ([0-9]+) .*/\1/p' <<<"$line")
	new=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$line")
	elapsed=$(seconds "$(sed -nE 's/^fuzz: elapsed: ([^,]+),.*/\1/p' <<<"$line")")
	rate=$(awk -v n="${execs:-0}" -v s="${elapsed:-0}" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }')
	if [ -z "$line" ] && grep -q 'gathering baseline coverage' "$log"; then
		execs=baseline # TIME ran out while the stored corpus was still being run
	fi
	result=ok
	if [ $rc -ne 0 ]; then
		result=FAIL
		failed+=("$name")
	fi
	printf '%-22s %-34s %5ss %12s %10s %8s  %s\n' "$name" "${pkg#github.com/clearwater-aio/packer-plugin-clearwater/}" \
		$((SECONDS - t0)) "${execs:--}" "$rate" "${new:--}" "$result"
	if [ $rc -ne 0 ]; then
		grep -vE '^fuzz: elapsed: ' "$log" | tail -n 30 | sed 's/^/    /'
	fi
done
echo "fuzz: ${#targets[@]} targets, $time each, $((SECONDS - start))s in all (builds included)"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (a crasher is kept under the package's testdata/fuzz/)" >&2
	exit 1
fi
