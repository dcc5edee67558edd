// Command packer-plugin-clearwater is the Packer plugin that builds and
// customizes Clearwater all-in-one images.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/clearwater-aio/packer-plugin-clearwater/builder/chroot"
	"github.com/clearwater-aio/packer-plugin-clearwater/datasource/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/postprocessor/verify"
	"github.com/clearwater-aio/packer-plugin-clearwater/provisioner/firstboot"
	"github.com/clearwater-aio/packer-plugin-clearwater/version"
)

func main() {
	pps := plugin.NewSet()
	// HCL names are "clearwater-" + the registered name.
	pps.RegisterBuilder("chroot", new(chroot.Builder))
	pps.RegisterProvisioner("firstboot", new(firstboot.Provisioner))
	pps.RegisterDatasource("userdata", new(userdata.Datasource))
	pps.RegisterPostProcessor("verify", new(verify.PostProcessor))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
