// Package userdata is the clearwater-userdata datasource: it renders the cloud-init user-data that
// carries the force_ipv6 toggle and the helper's settings, merged into the operator's own
// user-data, through the helper's own renderer and parser (firstboot/userdata), so that what it
// reports is what the helper reads.
package userdata

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// Datasource is the clearwater-userdata datasource.
type Datasource struct {
	config Config
	add    userdata.Addition
	base   []byte
}

var _ packersdk.Datasource = new(Datasource)

// ConfigSpec describes the inputs.
func (d *Datasource) ConfigSpec() hcldec.ObjectSpec { return d.config.FlatMapstructure().HCL2Spec() }

// OutputSpec describes the outputs.
func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and checks the inputs, and renders once so that a contradiction or a size
// over the limit shows already in packer validate.
func (d *Datasource) Configure(raws ...interface{}) error {
	d.config = Config{}
	if err := config.Decode(&d.config, nil, raws...); err != nil {
		return err
	}
	add, base, err := d.config.addition()
	if err != nil {
		return err
	}
	d.add, d.base = add, base
	_, err = d.render()
	return err
}

// render renders the user-data. The renderer's errors call the base base_user_data; they name
// the option that the base came from instead.
func (d *Datasource) render() (userdata.Rendered, error) {
	r, err := userdata.Render(d.base, d.add, d.config.Gzip)
	if err != nil {
		if name := d.config.baseName(); name != "base_user_data" {
			return r, errors.New(strings.ReplaceAll(err.Error(), "base_user_data", name))
		}
	}
	return r, err
}

// Execute renders the user-data.
func (d *Datasource) Execute() (cty.Value, error) {
	r, err := d.render()
	if err != nil {
		return cty.NullVal(cty.EmptyObject), err
	}
	out := DatasourceOutput{
		UserDataBase64: base64.StdEncoding.EncodeToString(r.Data),
		ForceIPv6:      r.ForceIPv6,
		ForceSource:    string(r.ForceSource),
		ContentType:    r.ContentType,
	}
	if !d.config.Gzip {
		out.UserData = string(r.Data)
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}
