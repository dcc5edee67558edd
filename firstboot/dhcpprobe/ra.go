package dhcpprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// A solicitation that fails is tried again after retryFailed, at most maxFailures times.
const (
	retryFailed = 100 * time.Millisecond
	maxFailures = 20
)

// raListener is a raw ICMPv6 socket bound to one interface that sees router advertisements.
type raListener struct {
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

// listenRA opens the socket. It needs no address on the interface: solicitations go out from
// the unspecified address when the link-local one is not usable yet.
func listenRA(ifi *net.Interface) (*raListener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), ifi.Name) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(context.Background(), "ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := ipv6.NewPacketConn(c)
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeRouterAdvertisement)
	for _, err := range []error{pc.SetICMPFilter(&f), pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagInterface, true),
		pc.SetMulticastHopLimit(ndp.HopLimit), pc.SetMulticastInterface(ifi)} {
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	return &raListener{pc: pc, ifi: ifi}, nil
}

// run solicits routers as a conversation does, and validates advertisements, calling onRA for
// each valid one. A solicitation that fails is tried again soon: right after the link comes up
// the kernel may have no route for ff02::/16 yet, and routers also advertise unasked. It closes
// the socket.
func (l *raListener) run(ctx context.Context, res *Result, onRA func(*ndp.RouterAdvertisement)) {
	defer l.pc.Close()
	stop := context.AfterFunc(ctx, func() { l.pc.Close() })
	defer stop()
	rs, err := ndp.MarshalMessage(&ndp.RouterSolicitation{})
	if err != nil {
		res.errorf("ra: %v", err)
		return
	}
	allRouters := &net.IPAddr{IP: net.IPv6linklocalallrouters, Zone: l.ifi.Name}
	sent, sendErr := false, error(nil)
	buf := make([]byte, 65536)
	conversation{kind: "ra", retry: true,
		send: func() error {
			_, err := l.pc.WriteTo(rs, nil, allRouters)
			sent, sendErr = sent || err == nil, err
			return err
		},
		setReadDeadline: l.pc.SetReadDeadline,
		receive: func() (bool, error) {
			n, cm, src, err := l.pc.ReadFrom(buf)
			if err != nil {
				return false, err
			}
			ra := l.handle(buf[:n], cm, src, res)
			if ra != nil && onRA != nil {
				onRA(ra)
			}
			return ra != nil, nil
		},
	}.run(ctx, res)
	if !sent && sendErr != nil {
		res.errorf("ra: no router solicitation could be sent on %s: %v", l.ifi.Name, sendErr)
	}
}

// handle validates one packet read on the socket and records what it offers; it returns the
// advertisement when it was valid (a router is there), else nil.
func (l *raListener) handle(b []byte, cm *ipv6.ControlMessage, src net.Addr, res *Result) *ndp.RouterAdvertisement {
	if cm != nil && cm.IfIndex != 0 && cm.IfIndex != l.ifi.Index {
		return nil
	}
	hop := -1
	if cm != nil {
		hop = cm.HopLimit
	}
	var from netip.Addr
	if a, ok := src.(*net.IPAddr); ok {
		from, _ = netip.AddrFromSlice(a.IP)
		from = from.WithZone(l.ifi.Name)
	}
	offers, reasons, ra := validateRA(b, hop, from)
	for _, r := range reasons {
		res.ignore("router advertisement from %s: %s", from, r)
	}
	for _, o := range offers {
		res.addOffer(o)
	}
	return ra
}

// validateRA checks one router advertisement (hop is the IPv6 hop limit it arrived with, -1 when
// unknown; src its source). It returns the offers, the reasons for what it ignored, and the
// advertisement when it was valid (a router is there), else nil.
func validateRA(b []byte, hop int, src netip.Addr) ([]Offer, []string, *ndp.RouterAdvertisement) {
	if hop != -1 && hop != ndp.HopLimit {
		return nil, []string{fmt.Sprintf("hop limit %d, not 255: not from this link", hop)}, nil
	}
	if !src.IsLinkLocalUnicast() {
		return nil, []string{"source is not a link-local address"}, nil
	}
	m, err := ndp.ParseMessage(b)
	if err != nil {
		return nil, []string{"malformed: " + err.Error()}, nil
	}
	ra, ok := m.(*ndp.RouterAdvertisement)
	if !ok {
		return nil, []string{fmt.Sprintf("not a router advertisement (%T)", m)}, nil
	}
	var offers []Offer
	var reasons []string
	for _, opt := range ra.Options {
		pi, ok := opt.(*ndp.PrefixInformation)
		if !ok || !pi.AutonomousAddressConfiguration {
			continue
		}
		p := netip.PrefixFrom(pi.Prefix, int(pi.PrefixLength))
		if reason := badPrefix(pi); reason != "" {
			reasons = append(reasons, fmt.Sprintf("autonomous prefix %s/%d: %s", pi.Prefix, pi.PrefixLength, reason))
			continue
		}
		offers = append(offers, Offer{Kind: KindSLAAC, Address: p, Server: src, Managed: ra.ManagedConfiguration,
			Other: ra.OtherConfiguration, Detail: fmt.Sprintf("preferred %v, valid %v, router lifetime %v",
				pi.PreferredLifetime, pi.ValidLifetime, ra.RouterLifetime)})
	}
	if ra.ManagedConfiguration || ra.OtherConfiguration {
		offers = append(offers, Offer{Kind: KindRA, Server: src, Managed: ra.ManagedConfiguration,
			Other: ra.OtherConfiguration, Detail: fmt.Sprintf("router lifetime %v", ra.RouterLifetime)})
	}
	if len(offers) == 0 {
		reasons = append(reasons, "offers no address: no usable autonomous prefix, M and O flags clear")
	}
	return offers, reasons, ra
}

// badPrefix says why a host may not form SLAAC addresses from pi (RFC 4862 5.5.3), or "".
func badPrefix(pi *ndp.PrefixInformation) string {
	a := pi.Prefix
	switch {
	case !a.Is6() || a.Is4In6():
		return "not an IPv6 prefix"
	case a.IsUnspecified():
		return "unspecified prefix"
	case a.IsLoopback():
		return "loopback prefix"
	case a.IsMulticast():
		return "multicast prefix"
	case a.IsLinkLocalUnicast():
		return "link-local prefix"
	case pi.PrefixLength != 64:
		return fmt.Sprintf("prefix length %d: SLAAC needs /64", pi.PrefixLength)
	case pi.ValidLifetime == 0:
		return "valid lifetime 0 (prefix withdrawn)"
	case pi.PreferredLifetime > pi.ValidLifetime:
		return "preferred lifetime longer than valid lifetime"
	}
	return ""
}
