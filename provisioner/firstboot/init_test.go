package firstboot

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A failed run fails the unit (no exit status is taken for success, no "-" before the command),
// while the services only order after it, so they still start; systemd-analyze accepts the unit.
func TestUnitFailsVisiblyButOrdersOnly(t *testing.T) {
	exe, err := os.Executable() // an executable that exists, for systemd-analyze
	if err != nil {
		t.Fatal(err)
	}
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"install_path": exe}), comm)
	unit := string(staged(t, comm, "clearwater-firstboot.service").data)
	for _, bad := range []string{"SuccessExitStatus", "Requires=", "RequiredBy=", "BindsTo=", "Requisite=", "ExecStart=-", "PartOf="} {
		if strings.Contains(unit, "\n"+bad) {
			t.Errorf("unit has %s: a failed run would not show, or would stop the services:\n%s", bad, unit)
		}
	}
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (apt-get install systemd)")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "clearwater-firstboot.service")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "verify", "--man=no", p).CombinedOutput()
	if ours := aboutOurUnit(string(out)); err != nil || ours != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, ours)
	}
}

// otherUnit matches a line of systemd-analyze about another unit, which verify loads from the
// host along with ours: a host with packages whose units it dislikes (an OpenStack install's
// keystone.service, say) must not fail the test.
var otherUnit = regexp.MustCompile(`^[\w:@.\\-]+\.(service|socket|target|timer|mount|automount|path|slice|scope|device|swap):`)

// aboutOurUnit returns the lines of verify's output that are not about another unit.
func aboutOurUnit(out string) string {
	var ours []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && (strings.Contains(l, "clearwater-firstboot") || !otherUnit.MatchString(l)) {
			ours = append(ours, l)
		}
	}
	return strings.Join(ours, "\n")
}

// The LSB script returns the helper's exit status, so that a failed run is not reported as a
// success. The helper is a stand-in here: the real one would write the live system's config.
func TestInitScriptReturnsTheHelpersStatus(t *testing.T) {
	dir := t.TempDir()
	stub := filepath.Join(dir, "helper")
	comm := newComm()
	mustProvision(t, prepared(t, map[string]interface{}{"init_system": "sysvinit", "install_path": stub}), comm)
	script := filepath.Join(dir, "clearwater-firstboot.init")
	if err := os.WriteFile(script, staged(t, comm, "clearwater-firstboot.init").data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, code := range []int{0, 1, 3} {
		if err := os.WriteFile(stub, []byte("#!/bin/sh\n[ \"$1\" = run ] || exit 99\nexit "+string(rune('0'+code))+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		err := exec.Command("/bin/sh", script, "start").Run()
		var ee *exec.ExitError
		got := 0
		if errors.As(err, &ee) {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != code {
			t.Errorf("helper exits %d: the script returns %d", code, got)
		}
	}
}

func TestAboutOurUnit(t *testing.T) {
	out := "keystone.service: Dependency After=keystone.service is dropped.\n" +
		"/tmp/x/clearwater-firstboot.service:9: Unknown key name 'Foo' in section 'Service', ignoring.\n" +
		"clearwater-firstboot.service: Command /nope is not executable: No such file or directory\n" +
		"Failed to load unit file: Invalid argument\n"
	want := "/tmp/x/clearwater-firstboot.service:9: Unknown key name 'Foo' in section 'Service', ignoring.\n" +
		"clearwater-firstboot.service: Command /nope is not executable: No such file or directory\n" +
		"Failed to load unit file: Invalid argument"
	if got := aboutOurUnit(out); got != want {
		t.Errorf("aboutOurUnit =\n%s\nwant\n%s", got, want)
	}
}
