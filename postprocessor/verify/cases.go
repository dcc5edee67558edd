package verify

import (
	"fmt"
	"slices"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
)

// network is a shape of QEMU's user-mode network (slirp): the one network a non-root user gets
// without a bridge or namespace of the host's. It offers DHCPv4 and router advertisements
// (SLAAC, stateless DHCPv6 for DNS only), each family on or off.
type network struct {
	ipv4, ipv6 bool
}

// The network shapes, by the name a case gives.
var networks = map[string]network{
	"dual-stack": {ipv4: true, ipv6: true},
	"ipv4-only":  {ipv4: true},
	"ipv6-only":  {ipv6: true},
}

func networkNames() []string {
	names := make([]string, 0, len(networks))
	for n := range networks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ipv6Net is the prefix the guests' router advertisements carry: global unicast (from the
// documentation range, RFC 3849), so that the helper takes the address as a real network's and
// not QEMU's default fec0::/64 (site-local, deprecated by RFC 3879).
const ipv6Net = "2001:db8:c1ea::/64"

// The families a case expects; "none" is a helper that must decide nothing.
var families = []string{"ipv4", "ipv6", "none"}

// expectBaked marks a default case whose expected family follows what the image was baked with.
const expectBaked = "baked"

// defaultCases is the matrix a Clearwater operator cares about.
func defaultCases() []Case {
	const forceTrue, forceFalse = "#cloud-config\nclearwater:\n  force_ipv6: true\n", "#cloud-config\nclearwater:\n  force_ipv6: false\n"
	return []Case{
		{Name: "dual-stack", Network: "dual-stack", ExpectedFamily: expectBaked},
		{Name: "dual-stack-force-true", Network: "dual-stack", UserData: forceTrue, ExpectedFamily: "ipv6"},
		{Name: "dual-stack-force-false", Network: "dual-stack", UserData: forceFalse, ExpectedFamily: "ipv4"},
		{Name: "ipv6-only", Network: "ipv6-only", ExpectedFamily: "ipv6"},
		{Name: "ipv4-only", Network: "ipv4-only", ExpectedFamily: expectBaked},
	}
}

// expected is the family a case expects, and why, given what the image is baked with (nil:
// unknown).
func expected(k Case, baked *status.Baked) (family, why string, err error) {
	if k.ExpectedFamily != expectBaked {
		return k.ExpectedFamily, "", nil
	}
	if baked == nil {
		return "", "", fmt.Errorf("the helper's verdict does not say what the image was baked with (a helper older than this plugin?): set baked_force_ipv6")
	}
	net := networks[k.Network]
	switch {
	case !baked.ForceIPv6:
		return "ipv4", "baked not forced", nil
	case net.ipv6:
		return "ipv6", "baked force_ipv6 = true", nil
	case baked.OnMissingIPv6 == "fail":
		return "none", "baked force_ipv6 = true and on_missing_ipv6 = fail, on a network without IPv6", nil
	}
	return "ipv4", "baked force_ipv6 = true, falling back (on_missing_ipv6 = fallback) on a network without IPv6", nil
}
