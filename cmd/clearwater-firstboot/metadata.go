package main

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/metadata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/platform"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
)

// readConfigDriveFamilies reads network_data.json from a config drive, once per session.
func (s *session) readConfigDriveFamilies(rep *Report) {
	if s.familiesRead {
		return
	}
	s.familiesRead = true
	f, found, note := netdata.FromConfigDrive(s.o.root)
	if note != "" {
		rep.Reasons = append(rep.Reasons, note)
	}
	if found {
		s.families = f
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

// metadataUserData asks the metadata service for user-data over the chosen interface, retrying
// until it answers within metadata_timeout, and, when the user-data changes the settings or the
// toggle, decides again (with the service's network_data.json, if no config drive gave one). A
// service that does not answer is a reason, not a failure: the node must boot without it.
func (s *session) metadataUserData(ctx context.Context, o options, cfg config.Config, d policy.Decision, rep *Report) (config.Config, policy.Decision, error) {
	ask, why := shouldAskMetadata(o.root, cfg)
	if !ask {
		rep.Reasons = append(rep.Reasons, "metadata service not asked: "+why)
		return cfg, d, nil
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.MetadataTimeout)
	start := time.Now()
	ans, err := metadata.Ask(mctx, d.Interface, s.events)
	took := time.Since(start).Round(time.Millisecond)
	cancel()
	if err != nil {
		rep.Reasons = append(rep.Reasons, fmt.Sprintf("metadata service asked (%s): no answer within metadata_timeout %s: %v", why, cfg.MetadataTimeout, err))
		return cfg, d, nil
	}
	rep.Reasons = append(rep.Reasons, fmt.Sprintf("metadata service asked (%s): %s answered after %s (%d attempts)", why, ans.Source, took, ans.Attempts))
	s.metadataFamilies(ans, rep)
	if ans.NoUserData {
		rep.Reasons = append(rep.Reasons, "the metadata service has no user-data for this instance (HTTP 404)")
		return cfg, d, nil
	}
	before := input(cfg, rep)
	ud := parseUserData("metadata:"+ans.Source, ans.UserData, rep)
	newCfg, err := settle(o, ud, rep)
	if err != nil || reflect.DeepEqual(input(newCfg, rep), before) {
		return newCfg, d, err
	}
	rep.Reasons = append(rep.Reasons, "deciding again with the metadata service's user-data")
	d, err = s.decide(ctx, newCfg, rep)
	return newCfg, d, err
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
