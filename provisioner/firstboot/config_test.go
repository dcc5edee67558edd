package firstboot

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
)

func TestPrepareDefaults(t *testing.T) {
	p := &Provisioner{}
	if err := p.Prepare(map[string]interface{}{}); err != nil {
		t.Fatal(err)
	}
	c := p.config
	if c.InstallPath != DefaultInstallPath || c.InitSystem != InitAuto || c.ExecuteCommand != DefaultExecuteCommand {
		t.Errorf("defaults: install_path %q, init_system %q, execute_command %q", c.InstallPath, c.InitSystem, c.ExecuteCommand)
	}
	for name, v := range map[string]config.Trilean{"disable_upstream_autoconfig": c.DisableUpstreamAutoconfig, "reset_instance_state": c.ResetInstanceState, "verify": c.Verify} {
		if v.False() {
			t.Errorf("%s defaults to false, want true", name)
		}
	}
}

func TestPrepareErrors(t *testing.T) {
	for _, tc := range []struct {
		key  string
		val  interface{}
		want string
	}{
		{"ipv6_timeout", "45", `ipv6_timeout: "45" is not a duration: want Go syntax such as 10s or 1m30s`},
		{"ipv6_timeout", "11m", "ipv6_timeout: 11m0s is out of range: want 0s to 10m0s"},
		{"ipv4_wait", "-1s", "ipv4_wait: -1s is out of range: want 0s to 10m0s"},
		{"on_missing_ipv6", "ignore", `on_missing_ipv6: "ignore" is not accepted: want "fallback" or "fail"`},
		{"interface", "eth0:1", `interface: "eth0:1" is not an interface name`},
		{"ignore_interfaces", []string{"docker*", "br-["}, `ignore_interfaces: "br-[" is not a valid pattern`},
		{"hostname", "cw_aio", `hostname: "cw_aio" is not a valid host name`},
		{"metadata_service", "sometimes", `metadata_service: "sometimes" is not accepted: want "auto", "always" or "never"`},
		{"install_path", "relative/bin", `install_path: "relative/bin" is not accepted: want a clean absolute path`},
		{"install_path", "/usr/local/sbin/../x", `install_path: "/usr/local/sbin/../x" is not accepted`},
		{"install_path", "/opt/my helper", `install_path: "/opt/my helper" is not accepted`},
		{"init_system", "upstart", `init_system: "upstart" is not accepted: want "auto", "systemd" or "sysvinit"`},
		{"execute_command", "sudo sh {{.Path", "execute_command': template: root:1: unclosed action"},
		{"execute_command", "sudo sh install.sh", "execute_command: \"sudo sh install.sh\" never runs the script: it must contain {{.Path}}"},
		{"execute_command", "sudo sh {{.Nope}}", "execute_command: \"sudo sh {{.Nope}}\" is not a valid template"},
		{"force_ipv6", "maybe", "force_ipv6"},
		{"no_such_option", "x", "no_such_option"},
	} {
		p := &Provisioner{}
		err := p.Prepare(map[string]interface{}{tc.key: tc.val})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %v: error %v\nwant it to contain %q", tc.key, tc.val, err, tc.want)
		}
	}
}

func TestPrepareCollectsEveryError(t *testing.T) {
	p := &Provisioner{}
	err := p.Prepare(map[string]interface{}{
		"ipv6_timeout": "soon", "ipv4_wait": "later", "on_missing_ipv6": "x", "interface": "a/b",
		"hostname": "-", "ignore_interfaces": []string{""}, "install_path": "x", "init_system": "y",
		"execute_command": "z",
	})
	me, ok := err.(*packersdk.MultiError)
	if !ok {
		t.Fatalf("Prepare returned %T %v, want a MultiError", err, err)
	}
	var fields []string
	for _, e := range me.Errors {
		f, _, _ := strings.Cut(e.Error(), ":")
		fields = append(fields, f)
	}
	want := []string{"on_missing_ipv6", "interface", "ignore_interfaces", "hostname", "ipv4_wait", "ipv6_timeout", "install_path", "init_system", "execute_command"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("errors name %v, want %v:\n%v", fields, want, err)
	}
}

func TestPrepareIdempotent(t *testing.T) {
	raw := map[string]interface{}{"hostname": "lab", "ignore_interfaces": []string{"eth9"}, "verify": false, "execute_command": "sudo sh {{.Path}}"}
	p := &Provisioner{}
	if err := p.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	first := p.config
	if err := p.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, p.config) {
		t.Errorf("second Prepare changed the config:\n%+v\n%+v", first, p.config)
	}
	// Prepared again with fewer options, nothing of the first call survives.
	if err := p.Prepare(map[string]interface{}{}); err != nil {
		t.Fatal(err)
	}
	if p.config.Hostname != "" || p.config.IgnoreInterfaces != nil || p.config.Verify.False() || p.config.ExecuteCommand != DefaultExecuteCommand {
		t.Errorf("Prepare kept options of an earlier call: %+v", p.config)
	}
}

// hclPrepare decodes src the way packer does (through the generated spec) and prepares it.
func hclPrepare(t *testing.T, src string) (*Provisioner, error) {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.pkr.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := &Provisioner{}
	val, diags := hcldec.Decode(f.Body, hcldec.ObjectSpec(p.ConfigSpec()), &hcl.EvalContext{})
	if diags.HasErrors() {
		return nil, diags
	}
	return p, p.Prepare(val)
}

func TestPrepareHCL(t *testing.T) {
	p, err := hclPrepare(t, `
ipv6_timeout    = "45s"
on_missing_ipv6 = "fallback"
metadata_service = "never"
force_ipv6      = false
verify          = false
ignore_interfaces = ["docker*"]
`)
	if err != nil {
		t.Fatal(err)
	}
	c := p.config
	if c.IPv6Timeout != "45s" || c.OnMissingIPv6 != "fallback" || !c.ForceIPv6.False() || !c.Verify.False() ||
		!reflect.DeepEqual(c.IgnoreInterfaces, []string{"docker*"}) || c.ProbeDHCP != config.TriUnset ||
		c.MetadataService != "never" {
		t.Errorf("HCL decoded to %+v", c)
	}
	hs, err := c.helperSettings()
	if err != nil || hs.ForceIPv6 == nil || *hs.ForceIPv6 || hs.ProbeDHCP != nil {
		t.Errorf("force_ipv6 = false must be baked as false and probe_dhcp left out: %+v, %v", hs, err)
	}

	// An empty list is a setting (ignore no interface), not an unset option.
	p, err = hclPrepare(t, `ignore_interfaces = []`)
	if err != nil {
		t.Fatal(err)
	}
	hs, _ = p.config.helperSettings()
	data, err := helperFile(hs, "")
	if err != nil || !strings.Contains(string(data), "\nignore_interfaces: []\n") {
		t.Errorf("ignore_interfaces = [] renders %v:\n%s", err, data)
	}

	if _, err := hclPrepare(t, `init_system = "upstart"`); err == nil || !strings.Contains(err.Error(), "init_system") {
		t.Errorf("bad init_system through HCL: %v", err)
	}
	if _, err := hclPrepare(t, `verify = "perhaps"`); err == nil {
		t.Error("verify = \"perhaps\" decodes")
	}
}
