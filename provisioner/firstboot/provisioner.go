// Package firstboot is the Packer provisioner clearwater-firstboot: it bakes the first-boot helper
// into an image through any builder's communicator. It uploads the helper built for the guest's
// architecture, its config and its init integration (a systemd unit or an LSB init script) to a
// staging folder, installs them with one script run as root through execute_command, disables
// upstream's auto-config script, resets the per-instance state and lets the installed helper
// check its config.
package firstboot

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// Provisioner is the clearwater-firstboot provisioner.
type Provisioner struct {
	config Config
	// helpers holds helpers/clearwater-firstboot_linux_<arch>; nil means the embedded ones.
	helpers fs.FS
}

var _ packersdk.Provisioner = (*Provisioner)(nil)

// cleanupTimeout bounds the removal of the staging folder, which runs even after a cancel.
const cleanupTimeout = 30 * time.Second

// ConfigSpec returns the HCL2 spec of the provisioner's configuration.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and checks the configuration. It starts from scratch each time, so calling it
// again with the same input gives the same configuration.
func (p *Provisioner) Prepare(raws ...interface{}) error {
	p.config = Config{}
	err := config.Decode(&p.config, &config.DecodeOpts{
		PluginType:         "clearwater-firstboot",
		Interpolate:        true,
		InterpolateContext: &p.config.ctx,
		// Rendered per script at provision time, with {{.Path}} known.
		InterpolateFilter: &interpolate.RenderFilter{Exclude: []string{"execute_command"}},
	}, raws...)
	if err != nil {
		return err
	}
	return p.config.prepare()
}

// Provision installs the helper into the guest.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, _ map[string]interface{}) (err error) {
	g := &guest{comm: comm, ui: ui}
	ui.Say("Installing the Clearwater first-boot helper (clearwater-firstboot)...")

	helper, err := p.guestHelper(ctx, g)
	if err != nil {
		return err
	}
	initSystem, err := g.initSystem(ctx, p.config.InitSystem)
	if err != nil {
		return err
	}

	dir, err := g.stagingDir(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := g.removeStaging(ctx, dir); cerr != nil && err == nil {
			err = cerr
		}
	}()

	files, err := p.config.stageFiles(dir, initSystem, helper, p.config.PackerBuildName)
	if err != nil {
		return err
	}
	if err := g.upload(ctx, dir, files); err != nil {
		return err
	}
	if err := p.install(ctx, g, dir); err != nil {
		return err
	}
	if _, ok := files["verify.sh"]; ok {
		return p.verify(ctx, g, dir)
	}
	return nil
}

// guestHelper returns the embedded helper for the guest's architecture, read from the guest.
func (p *Provisioner) guestHelper(ctx context.Context, g *guest) ([]byte, error) {
	machine, err := g.output(ctx, "reading the guest's architecture", "uname -m")
	if err != nil {
		return nil, err
	}
	arch, err := helperArch(machine)
	if err != nil {
		return nil, err
	}
	fsys := p.helpers
	if fsys == nil {
		fsys = embedded
	}
	helper, err := helperBinary(fsys, arch)
	if err != nil {
		return nil, err
	}
	g.ui.Sayf("Guest architecture: %s: installing the linux/%s helper", strings.TrimSpace(machine), arch)
	return helper, nil
}

// install runs the staged install script as root through execute_command.
func (p *Provisioner) install(ctx context.Context, g *guest, dir string) error {
	const what = "installing the helper"
	cmd, err := p.config.executeCommand(executeData{Path: dir + "/install.sh", Dir: dir})
	if err != nil {
		return err
	}
	res, err := g.run(ctx, cmd, true)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch res.status {
	case 0:
		return nil
	case 127:
		return fmt.Errorf("%w (exit 127 is \"command not found\": when the communicator's user is not root, the default execute_command needs sudo; set execute_command to elevate another way)", res.failure(what, scriptRun("install.sh")))
	}
	if hint := sudoHint(res.stderr); hint != "" {
		return fmt.Errorf("%w (%s)", res.failure(what, scriptRun("install.sh")), hint)
	}
	return res.failure(what, scriptRun("install.sh"))
}

// sudoRefusals are what sudo prints when the communicator's user may not become root without a
// password it was not given (sudo 1.9: "a password is required" under -n; "is not in the
// sudoers file", "is not allowed to execute", "incorrect password attempt" otherwise).
var sudoRefusals = []string{"a password is required", "is not in the sudoers file", "is not allowed to execute", "incorrect password attempt", "no tty present"}

// sudoHint says what to change when sudo refused the install script, or "" when stderr is not
// such a refusal.
func sudoHint(stderr string) string {
	for _, r := range sudoRefusals {
		if strings.Contains(stderr, "sudo: ") && strings.Contains(stderr, r) {
			return "sudo refused the communicator's user (ssh_username): give it passwordless sudo " +
				"(sudoers \"USER ALL=(ALL) NOPASSWD:ALL\", or cloud-init's users: sudo: \"ALL=(ALL) NOPASSWD:ALL\"), " +
				"log in as root, or for sudo with a password set execute_command = \"echo '<password>' | sudo -S -p '' sh {{.Path}}\""
		}
	}
	return ""
}

// verify runs the installed helper's plan. exitcode.Usage (a config the helper refuses) fails the
// build, as does any other failure (exitcode.NotWritten: the image's files would refuse the write
// at boot, and the helper says which); exitcode.NoAddress only says that the build environment has
// no address the helper would use.
func (p *Provisioner) verify(ctx context.Context, g *guest, dir string) error {
	what := "verifying the installed helper (" + p.config.InstallPath + " plan --root /)"
	g.ui.Say("Verifying: " + p.config.InstallPath + " plan --root /")
	cmd, err := p.config.executeCommand(executeData{Path: dir + "/verify.sh", Dir: dir})
	if err != nil {
		return err
	}
	res, err := g.run(ctx, cmd, true)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch res.status {
	case exitcode.Decided:
		g.ui.Say("Verified: the helper accepts its config")
		return nil
	case exitcode.NoAddress:
		g.ui.Say("Verified: the helper accepts its config (it finds no address it would use in the build environment, which is expected)")
		return nil
	case exitcode.Usage:
		return fmt.Errorf("%s: the helper rejects its config (exit %d): %s", what, res.status, res.summary())
	case 126, 127:
		return fmt.Errorf("%s: the installed helper cannot run in the guest (exit %d; a guest of another architecture needs binfmt_misc and qemu-user-static on the build host): %s",
			what, res.status, res.summary())
	default:
		return res.failure(what, scriptRun("verify.sh"))
	}
}

// guest runs the provisioner's commands through the communicator.
type guest struct {
	comm packersdk.Communicator
	ui   packersdk.Ui
}

// result is a finished remote command.
type result struct {
	status         int
	stdout, stderr string
}

// maxOutput bounds how much of a command's output an error quotes.
const maxOutput = 8 << 10

func (r result) summary() string {
	out := strings.TrimSpace(strings.TrimSpace(r.stderr) + "\n" + strings.TrimSpace(r.stdout))
	if out == "" {
		return "(no output)"
	}
	if len(out) > maxOutput {
		out = "..." + out[len(out)-maxOutput:]
	}
	return out
}

// scriptRun names a script run in errors. The rendered execute_command is not quoted: it may
// carry a sudo password.
func scriptRun(name string) string { return name + " (run through execute_command)" }

func (r result) failure(what, cmd string) error {
	if r.status == packersdk.CmdDisconnect {
		return fmt.Errorf("%s: the guest disconnected while running `%s`", what, cmd)
	}
	return fmt.Errorf("%s: `%s` exited with status %d: %s", what, cmd, r.status, r.summary())
}

// run runs command in the guest; stream shows its output as it comes. The error is for the
// transport and cancellation only: the exit status is in the result.
func (g *guest) run(ctx context.Context, command string, stream bool) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &stdout, Stderr: &stderr}
	ui := g.ui
	if !stream {
		ui = quietUi{ui}
	}
	if err := cmd.RunWithUi(ctx, g.comm, ui); err != nil {
		return result{}, err
	}
	// RunWithUi returns the command's status when the command ends as ctx does (a communicator
	// ends it on cancellation): that status is the cancellation's, not the script's.
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	return result{status: cmd.ExitStatus(), stdout: stdout.String(), stderr: stderr.String()}, nil
}

// quietUi drops a command's output lines (the caller reads them from the buffers).
type quietUi struct{ packersdk.Ui }

func (quietUi) Say(string)   {}
func (quietUi) Error(string) {}

// output runs a query and returns its standard output; anything but exit 0 is an error.
func (g *guest) output(ctx context.Context, what, command string) (string, error) {
	res, err := g.run(ctx, command, false)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if res.status != 0 {
		return "", res.failure(what, command)
	}
	return res.stdout, nil
}

// detectInit prints "systemd" or "sysvinit" and the evidence, or "unknown". /run/systemd/system
// exists only on a running systemd; in a chroot, /sbin/init tells (systemd-sysv links it to
// systemd; upstart and sysvinit ship a binary, and both run /etc/init.d scripts).
const detectInit = `if [ -d /run/systemd/system ]; then echo systemd /run/systemd/system exists
elif [ -L /sbin/init ]; then t=$(readlink /sbin/init); case "$t" in */systemd) echo systemd "/sbin/init -> $t";; *) echo sysvinit "/sbin/init -> $t";; esac
elif [ -e /sbin/init ]; then echo sysvinit /sbin/init is not systemd
elif [ -x /lib/systemd/systemd ] || [ -x /usr/lib/systemd/systemd ]; then echo systemd no /sbin/init, systemd installed
elif [ -d /etc/init.d ]; then echo sysvinit no /sbin/init, /etc/init.d exists
else echo unknown; fi`

// initSystem resolves init_system: auto asks the guest.
func (g *guest) initSystem(ctx context.Context, setting string) (string, error) {
	if setting != InitAuto {
		g.ui.Sayf("Init system: %s (init_system)", setting)
		return setting, nil
	}
	out, err := g.output(ctx, "detecting the guest's init system", detectInit)
	if err != nil {
		return "", err
	}
	kind, why, _ := strings.Cut(strings.TrimSpace(out), " ")
	switch kind {
	case InitSystemd, InitSysvinit:
		g.ui.Sayf("Init system: %s (detected: %s)", kind, why)
		return kind, nil
	}
	return "", fmt.Errorf("init_system = %q: the guest has neither systemd nor /etc/init.d (detection printed %q): set init_system to %q or %q",
		InitAuto, strings.TrimSpace(out), InitSystemd, InitSysvinit)
}

var stagingName = regexp.MustCompile(`^/tmp/clearwater-firstboot\.[A-Za-z0-9]+$`)

// stagingDir makes a private folder in the guest for the uploads.
func (g *guest) stagingDir(ctx context.Context) (string, error) {
	out, err := g.output(ctx, "making a staging folder in the guest", "mktemp -d /tmp/clearwater-firstboot.XXXXXX")
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(out)
	if !stagingName.MatchString(dir) {
		return "", fmt.Errorf("making a staging folder in the guest: mktemp printed %q, not a folder under /tmp", dir)
	}
	return dir, nil
}

// removeStaging deletes the staging folder, even when ctx is already cancelled, within a bound.
func (g *guest) removeStaging(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := g.output(ctx, "removing the staging folder "+dir, "rm -rf "+shellQuote(dir))
	return err
}

// upload copies the staged files into dir, in a fixed order.
func (g *guest) upload(ctx context.Context, dir string, files guestFiles) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		if strings.HasSuffix(n, ".sh") {
			mode = 0o700
		}
		var fi os.FileInfo = fileInfo{name: n, size: int64(len(files[n])), mode: mode}
		if err := g.comm.Upload(dir+"/"+n, bytes.NewReader(files[n]), &fi); err != nil {
			return fmt.Errorf("uploading %s to %s in the guest: %w", n, dir, err)
		}
	}
	return nil
}

// fileInfo describes an upload to communicators that take its size and mode from it.
type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (f fileInfo) Name() string       { return f.name }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() fs.FileMode  { return f.mode }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() any           { return nil }
