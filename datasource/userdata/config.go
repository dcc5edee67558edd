//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package userdata

import (
	"encoding/base64"
	"errors"
	"fmt"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/settings"
)

// Config is the datasource's input: the toggle, the helper's settings and the operator's own
// user-data. A setting left unset is not written, so the image's baked config (or the helper's
// default) applies.
type Config struct {
	// The toggle: unset says nothing, true forces IPv6, false un-forces it.
	ForceIPv6 config.Trilean `mapstructure:"force_ipv6"`
	// With force_ipv6 = false, also beat a marker file baked into the image.
	OverrideMarker bool `mapstructure:"override_marker"`

	// The helper's settings, rendered as a firstboot.d drop-in.
	settings.Settings `mapstructure:",squash"`

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
	p, err := c.Settings.Partial()
	if err != nil {
		fail(err)
	}
	a.Settings = p
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
