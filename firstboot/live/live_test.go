package live

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
)

// network is a scripted host: each event moves it to its next snapshot.
type network struct {
	mu     sync.Mutex
	steps  []netstate.Snapshot
	i      int
	events chan struct{}
}

func newNetwork(steps ...netstate.Snapshot) *network {
	return &network{steps: steps, events: make(chan struct{}, 1)}
}

func (n *network) snapshot(context.Context) (netstate.Snapshot, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.steps[n.i], nil
}

// change moves to the next snapshot and tells the waiter, as the kernel would.
func (n *network) change() {
	n.mu.Lock()
	n.i++
	n.mu.Unlock()
	n.events <- struct{}{}
}

func host(addrs ...string) netstate.Snapshot {
	l := netstate.Link{Index: 2, Name: "eth0", Up: true, AdminUp: true, LowerUp: true, OperState: "UP"}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netstate.Addr{Prefix: netip.MustParsePrefix(a), Scope: "global", Dynamic: true})
	}
	lo := netstate.Link{Index: 1, Name: "lo", Up: true, AdminUp: true, LowerUp: true, OperState: "UNKNOWN", Loopback: true,
		Addrs: []netstate.Addr{{Prefix: netip.MustParsePrefix("127.0.0.1/8"), Scope: "host"}}}
	return netstate.Snapshot{Links: []netstate.Link{lo, l}}
}

func cfg(force bool, ipv4Wait, ipv6Timeout time.Duration) Config {
	return Config{Input: policy.Input{ForceIPv6: force}, IPv4Wait: ipv4Wait, IPv6Timeout: ipv6Timeout, ProbeAfter: time.Hour}
}

func wait(t *testing.T, c Config, n *network) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Wait(ctx, c, n.snapshot, n.events)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNotForcedDecidesOnIPv4AtOnce(t *testing.T) {
	r := wait(t, cfg(false, time.Hour, time.Hour), newNetwork(host("192.0.2.10/24", "2001:db8::10/64")))
	if r.Decision.Family != policy.IPv4 || r.Events != 0 {
		t.Fatalf("got %+v", r)
	}
}

func TestNotForcedWaitsForLateIPv4InsteadOfTakingIPv6(t *testing.T) {
	n := newNetwork(host("2001:db8::10/64"), host("2001:db8::10/64", "192.0.2.10/24"))
	time.AfterFunc(20*time.Millisecond, n.change)
	// ipv4_wait is an hour: only the event can end this wait, and it must end on IPv4.
	r := wait(t, cfg(false, time.Hour, time.Hour), n)
	if r.Decision.Family != policy.IPv4 || r.Decision.Address != netip.MustParseAddr("192.0.2.10") || r.Events != 1 {
		t.Fatalf("got %+v", r)
	}
}

func TestNotForcedSettlesOnIPv6AfterIPv4Wait(t *testing.T) {
	r := wait(t, cfg(false, 30*time.Millisecond, time.Hour), newNetwork(host("2001:db8::10/64")))
	if r.Decision.Family != policy.IPv6 || !contains(r.Reasons, "IPv6-only network") {
		t.Fatalf("got %+v", r)
	}
	if r.Waited < 30*time.Millisecond {
		t.Errorf("settled on IPv6 after %s, before ipv4_wait", r.Waited)
	}
}

func TestForcedWaitsForIPv6(t *testing.T) {
	n := newNetwork(host("192.0.2.10/24"), host("192.0.2.10/24", "2001:db8::10/64"))
	time.AfterFunc(20*time.Millisecond, n.change)
	r := wait(t, cfg(true, time.Hour, time.Hour), n)
	if r.Decision.Family != policy.IPv6 || r.Decision.Degraded {
		t.Fatalf("got %+v", r)
	}
}

func TestForcedFallsBackAfterIPv6Timeout(t *testing.T) {
	r := wait(t, cfg(true, time.Hour, 30*time.Millisecond), newNetwork(host("192.0.2.10/24")))
	if r.Decision.Family != policy.IPv4 || !r.Decision.Degraded || !contains(r.Reasons, "no usable IPv6 after waiting") {
		t.Fatalf("got %+v", r)
	}
}

// Forced, with fallback and no IPv4 when IPv6 is given up: an IPv4 that comes within ipv4_wait
// after is fallen back to, rather than deciding nothing.
func TestForcedFallbackWaitsForLateIPv4(t *testing.T) {
	n := newNetwork(host(), host("192.0.2.10/24"))
	time.AfterFunc(80*time.Millisecond, n.change)
	r := wait(t, cfg(true, time.Hour, 20*time.Millisecond), n)
	if r.Decision.Family != policy.IPv4 || !r.Decision.Degraded || r.Events != 1 ||
		!contains(r.Reasons, "no usable IPv6 after waiting") || !contains(r.Reasons, "one came") {
		t.Fatalf("got %+v", r)
	}
}

// ... and none coming within ipv4_wait ends the wait with no decision; with on_missing_ipv6: fail,
// there is no IPv4 to wait for.
func TestForcedFallbackGivesUpAfterIPv4Wait(t *testing.T) {
	r := wait(t, cfg(true, 40*time.Millisecond, 20*time.Millisecond), newNetwork(host()))
	if r.Decision.Decided() || r.Waited < 60*time.Millisecond || !contains(r.Reasons, "nor in the") {
		t.Fatalf("got %+v", r)
	}
	c := cfg(true, time.Hour, 20*time.Millisecond)
	c.Input.OnMissingIPv6 = config.Fail
	if r := wait(t, c, newNetwork(host())); r.Decision.Decided() || contains(r.Reasons, "fall back") {
		t.Fatalf("fail: got %+v", r)
	}
}

func TestNothingUsableEndsWithNoDecision(t *testing.T) {
	r := wait(t, cfg(false, 10*time.Millisecond, 30*time.Millisecond), newNetwork(host()))
	if r.Decision.Decided() || r.Decision.Error == "" || !contains(r.Reasons, "no usable address after waiting") {
		t.Fatalf("got %+v", r)
	}
}

func TestProbeRunsWhenTheFamilyIsMissingAndStopsWhenItArrives(t *testing.T) {
	n := newNetwork(host("2001:db8::10/64"), host("2001:db8::10/64", "192.0.2.10/24"))
	c := cfg(false, time.Hour, time.Hour)
	c.ProbeAfter = 10 * time.Millisecond
	started := make(chan struct{})
	c.Probe = func(ctx context.Context, ipv6 bool, ifaces []string) []string {
		if ipv6 || len(ifaces) != 1 || ifaces[0] != "eth0" {
			t.Errorf("probe(ipv6=%t, %q), want IPv4 on eth0", ipv6, ifaces)
		}
		close(started)
		<-ctx.Done() // a probe that outlives the wait is cancelled, not waited for
		return []string{"probe: DHCPv4 offered 192.0.2.10 (cancelled)"}
	}
	go func() { <-started; n.change() }()
	r := wait(t, c, n)
	if r.Decision.Family != policy.IPv4 || !contains(r.Reasons, "DHCPv4 offered") {
		t.Fatalf("got %+v", r)
	}
}

func TestNoProbeWhenTheFamilyIsThere(t *testing.T) {
	c := cfg(true, time.Hour, 30*time.Millisecond)
	c.ProbeAfter = 0
	c.Probe = func(context.Context, bool, []string) []string {
		t.Error("probed although IPv6 was usable")
		return nil
	}
	if r := wait(t, c, newNetwork(host("2001:db8::10/64"))); r.Decision.Family != policy.IPv6 {
		t.Fatalf("got %+v", r)
	}
}

func TestCancelledContextEndsTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	n := newNetwork(host())
	_, err := Wait(ctx, cfg(true, time.Hour, time.Hour), n.snapshot, n.events)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("Wait = %v, want a cancellation error", err)
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// A NIC whose carrier comes after probe_after is still probed once it is up.
func TestProbeWaitsForALinkThatComesUpLate(t *testing.T) {
	down := host()
	down.Links[1].Up, down.Links[1].LowerUp, down.Links[1].OperState = false, false, "DOWN"
	n := newNetwork(down, host(), host("192.0.2.10/24"))
	c := cfg(false, time.Hour, time.Hour)
	c.ProbeAfter = 10 * time.Millisecond
	probed := make(chan struct{})
	c.Probe = func(ctx context.Context, ipv6 bool, ifaces []string) []string {
		close(probed)
		return []string{"probe eth0: offered dhcpv4"}
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // past probe_after, with the link still down
		n.change()                        // the carrier comes
		<-probed
		n.change() // then the OS configures the lease
	}()
	r := wait(t, c, n)
	if r.Decision.Family != policy.IPv4 || !contains(r.Reasons, "offered dhcpv4") || !contains(r.Reasons, "no interface to probe yet") {
		t.Fatalf("got %+v", r)
	}
}

func families(t *testing.T, types ...string) netdata.Families {
	t.Helper()
	nets := make([]string, len(types))
	for i, ty := range types {
		nets[i] = `{"type":"` + ty + `"}`
	}
	f, err := netdata.Parse("test", []byte(`{"links":[{"id":"tap1"}],"networks":[`+strings.Join(nets, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// What network_data.json says shapes the wait; the waits are an hour here, so only the file can
// end them early.
func TestNetworkDataShapesTheWait(t *testing.T) {
	t.Run("forced, the port has no IPv6: fall back at once", func(t *testing.T) {
		c := cfg(true, time.Hour, time.Hour)
		c.Families = families(t, "ipv4_dhcp")
		r := wait(t, c, newNetwork(host("192.0.2.10/24")))
		if r.Decision.Family != policy.IPv4 || !r.Decision.Degraded || !hasReason(r, "no port has IPv6, so it was not waited for") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("forced, no IPv6 and no IPv4 yet: wait for the IPv4 to fall back to", func(t *testing.T) {
		n := newNetwork(host(), host("192.0.2.10/24"))
		time.AfterFunc(20*time.Millisecond, n.change)
		c := cfg(true, time.Hour, time.Hour)
		c.Families = families(t, "ipv4_dhcp")
		r := wait(t, c, n)
		if r.Decision.Family != policy.IPv4 || r.Events != 1 {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("forced, the port has IPv6: wait for it past a usable IPv4", func(t *testing.T) {
		n := newNetwork(host("192.0.2.10/24"), host("192.0.2.10/24", "2001:db8::10/64"))
		time.AfterFunc(50*time.Millisecond, n.change)
		c := cfg(true, time.Hour, time.Hour)
		c.Families = families(t, "ipv4_dhcp", "ipv6_dhcpv6-stateful")
		r := wait(t, c, n)
		if r.Decision.Family != policy.IPv6 || !hasReason(r, "IPv6 was usable") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("forced, port has IPv6 that never comes: ipv6_timeout, said so", func(t *testing.T) {
		c := cfg(true, time.Hour, 100*time.Millisecond)
		c.Families = families(t, "ipv4_dhcp", "ipv6_slaac")
		r := wait(t, c, newNetwork(host("192.0.2.10/24")))
		if r.Decision.Family != policy.IPv4 || !hasReason(r, "the port has IPv6 (ipv6_slaac), so it was waited for up to ipv6_timeout") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("not forced, the port has no IPv4: IPv6 at once", func(t *testing.T) {
		c := cfg(false, time.Hour, time.Hour)
		c.Families = families(t, "ipv6_slaac")
		r := wait(t, c, newNetwork(host("2001:db8::10/64")))
		if r.Decision.Family != policy.IPv6 || !hasReason(r, "no port has IPv4") {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("empty object: as today", func(t *testing.T) {
		f, err := netdata.Parse("test", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		c := cfg(false, 150*time.Millisecond, time.Hour)
		c.Families = f
		r := wait(t, c, newNetwork(host("2001:db8::10/64")))
		if r.Decision.Family != policy.IPv6 || r.Waited < 150*time.Millisecond || hasReason(r, "network_data.json") {
			t.Fatalf("got %+v", r)
		}
	})
}

func hasReason(r Result, sub string) bool {
	for _, s := range r.Reasons {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// network_data.json that arrives during the wait (from the metadata service) ends it as one
// known from the start would.
func TestNetworkDataArrivingDuringTheWait(t *testing.T) {
	c := cfg(false, time.Hour, time.Hour)
	later := make(chan netdata.Families, 1)
	c.FamiliesLater = later
	time.AfterFunc(30*time.Millisecond, func() { later <- families(t, "ipv6_dhcpv6-stateful") })
	r := wait(t, c, newNetwork(host("2001:db8::10/64")))
	if r.Decision.Family != policy.IPv6 || r.Waited < 30*time.Millisecond || !hasReason(r, "no port has IPv4") {
		t.Fatalf("got %+v", r)
	}
}
