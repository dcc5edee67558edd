package netstate

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// liveTimeout bounds one live snapshot when ctx has no earlier deadline.
const liveTimeout = 5 * time.Second

// Live takes one snapshot of the calling thread's network namespace through netlink: every link,
// every address with its IFA_FLAGS and lifetimes, and the default routes of the main table, IPv4
// first. It gives what ParseAddrs and ParseRoutes give for `ip -j addr show` and
// `ip -j route show default` + `ip -6 -j route show default` at the same moment.
func Live(ctx context.Context) (Snapshot, error) {
	c, err := rtnetlink.Dial(nil)
	if err != nil {
		return Snapshot{}, fmt.Errorf("netlink: %w", err)
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > liveTimeout {
		deadline = time.Now().Add(liveTimeout)
	}
	if err := c.SetReadDeadline(deadline); err != nil {
		return Snapshot{}, fmt.Errorf("netlink: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	lms, err := c.Link.List()
	if err != nil {
		return Snapshot{}, liveErr(ctx, "list links", err)
	}
	ams, err := c.Address.List()
	if err != nil {
		return Snapshot{}, liveErr(ctx, "list addresses", err)
	}
	rms, err := c.Route.List()
	if err != nil {
		return Snapshot{}, liveErr(ctx, "list routes", err)
	}
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Links: liveLinks(lms)}
	pos := make(map[int]int, len(s.Links))
	names := make(map[uint32]string, len(s.Links))
	for i, l := range s.Links {
		pos[l.Index], names[uint32(l.Index)] = i, l.Name
	}
	for _, am := range ams {
		if i, ok := pos[int(am.Index)]; ok { // a link born between the dumps is left out
			if a, ok := liveAddr(am); ok {
				s.Links[i].Addrs = append(s.Links[i].Addrs, a)
			}
		}
	}
	s.Routes = append(liveRoutes(rms, names, unix.AF_INET), liveRoutes(rms, names, unix.AF_INET6)...)
	return s, nil
}

// liveErr reports a failed netlink dump, as the context's error when that is what cut it short.
func liveErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("netlink: %s: %w", what, ctx.Err())
	}
	return fmt.Errorf("netlink: %s: %w", what, err)
}

var operStates = [...]string{"UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"}

func liveLinks(lms []rtnetlink.LinkMessage) []Link {
	links := make([]Link, 0, len(lms))
	for _, m := range lms {
		if m.Attributes == nil || !validName(m.Attributes.Name) {
			continue
		}
		l := Link{
			Index:     int(m.Index),
			Name:      m.Attributes.Name,
			Loopback:  m.Flags&unix.IFF_LOOPBACK != 0,
			AdminUp:   m.Flags&unix.IFF_UP != 0,
			LowerUp:   m.Flags&unix.IFF_LOWER_UP != 0,
			NoCarrier: m.Flags&unix.IFF_UP != 0 && m.Flags&unix.IFF_RUNNING == 0, // as ip prints it
			OperState: strconv.Itoa(int(m.Attributes.OperationalState)),
		}
		if int(m.Attributes.OperationalState) < len(operStates) {
			l.OperState = operStates[m.Attributes.OperationalState]
		}
		l.Up = linkUp(l.AdminUp, l.NoCarrier, l.OperState)
		links = append(links, l)
	}
	return links
}

var scopes = map[uint8]string{unix.RT_SCOPE_UNIVERSE: "global", unix.RT_SCOPE_SITE: "site",
	unix.RT_SCOPE_LINK: "link", unix.RT_SCOPE_HOST: "host", unix.RT_SCOPE_NOWHERE: "nowhere"}

func liveAddr(m rtnetlink.AddressMessage) (Addr, bool) {
	if m.Attributes == nil || (m.Family != unix.AF_INET && m.Family != unix.AF_INET6) {
		return Addr{}, false
	}
	ipb := m.Attributes.Local // ip shows IFA_LOCAL as "local", else IFA_ADDRESS
	if ipb == nil {
		ipb = m.Attributes.Address
	}
	ip, ok := netip.AddrFromSlice(ipb)
	if !ok {
		return Addr{}, false
	}
	if m.Family == unix.AF_INET {
		ip = ip.Unmap()
	}
	if int(m.PrefixLength) > ip.BitLen() {
		return Addr{}, false
	}
	flags := m.Attributes.Flags | uint32(m.Flags) // IFA_FLAGS extends the header's 8 bits
	scope, ok := scopes[m.Scope]
	if !ok {
		scope = strconv.Itoa(int(m.Scope))
	}
	ci := m.Attributes.CacheInfo
	return Addr{
		Prefix:            netip.PrefixFrom(ip, int(m.PrefixLength)),
		Scope:             scope,
		Tentative:         flags&unix.IFA_F_TENTATIVE != 0,
		DADFailed:         flags&unix.IFA_F_DADFAILED != 0,
		Deprecated:        flags&unix.IFA_F_DEPRECATED != 0 || ci.Preferred == 0,
		Temporary:         m.Family == unix.AF_INET6 && flags&unix.IFA_F_TEMPORARY != 0,
		Dynamic:           flags&unix.IFA_F_PERMANENT == 0,
		Optimistic:        flags&unix.IFA_F_OPTIMISTIC != 0,
		ValidLifetime:     ci.Valid,
		PreferredLifetime: ci.Preferred,
	}, true
}

// liveRoutes returns the default unicast routes of the main table of one family, one per next hop.
func liveRoutes(rms []rtnetlink.RouteMessage, names map[uint32]string, family uint8) []Route {
	var routes []Route
	for _, m := range rms {
		a := m.Attributes
		table := uint32(m.Table)
		if a.Table != 0 {
			table = a.Table
		}
		if m.Family != family || m.DstLength != 0 || m.Type != unix.RTN_UNICAST || table != unix.RT_TABLE_MAIN {
			continue
		}
		add := func(ifindex uint32, gw net.IP, via *rtnetlink.RouteVia) {
			if via != nil && gw == nil {
				gw = via.Addr
			}
			r := Route{IPv6: family == unix.AF_INET6, Dev: names[ifindex], Metric: int(a.Priority)}
			if ip, ok := netip.AddrFromSlice(gw); ok {
				if len(gw) == net.IPv4len || ip.Is4In6() && family == unix.AF_INET {
					ip = ip.Unmap()
				}
				r.Gateway = ip
			}
			if r.Dev != "" {
				routes = append(routes, r)
			}
		}
		if len(a.Multipath) == 0 {
			add(a.OutIface, a.Gateway, a.Via)
		}
		for _, h := range a.Multipath {
			add(h.Hop.IfIndex, h.Gateway, h.Via)
		}
	}
	return routes
}
