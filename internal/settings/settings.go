// Package settings holds the helper's settings as Packer template options, shared by the
// provisioner (which bakes them into the image) and the datasource (which puts them in user-data).
// They are checked by the helper's own config package, so the plugin and the helper agree on
// what is valid.
package settings

import (
	"errors"
	"fmt"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
)

// Settings are the helper's settings (DESIGN: "The helper's config"). An option left unset is not
// written, so what the image or the helper already has applies.
type Settings struct {
	// What a forced boot does without IPv6: `fallback` (use IPv4, marked degraded) or `fail`.
	OnMissingIPv6 string `mapstructure:"on_missing_ipv6"`
	// Pins the one interface whose addresses count; "" un-pins a baked interface.
	Interface *string `mapstructure:"interface"`
	// Glob patterns of interfaces that never count; [] ignores none.
	IgnoreInterfaces []string `mapstructure:"ignore_interfaces"`
	// The node's host name in Clearwater's config (default cw-aio).
	Hostname string `mapstructure:"hostname"`
	// Overrides public_ip (a floating IP, say); "" uses the chosen address.
	PublicIP *string `mapstructure:"public_ip"`
	// How long an unforced boot waits for IPv4 before settling on IPv6 only (default 10s).
	IPv4Wait string `mapstructure:"ipv4_wait"`
	// How long a forced boot waits for IPv6 (default 30s).
	IPv6Timeout string `mapstructure:"ipv6_timeout"`
	// When to ask the network (DHCP, RA) about a missing family (default 3s).
	ProbeAfter string `mapstructure:"probe_after"`
	// Whether to ask the network at all (default true).
	ProbeDHCP config.Trilean `mapstructure:"probe_dhcp"`
	// When to ask the OpenStack metadata service: `auto` (only on a platform that has one, as
	// cloud-init's ds-identify tells), `always` or `never` (default auto).
	MetadataService string `mapstructure:"metadata_service"`
	// How long to wait for the metadata service's user-data; 0s skips it (default 5s).
	MetadataTimeout string `mapstructure:"metadata_timeout"`
}

// Partial returns the settings that are set, each checked by the helper's config package. Every
// problem is returned in one error, each naming its option.
func (s Settings) Partial() (helperconfig.Partial, error) {
	var p helperconfig.Partial
	var errs *packersdk.MultiError
	fail := func(err error) { errs = packersdk.MultiErrorAppend(errs, OptionError(err)) }
	if s.OnMissingIPv6 != "" {
		p.OnMissingIPv6 = &s.OnMissingIPv6
	}
	if s.IgnoreInterfaces != nil {
		ig := append([]string{}, s.IgnoreInterfaces...)
		p.IgnoreInterfaces = &ig
	}
	if s.Hostname != "" {
		p.Hostname = &s.Hostname
	}
	if s.MetadataService != "" {
		p.MetadataService = &s.MetadataService
	}
	p.Interface, p.PublicIP, p.ProbeDHCP = s.Interface, s.PublicIP, s.ProbeDHCP.ToBoolPointer()
	for _, one := range []helperconfig.Partial{{OnMissingIPv6: p.OnMissingIPv6}, {Interface: p.Interface},
		{IgnoreInterfaces: p.IgnoreInterfaces}, {Hostname: p.Hostname}, {PublicIP: p.PublicIP},
		{MetadataService: p.MetadataService}} {
		if err := one.Validate(); err != nil {
			fail(err)
		}
	}
	for _, d := range []struct {
		key string
		in  string
		out **helperconfig.Duration
	}{
		{"ipv4_wait", s.IPv4Wait, &p.IPv4Wait}, {"ipv6_timeout", s.IPv6Timeout, &p.IPv6Timeout},
		{"probe_after", s.ProbeAfter, &p.ProbeAfter}, {"metadata_timeout", s.MetadataTimeout, &p.MetadataTimeout},
	} {
		if d.in == "" {
			continue
		}
		v, err := helperconfig.ParseDuration(d.in)
		if err != nil {
			fail(fmt.Errorf("%s: %v", d.key, err))
			continue
		}
		hd := helperconfig.Duration(v)
		*d.out = &hd
	}
	if errs != nil {
		return p, errs
	}
	return p, nil
}

// OptionError rewords the helper config's error for a template option (there is no file to name).
func OptionError(err error) error {
	var ce *helperconfig.Error
	if errors.As(err, &ce) && ce.Key != "" {
		return fmt.Errorf("%s: %s", ce.Key, ce.Msg)
	}
	return err
}
