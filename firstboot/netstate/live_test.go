package netstate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// waitFor polls cond every 50 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// liveIn runs Live inside namespace ns.
func liveIn(ctx context.Context, ns *netnstest.NS) (Snapshot, error) {
	var s Snapshot
	err := ns.Do(func() error {
		var err error
		s, err = Live(ctx)
		return err
	})
	return s, err
}

// ipSnapshot parses what ip prints in namespace ns right now.
func ipSnapshot(t *testing.T, ns *netnstest.NS) Snapshot {
	t.Helper()
	links, err := ParseAddrs([]byte(ns.IP(t, "-j", "addr", "show")))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRoutes([]byte(ns.IP(t, "-j", "route", "show", "default") + ns.IP(t, "-6", "-j", "route", "show", "default")))
	if err != nil {
		t.Fatal(err)
	}
	return Snapshot{Links: links, Routes: rs}
}

// buildHost gives namespace ns one of each kind of address and link the decision cares about,
// with a peer namespace on the other end of its veths.
func buildHost(t *testing.T, ns, peer *netnstest.NS) {
	ns.Sysctl(t, "net.ipv6.conf.default.use_tempaddr", "2")
	for i, name := range []string{"eth0", "eth1", "eth2"} {
		p := fmt.Sprintf("p%d", i)
		netnstest.Veth(t, ns, peer, netnstest.VethConfig{NameA: name, NameB: p, DADA: netnstest.DADDefault, Down: true})
		// DAD of 100 probes 10 s apart: a tentative address stays tentative for the whole test.
		ns.Sysctl(t, "net.ipv6.conf."+name+".dad_transmits", "100")
		ns.Sysctl(t, "net.ipv6.neigh."+name+".retrans_time_ms", "10000")
		peer.IP(t, "link", "set", "dev", p, "up")
	}
	ns.Sysctl(t, "net.ipv6.conf.eth1.optimistic_dad", "1")
	ns.Sysctl(t, "net.ipv6.conf.eth1.use_optimistic", "1")
	peer.IP(t, "addr", "add", "2001:db8:1::20/64", "dev", "p0", "nodad")
	ns.IP(t, "link", "set", "dev", "eth0", "up")
	ns.IP(t, "link", "set", "dev", "eth1", "up")
	for _, a := range [][]string{
		{"192.0.2.10/24", "valid_lft", "3600", "preferred_lft", "3000"}, // DHCP-like
		{"192.0.2.11/24"},
		{"198.51.100.5/24", "valid_lft", "600", "preferred_lft", "0"},
		{"10.9.9.9/32", "scope", "host"},
		{"2001:db8:1::10/64"}, // tentative
		{"2001:db8:1::11/64", "nodad"},
		{"2001:db8:1::12/64", "nodad", "valid_lft", "600", "preferred_lft", "0"},
		{"2001:db8:1::100/64", "nodad", "mngtmpaddr", "valid_lft", "86400", "preferred_lft", "14400"}, // makes a temporary one
		{"fd00:1::10/64", "nodad"},
		{"2001:db8:1::20/64"}, // the peer has it: dadfailed
	} {
		ns.IP(t, append([]string{"addr", "add", a[0], "dev", "eth0"}, a[1:]...)...)
	}
	ns.IP(t, "addr", "add", "2001:db8:2::10/64", "dev", "eth1") // optimistic
	ns.IP(t, "addr", "add", "203.0.113.5/24", "dev", "eth2")    // eth2 stays down
	ns.IP(t, "route", "add", "default", "via", "192.0.2.1", "dev", "eth0")
	ns.IP(t, "route", "add", "default", "via", "2001:db8:2::1", "dev", "eth1", "metric", "100")
	ns.IP(t, "route", "add", "default", "via", "2001:db8:1::1", "dev", "eth0", "metric", "200")
	waitFor(t, "dadfailed on 2001:db8:1::20", func() bool {
		return strings.Contains(ns.IP(t, "addr", "show", "dev", "eth0"), "dadfailed")
	})
}

func TestLiveMatchesIP(t *testing.T) {
	netnstest.Require(t)
	ns, peer := netnstest.New(t), netnstest.New(t)
	buildHost(t, ns, peer)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := ipSnapshot(t, ns)
	live, err := liveIn(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	after := ipSnapshot(t, ns)
	if !sameSnapshot(live, before) && !sameSnapshot(live, after) {
		t.Errorf("Live differs from ip -j:\nlive: %+v\nip:   %+v", live, before)
	}
	// The namespace must really hold each case, or the comparison proves little.
	var seen struct{ tentative, dadfailed, deprecated4, deprecated6, temporary, optimistic, dynamic, host bool }
	for _, l := range live.Links {
		for _, a := range l.Addrs {
			v4 := a.Prefix.Addr().Is4()
			seen.tentative = seen.tentative || a.Tentative && !a.DADFailed && !a.Optimistic
			seen.dadfailed = seen.dadfailed || a.DADFailed
			seen.deprecated4 = seen.deprecated4 || a.Deprecated && v4
			seen.deprecated6 = seen.deprecated6 || a.Deprecated && !v4
			seen.temporary = seen.temporary || a.Temporary
			seen.optimistic = seen.optimistic || a.Optimistic
			seen.dynamic = seen.dynamic || a.Dynamic && v4 && a.ValidLifetime <= 3600
			seen.host = seen.host || a.Scope == "host"
		}
	}
	if seen != (struct{ tentative, dadfailed, deprecated4, deprecated6, temporary, optimistic, dynamic, host bool }{true, true, true, true, true, true, true, true}) {
		t.Errorf("the namespace lacks a case: %+v", seen)
	}
	if l, ok := live.Link("eth2"); !ok || l.Up || l.AdminUp {
		t.Errorf("eth2 should be listed and down: %+v", l)
	}
	if l, ok := live.Link("lo"); !ok || !l.Loopback || !l.Up {
		t.Errorf("lo should be an up loopback: %+v", l)
	}
	if len(live.Routes) != 3 || live.Routes[0].IPv6 || !live.Routes[1].IPv6 || live.Routes[1].Dev != "eth1" || live.Routes[1].Metric != 100 {
		t.Errorf("routes: %+v", live.Routes)
	}
}

// sameSnapshot compares snapshots, allowing lifetimes that ticked down by up to 2 s in between.
func sameSnapshot(a, b Snapshot) bool {
	if len(a.Links) != len(b.Links) {
		return false
	}
	for i := range a.Links {
		la, lb := a.Links[i], b.Links[i]
		if len(la.Addrs) != len(lb.Addrs) {
			return false
		}
		la.Addrs, lb.Addrs = append([]Addr(nil), la.Addrs...), append([]Addr(nil), lb.Addrs...)
		for j := range la.Addrs {
			x, y := &la.Addrs[j], &lb.Addrs[j]
			if !near(x.ValidLifetime, y.ValidLifetime) || !near(x.PreferredLifetime, y.PreferredLifetime) {
				return false
			}
			x.ValidLifetime, x.PreferredLifetime = y.ValidLifetime, y.PreferredLifetime
		}
		if !reflect.DeepEqual(la, lb) {
			return false
		}
	}
	return reflect.DeepEqual(a.Routes, b.Routes)
}

func near(x, y uint32) bool {
	if x == Forever || y == Forever {
		return x == y
	}
	return x-y <= 2 || y-x <= 2
}

func TestLiveCanceled(t *testing.T) {
	netnstest.Require(t)
	ns := netnstest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := liveIn(ctx, ns); !errors.Is(err, context.Canceled) {
		t.Fatalf("Live with a canceled context: %v, want context.Canceled", err)
	}
}
