// Package settings holds the helper's settings as Packer template options, shared by the
// provisioner (which bakes them into the image) and the datasource (which puts them in user-data).
// They are checked by the helper's own config package, so the plugin and the helper agree on
// what is valid.
package settings

import (
	"errors"
	"fmt"
	"reflect"

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
// problem is returned in one error, each naming its option. An option is the helper's key of the
// same name (its mapstructure tag): a string "" (other than through a pointer), a nil list and an
// unset trilean are not set.
func (s Settings) Partial() (helperconfig.Partial, error) {
	var p helperconfig.Partial
	var errs *packersdk.MultiError
	fail := func(err error) { errs = packersdk.MultiErrorAppend(errs, OptionError(err)) }
	var unread []error // values of the wrong form (a duration), reported after the checks
	sv := reflect.ValueOf(s)
	for i := range sv.NumField() {
		v, ok := optionValue(sv.Field(i).Interface())
		if !ok {
			continue
		}
		if err := p.Put(sv.Type().Field(i).Tag.Get("mapstructure"), v); err != nil {
			unread = append(unread, err)
		}
	}
	for _, err := range helperconfig.Errors(p.Validate()) {
		fail(err)
	}
	for _, err := range unread {
		fail(err)
	}
	if errs != nil {
		return p, errs
	}
	return p, nil
}

// optionValue is the value an option sets, if it is set.
func optionValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case *string:
		if x != nil {
			return *x, true
		}
	case []string:
		return x, x != nil
	case config.Trilean:
		if b := x.ToBoolPointer(); b != nil {
			return *b, true
		}
	default:
		panic(fmt.Sprintf("settings: no rule for an option of type %T", v)) // a new option's type: add its rule here
	}
	return nil, false
}

// OptionError rewords the helper config's error for a template option (there is no file to name).
func OptionError(err error) error {
	var ce *helperconfig.Error
	if errors.As(err, &ce) && ce.Key != "" {
		return fmt.Errorf("%s: %s", ce.Key, ce.Msg)
	}
	return err
}
