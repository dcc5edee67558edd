//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,Case

package verify

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"
)

// Config is the post-processor's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// Run the default matrix (dual-stack without user-data, with force_ipv6 true, with force_ipv6
	// false, IPv6-only and IPv4-only without user-data) besides the `case` blocks. Default true.
	DefaultCases config.Trilean `mapstructure:"default_cases"`
	// Your own cases: a network shape, the user-data an instance gets, and the family the helper
	// must choose.
	Cases []Case `mapstructure:"case"`
	// What the image is meant to be baked with: true when it should choose IPv6 on a dual-stack
	// network without user-data. Unset: what the helper reports its config file
	// (/etc/clearwater/firstboot.yaml, the clearwater-firstboot provisioner's) sets. Set it when
	// the image is forced on purpose by other means (upstream's marker file baked by your own
	// provisioner).
	BakedForceIPv6 config.Trilean `mapstructure:"baked_force_ipv6"`
	// How many guests boot at once. Default: 2.
	Parallel int `mapstructure:"parallel"`
	// How long one boot may take until the helper reports, from QEMU's start. Default 10m
	// (TCG); 5m with KVM.
	BootTimeout time.Duration `mapstructure:"boot_timeout"`
	// auto (KVM where /dev/kvm is usable, else TCG), kvm or tcg. Default auto.
	Accelerator string `mapstructure:"accelerator"`
	// The guest's memory in MiB. Default 1024.
	Memory int `mapstructure:"memory"`
	// The QEMU system emulator and qemu-img. Defaults: qemu-system-x86_64, qemu-img, from PATH.
	QemuBinary    string `mapstructure:"qemu_binary"`
	QemuImgBinary string `mapstructure:"qemu_img_binary"`
	// The image to boot, when the artifact holds more than one qcow2 or raw disk image.
	ImagePath string `mapstructure:"image_path"`
	// Where the JSON report is written. Default: the image's path + ".verify.json".
	ReportPath string `mapstructure:"report_path"`
	// Where each boot's overlay, seed and console log are made (and removed). Default: the
	// system's temporary directory.
	TempDir string `mapstructure:"temp_dir"`

	ctx interpolate.Context
}

// Case is one boot: a network shape, the instance's user-data, the family expected.
type Case struct {
	// A name for Packer's UI and the report: letters, digits, '-', '_' and '.'.
	Name string `mapstructure:"name" required:"true"`
	// dual-stack, ipv4-only or ipv6-only.
	Network string `mapstructure:"network" required:"true"`
	// The instance's user-data (any cloud-init format), on a NoCloud seed. Empty: none.
	UserData string `mapstructure:"user_data"`
	// The same, base64-encoded (the clearwater-userdata data source's user_data_base64, gzip
	// included). At most one of the two.
	UserDataBase64 string `mapstructure:"user_data_base64"`
	// ipv4, ipv6, or none (the helper must decide nothing).
	ExpectedFamily string `mapstructure:"expected_family" required:"true"`
}

// Accelerators.
const (
	accelAuto = "auto"
	accelKVM  = "kvm"
	accelTCG  = "tcg"
)

var caseNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// prepare sets the defaults and checks every option, each problem naming its option.
func (c *Config) prepare() error {
	var errs *packersdk.MultiError
	fail := func(format string, a ...any) { errs = packersdk.MultiErrorAppend(errs, fmt.Errorf(format, a...)) }
	if c.Parallel == 0 {
		c.Parallel = 2
	}
	if c.Parallel < 0 {
		fail("parallel: %d: want 1 or more", c.Parallel)
	}
	if c.Accelerator == "" {
		c.Accelerator = accelAuto
	}
	if !slices.Contains([]string{accelAuto, accelKVM, accelTCG}, c.Accelerator) {
		fail("accelerator: %q: want auto, kvm or tcg", c.Accelerator)
	}
	if c.BootTimeout < 0 {
		fail("boot_timeout: %s: want a positive duration such as 10m", c.BootTimeout)
	}
	if c.Memory == 0 {
		c.Memory = 1024
	}
	if c.Memory < 256 {
		fail("memory: %d MiB: want 256 or more", c.Memory)
	}
	if c.QemuBinary == "" {
		c.QemuBinary = "qemu-system-x86_64"
	}
	if c.QemuImgBinary == "" {
		c.QemuImgBinary = "qemu-img"
	}
	seen := map[string]bool{}
	for i := range c.Cases {
		for _, err := range c.Cases[i].check(i) {
			errs = packersdk.MultiErrorAppend(errs, err)
		}
		if n := c.Cases[i].Name; seen[n] {
			fail("case %d: name %q: used twice; every case needs its own name", i+1, n)
		}
		seen[c.Cases[i].Name] = true
	}
	if c.DefaultCases.False() && len(c.Cases) == 0 {
		fail("default_cases = false and no case block: nothing to verify; add a case block or remove default_cases")
	}
	if !c.DefaultCases.False() {
		for _, d := range defaultCases() {
			if seen[d.Name] {
				fail("case %q: a default case has that name; choose another, or set default_cases = false", d.Name)
			}
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// check returns every problem of the i-th case block.
func (k *Case) check(i int) []error {
	var errs []error
	at := fmt.Sprintf("case %d", i+1)
	if k.Name != "" {
		at = fmt.Sprintf("case %q", k.Name)
	}
	if !caseNameRE.MatchString(k.Name) {
		errs = append(errs, fmt.Errorf("%s: name %q: want letters, digits, '-', '_' or '.'", at, k.Name))
	}
	if _, ok := networks[k.Network]; !ok {
		errs = append(errs, fmt.Errorf("%s: network %q: want one of %s", at, k.Network, strings.Join(networkNames(), ", ")))
	}
	if !slices.Contains(families, k.ExpectedFamily) {
		errs = append(errs, fmt.Errorf("%s: expected_family %q: want ipv4, ipv6 or none", at, k.ExpectedFamily))
	}
	if k.UserData != "" && k.UserDataBase64 != "" {
		errs = append(errs, fmt.Errorf("%s: user_data and user_data_base64 are both set: set one", at))
	}
	if _, err := base64.StdEncoding.DecodeString(k.UserDataBase64); err != nil {
		errs = append(errs, fmt.Errorf("%s: user_data_base64: %v", at, err))
	}
	return errs
}

// userData is the case's user-data as bytes.
func (k *Case) userData() []byte {
	if k.UserDataBase64 != "" {
		b, _ := base64.StdEncoding.DecodeString(k.UserDataBase64) // checked by check
		return b
	}
	return []byte(k.UserData)
}
