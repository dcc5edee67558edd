// Package policy decides which address family and address Clearwater uses, from a snapshot of the
// host's addresses and the force_ipv6 toggle. It is pure: no I/O, no clock.
package policy

import "net/netip"

// Families, as they appear in the helper's JSON.
const (
	IPv4 = "ipv4"
	IPv6 = "ipv6"
)

// Input is everything besides the snapshot that the decision depends on.
type Input struct {
	ForceIPv6        bool
	OnMissingIPv6    string   // config.Fallback (default when empty) or config.Fail
	Interface        string   // when set, only this interface counts
	IgnoreInterfaces []string // shell patterns (path.Match) of interface names that never count
}

// Candidate is one usable address, as the decision ranks them.
type Candidate struct {
	Addr      netip.Addr
	Prefix    netip.Prefix
	Interface string
	Index     int
}

// HeldAddr is an address that duplicate address detection keeps from being usable.
type HeldAddr struct {
	Candidate
	Failed bool   // DAD failed: another host on the link has it; else DAD is not finished
	Why    string // as the decision's reasons say it, e.g. "is tentative (DAD not finished)"
}

// Decision is the outcome: a family and an address, or nothing with Error set.
type Decision struct {
	Family    string // IPv4, IPv6, or "" when nothing was decided
	Address   netip.Addr
	Interface string
	Degraded  bool     // forced IPv6 but fell back to IPv4
	Reasons   []string // why, in order, for a person
	Warnings  []string
	Error     string // set exactly when Family is ""
}

// Decided reports whether the decision chose an address.
func (d Decision) Decided() bool { return d.Family != "" }
