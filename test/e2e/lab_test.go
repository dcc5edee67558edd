package e2e

import (
	"net/netip"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// offer is what a lab's network hands out.
type offer struct {
	dhcpv4 bool         // a DHCPv4 server leasing lease4 (router and DNS: the server)
	slaac  netip.Prefix // when valid: router advertisements of this autonomous prefix
	dhcpv6 netip.Prefix // when valid: advertisements with M and O set and this prefix on-link
	// only, and a DHCPv6 server leasing its ::100
}

// The lab's addresses (RFC 5737 and RFC 3849 documentation ranges).
var (
	router4 = netip.MustParseAddr("192.0.2.1")
	lease4  = netip.MustParsePrefix("192.0.2.100/24")
)

// lab is the network one guest boots on. The guest's tap lives in namespace guest, on a bridge
// with one end of a veth pair; the other end, in its own namespace, carries the test's DHCP
// servers and router. The servers then never depend on the tap's carrier, which only exists
// while QEMU holds the tap open.
type lab struct {
	guest  *netnstest.NS
	tap    string
	router *netnstest.Link

	v4 *netnstest.DHCPv4Server
	v6 *netnstest.DHCPv6Server
	ra *netnstest.RASender
}

// newLab builds the namespaces, links and servers for o; all of them go away when t ends.
func newLab(t *testing.T, o offer) *lab {
	t.Helper()
	guestNS, routerNS := netnstest.New(t), netnstest.New(t)
	port, rtr := netnstest.Veth(t, guestNS, routerNS, netnstest.VethConfig{NameA: "cwport", NameB: "cwrouter"})
	l := &lab{guest: guestNS, tap: "cwtap0", router: rtr}

	// A plain L2 switch: no STP delay, and no multicast snooping that could keep DHCPv6 or
	// neighbour discovery multicast from a port before it has sent its MLD reports.
	guestNS.IP(t, "link", "add", "cwbr0", "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	guestNS.IP(t, "tuntap", "add", "dev", l.tap, "mode", "tap")
	for _, dev := range []string{port.Name, l.tap, "cwbr0"} {
		// The switch itself takes no part in IPv6 (no SLAAC, DAD or solicitations of its own).
		guestNS.Sysctl(t, "net/ipv6/conf/"+dev+"/disable_ipv6", "1")
		if dev != "cwbr0" {
			guestNS.IP(t, "link", "set", "dev", dev, "master", "cwbr0")
		}
		guestNS.IP(t, "link", "set", "dev", dev, "up")
	}

	if o.dhcpv4 {
		rtr.AddAddr(t, netip.PrefixFrom(router4, lease4.Bits()).String())
		l.v4 = netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: rtr, Server: router4, Lease: lease4,
			Router: router4, DNS: []netip.Addr{router4}})
	}
	switch {
	case o.slaac.IsValid():
		rtr.AddAddr(t, netip.PrefixFrom(o.slaac.Addr().Next(), o.slaac.Bits()).String())
		l.ra = netnstest.StartRA(t, netnstest.RAConfig{Link: rtr, Prefixes: []netip.Prefix{o.slaac}, Interval: 3 * time.Second})
	case o.dhcpv6.IsValid():
		rtr.AddAddr(t, netip.PrefixFrom(o.dhcpv6.Addr().Next(), o.dhcpv6.Bits()).String())
		l.v6 = netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: rtr, Lease: dhcpv6Lease(o.dhcpv6)})
		l.ra = netnstest.StartRA(t, netnstest.RAConfig{Link: rtr, OnLinkOnly: []netip.Prefix{o.dhcpv6},
			Managed: true, Other: true, Interval: 3 * time.Second})
	}
	return l
}

// dhcpv6Lease is the address the DHCPv6 server leases in prefix p: p::100.
func dhcpv6Lease(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As16()
	a[14], a[15] = 0x01, 0x00
	return netip.AddrFrom16(a)
}

// seen summarizes what the lab's servers received, for failure messages.
func (l *lab) seen() map[string][]string {
	m := map[string][]string{}
	if l.v4 != nil {
		m["dhcpv4"] = l.v4.Seen()
	}
	if l.v6 != nil {
		m["dhcpv6"] = l.v6.Seen()
	}
	if l.ra != nil {
		m["ra"] = l.ra.Seen()
	}
	return m
}
