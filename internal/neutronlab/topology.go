package neutronlab

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// Bridge is the integration bridge in the switch namespace.
const Bridge = "br-int"

// GuestDev is the instance's interface.
const GuestDev = "eth0"

// build makes the namespaces, the bridge and the three ports, with their MACs, MTU and static
// addresses. The agents' ports skip DAD (their addresses are Neutron's to give); the guest keeps
// the kernel's default DAD, as an image does.
func (l *Lab) build(t testing.TB) {
	t.Helper()
	s := l.Spec
	l.Switch, l.DHCP = netnstest.New(t), netnstest.New(t)
	// A plain L2 switch: no STP delay, and no multicast snooping that could hide DHCPv6 or
	// neighbour discovery from a port before it has sent its MLD reports.
	l.Switch.IP(t, "link", "add", Bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
	l.Switch.Sysctl(t, "net/ipv6/conf/all/disable_ipv6", "1")
	l.Switch.Sysctl(t, "net/ipv6/conf/default/disable_ipv6", "1")
	l.Switch.IP(t, "link", "set", "dev", Bridge, "mtu", "1450", "up")

	l.DHCPPort = l.plug(t, l.DHCP, devName("tap", s.dhcpPortID()), "sw-dhcp", mac(s.Net, 2), netnstest.DADOff)
	// The DHCP port never configures itself from the router's RAs.
	l.DHCP.Sysctl(t, "net/ipv6/conf/"+l.DHCPPort.Name+"/accept_ra", "0")
	if s.IPv4 {
		l.DHCPPort.AddAddr(t, netip.PrefixFrom(s.DHCPPort4(), 24).String())
	}
	if s.IPv6 != NoIPv6 {
		a := s.DHCPPort6()
		if s.IPv6 == SLAAC {
			a = eui64(s.subnet6(), mac(s.Net, 2))
		}
		l.DHCPPort.AddAddr(t, netip.PrefixFrom(a, 64).String())
	}
	if !s.Isolated {
		l.Router = netnstest.New(t)
		l.RouterPort = l.plug(t, l.Router, devName("qr-", s.routerID()), "sw-qr", mac(s.Net, 1), netnstest.DADOff)
		l.Router.Sysctl(t, "net/ipv4/ip_forward", "1")
		l.Router.Sysctl(t, "net/ipv6/conf/all/forwarding", "1")
		if s.IPv4 {
			l.RouterPort.AddAddr(t, netip.PrefixFrom(s.Gateway4(), 24).String())
		}
		if s.IPv6 != NoIPv6 {
			l.RouterPort.AddAddr(t, netip.PrefixFrom(s.Gateway6(), 64).String())
		}
	}
	if s.VM {
		// Nova's tap: QEMU opens it (and gives it its carrier) from the switch namespace.
		l.Tap = devName("tap", s.portID())
		l.Switch.IP(t, "tuntap", "add", "dev", l.Tap, "mode", "tap")
		l.Switch.IP(t, "link", "set", "dev", l.Tap, "mtu", "1450", "master", Bridge, "up")
	} else {
		l.Guest = netnstest.New(t)
		l.GuestPort = l.plug(t, l.Guest, GuestDev, "sw-vm", s.MAC(), netnstest.DADDefault)
		if s.RouteInfo {
			l.Guest.Sysctl(t, "net/ipv6/conf/"+GuestDev+"/accept_ra_rt_info_max_plen", "128")
		}
	}
	for _, p := range []*netnstest.Link{l.DHCPPort, l.RouterPort, l.GuestPort} {
		if p != nil {
			waitUp(t, p)
		}
	}
}

// mac is the MAC of an agent's port: fa:16:3e:00:<net>:<host>.
func mac(network, host int) net.HardwareAddr {
	return net.HardwareAddr{0xfa, 0x16, 0x3e, 0x00, byte(network), byte(host)}
}

// plug makes a veth from the bridge to ns, names the far end dev, gives it hw and MTU 1450,
// and brings both ends up.
func (l *Lab) plug(t testing.TB, ns *netnstest.NS, dev, swPort string, hw net.HardwareAddr, dad netnstest.DAD) *netnstest.Link {
	t.Helper()
	sw, port := netnstest.Veth(t, l.Switch, ns, netnstest.VethConfig{NameA: swPort, NameB: dev, DADB: dad, Down: true})
	l.Switch.IP(t, "link", "set", "dev", sw.Name, "mtu", "1450", "master", Bridge)
	ns.IP(t, "link", "set", "dev", dev, "address", hw.String(), "mtu", "1450")
	port.MAC = hw
	sw.Up(t)
	port.Up(t)
	return port
}

// waitUp waits until the port's operstate is UP (the kernel's linkwatch takes up to 1 s).
func waitUp(t testing.TB, p *netnstest.Link) {
	t.Helper()
	for range 250 {
		out := p.NS.IP(t, "-o", "link", "show", "dev", p.Name)
		if strings.Contains(out, "state UP") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("neutronlab: %s in %s is not UP after 5 s", p.Name, p.NS.Name)
}

// mustExec runs a command in ns and fails the test on error.
func mustExec(t testing.TB, ns *netnstest.NS, name string, args ...string) string {
	t.Helper()
	out, err := ns.Exec(context.Background(), name, args...)
	if err != nil {
		t.Fatalf("neutronlab: %s %s in %s: %v: %s", name, strings.Join(args, " "), ns.Name, err, out)
	}
	return string(out)
}
