package firstboot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// These tests run the provisioner's real install and verify scripts with a real shell
// (busybox) in a chroot, and the real helper, built from cmd/clearwater-firstboot. The
// acceptance test does the same through packer and the clearwater-chroot builder.

// needRoot skips when the test cannot chroot, unless CI=true (CI runs as root with the tools).
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but this test lacks: %s", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

var hostHelper struct {
	once sync.Once
	data []byte
	err  error
}

// buildHostHelper builds the real helper for this host's architecture, once per test binary;
// CLEARWATER_TEST_HELPER names an already built one instead (make's bin/clearwater-firstboot).
func buildHostHelper(t *testing.T) fs.FS {
	t.Helper()
	hostHelper.once.Do(func() {
		if p := os.Getenv("CLEARWATER_TEST_HELPER"); p != "" {
			hostHelper.data, hostHelper.err = os.ReadFile(p)
			return
		}
		dir, err := os.MkdirTemp("", "cw-helper-")
		if err != nil {
			hostHelper.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "clearwater-firstboot")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/clearwater-aio/packer-plugin-clearwater/cmd/clearwater-firstboot")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			hostHelper.err = fmt.Errorf("building the helper: %v\n%s", err, msg)
			return
		}
		hostHelper.data, hostHelper.err = os.ReadFile(out)
	})
	if hostHelper.err != nil {
		t.Fatal(hostHelper.err)
	}
	return fstest.MapFS{"helpers/" + helperName(runtime.GOARCH): {Data: hostHelper.data}}
}

// chrootComm runs commands with chroot(8) in a root folder, the way an offline builder does;
// as user (uid:gid) when it is set, the way a communicator that logs in as a user does.
type chrootComm struct{ root, user string }

func (c chrootComm) Start(ctx context.Context, cmd *packersdk.RemoteCmd) error {
	args := []string{c.root, "/bin/sh", "-c", cmd.Command}
	if c.user != "" {
		args = append([]string{"--userspec=" + c.user}, args...)
	}
	ex := exec.CommandContext(ctx, "chroot", args...)
	ex.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	ex.Stdout, ex.Stderr = cmd.Stdout, cmd.Stderr
	if err := ex.Start(); err != nil {
		return err
	}
	go func() {
		err := ex.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
			cmd.SetExited(0)
		case errors.As(err, &ee):
			cmd.SetExited(ee.ExitCode())
		default:
			cmd.SetExited(255)
		}
	}()
	return nil
}

func (c chrootComm) Upload(dst string, r io.Reader, fi *os.FileInfo) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if fi != nil {
		mode = (*fi).Mode().Perm()
	}
	if err := os.WriteFile(filepath.Join(c.root, dst), data, mode); err != nil {
		return err
	}
	if c.user != "" { // uploads belong to the user the communicator logs in as
		var uid, gid int
		if _, err := fmt.Sscanf(c.user, "%d:%d", &uid, &gid); err != nil {
			return err
		}
		return os.Chown(filepath.Join(c.root, dst), uid, gid)
	}
	return nil
}

func (chrootComm) UploadDir(string, string, []string) error   { return errors.ErrUnsupported }
func (chrootComm) Download(string, io.Writer) error           { return errors.ErrUnsupported }
func (chrootComm) DownloadDir(string, string, []string) error { return errors.ErrUnsupported }
func (c chrootComm) path(p string) string                     { return filepath.Join(c.root, p) }
func (c chrootComm) write(t *testing.T, p, data string, m fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(c.path(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path(p), []byte(data), m); err != nil {
		t.Fatal(err)
	}
}
func (c chrootComm) link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(c.path(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, c.path(p)); err != nil {
		t.Fatal(err)
	}
}

// busyboxRoot makes a root filesystem with a static busybox as every tool, plus a cloud-init
// stand-in that records its calls.
func busyboxRoot(t *testing.T) chrootComm {
	t.Helper()
	needRoot(t, "chroot", "busybox")
	c := chrootComm{root: t.TempDir()}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	c.write(t, "/bin/busybox", string(data), 0o755)
	for _, d := range []string{"/tmp", "/etc", "/sbin", "/usr/bin", "/usr/sbin", "/var/lib", "/run", "/dev"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(c.path("/tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chroot", c.root, "/bin/busybox", "--install", "-s", "/bin").CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v\n%s", err, out)
	}
	c.write(t, "/usr/bin/cloud-init", `#!/bin/sh
echo "cloud-init $*" >>/cloud-init.calls
case "$*" in "clean --help") exit 0;; "clean --logs") rm -rf /var/lib/cloud/*; exit 0;; esac
exit 2
`, 0o755)
	c.write(t, "/var/lib/cloud/instance/user-data.txt", "#cloud-config\n", 0o600)
	c.write(t, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n", 0o444)
	c.write(t, "/var/lib/clearwater-firstboot/state.json", "{}\n", 0o644)
	// upstream's auto-config, enabled in the sysvinit way
	c.write(t, "/etc/init.d/clearwater-auto-config-generic", "#!/bin/sh\nexit 0\n", 0o755)
	c.link(t, "../init.d/clearwater-auto-config-generic", "/etc/rc2.d/S20clearwater-auto-config-generic")
	return c
}

func chrootProvision(t *testing.T, c chrootComm, raw map[string]interface{}) (string, error) {
	t.Helper()
	p := &Provisioner{helpers: buildHostHelper(t)}
	if err := p.Prepare(raw); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ui := &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &out, ErrorWriter: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := p.Provision(ctx, ui, c, nil)
	return out.String(), err
}

type fileCheck struct {
	path string
	mode fs.FileMode // with the type bits: fs.ModeSymlink for a link
	// content (a file) or target (a link); "" means not checked; "-" means empty
	content string
}

func checkFiles(t *testing.T, c chrootComm, checks []fileCheck) {
	t.Helper()
	for _, fc := range checks {
		fi, err := os.Lstat(c.path(fc.path))
		if err != nil {
			t.Errorf("%s: %v", fc.path, err)
			continue
		}
		if fi.Mode()&(fs.ModeType|fs.ModePerm) != fc.mode&(fs.ModeType|fs.ModePerm) {
			t.Errorf("%s: mode %v, want %v", fc.path, fi.Mode(), fc.mode)
		}
		var got string
		if fi.Mode()&fs.ModeSymlink != 0 {
			got, _ = os.Readlink(c.path(fc.path))
		} else {
			b, _ := os.ReadFile(c.path(fc.path))
			got = string(b)
		}
		switch {
		case fc.content == "-" && got != "":
			t.Errorf("%s: %q, want it empty", fc.path, got)
		case fc.content != "" && fc.content != "-" && !strings.Contains(got, fc.content):
			t.Errorf("%s: %q does not contain %q", fc.path, got, fc.content)
		}
	}
}

func checkGone(t *testing.T, c chrootComm, globs ...string) {
	t.Helper()
	for _, g := range globs {
		m, _ := filepath.Glob(c.path(g))
		for _, p := range m {
			t.Errorf("%s is left behind", strings.TrimPrefix(p, c.root))
		}
	}
}

func TestChrootSystemd(t *testing.T) {
	c := busyboxRoot(t)
	c.write(t, "/lib/systemd/systemd", "", 0o755)
	c.link(t, "/lib/systemd/systemd", "/sbin/init")
	// What a build instance's user-data (the data source's output before v0.2) left: cloud-init
	// wrote its marker and drop-in, and recorded the user-data. reset_instance_state removes them.
	c.write(t, "/var/lib/cloud/instances/build-1/user-data.txt", "#cloud-config\nwrite_files:\n- path: /etc/clearwater/force_ipv6\n"+
		"- path: /etc/clearwater/firstboot.d/90-clearwater-userdata.yaml\n  content: 'ipv6_timeout: 50s'\n", 0o600)
	c.write(t, "/etc/clearwater/force_ipv6", "", 0o644)
	c.write(t, "/etc/clearwater/firstboot.d/90-clearwater-userdata.yaml", "ipv6_timeout: 50s\n", 0o644)
	c.write(t, "/etc/clearwater/firstboot.d/50-site.yaml", "probe_dhcp: true\n", 0o644)
	raw := map[string]interface{}{"hostname": "lab-aio", "ipv6_timeout": "45s"}
	for run := 1; run <= 2; run++ { // the second run proves the install idempotent
		out, err := chrootProvision(t, c, raw)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if removed := "removed /etc/clearwater/force_ipv6: cloud-init wrote it from the user-data of instance build-1"; run == 1 && !strings.Contains(out, removed) {
			t.Errorf("output lacks %q:\n%s", removed, out)
		}
		checkGone(t, c, "/etc/clearwater/force_ipv6", "/etc/clearwater/firstboot.d/90-*")
		checkFiles(t, c, []fileCheck{{"/etc/clearwater/firstboot.d/50-site.yaml", 0o644, "probe_dhcp: true"}})
		for _, want := range []string{"Init system: systemd (detected: /sbin/init -> /lib/systemd/systemd)", "disabled clearwater-auto-config-generic", "Verified: the helper accepts its config"} {
			if !strings.Contains(out, want) {
				t.Errorf("run %d: output lacks %q:\n%s", run, want, out)
			}
		}
		checkFiles(t, c, []fileCheck{
			{"/usr/local/sbin/clearwater-firstboot", 0o755, "\x7fELF"},
			{"/etc/clearwater/firstboot.yaml", 0o644, "hostname: lab-aio\n"},
			{"/etc/systemd/system/clearwater-firstboot.service", 0o644, "ExecStart=/usr/local/sbin/clearwater-firstboot run --start-timeout 183s\n"},
			{"/etc/systemd/system/multi-user.target.wants/clearwater-firstboot.service", fs.ModeSymlink | 0o777, "/etc/systemd/system/clearwater-firstboot.service"},
			{"/etc/systemd/system/clearwater-auto-config-generic.service", fs.ModeSymlink | 0o777, "/dev/null"},
			{"/etc/rc2.d/K20clearwater-auto-config-generic", fs.ModeSymlink | 0o777, "../init.d/clearwater-auto-config-generic"},
			{"/etc/machine-id", 0o444, "-"},
		})
		checkGone(t, c, "/tmp/*", "/etc/rc2.d/S*", "/var/lib/clearwater-firstboot", "/var/lib/cloud/*", "/etc/init.d/clearwater-firstboot", "/etc/clearwater/*.cw-new", "/etc/systemd/system/*.cw-new", "/usr/local/sbin/*.cw-new")
	}
	calls, _ := os.ReadFile(c.path("/cloud-init.calls"))
	if strings.Count(string(calls), "cloud-init clean --logs\n") != 2 {
		t.Errorf("cloud-init calls:\n%s", calls)
	}
	// what the helper reads back from the image: the baked settings
	out, err := exec.Command("chroot", c.root, "/usr/local/sbin/clearwater-firstboot", "plan", "--root", "/", "--json").Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("installed helper's plan: %v\n%s", err, out)
	}
	var plan struct {
		ForceIPv6   bool   `json:"force_ipv6"`
		ForceSource string `json:"force_source"`
		Error       string `json:"error"`
	}
	if err := json.Unmarshal(out, &plan); err != nil || plan.ForceIPv6 || plan.ForceSource != "none" {
		t.Errorf("installed helper's plan: %v %+v\n%s", err, plan, out)
	}
}

func TestChrootSysvinitThenSystemd(t *testing.T) {
	c := busyboxRoot(t)
	c.write(t, "/sbin/init", "#!/bin/sh\n", 0o755)
	out, err := chrootProvision(t, c, map[string]interface{}{"disable_upstream_autoconfig": false, "reset_instance_state": false})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "Init system: sysvinit (detected: /sbin/init is not systemd)") {
		t.Errorf("output:\n%s", out)
	}
	checks := []fileCheck{
		{"/etc/init.d/clearwater-firstboot", 0o755, "# X-Start-Before:    clearwater-infrastructure dnsmasq"},
		// upstream left alone, and the instance state too
		{"/etc/rc2.d/S20clearwater-auto-config-generic", fs.ModeSymlink | 0o777, ""},
		{"/etc/machine-id", 0o444, "0123456789abcdef"},
		{"/var/lib/clearwater-firstboot/state.json", 0o644, ""},
	}
	for _, n := range []string{"2", "3", "4", "5"} {
		checks = append(checks, fileCheck{"/etc/rc" + n + ".d/S19clearwater-firstboot", fs.ModeSymlink | 0o777, "../init.d/clearwater-firstboot"})
	}
	checkFiles(t, c, checks)
	checkGone(t, c, "/etc/systemd/system/clearwater-firstboot.service", "/tmp/*")
	// The LSB script runs the helper (here it finds the chroot's view of the host's addresses).
	if out, err := exec.Command("chroot", c.root, "/etc/init.d/clearwater-firstboot", "bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "Usage:") {
		t.Errorf("init script with a bad action: %v %s", err, out)
	}

	// Switching the same image to systemd removes the sysvinit integration.
	out, err = chrootProvision(t, c, map[string]interface{}{"init_system": "systemd"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkFiles(t, c, []fileCheck{{"/etc/systemd/system/clearwater-firstboot.service", 0o644, "Type=oneshot"}})
	checkGone(t, c, "/etc/init.d/clearwater-firstboot", "/etc/rc?.d/*clearwater-firstboot", "/tmp/*")
}

// A config that the helper refuses, already in the image, fails the build at verify.
func TestChrootVerifyRejects(t *testing.T) {
	c := busyboxRoot(t)
	c.write(t, "/sbin/init", "#!/bin/sh\n", 0o755)
	c.write(t, "/etc/clearwater/firstboot.d/10-site.yaml", "ipv6_timeout: forever\n", 0o644)
	out, err := chrootProvision(t, c, nil)
	if err == nil || !strings.Contains(err.Error(), "the helper rejects its config (exit 2)") || !strings.Contains(err.Error(), "10-site.yaml") {
		t.Fatalf("verify with a bad drop-in: %v\n%s", err, out)
	}
	checkGone(t, c, "/tmp/*")
}

// A communicator user that is not root, on an image without sudo: the default execute_command
// fails with a message that says what to do; the install script itself refuses to run as
// anyone but root.
func TestChrootNotRoot(t *testing.T) {
	c := busyboxRoot(t)
	c.write(t, "/sbin/init", "#!/bin/sh\n", 0o755)
	c.user = "65534:65534"
	out, err := chrootProvision(t, c, nil)
	if err == nil || !strings.Contains(err.Error(), "exited with status 127") || !strings.Contains(err.Error(), "sudo: not found") ||
		!strings.Contains(err.Error(), "the default execute_command needs sudo") {
		t.Fatalf("as nobody without sudo: %v\n%s", err, out)
	}
	checkGone(t, c, "/tmp/*", DefaultInstallPath)

	out, err = chrootProvision(t, c, map[string]interface{}{"execute_command": "sh {{.Path}}"})
	if err == nil || !strings.Contains(err.Error(), "exited with status 1") || !strings.Contains(err.Error(), "the install step runs as uid 65534, not root") {
		t.Fatalf("install.sh as nobody: %v\n%s", err, out)
	}
	checkGone(t, c, "/tmp/*", DefaultInstallPath)
}
