// Package platform tells whether the machine is an OpenStack guest whose user-data is worth
// asking the metadata service for, the way cloud-init's ds-identify decides for its OpenStack
// data source. Every file is read under a root, its symlinks resolved as in a chroot
// (rootfs), so a test plays a platform by writing files.
//
// The signals, the first that speaks deciding:
//
//  1. The kernel command line's ds= (also ci.ds= and ci.datasource=): the data source it names.
//  2. A config drive (label config-2): it holds the same metadata as the service, so a drive with
//     no user_data means Nova has none; ds-identify does not check the service then either.
//  3. cloud-init's choice for this boot: datasource_list in /run/cloud-init/cloud.cfg, which
//     ds-identify writes.
//  4. SMBIOS: sys_vendor "OpenStack Foundation", product_name "OpenStack Nova" or
//     "OpenStack Compute", chassis_asset_tag one of the tags OpenStack clouds set; or, in a
//     container, product_name in PID 1's environment.
//  5. Without SMBIOS on a machine other than x86 (where firmware often has none), ds-identify
//     says "maybe": ask.
package platform

import (
	"bytes"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/seedfs"
)

// Files read under the root.
const (
	DMIDir       = "/sys/class/dmi/id"
	Cmdline      = "/proc/cmdline"
	PID1Environ  = "/proc/1/environ"
	CloudInitCfg = "/run/cloud-init/cloud.cfg"
)

// What the SMBIOS of an OpenStack guest says (Nova sets the first two; clouds built on OpenStack
// set the asset tags).
var (
	vendors    = []string{"OpenStack Foundation"}
	products   = []string{"OpenStack Nova", "OpenStack Compute"}
	assetTags  = []string{"OpenStack Nova", "OpenStack Compute", "HUAWEICLOUD", "OpenTelekomCloud", "SAP CCloud VM"}
	dataSource = "openstack"
)

// Verdict says whether to ask the metadata service, and why, for a person.
type Verdict struct {
	Metadata bool
	Why      string
}

// Detect applies the signals in order under root.
func Detect(root string) Verdict {
	for _, signal := range []func(string) (Verdict, bool){kernelCmdline, configDrive, cloudInitChoice, smbios} {
		if v, ok := signal(root); ok {
			return v
		}
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "386" {
		return Verdict{true, "no SMBIOS says otherwise on " + runtime.GOARCH + ", where firmware often has none (ds-identify: maybe)"}
	}
	return Verdict{false, "not an OpenStack guest: no ds= on the kernel command line, no config drive, no choice by cloud-init, no OpenStack SMBIOS"}
}

// kernelCmdline reads ds=, ci.ds= or ci.datasource= (the value up to ';', as in ds=nocloud;s=...).
func kernelCmdline(root string) (Verdict, bool) {
	b, _ := rootfs.ReadFileIn(root, Cmdline)
	for _, f := range strings.Fields(string(b)) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "ds" && k != "ci.ds" && k != "ci.datasource") {
			continue
		}
		v, _, _ = strings.Cut(v, ";")
		why := "the kernel command line says " + f
		return Verdict{strings.EqualFold(v, dataSource), why}, true
	}
	return Verdict{}, false
}

func configDrive(root string) (Verdict, bool) {
	dev, err := seedfs.FindByLabel(root, seedfs.ConfigDriveLabel)
	if err != nil {
		return Verdict{}, false
	}
	return Verdict{false, "a config drive (" + dev + ") holds this instance's metadata: the service has nothing more"}, true
}

// cloudInitChoice reads the datasource_list that ds-identify wrote for this boot.
func cloudInitChoice(root string) (Verdict, bool) {
	b, err := rootfs.ReadFileIn(root, CloudInitCfg)
	if err != nil {
		return Verdict{}, false
	}
	var cfg struct {
		List []string `yaml:"datasource_list"`
	}
	if yaml.Unmarshal(b, &cfg) != nil || len(cfg.List) == 0 {
		return Verdict{}, false
	}
	has := slices.ContainsFunc(cfg.List, func(s string) bool { return strings.EqualFold(s, dataSource) })
	return Verdict{has, fmt.Sprintf("cloud-init chose datasource_list %v (%s)", cfg.List, CloudInitCfg)}, true
}

// smbios compares the DMI fields as ds-identify does: the whole value, trailing white space cut.
func smbios(root string) (Verdict, bool) {
	fields := []struct {
		name string
		want []string
	}{{"sys_vendor", vendors}, {"product_name", products}, {"chassis_asset_tag", assetTags}}
	seen := false
	for _, f := range fields {
		b, err := rootfs.ReadFileIn(root, path.Join(DMIDir, f.name))
		if err != nil {
			continue
		}
		seen = true
		v := strings.TrimSpace(string(b))
		if slices.Contains(f.want, v) {
			return Verdict{true, fmt.Sprintf("SMBIOS %s is %q", f.name, v)}, true
		}
	}
	if v := pid1ProductName(root); slices.Contains(products, v) {
		return Verdict{true, fmt.Sprintf("PID 1's environment has product_name=%s", v)}, true
	}
	if seen {
		return Verdict{false, "not an OpenStack guest: its SMBIOS does not say OpenStack, and no ds= or cloud-init choice says otherwise"}, true
	}
	return Verdict{}, false
}

// pid1ProductName is what a container runtime passes as the host's product name.
func pid1ProductName(root string) string {
	b, _ := rootfs.ReadFileIn(root, PID1Environ)
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("product_name=")); ok {
			return string(v)
		}
	}
	return ""
}
