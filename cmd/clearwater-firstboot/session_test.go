package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/dhcpprobe"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
)

// capture loads a captured snapshot (snapFiles).
func capture(t *testing.T, name string) netstate.Snapshot {
	t.Helper()
	s, err := netstate.Load(snapFiles(name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The verdict on a probe's offer comes from the addresses read after it: taken, being
// configured (DAD holds the address), configured but DAD failed, or not configured; only the
// last makes the helper change the image's network config.
func TestProbeVerdict(t *testing.T) {
	slaac := dhcpprobe.Result{Interface: "eth0", Offers: []dhcpprobe.Offer{{Kind: dhcpprobe.KindSLAAC,
		Address: netip.MustParsePrefix("2001:db8:1::/64"), Server: netip.MustParseAddr("fe80::1")}}}
	lease4 := dhcpprobe.Result{Interface: "eth0", Offers: []dhcpprobe.Offer{{Kind: dhcpprobe.KindDHCPv4,
		Address: netip.MustParsePrefix("192.0.2.10/24"), Server: netip.MustParseAddr("192.0.2.1")}}}
	onEth1 := slaac
	onEth1.Interface = "eth1"
	for _, c := range []struct {
		name      string
		ipv6      bool
		r         dhcpprobe.Result
		snap      string // a capture in netstate's testdata
		verdict   string
		configure bool
	}{
		{"nothing offered", true, dhcpprobe.Result{Interface: "eth0"}, "ipv4-only",
			"the network offers no IPv6 here", false},
		{"tentative", true, slaac, "tentative",
			"the network offers IPv6 and this node is configuring it: 2001:db8:1::10 is tentative (DAD not finished)", false},
		{"dadfailed", true, slaac, "dadfailed",
			"the network offers IPv6 and this node configured it, but 2001:db8:1::10 failed duplicate address detection (dadfailed): another host on the link has it", false},
		{"usable", true, slaac, "ipv6-slaac",
			"the network offers IPv6 and this node took it while the probe ran: 2001:db8:1::ff:fe00:2 is usable", false},
		{"not configured", true, slaac, "ipv4-only",
			"the network offers IPv6 but this node has not configured it: check that the image's network stack asks for it", true},
		// The tentative address is on eth0; eth1, where the offer came, has none.
		{"tentative elsewhere", true, onEth1, "tentative",
			"the network offers IPv6 but this node has not configured it: check that the image's network stack asks for it", true},
		{"ipv4 usable", false, lease4, "tentative",
			"the network offers IPv4 and this node took it while the probe ran: 192.0.2.10 is usable", false},
		{"ipv4 not configured", false, lease4, "ipv6-slaac",
			"the network offers IPv4 but this node has not configured it: check that the image's network stack asks for it", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			verdict, configure := probeVerdict(c.ipv6, c.r, capture(t, c.snap))
			if verdict != c.verdict || configure != c.configure {
				t.Errorf("got %q configure=%t\nwant %q configure=%t", verdict, configure, c.verdict, c.configure)
			}
		})
	}
}

// Of several addresses held by DAD, the verdict names the one in what the network offered.
func TestProbeVerdictNamesTheOfferedAddress(t *testing.T) {
	held := func(p string) netstate.Addr {
		return netstate.Addr{Prefix: netip.MustParsePrefix(p), Scope: "global", Tentative: true,
			ValidLifetime: netstate.Forever, PreferredLifetime: netstate.Forever}
	}
	snap := netstate.Snapshot{Links: []netstate.Link{{Index: 2, Name: "eth0", Up: true, AdminUp: true, OperState: "UP",
		Addrs: []netstate.Addr{held("2001:db8:9::1/64"), held("2001:db8:1::5/64")}}}}
	r := dhcpprobe.Result{Interface: "eth0", Offers: []dhcpprobe.Offer{{Kind: dhcpprobe.KindSLAAC,
		Address: netip.MustParsePrefix("2001:db8:1::/64"), Server: netip.MustParseAddr("fe80::1")}}}
	verdict, configure := probeVerdict(true, r, snap)
	if !strings.HasSuffix(verdict, "configuring it: 2001:db8:1::5 is tentative (DAD not finished)") || configure {
		t.Errorf("got %q configure=%t", verdict, configure)
	}
	r.Offers[0].Address = netip.MustParsePrefix("2001:db8:7::/64") // covers neither: the first
	if verdict, _ := probeVerdict(true, r, snap); !strings.Contains(verdict, "2001:db8:9::1 is tentative") {
		t.Errorf("got %q", verdict)
	}
}

func TestProbeReason(t *testing.T) {
	r := dhcpprobe.Result{Interface: "eth0", Ignored: []string{"ra from fe80::9: hop limit 64", "another"}}
	want := "probe eth0: nothing offered: the network offers no IPv6 here (2 invalid replies ignored: ra from fe80::9: hop limit 64)"
	if got := probeReason(r, "the network offers no IPv6 here"); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
