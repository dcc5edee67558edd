// Package netstate describes a host's addresses and default routes at one moment: a Snapshot.
// A snapshot comes from `ip -j addr show` / `ip -j route show default` JSON, or live from netlink.
package netstate

import "net/netip"

// Forever is the lifetime, in seconds, of an address that never expires (ip's "forever").
const Forever = 0xffffffff

// Snapshot is the links, addresses and default routes of a host at one moment.
type Snapshot struct {
	Links  []Link  // in the order listed (ip lists by ifindex)
	Routes []Route // default routes only
}

// Link is one network interface and its addresses.
type Link struct {
	Index    int
	Name     string
	Up       bool // administratively up and with a carrier (operstate not DOWN/LOWERLAYERDOWN)
	Loopback bool
	Addrs    []Addr // in the order listed

	AdminUp   bool   // flag UP
	LowerUp   bool   // flag LOWER_UP: the driver reports a carrier
	NoCarrier bool   // flag NO-CARRIER: up but not running
	OperState string // RFC 2863 state as ip prints it: UP, DOWN, LOWERLAYERDOWN, UNKNOWN, ...
}

// Addr is one address on a link, with the kernel's flags that matter to the decision.
type Addr struct {
	Prefix     netip.Prefix // address and prefix length; the address has no zone
	Scope      string       // "global", "site", "link", "host"
	Tentative  bool         // IPv6 DAD not finished
	DADFailed  bool
	Deprecated bool // preferred lifetime 0
	Temporary  bool // RFC 4941 privacy address
	Dynamic    bool // has a finite valid lifetime (DHCP, SLAAC)
	Optimistic bool

	// Lifetimes in seconds, Forever when infinite (also when the source gives none).
	ValidLifetime     uint32
	PreferredLifetime uint32
}

// Route is one default route.
type Route struct {
	IPv6    bool
	Dev     string
	Gateway netip.Addr // invalid when the route has none
	Metric  int
}

// Link returns the link named name, or false.
func (s Snapshot) Link(name string) (Link, bool) {
	for _, l := range s.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// linkUp reports whether a link with these flags and operstate can carry traffic.
func linkUp(adminUp, noCarrier bool, operState string) bool {
	switch operState {
	case "DOWN", "LOWERLAYERDOWN", "NOTPRESENT":
		return false
	}
	return adminUp && !noCarrier
}

// validName reports whether name is a name the kernel accepts for an interface (dev_valid_name).
func validName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/', c == ':', c == 0, c == ' ', c >= '\t' && c <= '\r':
			return false
		}
	}
	return true
}
