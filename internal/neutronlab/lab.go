// Package neutronlab builds, in network namespaces, a network that a guest cannot tell from an
// OpenStack Neutron network (ML2/OVS with the DHCP and L3 agents) and Nova's metadata service
// and config drive. The facts it follows are in the project's shared reference openstack-lab.md.
//
// A lab is four namespaces on one Linux bridge (the integration bridge):
//   - switch: the bridge br-int and one port per device; it takes no part in IP;
//   - qdhcp: the DHCP port tap<id> with the agent's dnsmasq command line, host and options
//     files (dnsmasq.go) and, on an isolated network, the metadata proxy on 169.254.169.254:80
//     and [fe80::a9fe:a9fe%tap]:80 (metadata.go);
//   - qrouter: the router port qr-<id> holding the gateway addresses, radvd with the L3
//     agent's template (radvd.go), and the metadata proxy on :9697 behind the agent's
//     REDIRECT of port 80 for 169.254.169.254 and fe80::a9fe:a9fe (iptables, ip6tables);
//   - guest: eth0, the instance's port, for the OS under test (guest.go); a QEMU guest's tap
//     can take its place.
//
// Every port has a fa:16:3e MAC and MTU 1450, as on a VXLAN tenant network. Config drives are
// written as Nova writes them (configdrive.go). Everything goes away when the test ends.
package neutronlab

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// Mode is a subnet's ipv6_ra_mode and ipv6_address_mode (always the same here: the valid
// combinations of Neutron's IPv6 guide).
type Mode string

// The IPv6 modes; NoIPv6 is a network without an IPv6 subnet.
const (
	NoIPv6    Mode = ""
	SLAAC     Mode = "slaac"
	Stateless Mode = "dhcpv6-stateless"
	Stateful  Mode = "dhcpv6-stateful"
)

// MTU is the MTU of every port: a VXLAN tenant network's 1500 minus 50.
const MTU = 1450

// Spec is one network, one port and one instance.
type Spec struct {
	// Net numbers the network, 1 to 9: its subnets are 10.0.Net.0/24 and 2001:db8:Net::/64, and
	// its ids and MACs are derived from it. Two specs with different Nets are two networks.
	Net int
	// IPv4 adds a DHCP-enabled IPv4 subnet.
	IPv4 bool
	// IPv6 adds an IPv6 subnet in this mode.
	IPv6 Mode
	// Isolated leaves the network without a router: no radvd, and the metadata service comes
	// from the DHCP namespace (enable_isolated_metadata).
	Isolated bool
	// NoMetadata runs no metadata service at all (a config drive is then the only source).
	NoMetadata bool
	// UserData is the instance's user-data; nil means it has none (Nova's 404s).
	UserData []byte
	// VendorData is cloud-config that Nova's static vendor data (vendordata_jsonfile_path) hands
	// the instance, as vendor_data.json {"cloud-init": ...}: cloud-init runs it even when the
	// instance has no user-data. nil serves vendor_data.json as {}.
	VendorData []byte
	// EmptyNetworkData serves network_data.json as {} (Nova without network info).
	EmptyNetworkData bool
	// Port numbers the instance's port on the network (its MAC's last byte and its addresses);
	// 0 means 5. A new port on the same network is another Port.
	Port int
	// HoldRA does not start radvd: the test calls StartRadvd when it wants the first RA.
	HoldRA bool
	// BlockDHCPv6 drops UDP port 547 in the DHCP namespace (a firewall eating DHCPv6).
	BlockDHCPv6 bool
	// DADClash puts the instance's IPv6 address on another port of the network first, so the
	// instance's DAD for it fails.
	DADClash bool
	// VM makes the instance a QEMU guest: its port is a tap (Lab.Tap) on the bridge in the
	// switch namespace, where QEMU must run, instead of eth0 in a guest namespace.
	VM bool
	// RouteInfo makes the guest accept the RA's route information option (the route to
	// fe80::a9fe:a9fe/128), as networkd and NetworkManager do; the kernel's default (ifupdown
	// images) ignores it.
	RouteInfo bool
}

func (s Spec) port() int {
	if s.Port == 0 {
		return 5
	}
	return s.Port
}

// Addressing of the spec's network.
func (s Spec) subnet4() netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("10.0.%d.0/24", s.Net))
}
func (s Spec) subnet6() netip.Prefix {
	return netip.MustParsePrefix(fmt.Sprintf("2001:db8:%d::/64", s.Net))
}
func (s Spec) host4(h int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", s.Net, h))
}
func (s Spec) host6(h int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:%d::%x", s.Net, h))
}

// Gateway4 and Gateway6 are the router port's addresses (the subnets' gateway_ip).
func (s Spec) Gateway4() netip.Addr { return s.host4(1) }
func (s Spec) Gateway6() netip.Addr { return s.host6(1) }

// DHCPPort4 and DHCPPort6 are the DHCP port's addresses.
func (s Spec) DHCPPort4() netip.Addr { return s.host4(2) }
func (s Spec) DHCPPort6() netip.Addr { return s.host6(2) }

// DNS6 is the IPv6 subnet's dns_nameservers entry (a documentation address: no query leaves
// the lab, and none is answered).
var DNS6 = netip.MustParseAddr("2001:db8::53")

// MAC is the instance port's MAC: fa:16:3e:00:<net>:<port>.
func (s Spec) MAC() net.HardwareAddr {
	return net.HardwareAddr{0xfa, 0x16, 0x3e, 0x00, byte(s.Net), byte(s.port())}
}

// GuestIPv4 is the fixed IP of the instance's port on the IPv4 subnet.
func (s Spec) GuestIPv4() netip.Addr { return s.host4(s.port()) }

// GuestIPv6 is the instance's IPv6 address: the EUI-64 address from the MAC on slaac and
// dhcpv6-stateless subnets, the fixed IP dnsmasq leases on dhcpv6-stateful ones.
func (s Spec) GuestIPv6() netip.Addr {
	if s.IPv6 == Stateful {
		return s.host6(0xa0 + s.port())
	}
	return eui64(s.subnet6(), s.MAC())
}

// eui64 is the SLAAC address of mac in prefix (RFC 4291 appendix A).
func eui64(prefix netip.Prefix, mac net.HardwareAddr) netip.Addr {
	b := prefix.Addr().As16()
	b[8], b[9], b[10], b[11] = mac[0]^0x02, mac[1], mac[2], 0xff
	b[12], b[13], b[14], b[15] = 0xfe, mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// The ids of the spec's network objects (Neutron's are UUIDs; these keep their shape).
func (s Spec) networkID() string { return fmt.Sprintf("0e7a1b2c-0000-4000-8000-0000000000%02d", s.Net) }
func (s Spec) subnet4ID() string { return fmt.Sprintf("5b4e0004-0000-4000-8000-0000000000%02d", s.Net) }
func (s Spec) subnet6ID() string { return fmt.Sprintf("5b4e0006-0000-4000-8000-0000000000%02d", s.Net) }
func (s Spec) portID() string {
	return fmt.Sprintf("9c1d%02d%02d-5e00-4000-8000-000000000001", s.Net, s.port())
}
func (s Spec) routerID() string { return fmt.Sprintf("7f3a00%02d-0000-4000-8000-000000000001", s.Net) }
func (s Spec) dhcpPortID() string {
	return fmt.Sprintf("d1c000%02d-0000-4000-8000-000000000001", s.Net)
}

// InstanceUUID is the instance's uuid (meta_data.json, the SMBIOS system UUID): one per
// network and port, as a snapshot booted on another network is a new instance.
func (s Spec) InstanceUUID() string {
	return fmt.Sprintf("c1ea7a7e-00%02d-4000-8000-0000000000%02d", s.Net, s.port())
}

// devName is Neutron's device name for a port: a prefix and the port id, 14 bytes.
func devName(prefix, portID string) string { return (prefix + portID)[:14] }

// Lab is a running Neutron network.
type Lab struct {
	Spec Spec
	// The namespaces.
	Switch, DHCP, Router, Guest *netnstest.NS
	// DHCPPort is tap<id> in DHCP; RouterPort is qr-<id> in Router (nil when Isolated);
	// GuestPort is eth0 in Guest (nil for a VM).
	DHCPPort, RouterPort, GuestPort *netnstest.Link
	// Tap is a VM's tap<port-id> in Switch ("" unless Spec.VM).
	Tap string
	// Dnsmasq is the DHCP agent's dnsmasq; Radvd the L3 agent's radvd (nil until started).
	Dnsmasq, Radvd *netnstest.Proc
	// Metadata is the metadata service (nil with NoMetadata).
	Metadata *Metadata
}

// Start builds the network of spec and starts its agents; everything is removed when t ends.
// The guest's eth0 is up (its carrier on) but unconfigured: Boot plays the instance's OS.
func Start(t testing.TB, spec Spec) *Lab {
	t.Helper()
	if spec.Net < 1 || spec.Net > 9 {
		t.Fatalf("neutronlab: Spec.Net %d: must be 1 to 9", spec.Net)
	}
	if spec.Isolated && spec.IPv6 != NoIPv6 {
		t.Fatalf("neutronlab: an isolated network cannot have IPv6 (no router: no RAs); drop Spec.IPv6 or Spec.Isolated")
	}
	l := &Lab{Spec: spec}
	l.build(t)
	if spec.DADClash && spec.IPv6 != NoIPv6 {
		// Another instance's port, not the DHCP port: dnsmasq never leases its own address.
		other := l.plug(t, netnstest.New(t), GuestDev, "sw-other", mac(spec.Net, 0x99), netnstest.DADOff)
		other.AddAddr(t, netip.PrefixFrom(spec.GuestIPv6(), 64).String())
	}
	l.Dnsmasq = startDnsmasq(t, l)
	if spec.BlockDHCPv6 {
		mustExec(t, l.DHCP, "ip6tables", "-A", "INPUT", "-p", "udp", "--dport", "547", "-j", "DROP")
	}
	if !spec.NoMetadata {
		l.Metadata = newMetadata(spec)
		l.serveMetadata(t)
	}
	if !spec.Isolated && spec.IPv6 != NoIPv6 && !spec.HoldRA {
		l.StartRadvd(t)
	}
	return l
}
