package dhcpprobe

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

var (
	srv4   = netip.MustParseAddr("192.0.2.1")
	lease4 = netip.MustParsePrefix("192.0.2.100/24")
	lease6 = netip.MustParseAddr("2001:db8:1::100")
	slaac  = netip.MustParsePrefix("2001:db8:5::/64")
)

// link builds a server and a client namespace joined by a veth pair; the server end holds
// 192.0.2.1/24 and 2001:db8:1::1/64 and is past DAD.
func link(t *testing.T, cliDAD netnstest.DAD) (srv, cli *netnstest.Link) {
	t.Helper()
	srv, cli = netnstest.Veth(t, netnstest.New(t), netnstest.New(t), netnstest.VethConfig{DADB: cliDAD})
	srv.AddAddr(t, "192.0.2.1/24")
	srv.AddAddr(t, "2001:db8:1::1/64")
	srv.LinkLocal(t, 5*time.Second)
	return srv, cli
}

// probe runs fn in the client's namespace with a context of timeout, and returns its result and
// how long it took.
func probe(t testing.TB, cli *netnstest.Link, timeout time.Duration,
	fn func(context.Context, string) Result) (Result, time.Duration) {
	t.Helper()
	var r Result
	var took time.Duration
	err := cli.NS.Do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		r = fn(ctx, cli.Name)
		took = time.Since(start)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, took
}

// kinds returns the offers' kinds.
func kinds(r Result) []string {
	var k []string
	for _, o := range r.Offers {
		k = append(k, o.Kind)
	}
	return k
}

// ignoredWith reports whether some ignored reply's reason contains s.
func ignoredWith(r Result, s string) bool {
	return slices.ContainsFunc(r.Ignored, func(i string) bool { return strings.Contains(i, s) })
}

func TestProbeV4Offer(t *testing.T) {
	srv, cli := link(t, netnstest.DADOff)
	s := netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: srv, Server: srv4, Lease: lease4, Router: srv4,
		DNS: []netip.Addr{srv4}})
	r, took := probe(t, cli, 5*time.Second, ProbeV4)
	t.Logf("%v in %v", r, took)
	if len(r.Offers) != 1 {
		t.Fatalf("offers %+v, want one (ignored %v, errors %v)", r.Offers, r.Ignored, r.Errors)
	}
	o := r.Offers[0]
	if o.Kind != KindDHCPv4 || o.Address != lease4 || o.Server != srv4 {
		t.Errorf("offer %+v, want dhcpv4 %v from %v", o, lease4, srv4)
	}
	if !strings.Contains(o.Detail, "router [192.0.2.1]") || !strings.Contains(o.Detail, "lease 1h0m0s") {
		t.Errorf("detail %q lacks the router or lease time", o.Detail)
	}
	if len(r.Errors) != 0 || len(r.Ignored) != 0 {
		t.Errorf("errors %v, ignored %v, want none", r.Errors, r.Ignored)
	}
	// An offer is all it asks for: a REQUEST would take the lease.
	if seen := s.Seen(); !slices.Equal(seen, []string{"DISCOVER"}) {
		t.Errorf("server saw %v, want only DISCOVER", seen)
	}
}

func TestProbeNothingOffered(t *testing.T) {
	for name, fn := range map[string]func(context.Context, string) Result{"v4": ProbeV4, "v6": ProbeV6} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, cli := link(t, netnstest.DADOff)
			const timeout = 1500 * time.Millisecond
			r, took := probe(t, cli, timeout, fn)
			t.Logf("%v in %v", r, took)
			if r.Offered() || len(r.Ignored) != 0 || len(r.Errors) != 0 {
				t.Errorf("got %+v, want nothing offered, ignored or failed", r)
			}
			if !strings.Contains(r.String(), "nothing offered") {
				t.Errorf("String() = %q, want it to say nothing was offered", r.String())
			}
			// Not a speed target: a probe that outlives its context by seconds is hung.
			if took > timeout+time.Second {
				t.Errorf("probe took %v with a %v context", took, timeout)
			}
		})
	}
}

func TestProbeV4Hostile(t *testing.T) {
	want := map[netnstest.Hostile]string{
		netnstest.Malformed: "malformed", netnstest.WrongXID: "wrong transaction ID",
		netnstest.WrongClient: "another client", netnstest.Loopback: "loopback",
		netnstest.Multicast: "multicast", netnstest.LinkLocal: "link-local",
		netnstest.Unspecified: "unspecified", netnstest.Broadcast: "broadcast address",
		netnstest.ClassE: "class E", netnstest.BadPrefix: "invalid netmask",
	}
	for _, h := range netnstest.HostileV4 {
		t.Run(string(h), func(t *testing.T) {
			t.Parallel()
			srv, cli := link(t, netnstest.DADOff)
			netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: srv, Server: srv4, Hostile: []netnstest.Hostile{h}})
			r, _ := probe(t, cli, 1500*time.Millisecond, ProbeV4)
			if r.Offered() {
				t.Errorf("hostile %s offered %+v", h, r.Offers)
			}
			if !ignoredWith(r, want[h]) {
				t.Errorf("hostile %s: ignored %q, want a reason with %q", h, r.Ignored, want[h])
			}
		})
	}
	t.Run("all-then-valid", func(t *testing.T) {
		t.Parallel()
		srv, cli := link(t, netnstest.DADOff)
		netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: srv, Server: srv4, Lease: lease4,
			Hostile: netnstest.HostileV4})
		r, _ := probe(t, cli, 3*time.Second, ProbeV4)
		if len(r.Offers) != 1 || r.Offers[0].Address != lease4 {
			t.Errorf("offers %+v, want only %v", r.Offers, lease4)
		}
		if len(r.Ignored) < len(netnstest.HostileV4) {
			t.Errorf("ignored %d replies, want %d: %q", len(r.Ignored), len(netnstest.HostileV4), r.Ignored)
		}
	})
}

func TestProbeV6DHCPv6(t *testing.T) {
	for _, rapid := range []bool{false, true} {
		t.Run(map[bool]string{false: "advertise", true: "rapid-commit-server"}[rapid], func(t *testing.T) {
			t.Parallel()
			srv, cli := link(t, netnstest.DADOff)
			s := netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Lease: lease6, RapidCommit: rapid})
			r, took := probe(t, cli, 2*time.Second, ProbeV6)
			t.Logf("%v in %v", r, took)
			if !slices.Equal(kinds(r), []string{KindDHCPv6}) {
				t.Fatalf("offers %+v, want one dhcpv6 (ignored %v, errors %v)", r.Offers, r.Ignored, r.Errors)
			}
			o := r.Offers[0]
			if o.Address != netip.PrefixFrom(lease6, 128) || !o.Server.IsLinkLocalUnicast() || o.Server.Zone() != cli.Name {
				t.Errorf("offer %+v, want %v/128 from a link-local server on %s", o, lease6, cli.Name)
			}
			if strings.Contains(o.Detail, "rapid commit") {
				t.Errorf("detail %q: the probe must not ask for rapid commit", o.Detail)
			}
			if seen := s.Seen(); !slices.Equal(seen, []string{"SOLICIT"}) {
				t.Errorf("server saw %v, want only SOLICIT", seen)
			}
		})
	}
}

func TestProbeV6RouterAdvertisement(t *testing.T) {
	cases := []struct {
		name string
		cfg  netnstest.RAConfig
		want Offer
	}{
		{"autonomous", netnstest.RAConfig{Prefixes: []netip.Prefix{slaac}}, Offer{Kind: KindSLAAC, Address: slaac}},
		{"managed", netnstest.RAConfig{Managed: true}, Offer{Kind: KindRA, Managed: true}},
		{"other", netnstest.RAConfig{Other: true}, Offer{Kind: KindRA, Other: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv, cli := link(t, netnstest.DADOff)
			c.cfg.Link = srv
			c.cfg.Interval = time.Minute // only solicited advertisements count here
			ra := netnstest.StartRA(t, c.cfg)
			r, took := probe(t, cli, 2*time.Second, ProbeV6)
			t.Logf("%v in %v", r, took)
			if len(r.Offers) != 1 {
				t.Fatalf("offers %+v, want one (ignored %v, errors %v)", r.Offers, r.Ignored, r.Errors)
			}
			got := r.Offers[0]
			if got.Kind != c.want.Kind || got.Address != c.want.Address || got.Managed != c.want.Managed ||
				got.Other != c.want.Other || !got.Server.IsLinkLocalUnicast() {
				t.Errorf("offer %+v, want %+v from a link-local router", got, c.want)
			}
			if !slices.Contains(ra.Seen(), "RS") {
				t.Errorf("router saw %v, want a router solicitation", ra.Seen())
			}
		})
	}
}

func TestProbeV6DHCPv6AndSLAAC(t *testing.T) {
	srv, cli := link(t, netnstest.DADOff)
	netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Lease: lease6})
	netnstest.StartRA(t, netnstest.RAConfig{Link: srv, Prefixes: []netip.Prefix{slaac}, Managed: true})
	r, took := probe(t, cli, 5*time.Second, ProbeV6)
	t.Logf("%v in %v", r, took)
	got := kinds(r)
	slices.Sort(got)
	if !slices.Equal(got, []string{KindDHCPv6, KindRA, KindSLAAC}) {
		t.Errorf("offers %+v, want dhcpv6, ra and slaac", r.Offers)
	}
}

func TestProbeV6Hostile(t *testing.T) {
	want := map[netnstest.Hostile]string{
		netnstest.Malformed: "malformed", netnstest.WrongXID: "wrong transaction ID",
		netnstest.WrongClient: "another client", netnstest.Loopback: "loopback",
		netnstest.Multicast: "multicast", netnstest.LinkLocal: "link-local",
		netnstest.Unspecified: "unspecified", netnstest.Mapped: "IPv4-mapped",
	}
	for _, h := range netnstest.HostileV6 {
		t.Run("dhcpv6-"+string(h), func(t *testing.T) {
			t.Parallel()
			srv, cli := link(t, netnstest.DADOff)
			netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Hostile: []netnstest.Hostile{h}})
			r, _ := probe(t, cli, 1500*time.Millisecond, ProbeV6)
			if r.Offered() {
				t.Errorf("hostile %s offered %+v", h, r.Offers)
			}
			if !ignoredWith(r, want[h]) {
				t.Errorf("hostile %s: ignored %q, want a reason with %q", h, r.Ignored, want[h])
			}
		})
	}
	wantRA := map[netnstest.Hostile]string{
		netnstest.Malformed: "malformed", netnstest.Loopback: "loopback prefix",
		netnstest.Multicast: "multicast prefix", netnstest.LinkLocal: "link-local prefix",
		netnstest.Unspecified: "unspecified prefix", netnstest.BadPrefix: "SLAAC needs /64",
		netnstest.Mapped: "malformed",
	}
	for _, h := range netnstest.HostileRA {
		t.Run("ra-"+string(h), func(t *testing.T) {
			t.Parallel()
			srv, cli := link(t, netnstest.DADOff)
			netnstest.StartRA(t, netnstest.RAConfig{Link: srv, Hostile: []netnstest.Hostile{h}, Lifetime: -1,
				Interval: time.Minute})
			r, _ := probe(t, cli, 1500*time.Millisecond, ProbeV6)
			if r.Offered() {
				t.Errorf("hostile %s offered %+v", h, r.Offers)
			}
			if !ignoredWith(r, wantRA[h]) {
				t.Errorf("hostile %s: ignored %q, want a reason with %q", h, r.Ignored, wantRA[h])
			}
		})
	}
}

func TestProbeV6WaitsForDAD(t *testing.T) {
	t.Run("too-short", func(t *testing.T) {
		t.Parallel()
		srv, cli := link(t, netnstest.DADDefault)
		netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Lease: lease6})
		// DAD takes about 2 s: 500 ms is not enough.
		r, took := probe(t, cli, 500*time.Millisecond, ProbeV6)
		t.Logf("%v in %v", r, took)
		if r.Offered() {
			t.Errorf("offers %+v before DAD could end", r.Offers)
		}
		if !slices.ContainsFunc(r.Errors, func(e string) bool { return strings.Contains(e, "link-local") }) {
			t.Errorf("errors %q, want one saying the link-local address was not usable", r.Errors)
		}
	})
	t.Run("long-enough", func(t *testing.T) {
		t.Parallel()
		srv, cli := link(t, netnstest.DADDefault)
		netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: srv, Lease: lease6})
		r, took := probe(t, cli, 5*time.Second, ProbeV6)
		t.Logf("%v in %v", r, took)
		if !slices.Equal(kinds(r), []string{KindDHCPv6}) {
			t.Errorf("offers %+v, want dhcpv6 once DAD ended (errors %v)", r.Offers, r.Errors)
		}
	})
}

func TestProbeDnsmasq(t *testing.T) {
	srv, cli := link(t, netnstest.DADOff)
	netnstest.StartDnsmasq(t, netnstest.DnsmasqConfig{Link: srv, RA: true, Ranges: []string{
		"192.0.2.50,192.0.2.60,255.255.255.0,1h",
		"2001:db8:1::50,2001:db8:1::60,64,1h",
	}})
	r4, took := probe(t, cli, 5*time.Second, ProbeV4)
	t.Logf("%v in %v", r4, took)
	if len(r4.Offers) != 1 || r4.Offers[0].Server != srv4 || r4.Offers[0].Address.Bits() != 24 ||
		!netip.MustParsePrefix("192.0.2.48/28").Contains(r4.Offers[0].Address.Addr()) {
		t.Errorf("v4 offers %+v, want one in 192.0.2.50-60/24 from %v (ignored %v)", r4.Offers, srv4, r4.Ignored)
	}
	r6, took := probe(t, cli, 5*time.Second, ProbeV6)
	t.Logf("%v in %v", r6, took)
	var dhcp, managed bool
	for _, o := range r6.Offers {
		dhcp = dhcp || o.Kind == KindDHCPv6 && netip.MustParsePrefix("2001:db8:1::/64").Contains(o.Address.Addr())
		managed = managed || o.Managed
	}
	if !dhcp || !managed {
		t.Errorf("v6 offers %+v, want a DHCPv6 address in 2001:db8:1::/64 and an RA with M (ignored %v)", r6.Offers, r6.Ignored)
	}
}

// TestProbeDnsmasqSLAAC: dnsmasq advertising a constructed /64 for SLAAC only (no DHCPv6).
func TestProbeDnsmasqSLAAC(t *testing.T) {
	srv, cli := link(t, netnstest.DADOff)
	netnstest.StartDnsmasq(t, netnstest.DnsmasqConfig{Link: srv, RA: true,
		Ranges: []string{"::,constructor:" + srv.Name + ",ra-only,64,1h"}})
	r, took := probe(t, cli, 3*time.Second, ProbeV6)
	t.Logf("%v in %v", r, took)
	want := netip.MustParsePrefix("2001:db8:1::/64")
	if len(r.Offers) != 1 || r.Offers[0].Kind != KindSLAAC || r.Offers[0].Address != want || r.Offers[0].Managed {
		t.Errorf("offers %+v, want only slaac %v without M (ignored %v)", r.Offers, want, r.Ignored)
	}
}

func TestProbeMissingInterface(t *testing.T) {
	_, cli := link(t, netnstest.DADOff)
	for name, fn := range map[string]func(context.Context, string) Result{"v4": ProbeV4, "v6": ProbeV6} {
		err := cli.NS.Do(func() error {
			r := fn(context.Background(), "nosuch0")
			if r.Offered() || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "no such network interface") {
				t.Errorf("%s on a missing interface: %+v, want one error naming it", name, r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cli.Down(t)
	r, _ := probe(t, cli, time.Second, ProbeV6)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "down") {
		t.Errorf("v6 on a down interface: %+v, want an error saying it is down", r)
	}
	r, _ = probe(t, cli, time.Second, ProbeV4)
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "down") {
		t.Errorf("v4 on a down interface: %+v, want an error saying it is down", r)
	}
}
