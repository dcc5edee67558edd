// Package qemu boots disk images in QEMU for the project's end-to-end tests.
//
// A VM boots from a throwaway qcow2 overlay on top of the image (the image itself is never
// written), under TCG (`-accel tcg -cpu max`: /dev/kvm on these machines hangs stock guests),
// with its serial console captured to a file, optional NoCloud and config-drive seed ISOs, and
// either QEMU's user network (`restrict=on`: no traffic leaves the VM) or a tap device inside a
// network namespace that the caller made and serves (DHCP, router advertisements).
//
// Results come out of the guest two ways:
//   - while it runs, on the serial console: [VM.WaitFor] a line, [Between] two markers;
//   - after it powered off, from its disk without mounting anything: [VM.ReadFile] (qemu-img
//     converts the overlay to raw, debugfs reads the file from the root ext4 partition).
//
// [DebianImage] builds (or reuses) the bootable Debian base image of images/debian.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/tether"
)

// Options says what to boot and how.
type Options struct {
	// Image is the disk image to boot (qcow2 or raw). It is only read.
	Image string
	// MemoryMiB is the guest's memory; 0 means 1024.
	MemoryMiB int
	// CPUs is the number of vCPUs; 0 means 1 (TCG on a shared 2-core host).
	CPUs int
	// NoCloud, when set, is attached as a NoCloud seed ISO (volume label cidata).
	NoCloud *NoCloud
	// ConfigDrive, when set, is attached as an OpenStack config-drive ISO (label config-2).
	ConfigDrive *ConfigDrive
	// Network is the guest's network card.
	Network Network
	// SerialLog is where the serial console is written. Empty means a file in the VM's
	// scratch directory, removed by Stop; a path given here is kept.
	SerialLog string
	// TempDir is where the VM's scratch directory is made; empty means os.TempDir().
	TempDir string
	// QEMU is the emulator binary; empty means qemu-system-x86_64.
	QEMU string
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// Timeout, when set, bounds the guest's run from its start, after Boot has waited for its
	// place (Slot): QEMU is killed then.
	Timeout time.Duration
}

// Network describes the guest's one virtio network card.
type Network struct {
	// None leaves the guest without a network card.
	None bool
	// Netns, when set, runs QEMU inside that network namespace (`ip netns exec`).
	Netns string
	// Tap is a tap device (in Netns, if set) that the caller made. Empty means QEMU's user
	// network with restrict=on: DHCPv4 and SLAAC from QEMU, no traffic out of the VM.
	Tap string
	// MAC is the card's address; empty means 52:54:00:12:34:56.
	MAC string
}

// DefaultMAC is the guest's MAC address when Network.MAC is empty.
const DefaultMAC = "52:54:00:12:34:56"

// defaultWait bounds a wait whose context has no deadline.
const defaultWait = 15 * time.Minute

// VM is a running (or finished) QEMU process started by Boot.
type VM struct {
	// SerialLog is the file the guest's serial console is written to.
	SerialLog string
	// Overlay is the qcow2 overlay the guest writes to.
	Overlay string

	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when QEMU has exited
	err  error         // QEMU's exit status, valid once done is closed

	stopOnce sync.Once
	stopErr  error
	diskMu   sync.Mutex
	disk     *Disk
}

// Boot starts QEMU on a throwaway overlay of opts.Image and returns without waiting for the
// guest. QEMU is killed when ctx is done; call Stop in any case to remove the scratch files.
func Boot(ctx context.Context, opts Options) (vm *VM, err error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(opts.TempDir, "qemu-vm-")
	if err != nil {
		return nil, err
	}
	vm = &VM{dir: dir, Overlay: filepath.Join(dir, "overlay.qcow2"), SerialLog: opts.SerialLog,
		done: make(chan struct{})}
	if vm.SerialLog == "" {
		vm.SerialLog = filepath.Join(dir, "serial.log")
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := createOverlay(ctx, opts.Image, vm.Overlay); err != nil {
		return nil, err
	}
	args, err := opts.args(ctx, vm)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(vm.SerialLog, nil, 0o644); err != nil {
		return nil, err
	}
	release, err := Slot(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		release = func(release func()) func() { return func() { cancel(); release() } }(release)
	}
	if err := vm.start(ctx, opts, args, release); err != nil {
		release()
		return nil, err
	}
	return vm, nil
}

func (o *Options) check() error {
	if o.Image == "" {
		return errors.New("qemu: Options.Image is empty")
	}
	if _, err := os.Stat(o.Image); err != nil {
		return fmt.Errorf("qemu: image: %w", err)
	}
	if o.MemoryMiB < 0 || o.CPUs < 0 {
		return fmt.Errorf("qemu: MemoryMiB (%d) and CPUs (%d) must not be negative", o.MemoryMiB, o.CPUs)
	}
	if o.Network.None && (o.Network.Tap != "" || o.Network.MAC != "") {
		return errors.New("qemu: Network.None excludes Tap and MAC")
	}
	if strings.ContainsAny(o.Network.Tap, ",= \t\n") {
		return fmt.Errorf("qemu: bad tap name %q", o.Network.Tap)
	}
	if o.Network.MAC != "" && !macRE.MatchString(o.Network.MAC) {
		return fmt.Errorf("qemu: bad MAC %q (want xx:xx:xx:xx:xx:xx)", o.Network.MAC)
	}
	return nil
}

var macRE = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

// args builds QEMU's command line, making the seed ISOs in vm.dir on the way.
func (o *Options) args(ctx context.Context, vm *VM) ([]string, error) {
	mem, cpus := o.MemoryMiB, o.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 1
	}
	args := []string{
		"-accel", "tcg", "-cpu", "max", "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-display", "none", "-no-reboot", "-no-user-config",
		"-chardev", "file,id=serial0,path=" + qemuPath(vm.SerialLog), "-serial", "chardev:serial0",
		"-drive", "file=" + qemuPath(vm.Overlay) + ",if=virtio,format=qcow2",
	}
	if o.NoCloud != nil {
		iso := filepath.Join(vm.dir, "nocloud.iso")
		if err := o.NoCloud.WriteISO(ctx, iso); err != nil {
			return nil, err
		}
		args = append(args, "-drive", "file="+qemuPath(iso)+",if=virtio,format=raw,readonly=on")
	}
	if o.ConfigDrive != nil {
		iso := filepath.Join(vm.dir, "configdrive.iso")
		if err := o.ConfigDrive.WriteISO(ctx, iso); err != nil {
			return nil, err
		}
		args = append(args, "-drive", "file="+qemuPath(iso)+",if=virtio,format=raw,readonly=on")
	}
	if !o.Network.None {
		mac := o.Network.MAC
		if mac == "" {
			mac = DefaultMAC
		}
		netdev := "user,id=net0,restrict=on,ipv4=on,ipv6=on"
		if o.Network.Tap != "" {
			netdev = "tap,id=net0,ifname=" + o.Network.Tap + ",script=no,downscript=no"
		}
		args = append(args, "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0,mac="+mac)
	}
	return append(args, o.ExtraArgs...), nil
}

// qemuPath escapes a path for a QEMU option value, where a comma is written twice.
func qemuPath(p string) string { return strings.ReplaceAll(p, ",", ",,") }

// start starts QEMU, and calls release once it has exited (the guest's place, see Slot).
func (vm *VM) start(ctx context.Context, opts Options, args []string, release func()) error {
	bin := opts.QEMU
	if bin == "" {
		bin = "qemu-system-x86_64"
	}
	if opts.Network.Netns != "" {
		// ip execs QEMU in place (no fork), so the PID we hold is QEMU's.
		args = append([]string{"netns", "exec", opts.Network.Netns, bin}, args...)
		bin = "ip"
	}
	stderr, err := os.Create(filepath.Join(vm.dir, "qemu.stderr"))
	if err != nil {
		return err
	}
	defer stderr.Close()
	vm.cmd = exec.CommandContext(ctx, bin, args...)
	vm.cmd.Stdout, vm.cmd.Stderr = stderr, stderr
	vm.cmd.WaitDelay = 5 * time.Second
	if err := tether.Start(vm.cmd); err != nil {
		return fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	go func() {
		vm.err = vm.cmd.Wait()
		release()
		close(vm.done)
	}()
	return nil
}

// PID is QEMU's process ID.
func (vm *VM) PID() int { return vm.cmd.Process.Pid }

// CPUTime is the processor time (user and system) that QEMU used, once it has exited; 0 before.
// Under TCG it is the guest's work, which the host's load does not stretch as it does the wall
// time.
func (vm *VM) CPUTime() time.Duration {
	if !vm.Exited() || vm.cmd.ProcessState == nil {
		return 0
	}
	return vm.cmd.ProcessState.UserTime() + vm.cmd.ProcessState.SystemTime()
}

// Exited reports whether QEMU has exited.
func (vm *VM) Exited() bool {
	select {
	case <-vm.done:
		return true
	default:
		return false
	}
}

// Wait waits until QEMU exits (the guest powered off: -no-reboot makes a reboot an exit too)
// and returns its exit error, annotated with QEMU's stderr.
func (vm *VM) Wait(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	select {
	case <-vm.done:
		return vm.exitErr()
	case <-ctx.Done():
		return fmt.Errorf("qemu: waiting for the guest to power off: %w\n%s", ctx.Err(), vm.tail())
	}
}

// exitErr is QEMU's exit error with its stderr; nil when it exited 0 (the guest powered off).
func (vm *VM) exitErr() error {
	if vm.err == nil {
		return nil
	}
	msg, _ := os.ReadFile(filepath.Join(vm.dir, "qemu.stderr"))
	return fmt.Errorf("qemu: %w: %s", vm.err, strings.TrimSpace(string(msg)))
}

// Stop kills QEMU if it still runs, waits for it, and removes the overlay, the seed ISOs and
// every other scratch file (SerialLog too, unless Options.SerialLog named it). It is safe to
// call more than once.
func (vm *VM) Stop() error {
	vm.stopOnce.Do(func() {
		if !vm.Exited() {
			_ = vm.cmd.Process.Kill()
			select {
			case <-vm.done:
			case <-time.After(10 * time.Second):
				vm.stopErr = fmt.Errorf("qemu: PID %d did not exit after SIGKILL", vm.PID())
			}
		}
		vm.diskMu.Lock()
		if vm.disk != nil {
			vm.disk.Close()
		}
		vm.diskMu.Unlock()
		if err := os.RemoveAll(vm.dir); err != nil && vm.stopErr == nil {
			vm.stopErr = err
		}
	})
	return vm.stopErr
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultWait)
}
