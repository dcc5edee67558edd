package main

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/dhcpprobe"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/live"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netconf"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
)

// session is where the addresses come from: a snapshot file, one live read (plan), or, for run,
// a live wait on netlink events.
type session struct {
	o      options
	events <-chan struct{}
	cancel context.CancelFunc
	// families is what OpenStack's network_data.json says the ports have: from a config drive
	// when the session starts, else from the metadata service once it answered.
	families     netdata.Families
	familiesRead bool
	// early is the metadata request started with the wait for addresses (nil: none).
	early *metadataRequest
	asked bool // whether the early request was considered
}

// newSession subscribes to address changes before anything reads the addresses, so that no
// change between the first snapshot and the subscription is missed.
func newSession(ctx context.Context, o options) (*session, error) {
	s := &session{o: o}
	if !s.live() {
		return s, nil
	}
	ctx, s.cancel = context.WithCancel(ctx)
	events, err := live.Subscribe(ctx)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("subscribing to address changes: %w", err)
	}
	s.events = events
	return s, nil
}

// live reports whether the session waits, probes and may ask the metadata service.
func (s *session) live() bool { return !s.o.offline() }

func (s *session) close() {
	if s.early != nil {
		s.early.cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
}

func input(cfg config.Config, rep *Report) policy.Input {
	return policy.Input{ForceIPv6: rep.ForceIPv6, OnMissingIPv6: cfg.OnMissingIPv6,
		Interface: cfg.Interface, IgnoreInterfaces: cfg.IgnoreInterfaces}
}

// decide reads the addresses and decides, waiting as the rules allow when live.
func (s *session) decide(ctx context.Context, cfg config.Config, rep *Report) (policy.Decision, error) {
	in := input(cfg, rep)
	switch {
	case s.o.addrs != "":
		snap, err := netstate.Load(s.o.addrs, s.o.routes)
		return policy.Decide(snap, in), err
	case !s.live():
		snap, err := netstate.Live(ctx)
		if err != nil {
			return policy.Decision{}, fmt.Errorf("reading the live addresses: %w", err)
		}
		return policy.Decide(snap, in), nil
	}
	s.readFamilies(rep)
	lc := live.Config{Input: in, IPv4Wait: cfg.IPv4Wait, IPv6Timeout: cfg.IPv6Timeout, ProbeAfter: cfg.ProbeAfter,
		Families: s.families, FamiliesLater: s.startMetadata(ctx, cfg, rep)}
	if cfg.ProbeDHCP {
		lc.Probe = func(ctx context.Context, ipv6 bool, ifaces []string) []string {
			return probe(ctx, s.o.root, ipv6, ifaces)
		}
	}
	res, err := live.Wait(ctx, lc, netstate.Live, s.events)
	rep.Reasons = append(rep.Reasons, res.Reasons...)
	return res.Decision, err
}

// probe asks, on every interface at once, whether the network offers the family the decision
// waits for, to tell "not offered" from "offered, but the image did not configure it". In the
// second case it makes the image's network stack ask for it (netconf), unless the wait is over.
func probe(ctx context.Context, root string, ipv6 bool, ifaces []string) []string {
	out := make([][]string, len(ifaces))
	var wg sync.WaitGroup
	for i, name := range ifaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = probeOne(ctx, root, ipv6, name)
		}()
	}
	wg.Wait()
	return slices.Concat(out...)
}

// probeOne probes one interface and, when the network offers what the node has not configured,
// writes and applies the drop-in.
func probeOne(ctx context.Context, root string, ipv6 bool, name string) []string {
	run := dhcpprobe.ProbeV4
	if ipv6 {
		run = dhcpprobe.ProbeV6
	}
	r := run(ctx, name)
	var snap netstate.Snapshot
	var err error
	if r.Offered() {
		// Also when ctx ended with the probe (the decision was made meanwhile): the status
		// must still say what the offer meant. Live bounds itself.
		snap, err = netstate.Live(context.WithoutCancel(ctx))
	}
	verdict, configure := probeVerdict(ipv6, r, snap)
	if err != nil {
		verdict += fmt.Sprintf(" (the addresses could not be read after the probe: %v)", err)
	}
	out := []string{probeReason(r, verdict)}
	if configure && ctx.Err() == nil {
		out = append(out, netconf.Configure(ctx, root, netconf.FromProbe(r)).Reason)
	}
	return out
}

// probeVerdict says what a probe's result means for this node, given the addresses read after
// the probe, and whether the image's network stack must be made to ask for the family: only
// when the network offers it and the node has no address of it on that interface, neither
// usable nor held by duplicate address detection.
//
// The snapshot alone tells "configuring" from "not configured". The kernel handles the very
// router advertisement that the probe read (the same packet, well within the probe's grace
// period), so a SLAAC address that is coming is already there, tentative, when the probe
// returns; accept_ra, forwarding and autoconf would only predict it, and wrongly when the
// kernel drops the prefix for a reason they do not show (accept_ra_pinfo, max_addresses, a
// failed DAD). A DHCP client's address shows the same way once the client has it; before that,
// nothing tells a client about to take a lease from none, so that stays "not configured".
func probeVerdict(ipv6 bool, r dhcpprobe.Result, snap netstate.Snapshot) (verdict string, configure bool) {
	family := "IPv4"
	if ipv6 {
		family = "IPv6"
	}
	if !r.Offered() {
		return "the network offers no " + family + " here", false
	}
	in := policy.Input{Interface: r.Interface}
	if c := policy.Candidates(snap, in, ipv6); len(c) > 0 {
		return fmt.Sprintf("the network offers %s and this node took it while the probe ran: %s is usable", family, c[0].Addr), false
	}
	if held := policy.Held(snap, in, ipv6); len(held) > 0 {
		h := offeredFirst(held, r)
		if h.Failed {
			return fmt.Sprintf("the network offers %s and this node configured it, but %s %s", family, h.Addr, h.Why), false
		}
		return fmt.Sprintf("the network offers %s and this node is configuring it: %s %s", family, h.Addr, h.Why), false
	}
	return "the network offers " + family + " but this node has not configured it: check that the image's network stack asks for it", true
}

// offeredFirst picks, of held (not empty), the first address that an offer covers (in the
// SLAAC prefix, the DHCP address), else the first.
func offeredFirst(held []policy.HeldAddr, r dhcpprobe.Result) policy.HeldAddr {
	for _, h := range held {
		for _, o := range r.Offers {
			if o.Address.IsValid() && o.Address.Contains(h.Addr) {
				return h
			}
		}
	}
	return held[0]
}

// probeReason is the status line of one probe: what was offered, the verdict, and the replies
// ignored.
func probeReason(r dhcpprobe.Result, verdict string) string {
	msg := fmt.Sprintf("probe %s: %s", r, verdict)
	if n := len(r.Ignored); n > 0 {
		msg += fmt.Sprintf(" (%d invalid replies ignored: %s)", n, r.Ignored[0])
	}
	return msg
}
