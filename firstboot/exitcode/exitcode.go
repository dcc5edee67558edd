// Package exitcode is the one definition of clearwater-firstboot's exit statuses: the helper
// returns them, the provisioner reads them from its build-time verify, its scripts' comments and
// the helper's usage text are rendered from them, and a test holds the docs' tables to them.
package exitcode

import (
	"fmt"
	"strings"
)

// The helper's exit statuses. status exits with the code of the run it reports.
const (
	// Decided: an address was decided (degraded included) and, for run, Clearwater's config is
	// written as it should be.
	Decided = 0
	// NoAddress: no usable address (or, for status, no run recorded this boot); nothing is
	// decided and nothing written.
	NoAddress = 1
	// Usage: bad usage (a flag, an unreadable --user-data or snapshot) or a bad baked config; the
	// message names the flag or the file, key and accepted values. Nothing is written.
	Usage = 2
	// NotWritten: decided, but Clearwater's config (or the helper's state) could not be written;
	// the status names the file and the cause, and what was not written is as it was.
	NotWritten = 3
	// Stopped: the run was stopped (SIGTERM, an interrupt) before it decided, while it waited
	// for addresses, the metadata service or another run's lock; nothing is written. The init
	// system that stopped it says why (its timeout, a shutdown).
	Stopped = 4
)

// Code is one exit status and what it means, for the usage text and the docs.
type Code struct {
	Status  int
	Meaning string
}

// All lists every exit status in order, each with its meaning in a few words.
var All = []Code{
	{Decided, "decided (degraded included)"},
	{NoAddress, "no usable address (nothing written)"},
	{Usage, "bad usage or config (nothing written)"},
	{NotWritten, "decided but could not write (old files intact; the status says which file and why)"},
	{Stopped, "stopped before it decided (nothing written)"},
}

// Summary is the one-line list of the statuses, as usage texts and scripts' comments print it:
// "0 decided (...), 1 no usable address (...), ...".
func Summary() string {
	parts := make([]string, len(All))
	for i, c := range All {
		parts[i] = fmt.Sprintf("%d %s", c.Status, c.Meaning)
	}
	return strings.Join(parts, ", ")
}
