package neutronlab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// The L3 agent's default RA intervals (min_rtr_adv_interval, max_rtr_adv_interval).
const (
	minRtrAdvInterval = 30
	maxRtrAdvInterval = 100
)

// RadvdConf is the L3 agent's radvd.conf for the router port of the spec's network
// (neutron/agent/linux/ra.py CONFIG_TEMPLATE, blank lines dropped): the O flag for
// dhcpv6-stateless, the M flag and AdvAutonomous off for dhcpv6-stateful, RDNSS only from a
// slaac subnet's dns_nameservers, and the route to the IPv6 metadata address (Victoria on).
func RadvdConf(s Spec, iface string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "interface %s\n{\n   AdvSendAdvert on;\n", iface)
	fmt.Fprintf(&b, "   MinRtrAdvInterval %d;\n   MaxRtrAdvInterval %d;\n", minRtrAdvInterval, maxRtrAdvInterval)
	fmt.Fprintf(&b, "   AdvLinkMTU %d;\n", MTU) // only at 1280 or more, which 1450 is
	switch s.IPv6 {
	case Stateless:
		b.WriteString("   AdvOtherConfigFlag on;\n")
	case Stateful:
		b.WriteString("   AdvManagedFlag on;\n")
	case SLAAC:
		fmt.Fprintf(&b, "   RDNSS  %s  {};\n", DNS6)
	}
	auto := "on"
	if s.IPv6 == Stateful {
		auto = "off"
	}
	fmt.Fprintf(&b, "   prefix %s\n   {\n        AdvOnLink on;\n        AdvAutonomous %s;\n   };\n", s.subnet6(), auto)
	b.WriteString("   route fe80::a9fe:a9fe/128 {\n   };\n};\n")
	return b.String()
}

// StartRadvd runs radvd in the router namespace with the agent's config, as the agent does
// (`radvd -C <conf> -p <pid> -m syslog`) but in the foreground with its log on stderr, so that
// the test owns its PID and sees its log (netnstest.StartRadvd). It is killed by PID when the
// test ends.
func (l *Lab) StartRadvd(t testing.TB) {
	t.Helper()
	if l.RouterPort == nil || l.Spec.IPv6 == NoIPv6 {
		t.Fatal("neutronlab: StartRadvd on a network without a router or an IPv6 subnet")
	}
	l.Radvd = netnstest.StartRadvd(t, l.RouterPort, RadvdConf(l.Spec, l.RouterPort.Name))
}
