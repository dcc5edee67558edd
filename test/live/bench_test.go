package live

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	firstbootlive "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/live"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// Run with: go test -run '^$' -bench . -benchtime 20x ./test/live (make bench does).

// BenchmarkUsableIPv4ToDecision: not forced, the time from an IPv4 address becoming usable to the
// decision of live.Wait (the helper's wait) running in the client namespace. "Usable" is when the
// kernel acknowledged adding the address over netlink (what `ip addr add` does; timing the ip
// process itself would add its exit, ~1 ms, which the decision often beats).
func BenchmarkUsableIPv4ToDecision(b *testing.B) {
	benchUsableToDecision(b, false, "192.0.2.100/24")
}

// BenchmarkUsableIPv6ToDecision: forced, the same from a usable IPv6 address (DAD off: usable as
// soon as `ip addr add` returns).
func BenchmarkUsableIPv6ToDecision(b *testing.B) {
	benchUsableToDecision(b, true, "2001:db8:1::100/64")
}

func benchUsableToDecision(b *testing.B, forced bool, addr string) {
	n := newNetwork(b, netnstest.DADOff, fastConfig)
	cfg := config.Default()
	lc := firstbootlive.Config{Input: policy.Input{ForceIPv6: forced, IgnoreInterfaces: cfg.IgnoreInterfaces},
		IPv4Wait: 10 * time.Second, IPv6Timeout: 10 * time.Second, ProbeAfter: time.Hour}
	var lat []time.Duration
	for b.Loop() {
		n.cli.NS.IP(b, "addr", "flush", "dev", "eth0", "scope", "global")
		type result struct {
			at  time.Time
			res firstbootlive.Result
			err error
		}
		done := make(chan result, 1)
		waiting := make(chan struct{})
		go func() {
			var r result
			r.err = n.cli.NS.Do(func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				events, err := firstbootlive.Subscribe(ctx)
				if err != nil {
					return err
				}
				close(waiting)
				r.res, err = firstbootlive.Wait(ctx, lc, netstate.Live, events)
				r.at = time.Now()
				return err
			})
			done <- r
		}()
		<-waiting
		time.Sleep(20 * time.Millisecond) // let Wait take its first snapshot and block
		usable := addAddr(b, n.cli, netip.MustParsePrefix(addr))
		r := <-done
		if r.err != nil || r.res.Decision.Address.String() != strings.Split(addr, "/")[0] {
			b.Fatalf("decided %+v, %v", r.res.Decision, r.err)
		}
		lat = append(lat, r.at.Sub(usable))
	}
	reportMedians(b, lat, "ms-usable-to-decision")
}

// BenchmarkDualStackRun: the whole helper run (process start to exit, config written to a fresh
// root) on a dual-stack network, not forced, while the IPv6 address is still in DAD: a run that
// waited for IPv6 would take about 1 s more.
func BenchmarkDualStackRun(b *testing.B) {
	n := newNetwork(b, netnstest.DADDefault, fastConfig)
	n.startDHCPv4(b)
	dhcp4(b, n.cli)
	// DAD of 10 probes 1 s apart: every run starts and ends while the IPv6 address is tentative.
	n.cli.NS.Sysctl(b, "net/ipv6/conf/eth0/dad_transmits", "10")
	var runs []time.Duration
	for b.Loop() {
		n.cli.NS.IP(b, "-6", "addr", "flush", "dev", "eth0", "scope", "global")
		n.cli.NS.IP(b, "-6", "addr", "add", "2001:db8:1::200/64", "dev", "eth0")
		root := b.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc/clearwater"), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/clearwater/firstboot.yaml"), []byte(fastConfig), 0o644); err != nil {
			b.Fatal(err)
		}
		n.root = root
		h := n.start(b)
		r, code := h.wait(b)
		if code != 0 || r.Family != "ipv4" || r.Reason("ipv4_wait") != "" || r.Reason("ipv6_timeout") != "" {
			b.Fatalf("exit %d: %+v", code, r)
		}
		runs = append(runs, h.ended.Sub(h.started))
		if out := n.cli.NS.IP(b, "-6", "addr", "show", "dev", "eth0", "tentative"); !strings.Contains(out, "2001:db8:1::200") {
			b.Fatalf("the IPv6 address finished DAD during the run (%s): the figure would not show the absence of an IPv6 wait:\n%s",
				h.ended.Sub(h.started), n.cli.NS.IP(b, "-6", "addr", "show", "dev", "eth0"))
		}
	}
	reportMedians(b, runs, "ms-whole-run")
}

// addAddr adds prefix to the link over rtnetlink, as `ip addr add` does, and returns when the
// kernel acknowledged it.
func addAddr(b *testing.B, l *netnstest.Link, prefix netip.Prefix) time.Time {
	var at time.Time
	err := l.NS.Do(func() error {
		c, err := rtnetlink.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		ip := net.IP(prefix.Addr().AsSlice())
		m := &rtnetlink.AddressMessage{Family: unix.AF_INET, PrefixLength: uint8(prefix.Bits()),
			Scope: unix.RT_SCOPE_UNIVERSE, Index: uint32(l.Index), Attributes: &rtnetlink.AddressAttributes{Address: ip, Local: ip}}
		if prefix.Addr().Is6() {
			m.Family, m.Attributes.Local = unix.AF_INET6, nil
		}
		err = c.Address.New(m)
		at = time.Now()
		return err
	})
	if err != nil {
		b.Fatalf("adding %s: %v", prefix, err)
	}
	return at
}

// reportMedians prints the median and the maximum of d, in milliseconds.
func reportMedians(b *testing.B, d []time.Duration, unit string) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	b.ReportMetric(ms(d[len(d)/2]), unit+"-median")
	b.ReportMetric(ms(d[len(d)-1]), unit+"-max")
	b.ReportMetric(0, "ns/op") // wall time per op includes setup and is not the figure
}
