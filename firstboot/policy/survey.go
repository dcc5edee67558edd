package policy

import (
	"fmt"
	"path"
	"slices"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
)

// surveyed is what survey finds: each family's candidates, ranked, and why others are not.
type surveyed struct {
	cands    [2][]Candidate // IPv4, IPv6
	held     [2][]HeldAddr  // addresses that only duplicate address detection keeps from cands
	defDev   [2]string      // the link of each family's default route, "" when none
	reasons  []string       // filled only when explaining
	warnings []string
}

// survey walks the snapshot once, keeping usable addresses; explain records the reasons too.
func survey(s netstate.Snapshot, in Input, explain bool) surveyed {
	var sv surveyed
	sv.defDev = defaultDevs(s.Routes)
	if explain {
		sv.reasons = make([]string, 0, 4*len(s.Links)+4)
		sv.explainSettings(s, in)
	}
	for _, l := range s.Links {
		if why := SkipLink(l, in); why != "" {
			if explain {
				sv.reasons = append(sv.reasons, "ignored "+l.Name+": "+why)
			}
			continue
		}
		for _, a := range l.Addrs {
			ip := a.Prefix.Addr()
			f, c := 0, Candidate{Addr: ip, Prefix: a.Prefix, Interface: l.Name, Index: l.Index}
			if ip.Is6() {
				f = 1
			}
			if why := unusable(a); why != "" {
				if explain {
					sv.reasons = append(sv.reasons, ip.String()+" on "+l.Name+" "+why)
				}
				if heldByDAD(a) {
					sv.held[f] = append(sv.held[f], HeldAddr{Candidate: c, Failed: a.DADFailed, Why: why})
				}
				continue
			}
			sv.cands[f] = append(sv.cands[f], c)
		}
	}
	for f := range sv.cands {
		rank(sv.cands[f], sv.defDev[f])
	}
	return sv
}

// explainSettings notes the missing default routes, malformed patterns and a missing pinned link.
func (sv *surveyed) explainSettings(s netstate.Snapshot, in Input) {
	for i, fam := range [2]string{"IPv4", "IPv6"} {
		if sv.defDev[i] == "" {
			sv.reasons = append(sv.reasons, "no "+fam+" default route")
		}
	}
	for _, p := range in.IgnoreInterfaces {
		if _, err := path.Match(p, ""); err != nil {
			sv.warnings = append(sv.warnings, fmt.Sprintf("ignore_interfaces pattern %q is malformed: it matches nothing", p))
		}
	}
	if _, ok := s.Link(in.Interface); in.Interface != "" && !ok {
		sv.warnings = append(sv.warnings, "interface "+in.Interface+" (the interface setting) does not exist: no address counts")
	}
}

// SkipLink says why no address of l counts (pinned elsewhere, ignored, loopback, down), or "".
func SkipLink(l netstate.Link, in Input) string {
	if in.Interface != "" && l.Name != in.Interface {
		return "only " + in.Interface + " counts (interface setting)"
	}
	if in.Interface == "" {
		for _, p := range in.IgnoreInterfaces {
			if ok, _ := path.Match(p, l.Name); ok {
				return "matches ignore_interfaces pattern " + p
			}
		}
	}
	switch {
	case l.Loopback:
		return "loopback"
	case !l.AdminUp:
		return "link is administratively down"
	case !l.Up:
		return "link is down (no carrier, operstate " + l.OperState + ")"
	}
	return ""
}

// unusable says why an address on an up link cannot carry Clearwater, or "".
func unusable(a netstate.Addr) string {
	ip := a.Prefix.Addr()
	switch {
	case !ip.IsValid():
		return "is not a valid address"
	case a.Scope == "host" || a.Scope == "nowhere":
		return "has " + a.Scope + " scope"
	case ip.IsLinkLocalUnicast():
		return "is link-local"
	case !ip.IsGlobalUnicast() || ip.Is4In6() || ip.Is6() && ip.As16()[0] == 0:
		// ::/8 is reserved, yet a router advertising ::/64 makes the kernel build such an address.
		return "is not a routable unicast address"
	case a.DADFailed:
		return "failed duplicate address detection (dadfailed): another host on the link has it"
	case a.Tentative && a.Optimistic:
		return "is tentative (optimistic DAD not finished)"
	case a.Tentative:
		return "is tentative (DAD not finished)"
	case a.Deprecated:
		return "is deprecated (preferred lifetime 0)"
	case a.Temporary:
		return "is a temporary (privacy) address, which changes over time"
	}
	return ""
}

// heldByDAD reports whether duplicate address detection is all that keeps a from being usable:
// it is tentative (DAD not finished) or DAD failed, and would be usable otherwise.
func heldByDAD(a netstate.Addr) bool {
	done := a
	done.Tentative, done.Optimistic, done.DADFailed = false, false, false
	return (a.Tentative || a.DADFailed) && unusable(done) == ""
}

// rank orders candidates of one family: those on defDev first, then global unicast before ULA,
// then lower ifindex, then as listed.
func rank(c []Candidate, defDev string) {
	key := func(x Candidate) (int, int, int) {
		d, u := 1, 0
		if defDev != "" && x.Interface == defDev {
			d = 0
		}
		if ula.Contains(x.Addr) {
			u = 1
		}
		return d, u, x.Index
	}
	slices.SortStableFunc(c, func(x, y Candidate) int {
		xd, xu, xi := key(x)
		yd, yu, yi := key(y)
		switch {
		case xd != yd:
			return xd - yd
		case xu != yu:
			return xu - yu
		}
		return xi - yi
	})
}

// defaultDevs returns the link of the IPv4 and of the IPv6 default route with the lowest metric
// (the one the kernel uses; the first listed on a tie).
func defaultDevs(routes []netstate.Route) [2]string {
	var devs [2]string
	var best [2]int
	for _, r := range routes {
		f := 0
		if r.IPv6 {
			f = 1
		}
		if devs[f] == "" || r.Metric < best[f] {
			devs[f], best[f] = r.Dev, r.Metric
		}
	}
	return devs
}
