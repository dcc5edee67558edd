package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/tether"
)

// driver boots one image in QEMU, as the user packer runs as: a throwaway qcow2 overlay (the
// image is only read), QEMU's user-mode network, a NoCloud seed, the serial console in a file.
type driver struct {
	qemu, qemuImg string
	accel         string // kvm or tcg
	memory        int
	image, format string
	tempDir       string
}

// boot is one case's run.
type boot struct {
	verdict *status.Verdict
	took    time.Duration // from QEMU's start to the verdict
	console string        // the whole serial console
	err     error         // no verdict: why
}

// pollInterval is how often the console log is read for the verdict.
const pollInterval = 500 * time.Millisecond

// run boots the image on net with userData on a NoCloud seed, waits up to timeout for the
// helper's verdict on the console, then kills QEMU and removes every file it made (ctx's end
// does the same).
func (d *driver) run(ctx context.Context, name string, net network, userData []byte, timeout time.Duration) boot {
	dir, err := os.MkdirTemp(d.tempDir, "clearwater-verify-"+name+"-")
	if err != nil {
		return boot{err: err}
	}
	defer os.RemoveAll(dir)
	overlay := filepath.Join(dir, "overlay.qcow2")
	if err := d.overlay(ctx, overlay); err != nil {
		return boot{err: err}
	}
	seed, cleanup, err := nocloudSeed(ctx, userData)
	if err != nil {
		return boot{err: err}
	}
	defer cleanup()
	serial := filepath.Join(dir, "serial.log")
	if err := os.WriteFile(serial, nil, 0o600); err != nil {
		return boot{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	vm, err := d.start(ctx, dir, d.args(overlay, seed, serial, net))
	if err != nil {
		return boot{err: err}
	}
	defer vm.stop()
	b := waitVerdict(ctx, vm, serial, timeout)
	return b
}

// overlay makes a qcow2 overlay backed by the image: the guest writes there, never to the image.
func (d *driver) overlay(ctx context.Context, overlay string) error {
	abs, err := filepath.Abs(d.image)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, d.qemuImg, "create", "-q", "-f", "qcow2", "-F", d.format, "-b", abs, overlay)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s create (the overlay on %s): %v: %s", d.qemuImg, d.image, err, bytes.TrimSpace(out))
	}
	return nil
}

// nocloudSeed writes a NoCloud seed (an ISO 9660 volume labelled cidata, with the SDK's step
// that packer's builders use for cd_files: xorriso, mkisofs, hdiutil or oscdimg) with a fresh
// instance-id, so that every boot is an instance's first. cleanup removes it.
func nocloudSeed(ctx context.Context, userData []byte) (string, func(), error) {
	var id [8]byte
	rand.Read(id[:])
	step := &commonsteps.StepCreateCD{Label: "cidata", Content: map[string]string{
		"user-data": string(userData),
		"meta-data": "instance-id: iid-verify-" + hex.EncodeToString(id[:]) + "\nlocal-hostname: cw-verify\n",
	}}
	var out bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("ui", &packersdk.BasicUi{Writer: &out, ErrorWriter: &out})
	cleanup := func() { step.Cleanup(state) }
	if step.Run(ctx, state) != multistep.ActionContinue {
		cleanup()
		err, _ := state.Get("error").(error)
		return "", nil, fmt.Errorf("the NoCloud seed ISO: %v: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return step.CDPath, cleanup, nil
}

// args is QEMU's command line. restrict=on: the guest's packets never leave QEMU, so a boot
// needs no network of the host's and touches none.
func (d *driver) args(overlay, seed, serial string, net network) []string {
	cpu := "max" // TCG: RDRAND and the rest, so the guest's entropy is ready at once
	if d.accel == accelKVM {
		cpu = "host"
	}
	netdev := fmt.Sprintf("user,id=net0,restrict=on,ipv4=%s,ipv6=%s", onOff(net.ipv4), onOff(net.ipv6))
	if net.ipv6 {
		netdev += ",ipv6-net=" + ipv6Net
	}
	return []string{
		"-accel", d.accel, "-cpu", cpu, "-m", strconv.Itoa(d.memory), "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-chardev", "file,id=serial0,path=" + qemuPath(serial), "-serial", "chardev:serial0",
		"-drive", "file=" + qemuPath(overlay) + ",if=virtio,format=qcow2",
		"-drive", "file=" + qemuPath(seed) + ",if=virtio,format=raw,readonly=on",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// qemuPath escapes a path for a QEMU option value, where a comma is written twice.
func qemuPath(p string) string { return strings.ReplaceAll(p, ",", ",,") }

// vm is a running QEMU.
type vm struct {
	cmd    *exec.Cmd
	stderr string // the file QEMU's output goes to
	done   chan struct{}
	err    error // QEMU's exit, once done is closed
}

// start starts QEMU, killed (SIGKILL, by its PID) when ctx ends and when this process dies.
func (d *driver) start(ctx context.Context, dir string, args []string) (*vm, error) {
	v := &vm{stderr: filepath.Join(dir, "qemu.out"), done: make(chan struct{})}
	out, err := os.Create(v.stderr)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	v.cmd = exec.CommandContext(ctx, d.qemu, args...)
	v.cmd.Stdout, v.cmd.Stderr = out, out
	v.cmd.WaitDelay = 5 * time.Second
	if err := tether.Start(v.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", d.qemu, err)
	}
	go func() {
		v.err = v.cmd.Wait()
		close(v.done)
	}()
	return v, nil
}

// stop kills QEMU if it still runs and waits until it has exited.
func (v *vm) stop() {
	select {
	case <-v.done:
		return
	default:
	}
	_ = v.cmd.Process.Kill()
	<-v.done
}

// exited says why QEMU ended before the verdict.
func (v *vm) exited() string {
	out, _ := os.ReadFile(v.stderr)
	why := "the guest powered off or rebooted"
	if v.err != nil {
		why = v.err.Error()
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		why += ": " + s
	}
	return why
}

// loginRE is a getty's prompt: the guest finished booting.
var loginRE = regexp.MustCompile(`(?m)login: *\r?$`)

// panicRE is the kernel's last word: "Kernel panic - not syncing: <why>".
var panicRE = regexp.MustCompile(`Kernel panic - not syncing: ([^\r\n\]]*)`)

// panicked is the reason of a kernel panic on the console, or "".
func panicked(console string) string {
	if m := panicRE.FindStringSubmatch(console); m != nil {
		return "Kernel panic - not syncing: " + strings.TrimSpace(m[1])
	}
	return ""
}

// waitVerdict reads the console until the helper's verdict line, QEMU's exit or ctx's end.
func waitVerdict(ctx context.Context, v *vm, serial string, timeout time.Duration) boot {
	start := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		exited := false
		select {
		case <-v.done:
			exited = true
		default:
		}
		log, err := os.ReadFile(serial)
		if err != nil {
			return boot{err: err}
		}
		b := boot{console: string(log), took: time.Since(start)}
		verdict, ok, err := status.LastVerdict(b.console)
		switch {
		case err != nil:
			b.err = err
			return b
		case ok:
			b.verdict = &verdict
			return b
		case exited:
			b.err = errors.New("QEMU exited before the helper reported: " + v.exited())
			return b
		case panicked(b.console) != "":
			// A panicked guest never reports: say so now, not when boot_timeout ends.
			b.err = fmt.Errorf("the guest's kernel panicked before the helper reported (%s); under TCG on a starved host the timer checks can fail: run again, or lower parallel", panicked(b.console))
			return b
		}
		select {
		case <-ctx.Done():
			b.err = noVerdict(ctx, b.console, timeout)
			return b
		case <-tick.C:
		case <-v.done:
		}
	}
}

// noVerdict says why a boot ended without a verdict.
func noVerdict(ctx context.Context, console string, timeout time.Duration) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("cancelled before the helper reported: %w", ctx.Err())
	}
	if loginRE.MatchString(console) {
		return fmt.Errorf("no verdict of clearwater-firstboot on the console within boot_timeout (%s), although the guest booted to its login prompt: the image has no clearwater-firstboot, or it did not run at boot (is the clearwater-firstboot provisioner in the build, and its unit enabled?)", timeout)
	}
	if console == "" {
		return fmt.Errorf("the guest wrote nothing on its serial console within boot_timeout (%s): does the image boot with QEMU's default PC machine (BIOS), and does its kernel's console include ttyS0?", timeout)
	}
	return fmt.Errorf("no verdict of clearwater-firstboot on the console within boot_timeout (%s), and no login prompt either: the boot is slower than that (raise boot_timeout), or it hung; the image may have no clearwater-firstboot", timeout)
}

// kvmUsable says whether QEMU can use KVM here for a stock guest, and if not why.
func kvmUsable() (bool, string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false, "/dev/kvm cannot be opened read-write by this user (" + errors.Unwrap(err).Error() + ")"
	}
	f.Close()
	if runtime.GOARCH == "amd64" {
		if exists("/sys/module/kvm_pvm") && !exists("/sys/module/kvm_intel") && !exists("/sys/module/kvm_amd") {
			return false, "/dev/kvm is PVM (kvm_pvm), which needs a PVM-aware guest kernel: stock guests hang on it"
		}
	}
	return true, ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
