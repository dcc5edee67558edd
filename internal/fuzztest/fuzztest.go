// Package fuzztest holds what the module's fuzz targets share.
package fuzztest

import (
	"flag"
	"testing"
)

// MinimizeRuns is how many runs the fuzzer spends minimizing each new input, unless the
// -fuzzminimizetime flag says otherwise.
const MinimizeRuns = "1000x"

// LimitMinimizing caps the minimizing of each new interesting input at MinimizeRuns, unless
// -fuzzminimizetime is given; a fuzz target calls it first, with its *testing.F. Go's default spends up to 60 s on each
// input, in runs that grow with the square of its size: on inputs of a KB or more (a seed image,
// `ip -j addr` output, a DHCP reply) that is most of a minute per new input, and the target is
// hardly fuzzed at all (FuzzISO ran 14 times a minute, FuzzParseAddrs 17). Mutating matters more
// than making the kept inputs smaller.
func LimitMinimizing(tb testing.TB) {
	tb.Helper()
	given := false
	flag.Visit(func(fl *flag.Flag) { given = given || fl.Name == "test.fuzzminimizetime" })
	if given {
		return
	}
	if err := flag.Set("test.fuzzminimizetime", MinimizeRuns); err != nil {
		tb.Fatalf("fuzztest: %v", err)
	}
}
