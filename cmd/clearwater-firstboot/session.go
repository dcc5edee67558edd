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
// second case it makes the image's network stack ask for it (netconf), unless the family arrived
// meanwhile or the wait is over.
func probe(ctx context.Context, root string, ipv6 bool, ifaces []string) []string {
	family, run := "IPv4", dhcpprobe.ProbeV4
	if ipv6 {
		family, run = "IPv6", dhcpprobe.ProbeV6
	}
	out := make([][]string, len(ifaces))
	var wg sync.WaitGroup
	for i, name := range ifaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := run(ctx, name)
			out[i] = []string{probeReason(family, r)}
			if r.Offered() && ctx.Err() == nil && !hasFamily(ctx, name, ipv6) {
				out[i] = append(out[i], netconf.Configure(ctx, root, netconf.FromProbe(r)).Reason)
			}
		}()
	}
	wg.Wait()
	return slices.Concat(out...)
}

// hasFamily reports whether iface has a usable address of the family now (a slow OS client
// that took the lease while the probe ran needs no drop-in).
func hasFamily(ctx context.Context, iface string, ipv6 bool) bool {
	snap, err := netstate.Live(ctx)
	return err == nil && len(policy.Candidates(snap, policy.Input{Interface: iface}, ipv6)) > 0
}

func probeReason(family string, r dhcpprobe.Result) string {
	verdict := "the network offers no " + family + " here"
	if r.Offered() {
		verdict = "the network offers " + family + " but this node has not configured it: check that the image's network stack asks for it"
	}
	msg := fmt.Sprintf("probe %s: %s", r, verdict)
	if n := len(r.Ignored); n > 0 {
		msg += fmt.Sprintf(" (%d invalid replies ignored: %s)", n, r.Ignored[0])
	}
	return msg
}
