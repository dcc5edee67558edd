//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package userdata

import (
	"encoding/base64"
	"errors"
	"fmt"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// Config is the datasource's input: the toggle, the helper's settings and the operator's own
// user-data. A setting left unset is not written, so the image's baked config (or the helper's
// default) applies.
type Config struct {
	// The toggle: unset says nothing, true forces IPv6, false un-forces it.
	ForceIPv6 config.Trilean `mapstructure:"force_ipv6"`
	// With force_ipv6 = false, also beat a marker file baked into the image.
	OverrideMarker bool `mapstructure:"override_marker"`

	OnMissingIPv6    string         `mapstructure:"on_missing_ipv6"`
	Interface        *string        `mapstructure:"interface"`
	IgnoreInterfaces []string       `mapstructure:"ignore_interfaces"`
	Hostname         string         `mapstructure:"hostname"`
	PublicIP         *string        `mapstructure:"public_ip"`
	IPv4Wait         string         `mapstructure:"ipv4_wait"`
	IPv6Timeout      string         `mapstructure:"ipv6_timeout"`
	ProbeAfter       string         `mapstructure:"probe_after"`
	ProbeDHCP        config.Trilean `mapstructure:"probe_dhcp"`
	MetadataTimeout  string         `mapstructure:"metadata_timeout"`

	// The operator's own user-data, any format; or the same base64-encoded (for gzip).
	BaseUserData       string `mapstructure:"base_user_data"`
	BaseUserDataBase64 string `mapstructure:"base_user_data_base64"`
	// Compress the result with gzip.
	Gzip bool `mapstructure:"gzip"`
}

// DatasourceOutput is what the datasource gives the template.
type DatasourceOutput struct {
	// The user-data as text; empty with gzip = true (an HCL string cannot carry binary).
	UserData string `mapstructure:"user_data"`
	// The user-data base64-encoded, always set.
	UserDataBase64 string `mapstructure:"user_data_base64"`
	// The toggle as the helper reads it from this user-data, and where from.
	ForceIPv6   bool   `mapstructure:"force_ipv6"`
	ForceSource string `mapstructure:"force_source"`
	// The user-data's content type: text/cloud-config, multipart/mixed or application/gzip.
	ContentType string `mapstructure:"content_type"`
}

// addition checks every input and returns what to render and the base, with every problem found,
// each naming its option. The helper's settings are checked by the helper's own config package.
func (c *Config) addition() (userdata.Addition, []byte, error) {
	var errs *packersdk.MultiError
	fail := func(err error) { errs = packersdk.MultiErrorAppend(errs, err) }
	a := userdata.Addition{ForceIPv6: c.ForceIPv6.ToBoolPointer(), OverrideMarker: c.OverrideMarker}
	if c.OverrideMarker && (a.ForceIPv6 == nil || *a.ForceIPv6) {
		fail(errors.New("override_marker: needs force_ipv6 = false (it lets false beat a marker file baked into the image)"))
	}
	p := &a.Settings
	check := func(one helperconfig.Partial) {
		if err := one.Validate(); err != nil {
			fail(optionError(err))
		}
	}
	if c.OnMissingIPv6 != "" {
		p.OnMissingIPv6 = &c.OnMissingIPv6
		check(helperconfig.Partial{OnMissingIPv6: p.OnMissingIPv6})
	}
	if c.Interface != nil {
		p.Interface = c.Interface
		check(helperconfig.Partial{Interface: p.Interface})
	}
	if c.IgnoreInterfaces != nil {
		ig := append([]string{}, c.IgnoreInterfaces...)
		p.IgnoreInterfaces = &ig
		check(helperconfig.Partial{IgnoreInterfaces: p.IgnoreInterfaces})
	}
	if c.Hostname != "" {
		p.Hostname = &c.Hostname
		check(helperconfig.Partial{Hostname: p.Hostname})
	}
	if c.PublicIP != nil {
		p.PublicIP = c.PublicIP
		check(helperconfig.Partial{PublicIP: p.PublicIP})
	}
	p.ProbeDHCP = c.ProbeDHCP.ToBoolPointer()
	for _, d := range []struct {
		key string
		in  string
		out **helperconfig.Duration
	}{
		{"ipv4_wait", c.IPv4Wait, &p.IPv4Wait}, {"ipv6_timeout", c.IPv6Timeout, &p.IPv6Timeout},
		{"probe_after", c.ProbeAfter, &p.ProbeAfter}, {"metadata_timeout", c.MetadataTimeout, &p.MetadataTimeout},
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
	base, err := c.base()
	if err != nil {
		fail(err)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return a, nil, errs
	}
	return a, base, nil
}

// base returns the operator's user-data from whichever of the two options is set.
func (c *Config) base() ([]byte, error) {
	if c.BaseUserDataBase64 == "" {
		return []byte(c.BaseUserData), nil
	}
	if c.BaseUserData != "" {
		return nil, errors.New("base_user_data and base_user_data_base64: set one of them, not both")
	}
	b, err := base64.StdEncoding.DecodeString(c.BaseUserDataBase64)
	if err != nil {
		return nil, fmt.Errorf("base_user_data_base64: not base64 (use filebase64(\"file\")): %v", err)
	}
	return b, nil
}

// optionError rewords the helper config's error for a template option (no file to name).
func optionError(err error) error {
	var ce *helperconfig.Error
	if errors.As(err, &ce) && ce.Key != "" {
		return fmt.Errorf("%s: %s", ce.Key, ce.Msg)
	}
	return err
}
