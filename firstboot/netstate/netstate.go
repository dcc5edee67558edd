// Package netstate describes a host's addresses and default routes at one moment: a Snapshot.
// A snapshot comes from `ip -j addr show` / `ip -j route show default` JSON, or live from netlink.
package netstate

import "net/netip"

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
