//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

package firstboot

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/settings"
)

// Defaults of the provisioner's own options.
const (
	DefaultInstallPath = "/usr/local/sbin/clearwater-firstboot"
	// DefaultExecuteCommand runs the install script as root: directly when the communicator's
	// user is root (a chroot, or ssh as root), else through passwordless sudo. sudo -n fails at
	// once instead of waiting for a password that nobody types.
	DefaultExecuteCommand = `sh -c 'if [ "$(id -u)" -eq 0 ]; then exec sh "$1"; else exec sudo -n sh "$1"; fi' sh {{.Path}}`
)

// Accepted values of init_system.
const (
	InitAuto     = "auto"
	InitSystemd  = "systemd"
	InitSysvinit = "sysvinit"
)

// Config is the provisioner's configuration: the helper's settings to bake into the image, and
// how to install it.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// ForceIPv6 makes the node use IPv6 even when it has IPv4.
	ForceIPv6 config.Trilean `mapstructure:"force_ipv6"`
	// The helper's other settings (docs/provisioners/firstboot.mdx): a setting left unset is not
	// written, so the helper's default applies.
	settings.Settings `mapstructure:",squash"`

	// InstallPath is where the helper binary goes (default DefaultInstallPath).
	InstallPath string `mapstructure:"install_path"`
	// InitSystem is auto, systemd or sysvinit.
	InitSystem string `mapstructure:"init_system"`
	// ExecuteCommand runs a staged script ({{.Path}}) as root (default DefaultExecuteCommand).
	ExecuteCommand string `mapstructure:"execute_command"`
	// DisableUpstreamAutoconfig stops clearwater-auto-config-generic from running (default true).
	DisableUpstreamAutoconfig config.Trilean `mapstructure:"disable_upstream_autoconfig"`
	// ResetInstanceState cleans cloud-init, the helper's state and machine-id (default true).
	ResetInstanceState config.Trilean `mapstructure:"reset_instance_state"`
	// Verify runs the installed helper's plan in the guest and fails on exit 2 (default true).
	Verify config.Trilean `mapstructure:"verify"`

	ctx interpolate.Context
}

// executeData is what execute_command's template sees.
type executeData struct {
	// Path is the install script in the guest's staging folder.
	Path string
	// Dir is the staging folder.
	Dir string
}

// safePath is what install_path may contain: it lands unquoted in a systemd unit and an LSB script.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9._+@-]+(/[A-Za-z0-9._+@-]+)*$`)

// prepare fills the defaults and checks every option, returning every problem found.
func (c *Config) prepare() error {
	var errs *packersdk.MultiError
	add := func(e ...error) { errs = packersdk.MultiErrorAppend(errs, e...) }

	if _, err := c.helperSettings(); err != nil {
		var me *packersdk.MultiError
		if errors.As(err, &me) {
			add(me.Errors...)
		} else {
			add(err)
		}
	}
	if c.InstallPath == "" {
		c.InstallPath = DefaultInstallPath
	}
	if !safePath.MatchString(c.InstallPath) || path.Clean(c.InstallPath) != c.InstallPath {
		add(fmt.Errorf("install_path: %q is not accepted: want a clean absolute path of letters, digits and . _ + @ - (default %s)", c.InstallPath, DefaultInstallPath))
	}
	if c.InitSystem == "" {
		c.InitSystem = InitAuto
	}
	switch c.InitSystem {
	case InitAuto, InitSystemd, InitSysvinit:
	default:
		add(fmt.Errorf("init_system: %q is not accepted: want %q, %q or %q", c.InitSystem, InitAuto, InitSystemd, InitSysvinit))
	}
	if c.ExecuteCommand == "" {
		c.ExecuteCommand = DefaultExecuteCommand
	}
	if _, err := c.executeCommand(executeData{Path: "/tmp/cw-check/install.sh", Dir: "/tmp/cw-check"}); err != nil {
		add(err)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// executeCommand renders execute_command for one script.
func (c *Config) executeCommand(d executeData) (string, error) {
	ictx := c.ctx // a copy: Data is per call
	ictx.Data = d
	cmd, err := interpolate.Render(c.ExecuteCommand, &ictx)
	if err != nil {
		return "", fmt.Errorf("execute_command: %q is not a valid template: %v (it may use {{.Path}}, the script to run as root, and {{.Dir}})", c.ExecuteCommand, err)
	}
	if !strings.Contains(cmd, d.Path) {
		return "", fmt.Errorf("execute_command: %q never runs the script: it must contain {{.Path}}, e.g. %q", c.ExecuteCommand, "sudo -n sh {{.Path}}")
	}
	return cmd, nil
}

// helperSettings returns the helper's settings that the template sets, every problem found
// (each naming its option) in one error.
func (c *Config) helperSettings() (helperconfig.Partial, error) {
	p, err := c.Settings.Partial()
	p.ForceIPv6 = c.ForceIPv6.ToBoolPointer()
	return p, err
}
