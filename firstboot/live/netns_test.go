package live

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// waitIn runs Subscribe + Wait on the real kernel inside ns, as the helper does at boot.
func waitIn(t *testing.T, ns *netnstest.NS, c Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r Result
	err := ns.Do(func() error {
		events, err := Subscribe(ctx)
		if err != nil {
			return err
		}
		r, err = Wait(ctx, c, netstate.Live, events)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pair(t *testing.T, clientDAD netnstest.DAD) (router, client *netnstest.Link) {
	netnstest.Require(t)
	rns, cns := netnstest.New(t), netnstest.New(t)
	router, client = netnstest.Veth(t, rns, cns, netnstest.VethConfig{NameA: "rtr0", NameB: "eth0", DADB: clientDAD})
	return router, client
}

// An IPv4 address that the OS configures while the helper waits is taken on the kernel's event,
// well before any deadline.
func TestLiveDecidesOnTheAddressEvent(t *testing.T) {
	_, client := pair(t, netnstest.DADOff)
	time.AfterFunc(300*time.Millisecond, func() {
		client.NS.IP(t, "addr", "add", "192.0.2.10/24", "dev", "eth0", "valid_lft", "3600", "preferred_lft", "3600")
	})
	r := waitIn(t, client.NS, Config{IPv4Wait: 20 * time.Second, IPv6Timeout: 20 * time.Second, ProbeAfter: time.Hour,
		Input: policy.Input{IgnoreInterfaces: []string{"rtr*"}}})
	if r.Decision.Address != netip.MustParseAddr("192.0.2.10") || r.Events == 0 {
		t.Fatalf("got %+v", r)
	}
	if r.Waited >= 20*time.Second {
		t.Errorf("decided at the deadline (%s), not on the event", r.Waited)
	}
}

// Forced, with fallback, on a network whose IPv4 comes after ipv6_timeout: the helper waits up to
// ipv4_wait more and falls back on the kernel's address event, instead of deciding nothing.
func TestLiveForcedFallbackWaitsForIPv4(t *testing.T) {
	_, client := pair(t, netnstest.DADOff)
	time.AfterFunc(1500*time.Millisecond, func() {
		client.NS.IP(t, "addr", "add", "192.0.2.10/24", "dev", "eth0", "valid_lft", "3600", "preferred_lft", "3600")
	})
	r := waitIn(t, client.NS, Config{IPv4Wait: 20 * time.Second, IPv6Timeout: 500 * time.Millisecond, ProbeAfter: time.Hour,
		Input: policy.Input{ForceIPv6: true, OnMissingIPv6: config.Fallback, IgnoreInterfaces: []string{"rtr*"}}})
	if d := r.Decision; d.Address != netip.MustParseAddr("192.0.2.10") || !d.Degraded || r.Events == 0 {
		t.Fatalf("got %+v", r)
	}
	if r.Waited < 1500*time.Millisecond || r.Waited >= 20*time.Second {
		t.Errorf("decided after %s: want on the event, after ipv6_timeout and before ipv4_wait ran out", r.Waited)
	}
}

// Forced IPv6 from a router advertisement: the kernel's SLAAC address counts only once DAD has
// finished, and the helper wakes on that change.
func TestLiveForcedWaitsForSLAACPastDAD(t *testing.T) {
	router, client := pair(t, netnstest.DADDefault)
	router.AddAddr(t, "2001:db8:5::1/64")
	netnstest.StartRA(t, netnstest.RAConfig{Link: router, Prefixes: []netip.Prefix{netip.MustParsePrefix("2001:db8:5::/64")}})
	client.AddAddr(t, "192.0.2.10/24") // IPv4 is there from the start: forced, it must not be taken
	r := waitIn(t, client.NS, Config{IPv4Wait: 20 * time.Second, IPv6Timeout: 20 * time.Second, ProbeAfter: time.Hour,
		Input: policy.Input{ForceIPv6: true}})
	d := r.Decision
	if d.Family != policy.IPv6 || d.Degraded || !netip.MustParsePrefix("2001:db8:5::/64").Contains(d.Address) {
		t.Fatalf("got %+v", r)
	}
	if r.Events == 0 {
		t.Errorf("decided without a single address event: %+v", r)
	}
	// The snapshot the decision was made on must show the address past DAD.
	l, _ := r.Snapshot.Link("eth0")
	for _, a := range l.Addrs {
		if a.Prefix.Addr() == d.Address && (a.Tentative || a.DADFailed) {
			t.Errorf("chose %s while it was tentative", d.Address)
		}
	}
}
