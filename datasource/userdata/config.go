//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package userdata

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/settings"
)

// Config is the datasource's input: the toggle, the helper's settings and the operator's own
// user-data. A setting left unset is not written, so the image's baked config (or the helper's
// default) applies.
type Config struct {
	// The toggle: unset says nothing, true forces IPv6, false un-forces it (beating a marker
	// file or force_ipv6 baked into the image).
	ForceIPv6 config.Trilean `mapstructure:"force_ipv6"`
	// With force_ipv6 = true, also write upstream's marker file /etc/clearwater/force_ipv6 through
	// cloud-init's write_files: only for an image without the helper (upstream's own AIO image),
	// whose script reads nothing else. Never for a build instance: the file stays in its image.
	UpstreamMarker bool `mapstructure:"upstream_marker"`
	// Deprecated: no effect. force_ipv6 = false always beats a marker baked into the image now.
	OverrideMarker bool `mapstructure:"override_marker"`

	// The helper's settings, rendered with the toggle under the cloud-config key clearwater.
	settings.Settings `mapstructure:",squash"`

	// The operator's own user-data, any format: as text, base64-encoded, or a file read as bytes
	// (the only way to hand over a gzip file: Packer's file() reads UTF-8 text only).
	BaseUserData       string `mapstructure:"base_user_data"`
	BaseUserDataBase64 string `mapstructure:"base_user_data_base64"`
	BaseUserDataFile   string `mapstructure:"base_user_data_file"`
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
	a := userdata.Addition{ForceIPv6: c.ForceIPv6.ToBoolPointer(), UpstreamMarker: c.UpstreamMarker}
	if c.OverrideMarker && (a.ForceIPv6 == nil || *a.ForceIPv6) {
		fail(errors.New("override_marker: needs force_ipv6 = false; it is deprecated and has no effect since force_ipv6 = false always beats a marker file baked into the image: remove it"))
	}
	if c.UpstreamMarker && (a.ForceIPv6 == nil || !*a.ForceIPv6) {
		fail(errors.New("upstream_marker: needs force_ipv6 = true (the marker file can only force IPv6)"))
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

// base returns the operator's user-data from whichever of the three options is set.
func (c *Config) base() ([]byte, error) {
	var set []string
	for name, v := range map[string]string{
		"base_user_data": c.BaseUserData, "base_user_data_base64": c.BaseUserDataBase64, "base_user_data_file": c.BaseUserDataFile,
	} {
		if v != "" {
			set = append(set, name)
		}
	}
	if len(set) > 1 {
		slices.Sort(set)
		return nil, fmt.Errorf("%s: set only one of them", strings.Join(set, " and "))
	}
	switch {
	case c.BaseUserDataFile != "":
		b, err := os.ReadFile(c.BaseUserDataFile)
		if err != nil {
			return nil, fmt.Errorf("base_user_data_file: %v (a relative path is relative to where packer runs: use \"${path.root}/<file>\")", err)
		}
		return b, nil
	case c.BaseUserDataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(c.BaseUserDataBase64)
		if err != nil {
			return nil, fmt.Errorf("base_user_data_base64: not base64 (for a file, set base_user_data_file to its path instead): %v", err)
		}
		return b, nil
	}
	return []byte(c.BaseUserData), nil
}

// baseName is the option that the base comes from.
func (c *Config) baseName() string {
	switch {
	case c.BaseUserDataFile != "":
		return "base_user_data_file"
	case c.BaseUserDataBase64 != "":
		return "base_user_data_base64"
	}
	return "base_user_data"
}
