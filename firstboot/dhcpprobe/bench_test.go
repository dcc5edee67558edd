package dhcpprobe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// benchProbe times fn against servers already up, on a link past its first seconds (the first
// DHCPv6 solicit after link up is often lost), and reports milliseconds per probe.
func benchProbe(b *testing.B, cli *netnstest.Link, timeout time.Duration, fn func(context.Context, string) Result) {
	cli.LinkLocal(b, 5*time.Second)
	if r, _ := probe(b, cli, timeout, fn); !r.Offered() {
		b.Fatalf("warm-up probe: %+v", r)
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		r, took := probe(b, cli, timeout, fn)
		if !r.Offered() {
			b.Fatalf("nothing offered: %+v", r)
		}
		total += took
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/probe")
}

func benchLink(b *testing.B) (srv, cli *netnstest.Link) {
	srv, cli = netnstest.Veth(b, netnstest.New(b), netnstest.New(b), netnstest.VethConfig{})
	srv.AddAddr(b, "192.0.2.1/24")
	return srv, cli
}

// BenchmarkProbeV4 is ProbeV4 against a DHCPv4 server (the time includes the grace period for
// more offers).
func BenchmarkProbeV4(b *testing.B) {
	srv, cli := benchLink(b)
	netnstest.StartDHCPv4(b, netnstest.DHCPv4Config{Link: srv, Server: srv4, Lease: lease4})
	benchProbe(b, cli, 5*time.Second, ProbeV4)
}

// BenchmarkProbeV6 is ProbeV6 against a DHCPv6 server and a router advertising a /64 with M set.
func BenchmarkProbeV6(b *testing.B) {
	srv, cli := benchLink(b)
	netnstest.StartDHCPv6(b, netnstest.DHCPv6Config{Link: srv, Lease: lease6})
	netnstest.StartRA(b, netnstest.RAConfig{Link: srv, Managed: true, Interval: time.Minute,
		Prefixes: []netip.Prefix{slaac}})
	benchProbe(b, cli, 5*time.Second, ProbeV6)
}

// BenchmarkProbeV6Dnsmasq is ProbeV6 against dnsmasq (DHCPv6 range and RA).
func BenchmarkProbeV6Dnsmasq(b *testing.B) {
	srv, cli := benchLink(b)
	srv.AddAddr(b, "2001:db8:1::1/64")
	netnstest.StartDnsmasq(b, netnstest.DnsmasqConfig{Link: srv, RA: true,
		Ranges: []string{"2001:db8:1::50,2001:db8:1::60,64,1h"}})
	benchProbe(b, cli, 5*time.Second, ProbeV6)
}
