// Package live waits at boot until the addresses the decision needs are usable, within bounded
// times, driven by netlink events rather than sleeps.
//
// Not forced, it decides on the first usable IPv4 and never waits for IPv6; with no IPv4 after
// IPv4Wait it settles for IPv6. Forced, it decides on the first usable IPv6, and after IPv6Timeout
// lets the policy fall back or fail; to fall back with no usable IPv4 at that moment, it waits up
// to IPv4Wait more for one, rather than decide nothing on a network whose IPv4 comes late. When the family it needs is still missing after ProbeAfter,
// it asks the network what it offers, so the status can tell "not offered" from "being configured"
// and "not configured".
package live

import (
	"context"
	"fmt"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
)

// Snapshotter takes one snapshot of the host's addresses.
type Snapshotter func(ctx context.Context) (netstate.Snapshot, error)

// Prober asks the network, on the given interfaces, whether it offers a family, and returns
// findings for a person. It must return by the time ctx ends.
type Prober func(ctx context.Context, ipv6 bool, ifaces []string) []string

// Config bounds the wait and says what the decision needs.
type Config struct {
	Input       policy.Input
	IPv4Wait    time.Duration // not forced: how long to wait for IPv4 before settling on IPv6; forced: for an IPv4 to fall back to
	IPv6Timeout time.Duration // forced: how long to wait for IPv6; not forced: for any address at all
	ProbeAfter  time.Duration // when to probe for a missing family
	Probe       Prober        // nil: never probe
	// Families is what OpenStack's network_data.json says the ports have (not Known: nothing
	// said). A family it says no port has is not waited for: forced, the decision falls back as
	// soon as an IPv4 is usable; not forced, it settles on IPv6 without waiting ipv4_wait.
	Families netdata.Families
	// FamiliesLater, when not nil, may carry Families once during the wait (the metadata
	// service's network_data.json); it is taken when Families is not Known.
	FamiliesLater <-chan netdata.Families
}

// Result is the decision, the snapshot it was made on, and how the wait went.
type Result struct {
	Decision policy.Decision
	Snapshot netstate.Snapshot
	Waited   time.Duration
	Events   int      // address, link and route changes seen while waiting
	Reasons  []string // about the wait and the probe, for a person
}

// Wait decides as soon as the rules allow. events carries a value after each address, link or
// route change (see Subscribe); it must be subscribed before Wait takes its first snapshot, so
// that no change is missed.
func Wait(ctx context.Context, cfg Config, snap Snapshotter, events <-chan struct{}) (Result, error) {
	w := waiter{cfg: cfg, start: time.Now()}
	deadline := time.NewTimer(w.nextDeadline(0))
	defer deadline.Stop()
	probeAt := time.NewTimer(cfg.ProbeAfter)
	defer probeAt.Stop()
	for {
		s, err := snap(ctx)
		if err != nil {
			return w.finish(), err
		}
		elapsed := time.Since(w.start)
		if d, done := w.ready(s, elapsed); done {
			w.res.Decision, w.res.Snapshot = d, s
			return w.finish(), nil
		}
		if w.probeDue && len(policy.Candidates(s, cfg.Input, w.needIPv6())) == 0 {
			w.startProbe(ctx, s)
		}
		deadline.Reset(w.nextDeadline(elapsed))
		select {
		case <-ctx.Done():
			return w.finish(), fmt.Errorf("waiting for addresses: %w", ctx.Err())
		case <-events:
			w.res.Events++
		case <-deadline.C:
		case <-probeAt.C:
			w.probeDue = true // started on the next snapshot that still lacks the family
		case reasons := <-w.probeDone:
			w.res.Reasons = append(w.res.Reasons, reasons...)
			w.probeDone = nil
		case f := <-w.cfg.FamiliesLater:
			w.cfg.FamiliesLater = nil
			if !w.cfg.Families.Known {
				w.cfg.Families = f
			}
		}
	}
}

type waiter struct {
	cfg         Config
	start       time.Time
	res         Result
	probeDue    bool          // probe_after has passed and no probe has started yet
	gaveUpV6    bool          // forced: IPv6 was given up (ipv6_timeout, or none is coming)
	gaveUpAt    time.Duration // when, since start
	noIfaceSaid bool
	probeDone   chan []string
	cancelProbe context.CancelFunc
}

// needIPv6 is the family the decision waits for.
func (w *waiter) needIPv6() bool { return w.cfg.Input.ForceIPv6 }

// ready applies the waiting rules to one snapshot.
func (w *waiter) ready(s netstate.Snapshot, elapsed time.Duration) (policy.Decision, bool) {
	in := w.cfg.Input
	v4 := len(policy.Candidates(s, in, false)) > 0
	v6 := len(policy.Candidates(s, in, true)) > 0
	final := elapsed >= w.overall()
	if in.ForceIPv6 && !w.gaveUpV6 && (elapsed >= w.cfg.IPv6Timeout || w.notComing(true)) {
		w.gaveUpV6, w.gaveUpAt = true, elapsed
	}
	switch {
	case in.ForceIPv6 && v6:
	case in.ForceIPv6 && w.gaveUpV6 && (v4 || in.OnMissingIPv6 == config.Fail || w.fallbackOver(elapsed)):
	case !in.ForceIPv6 && (v4 || v6 && (elapsed >= w.cfg.IPv4Wait || w.notComing(false))):
	case final:
	default:
		return policy.Decision{}, false
	}
	w.note(s, in, v4, v6, elapsed)
	return policy.Decide(s, in), true
}

// fallbackOver reports whether the wait for an IPv4 to fall back to is over: ipv4_wait since IPv6
// was given up, or network_data.json says no port has IPv4 either.
func (w *waiter) fallbackOver(elapsed time.Duration) bool {
	return elapsed >= w.gaveUpAt+w.cfg.IPv4Wait || w.notComing(false)
}

// overall is when the wait ends whatever the snapshot holds.
func (w *waiter) overall() time.Duration {
	in := w.cfg.Input
	switch {
	case in.ForceIPv6 && in.OnMissingIPv6 == config.Fail:
		return w.cfg.IPv6Timeout
	case in.ForceIPv6:
		return w.cfg.IPv6Timeout + w.cfg.IPv4Wait
	case w.cfg.IPv6Timeout > w.cfg.IPv4Wait:
		return w.cfg.IPv6Timeout
	}
	return w.cfg.IPv4Wait
}

// nextDeadline is the time until the next rule that can change the outcome without an event.
func (w *waiter) nextDeadline(elapsed time.Duration) time.Duration {
	next := w.overall()
	switch forced := w.cfg.Input.ForceIPv6; {
	case !forced && elapsed < w.cfg.IPv4Wait:
		next = w.cfg.IPv4Wait
	case forced && w.gaveUpV6:
		next = min(next, w.gaveUpAt+w.cfg.IPv4Wait)
	case forced && elapsed < w.cfg.IPv6Timeout:
		next = w.cfg.IPv6Timeout
	}
	if next -= elapsed; next < 0 {
		next = 0
	}
	return next
}

// notComing reports whether network_data.json says that no port has the family.
func (w *waiter) notComing(ipv6 bool) bool {
	return w.cfg.Families.Known && !w.cfg.Families.Has(ipv6)
}

func (w *waiter) note(s netstate.Snapshot, in policy.Input, v4, v6 bool, elapsed time.Duration) {
	w.res.Waited = elapsed.Round(time.Millisecond)
	if f := w.cfg.Families; f.Known {
		w.res.Reasons = append(w.res.Reasons, w.familiesNote(in, v4, v6))
	}
	switch {
	case elapsed < time.Millisecond:
		w.res.Reasons = append(w.res.Reasons, "the addresses were usable at start: no wait")
	case in.ForceIPv6 && !v6 && w.notComing(true):
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("no usable IPv6 after %s, and none is coming", w.gaveUpAt.Round(time.Millisecond)))
	case in.ForceIPv6 && !v6:
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("no usable IPv6 after waiting %s (ipv6_timeout)", w.gaveUpAt.Round(time.Millisecond)))
	case !in.ForceIPv6 && !v4 && v6 && w.notComing(false):
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("no usable IPv4 after %s, and none is coming: an IPv6-only port", w.res.Waited))
	case !in.ForceIPv6 && !v4 && v6:
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("no usable IPv4 after waiting %s (ipv4_wait): an IPv6-only network", w.res.Waited))
	case !v4 && !v6:
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("no usable address after waiting %s", w.res.Waited))
	default:
		w.res.Reasons = append(w.res.Reasons, fmt.Sprintf("waited %s for a usable address (%d network changes)", w.res.Waited, w.res.Events))
	}
	if in.ForceIPv6 && !v6 && in.OnMissingIPv6 != config.Fail && elapsed-w.gaveUpAt >= time.Millisecond {
		w.res.Reasons = append(w.res.Reasons, w.fallbackNote(v4, elapsed))
	}
}

// fallbackNote says how the wait for an IPv4 to fall back to went.
func (w *waiter) fallbackNote(v4 bool, elapsed time.Duration) string {
	waited := (elapsed - w.gaveUpAt).Round(time.Millisecond)
	if v4 {
		return fmt.Sprintf("no usable IPv4 to fall back to when IPv6 was given up: one came %s later (ipv4_wait %s)", waited, w.cfg.IPv4Wait)
	}
	return fmt.Sprintf("no usable IPv4 to fall back to when IPv6 was given up, nor in the %s after (ipv4_wait %s)", waited, w.cfg.IPv4Wait)
}

// familiesNote says how network_data.json shaped the wait.
func (w *waiter) familiesNote(in policy.Input, v4, v6 bool) string {
	f := w.cfg.Families
	need, family, setting := in.ForceIPv6, "IPv4", "ipv4_wait"
	if need {
		family, setting = "IPv6", "ipv6_timeout"
	}
	got := v4
	if need {
		got = v6
	}
	switch {
	case got:
		return fmt.Sprintf("%s; %s was usable", f.Summary(), family)
	case f.Has(need):
		return fmt.Sprintf("%s: the port has %s (%s), so it was waited for up to %s whatever the probes found", f.Summary(), family, f.Types(need), setting)
	default:
		return fmt.Sprintf("%s: no port has %s, so it was not waited for (%s not spent)", f.Summary(), family, setting)
	}
}

// startProbe asks the network about the missing family, once, in the background: addresses may
// still arrive while it runs, and the decision never waits for it. With no interface to probe
// yet (a NIC whose carrier comes late), it stays due until a later snapshot has one.
func (w *waiter) startProbe(ctx context.Context, s netstate.Snapshot) {
	if w.cfg.Probe == nil {
		w.probeDue = false
		return
	}
	ifaces := Interfaces(s, w.cfg.Input)
	if len(ifaces) == 0 {
		if !w.noIfaceSaid {
			w.res.Reasons = append(w.res.Reasons, "no interface to probe yet: none is up and not ignored")
			w.noIfaceSaid = true
		}
		return
	}
	w.probeDue = false
	pctx, cancel := context.WithCancel(ctx)
	w.cancelProbe = cancel
	w.probeDone = make(chan []string, 1)
	go func(done chan<- []string) { done <- w.cfg.Probe(pctx, w.needIPv6(), ifaces) }(w.probeDone)
}

func (w *waiter) stopProbe() {
	if w.cancelProbe == nil {
		return
	}
	w.cancelProbe()
	if w.probeDone != nil {
		w.res.Reasons = append(w.res.Reasons, <-w.probeDone...)
	}
}

// finish ends a probe still running, keeping what it found, and returns the result.
func (w *waiter) finish() Result {
	w.stopProbe()
	return w.res
}

// Interfaces lists the interfaces the decision could use: up, not loopback, not ignored.
func Interfaces(s netstate.Snapshot, in policy.Input) []string {
	var out []string
	for _, l := range s.Links {
		if policy.SkipLink(l, in) != "" {
			continue
		}
		out = append(out, l.Name)
	}
	return out
}
