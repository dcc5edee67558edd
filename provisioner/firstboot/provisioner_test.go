package firstboot

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	helperconfig "github.com/clearwater-aio/packer-plugin-clearwater/firstboot/config"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// fakeELF returns the 64-byte header of a 64-bit little-endian ELF executable for m, plus a
// marker so that tests can tell the binaries apart.
func fakeELF(m elf.Machine) []byte {
	b := make([]byte, 64)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS], b[elf.EI_DATA], b[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le := binary.LittleEndian
	le.PutUint16(b[16:], uint16(elf.ET_EXEC))
	le.PutUint16(b[18:], uint16(m))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint16(b[52:], 64) // e_ehsize
	return append(b, []byte("fake helper for "+m.String())...)
}

func fakeHelpers() fs.FS {
	return fstest.MapFS{
		"helpers/README.md":                        {Data: []byte("placeholder")},
		"helpers/clearwater-firstboot_linux_amd64": {Data: fakeELF(elf.EM_X86_64)},
		"helpers/clearwater-firstboot_linux_arm64": {Data: fakeELF(elf.EM_AARCH64)},
	}
}

// prepared returns a provisioner prepared with raw and the fake helpers.
func prepared(t *testing.T, raw map[string]interface{}) *Provisioner {
	t.Helper()
	p := &Provisioner{helpers: fakeHelpers()}
	if err := p.Prepare(raw); err != nil {
		t.Fatalf("Prepare(%v): %v", raw, err)
	}
	return p
}

// provision runs Provision against comm and returns its error.
func provision(t *testing.T, p *Provisioner, comm *recordingComm) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.Provision(ctx, packersdk.TestUi(t), comm, map[string]interface{}{})
}

func mustProvision(t *testing.T, p *Provisioner, comm *recordingComm) {
	t.Helper()
	if err := provision(t, p, comm); err != nil {
		t.Fatalf("Provision: %v\nevents:\n%s", err, strings.Join(comm.log(), "\n"))
	}
}

func staged(t *testing.T, comm *recordingComm, name string) event {
	t.Helper()
	e, ok := comm.upload(stage + "/" + name)
	if !ok {
		t.Fatalf("%s was not uploaded; events:\n%s", name, strings.Join(comm.log(), "\n"))
	}
	return e
}

func defaultExec(script string) string {
	return strings.ReplaceAll(DefaultExecuteCommand, "{{.Path}}", stage+"/"+script)
}

func TestProvisionDefaultsOrder(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, nil), comm)
	want := []string{
		"start uname -m",
		"start " + detectInit,
		"start mktemp -d /tmp/clearwater-firstboot.XXXXXX",
		"upload " + stage + "/clearwater-firstboot",
		"upload " + stage + "/clearwater-firstboot.service",
		"upload " + stage + "/firstboot.yaml",
		"upload " + stage + "/install.sh",
		"upload " + stage + "/verify.sh",
		"start " + defaultExec("install.sh"),
		"start " + defaultExec("verify.sh"),
		"start rm -rf '" + stage + "'",
	}
	if got := comm.log(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := staged(t, comm, "clearwater-firstboot"); string(e.data) != string(fakeELF(elf.EM_X86_64)) || e.mode != 0o600 {
		t.Errorf("helper upload: mode %v, %d bytes: want the amd64 helper, mode 0600", e.mode, len(e.data))
	}
	if e := staged(t, comm, "install.sh"); e.mode != 0o700 {
		t.Errorf("install.sh mode %v, want 0700", e.mode)
	}
	unit := string(staged(t, comm, "clearwater-firstboot.service").data)
	for _, line := range []string{
		"Type=oneshot", "RemainAfterExit=yes", "ExecStart=/usr/local/sbin/clearwater-firstboot run --start-timeout 168s\n",
		"After=network.target cloud-init-local.service systemd-networkd.service networking.service",
		"Wants=network.target", "WantedBy=multi-user.target",
		// defaults: ipv4_wait 10s + ipv6_timeout 30s + probe_after 3s + metadata_timeout 5s + 2m
		"TimeoutStartSec=168",
	} {
		if !strings.Contains(unit, "\n"+line) {
			t.Errorf("unit lacks %q:\n%s", line, unit)
		}
	}
	for _, svc := range []string{"clearwater-infrastructure.service", "dnsmasq.service", "clearwater-etcd.service", "sprout.service", "bono.service"} {
		if !strings.Contains(unit, "\nBefore=") || !strings.Contains(unit, " "+svc) && !strings.Contains(unit, "="+svc) {
			t.Errorf("unit is not ordered before %s:\n%s", svc, unit)
		}
	}
	script := string(staged(t, comm, "install.sh").data)
	for _, want := range []string{
		`stage='` + stage + `'`, `bin='/usr/local/sbin/clearwater-firstboot'`,
		`put "$stage/clearwater-firstboot" "$bin" 0755`,
		`put "$stage/firstboot.yaml" /etc/clearwater/firstboot.yaml 0644`,
		`put "$stage/$svc.service" "/etc/systemd/system/$svc.service" 0644`,
		`ln -sfn "/etc/systemd/system/$svc.service" "/etc/systemd/system/multi-user.target.wants/$svc.service"`,
		`upstream=clearwater-auto-config-generic`, `ln -sfn /dev/null "/etc/systemd/system/$upstream.service"`,
		`cloud-init clean --logs`, `rm -rf /var/lib/clearwater-firstboot`, `: >/etc/machine-id`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("install.sh lacks %q", want)
		}
	}
	if strings.Contains(script, `put "$stage/$svc.init"`) {
		t.Error("a systemd install also installs the sysvinit script")
	}
	if v := string(staged(t, comm, "verify.sh").data); !strings.Contains(v, "exec '/usr/local/sbin/clearwater-firstboot' plan --root /\n") {
		t.Errorf("verify.sh does not run plan --root /:\n%s", v)
	}
	// The scripts' comments say the helper's exit statuses as firstboot/exitcode defines them.
	for _, name := range []string{"verify.sh", "clearwater-firstboot.service"} {
		if v := string(staged(t, comm, name).data); !strings.Contains(v, "exit status: "+exitcode.Summary()+".\n") {
			t.Errorf("%s does not list the helper's exit statuses (%s):\n%s", name, exitcode.Summary(), v)
		}
	}
	if v := string(staged(t, comm, "verify.sh").data); !strings.Contains(v, fmt.Sprintf("# %d means a broken config; %d only means", exitcode.Usage, exitcode.NoAddress)) {
		t.Errorf("verify.sh does not say which statuses fail the build:\n%s", v)
	}
}

func TestProvisionHelperConfig(t *testing.T) {
	comm := newComm()
	p := prepared(t, map[string]interface{}{
		"packer_build_name": "aio", "ipv6_timeout": "45s", "on_missing_ipv6": "fail",
		"force_ipv6": true, "ignore_interfaces": []string{"docker*", "ens9"}, "hostname": "lab-aio",
		"probe_dhcp": false, "interface": "ens3", "ipv4_wait": "5s", "metadata_service": "always",
	})
	mustProvision(t, p, comm)
	data := staged(t, comm, "firstboot.yaml").data
	text := string(data)
	for _, want := range []string{
		"# Baked into this image by the packer provisioner clearwater-firstboot (build aio).",
		"# Options set: force_ipv6, on_missing_ipv6, interface, ignore_interfaces, hostname, ipv4_wait, ipv6_timeout, probe_dhcp, metadata_service.",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("firstboot.yaml lacks %q:\n%s", want, text)
		}
	}
	// The helper reads back exactly what the template said.
	got, _, err := helperconfig.Merge([]helperconfig.Source{{Name: helperconfig.File, Data: data}})
	if err != nil {
		t.Fatalf("the helper refuses the rendered file: %v\n%s", err, text)
	}
	if !got.ForceIPv6 || got.OnMissingIPv6 != "fail" || got.IPv6Timeout != 45*time.Second || got.IPv4Wait != 5*time.Second ||
		got.Interface != "ens3" || got.Hostname != "lab-aio" || got.ProbeDHCP || got.MetadataService != "always" || !reflect.DeepEqual(got.IgnoreInterfaces, []string{"docker*", "ens9"}) {
		t.Errorf("the helper reads %+v from:\n%s", got, text)
	}
	unit := string(staged(t, comm, "clearwater-firstboot.service").data)
	if !strings.Contains(unit, "\nTimeoutStartSec=178\n") || !strings.Contains(unit, " run --start-timeout 178s\n") { // 5s + 45s + 3s + 5s + 120s
		t.Errorf("unit's timeout does not follow the baked waits:\n%s", unit)
	}
}

func TestProvisionUnsetOptionsAreNotWritten(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, nil), comm)
	p, err := helperconfig.Parse("firstboot.yaml", staged(t, comm, "firstboot.yaml").data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, helperconfig.Partial{}) {
		t.Errorf("a template that sets nothing bakes %+v; want no keys (the helper's defaults)", p)
	}
	if text := string(staged(t, comm, "firstboot.yaml").data); !strings.Contains(text, "# Options set: none") {
		t.Errorf("header does not say that no option is set:\n%s", text)
	}
}

func TestProvisionSysvinit(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"init_system": "sysvinit", "install_path": "/opt/cw/bin/firstboot"}), comm)
	for _, l := range comm.log() {
		if strings.Contains(l, "/run/systemd/system") {
			t.Errorf("init_system = sysvinit still probes the init system: %s", l)
		}
		if strings.HasSuffix(l, ".service") {
			t.Errorf("init_system = sysvinit uploads a unit: %s", l)
		}
	}
	initScript := string(staged(t, comm, "clearwater-firstboot.init").data)
	for _, want := range []string{
		"### BEGIN INIT INFO", "# Provides:          clearwater-firstboot", "# Default-Start:     2 3 4 5",
		"# X-Start-Before:    clearwater-infrastructure dnsmasq clearwater-etcd", "BIN=/opt/cw/bin/firstboot",
		"TIMEOUT=168\n", "exit status is the script's: " + exitcode.Summary() + ".\n", `timeout "$TIMEOUT" "$BIN" run --start-timeout "${TIMEOUT}s"`, `"$BIN" run --start-timeout "${TIMEOUT}s"`, "### END INIT INFO",
	} {
		if !strings.Contains(initScript, want) {
			t.Errorf("init script lacks %q:\n%s", want, initScript)
		}
	}
	script := string(staged(t, comm, "install.sh").data)
	for _, want := range []string{`put "$stage/$svc.init" "/etc/init.d/$svc" 0755`, `update-rc.d "$svc" defaults`, `ln -s "../init.d/$svc" "/etc/rc$n.d/S19$svc"`} {
		if !strings.Contains(script, want) {
			t.Errorf("install.sh lacks %q", want)
		}
	}
	if strings.Contains(script, `put "$stage/$svc.service"`) || strings.Contains(script, "multi-user.target.wants\n") {
		t.Error("a sysvinit install also installs the unit")
	}
}

func TestProvisionInitDetection(t *testing.T) {
	for _, tc := range []struct {
		out, want string
	}{
		{"systemd /run/systemd/system exists\n", "clearwater-firstboot.service"},
		{"sysvinit /sbin/init -> upstart\n", "clearwater-firstboot.init"},
	} {
		comm := newComm()
		comm.replies["if [ -d /run/systemd/"] = reply{stdout: tc.out}
		mustProvision(t, prepared(t, nil), comm)
		staged(t, comm, tc.want)
	}

	comm := newComm()
	comm.replies["if [ -d /run/systemd/"] = reply{stdout: "unknown\n"}
	err := provision(t, prepared(t, nil), comm)
	if err == nil || !strings.Contains(err.Error(), `set init_system to "systemd" or "sysvinit"`) {
		t.Fatalf("a guest with no init system: %v", err)
	}
}

func TestProvisionVerify(t *testing.T) {
	for _, tc := range []struct {
		status  int
		stderr  string
		wantErr string
	}{
		{status: 0},
		{status: 1, stderr: "no usable address"},
		{status: 2, stderr: "/etc/clearwater/firstboot.yaml: hostname: \"x_y\" is not a valid host name", wantErr: `the helper rejects its config (exit 2): /etc/clearwater/firstboot.yaml: hostname: "x_y" is not a valid host name`},
		{status: 127, stderr: "sh: 1: exec: not found", wantErr: "cannot run in the guest (exit 127"},
		{status: 3, stderr: "boom", wantErr: "exited with status 3: boom"},
	} {
		comm := newComm()
		comm.replies[defaultExec("verify.sh")] = reply{status: tc.status, stderr: tc.stderr}
		err := provision(t, prepared(t, nil), comm)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("plan exits %d: Provision error %v, want %q", tc.status, err, tc.wantErr)
		}
		if log := comm.log(); log[len(log)-1] != "start rm -rf '"+stage+"'" {
			t.Errorf("plan exits %d: the staging folder is not removed last: %v", tc.status, log)
		}
	}
}

func TestProvisionVerifyFalse(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"verify": false}), comm)
	for _, l := range comm.log() {
		if strings.Contains(l, "verify.sh") || strings.Contains(l, "plan") {
			t.Errorf("verify = false still runs the plan: %s", l)
		}
	}
}

func TestProvisionDisableUpstreamFalse(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"disable_upstream_autoconfig": false}), comm)
	if script := string(staged(t, comm, "install.sh").data); strings.Contains(script, "$upstream") {
		t.Errorf("disable_upstream_autoconfig = false still touches the upstream script:\n%s", script)
	}
}

func TestProvisionResetStateFalse(t *testing.T) {
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"reset_instance_state": false}), comm)
	script := string(staged(t, comm, "install.sh").data)
	for _, s := range []string{"cloud-init", "machine-id", "/var/lib/clearwater-firstboot"} {
		if strings.Contains(script, s) {
			t.Errorf("reset_instance_state = false still resets %s", s)
		}
	}
}

func TestProvisionArch(t *testing.T) {
	comm := newComm()
	comm.replies["uname -m"] = reply{stdout: "aarch64\n"}
	mustProvision(t, prepared(t, nil), comm)
	if e := staged(t, comm, "clearwater-firstboot"); string(e.data) != string(fakeELF(elf.EM_AARCH64)) {
		t.Errorf("an aarch64 guest got %q", e.data[64:])
	}

	for _, machine := range []string{"riscv64", "armv7l", ""} {
		comm := newComm()
		comm.replies["uname -m"] = reply{stdout: machine + "\n"}
		err := provision(t, prepared(t, nil), comm)
		if err == nil || !strings.Contains(err.Error(), "x86_64 (amd64) and aarch64 (arm64)") ||
			machine != "" && !strings.Contains(err.Error(), `"`+machine+`"`) {
			t.Errorf("uname -m = %q: %v", machine, err)
		}
		if got := comm.log(); !reflect.DeepEqual(got, []string{"start uname -m"}) {
			t.Errorf("uname -m = %q: the provisioner went on: %v", machine, got)
		}
	}
}

func TestHelperArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64\n": "amd64", "aarch64": "arm64", " arm64 ": "arm64", "amd64": "amd64"} {
		if got, err := helperArch(in); err != nil || got != want {
			t.Errorf("helperArch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestMissingHelper(t *testing.T) {
	p := prepared(t, nil)
	p.helpers = fstest.MapFS{"helpers/README.md": {Data: []byte("placeholder")}}
	comm := newComm()
	err := provision(t, p, comm)
	if err == nil {
		t.Fatal("a plugin without helpers provisions")
	}
	for _, want := range []string{"no embedded clearwater-firstboot helper for linux/amd64", "`make build`", "`go generate ./provisioner/...`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBadHelper(t *testing.T) {
	for name, data := range map[string][]byte{
		"not ELF":    []byte("#!/bin/sh\n"),
		"wrong arch": fakeELF(elf.EM_AARCH64),
	} {
		_, err := helperBinary(fstest.MapFS{"helpers/clearwater-firstboot_linux_amd64": {Data: data}}, "amd64")
		if err == nil || !strings.Contains(err.Error(), "make build") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestProvisionExecuteCommand(t *testing.T) {
	comm := newComm()
	p := prepared(t, map[string]interface{}{"execute_command": "echo pw | sudo -S -p '' sh {{.Path}} # in {{.Dir}} for {{build_name}}", "packer_build_name": "b1"})
	mustProvision(t, p, comm)
	want := "echo pw | sudo -S -p '' sh " + stage + "/install.sh # in " + stage + " for b1"
	found := false
	for _, l := range comm.log() {
		found = found || l == "start "+want
	}
	if !found {
		t.Errorf("execute_command not rendered as %q; events:\n%s", want, strings.Join(comm.log(), "\n"))
	}

	// A failure names the script, never the rendered command: it may carry a password.
	comm = newComm()
	comm.replies["echo pw"] = reply{status: 1, stderr: "sudo: 1 incorrect password attempt"}
	err := provision(t, p, comm)
	if err == nil || strings.Contains(err.Error(), "echo pw") || !strings.Contains(err.Error(), "`install.sh (run through execute_command)` exited with status 1: sudo: 1 incorrect password attempt") {
		t.Errorf("failed execute_command: %v", err)
	}
}

// A user whose sudo wants a password, or who has no sudo rights: the error says what to change.
func TestProvisionSudoRefused(t *testing.T) {
	for _, stderr := range []string{"sudo: a password is required", "nobody is not in the sudoers file.  This incident will be reported.\nsudo: 1 incorrect password attempt"} {
		comm := newComm()
		comm.replies[defaultExec("install.sh")] = reply{status: 1, stderr: stderr}
		err := provision(t, prepared(t, nil), comm)
		if err == nil || !strings.Contains(err.Error(), "exited with status 1") || !strings.Contains(err.Error(), "give it passwordless sudo") ||
			!strings.Contains(err.Error(), "set execute_command = \"echo '<password>' | sudo -S -p '' sh {{.Path}}\"") {
			t.Errorf("sudo refusing (%q): %v", stderr, err)
		}
	}
	// Any other failure of the script gets no sudo advice.
	comm := newComm()
	comm.replies[defaultExec("install.sh")] = reply{status: 1, stderr: "cp: cannot create regular file: Read-only file system"}
	if err := provision(t, prepared(t, nil), comm); err == nil || strings.Contains(err.Error(), "sudo") {
		t.Errorf("a failure that is not sudo's: %v", err)
	}
}

func TestProvisionInstallFailure(t *testing.T) {
	comm := newComm()
	comm.replies[defaultExec("install.sh")] = reply{status: 1, stdout: "clearwater-firstboot: installed x\n", stderr: "cp: cannot create regular file: Read-only file system\n"}
	err := provision(t, prepared(t, nil), comm)
	if err == nil || !strings.Contains(err.Error(), "exited with status 1") || !strings.Contains(err.Error(), "Read-only file system") {
		t.Fatalf("install failure: %v", err)
	}
	log := comm.log()
	if log[len(log)-1] != "start rm -rf '"+stage+"'" {
		t.Errorf("staging folder not removed after a failure: %v", log)
	}
	for _, l := range log {
		if strings.Contains(l, "verify.sh") && strings.HasPrefix(l, "start") {
			t.Error("verify ran after a failed install")
		}
	}
}

func TestProvisionUploadFailure(t *testing.T) {
	comm := newComm()
	comm.uploadErr = errors.New("disk full")
	err := provision(t, prepared(t, nil), comm)
	if err == nil || !strings.Contains(err.Error(), "uploading clearwater-firstboot to "+stage) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("upload failure: %v", err)
	}
	if log := comm.log(); log[len(log)-1] != "start rm -rf '"+stage+"'" {
		t.Errorf("staging folder not removed after a failed upload: %v", log)
	}
}

func TestProvisionCommandFailuresAreReported(t *testing.T) {
	for prefix, want := range map[string]string{
		"uname -m":              "reading the guest's architecture: `uname -m` exited with status 7: nope",
		"if [ -d /run/systemd/": "detecting the guest's init system",
		"mktemp -d":             "making a staging folder in the guest: `mktemp -d /tmp/clearwater-firstboot.XXXXXX` exited with status 7: nope",
		"rm -rf":                "removing the staging folder " + stage,
	} {
		comm := newComm()
		comm.replies[prefix] = reply{status: 7, stderr: "nope"}
		err := provision(t, prepared(t, nil), comm)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s exits 7: error %v, want %q", prefix, err, want)
		}
	}
	comm := newComm()
	comm.replies["mktemp -d"] = reply{stdout: "/etc/evil dir\n"}
	if err := provision(t, prepared(t, nil), comm); err == nil || !strings.Contains(err.Error(), "not a folder under /tmp") {
		t.Errorf("odd mktemp output: %v", err)
	}
}

func TestProvisionCancel(t *testing.T) {
	comm := newComm()
	comm.replies[defaultExec("install.sh")] = reply{hang: true}
	comm.started = make(chan string, 16)
	p := prepared(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Provision(ctx, packersdk.TestUi(t), comm, nil) }()
	for cmd := range comm.started {
		if strings.Contains(cmd, "install.sh") {
			break
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Provision returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Provision did not return after its context was cancelled")
	}
	if log := comm.log(); log[len(log)-1] != "start rm -rf '"+stage+"'" {
		t.Errorf("staging folder not removed after a cancel: %v", log)
	}
}

// Running the provisioner twice gives the same commands and files: the install is idempotent
// by construction (every file is replaced, every link forced).
func TestProvisionTwiceSame(t *testing.T) {
	p := prepared(t, map[string]interface{}{"hostname": "x1"})
	a, b := newComm(), newComm()
	mustProvision(t, p, a)
	mustProvision(t, p, b)
	if !reflect.DeepEqual(a.events, b.events) {
		t.Error("a second run differs from the first")
	}
}
