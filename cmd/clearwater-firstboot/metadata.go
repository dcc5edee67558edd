package main

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/live"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/metadata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netstate"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/platform"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
)

// readFamilies reads network_data.json once per session: from a config drive, else from
// cloud-init's record of what the metadata service said (the helper, which runs after
// cloud-init, then finds cloud-init's copy of the user-data and does not ask the service).
func (s *session) readFamilies(rep *Report) {
	if s.familiesRead {
		return
	}
	s.familiesRead = true
	for _, from := range []func(string) (netdata.Families, bool, string){netdata.FromConfigDrive, netdata.FromCloudInit} {
		f, found, note := from(s.o.root)
		if note != "" {
			rep.Reasons = append(rep.Reasons, note)
		}
		if found {
			s.families = f
			return
		}
	}
}

// shouldAskMetadata applies metadata_service and metadata_timeout, and says why.
func shouldAskMetadata(root string, cfg config.Config) (bool, string) {
	switch {
	case cfg.MetadataTimeout == 0:
		return false, "metadata_timeout is 0s"
	case cfg.MetadataService == config.MetadataNever:
		return false, "metadata_service is never"
	case cfg.MetadataService == config.MetadataAlways:
		return true, "metadata_service is always"
	}
	v := platform.Detect(root)
	return v.Metadata, "metadata_service is auto and " + v.Why
}

// metadataRequest is one request to the metadata service: started with the wait for addresses, so
// that the service's answer (and its network_data.json, which can end that wait) comes as early
// as the network allows, or after the decision when that chose another interface.
type metadataRequest struct {
	ifname string // the interface of the IPv6 link-local address asked ("": IPv4 only)
	why    string
	start  time.Time
	cancel context.CancelFunc
	done   chan metadataResult
}

type metadataResult struct {
	ans metadata.Answer
	err error
}

// startMetadata starts the metadata request as the first wait for addresses begins, when no
// local user-data was found and the settings allow it. It returns the channel on which the
// service's network_data.json reaches the wait (nil: none). The request runs on a goroutine of
// its own: the helper's process lives in one network namespace, so its sockets are there too.
func (s *session) startMetadata(ctx context.Context, cfg config.Config, rep *Report) <-chan netdata.Families {
	if s.asked || rep.UserData != "" {
		return nil
	}
	s.asked = true
	ask, why := shouldAskMetadata(s.o.root, cfg)
	if !ask {
		return nil
	}
	ectx, cancel := context.WithCancel(ctx)
	events, err := live.Subscribe(ectx)
	if err != nil {
		cancel()
		rep.Reasons = append(rep.Reasons, "metadata service not asked during the wait: subscribing to route changes: "+err.Error())
		return nil
	}
	e := &metadataRequest{ifname: earlyInterface(ctx, cfg, rep), why: why, start: time.Now(), cancel: cancel, done: make(chan metadataResult, 1)}
	families := make(chan netdata.Families, 1)
	go func() {
		ans, err := metadata.Ask(ectx, e.ifname, events)
		if f, perr := netdata.Parse("the metadata service", ans.NetworkData); err == nil && ans.NetworkData != nil && perr == nil {
			families <- f
		}
		e.done <- metadataResult{ans, err}
	}()
	s.early = e
	return families
}

// earlyInterface is the interface to ask over IPv6 before the decision names one: the pinned
// interface, else the only one the decision could use; with several, or none up yet, "".
func earlyInterface(ctx context.Context, cfg config.Config, rep *Report) string {
	if cfg.Interface != "" {
		return cfg.Interface
	}
	snap, err := netstate.Live(ctx)
	if err != nil {
		return ""
	}
	if ifs := live.Interfaces(snap, input(cfg, rep)); len(ifs) == 1 {
		return ifs[0]
	}
	return ""
}

// metadataUserData takes the metadata service's answer, retried until it comes within
// metadata_timeout of the decision: the request started with the wait when it asks over the
// decision's interface, else a new one. When the user-data changes the settings or the toggle,
// it decides again (with the service's network_data.json, if no config drive gave one). A
// service that does not answer is a reason, not a failure: the node must boot without it.
func (s *session) metadataUserData(ctx context.Context, o options, cfg config.Config, d policy.Decision, rep *Report) (config.Config, policy.Decision, error) {
	e := s.early
	if e == nil || e.ifname != d.Interface {
		if e != nil {
			e.cancel()
		}
		ask, why := shouldAskMetadata(o.root, cfg)
		if !ask {
			rep.Reasons = append(rep.Reasons, "metadata service not asked: "+why)
			return cfg, d, nil
		}
		e = s.askNow(ctx, d.Interface, why, cfg.MetadataTimeout)
	}
	ans, err := e.wait(ctx, cfg.MetadataTimeout)
	took := time.Since(e.start).Round(time.Millisecond)
	if err != nil {
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("metadata service asked (%s): no answer within metadata_timeout %s of the decision: %v", e.why, cfg.MetadataTimeout, err))
		return cfg, d, nil
	}
	rep.Reasons = append(rep.Reasons, fmt.Sprintf("metadata service asked (%s): %s answered %s after it was first asked (%d attempts)", e.why, ans.Source, took, ans.Attempts))
	s.metadataFamilies(ans, rep)
	if ans.NoUserData {
		rep.Reasons = append(rep.Reasons, "the metadata service has no user-data for this instance (HTTP 404)")
		return cfg, d, nil
	}
	before := input(cfg, rep)
	ud := parseUserData("metadata:"+ans.Source, ans.UserData, rep)
	newCfg, err := settle(o, ud, rep)
	if err != nil {
		return newCfg, d, badConfig(err)
	}
	if reflect.DeepEqual(input(newCfg, rep), before) {
		return newCfg, d, nil
	}
	capWaits(o, &newCfg, rep)
	rep.Reasons = append(rep.Reasons, "deciding again with the metadata service's user-data")
	d, err = s.decide(ctx, newCfg, rep)
	return newCfg, d, err
}

// askNow runs a metadata request over ifname, bounded by timeout, on this goroutine (Ask opens
// its sockets on the caller's thread, hence in its network namespace), and returns it done.
func (s *session) askNow(ctx context.Context, ifname, why string, timeout time.Duration) *metadataRequest {
	e := &metadataRequest{ifname: ifname, why: why, start: time.Now(), done: make(chan metadataResult, 1)}
	var actx context.Context
	actx, e.cancel = context.WithTimeout(ctx, timeout)
	ans, err := metadata.Ask(actx, ifname, s.events)
	e.done <- metadataResult{ans, err}
	return e
}

// wait waits up to timeout for the request's answer, then ends it.
func (e *metadataRequest) wait(ctx context.Context, timeout time.Duration) (metadata.Answer, error) {
	defer e.cancel()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-e.done:
		return r.ans, r.err
	case <-timer.C:
	case <-ctx.Done():
	}
	e.cancel()
	r := <-e.done // Ask returns promptly once cancelled
	return r.ans, r.err
}

// metadataFamilies takes the service's network_data.json when no config drive gave one.
func (s *session) metadataFamilies(ans metadata.Answer, rep *Report) {
	if s.families.Known {
		return
	}
	if ans.NetworkData == nil {
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("network_data.json: not from the metadata service: %v", ans.NetworkDataErr))
		return
	}
	f, err := netdata.Parse("the metadata service", ans.NetworkData)
	if err != nil {
		rep.Reasons = append(rep.Reasons, "network_data.json: "+err.Error())
		return
	}
	s.families = f
}
