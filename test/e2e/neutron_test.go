package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// TestBootNeutron boots the example's image as a Nova instance (Nova's SMBIOS, its port a tap on
// a Neutron network of internal/neutronlab) with the IPv6 lab's user-data, once from the
// metadata service and once from a config drive, one VM at a time.
func TestBootNeutron(t *testing.T) {
	qemu.RequireTools(t)
	netnstest.Require(t)
	b := buildExample(t)
	force := b.userData["ipv6-lab"]
	for _, c := range []struct {
		name  string
		spec  neutronlab.Spec
		drive string
	}{
		// B: dual stack slaac; cloud-init's OpenStack datasource and the helper find the
		// user-data in the metadata service only.
		{"B-dual-slaac-metadata", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, VM: true, UserData: force}, ""},
		// H: the same network without a metadata service: the config drive only.
		{"H-config-drive-iso9660", neutronlab.Spec{Net: 2, IPv4: true, IPv6: neutronlab.SLAAC, VM: true, NoMetadata: true, UserData: force}, neutronlab.ISO9660},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // as many at once as qemu.Slot has places
			bootNeutron(t, b.image, c.spec, c.drive, want{family: "ipv6", address: c.spec.GuestIPv6(),
				force: true, forceSource: userdata.SourceWriteFiles})
		})
	}
}

// bootNeutron boots image on a new lab of spec, with a config drive in format drive ("" for
// none) attached as Nova attaches it, waits for the guest's report and power-off, and checks
// the helper's status and files.
func bootNeutron(t *testing.T, image string, spec neutronlab.Spec, drive string, w want) {
	l := neutronlab.Start(t, spec)
	ctx := t.Context()
	opts := qemu.Options{Image: image, TempDir: t.TempDir(),
		Network:   qemu.Network{Netns: l.Switch.Name, Tap: l.Tap, MAC: spec.MAC().String()},
		ExtraArgs: neutronlab.NovaSMBIOS(spec), Timeout: bootTimeout}
	if drive != "" {
		p := filepath.Join(opts.TempDir, "disk.config")
		if err := neutronlab.WriteConfigDrive(ctx, spec, drive, p); err != nil {
			t.Fatal(err)
		}
		// Read-only on virtio, as test/qemu attaches every seed (libvirt puts an iso9660 drive on
		// an IDE CD-ROM): the guest finds it by its label either way.
		opts.ExtraArgs = append(opts.ExtraArgs, "-drive", "file="+p+",if=virtio,format=raw,readonly=on")
	}
	if dir := os.Getenv(serialDirEnv); dir != "" {
		opts.SerialLog = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log")
	}
	vm, err := qemu.Boot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now() // after the wait for a place (qemu.Slot)
	t.Cleanup(func() {
		if err := vm.Stop(); err != nil {
			t.Error(err)
		}
	})
	seen := func() string {
		s := "dnsmasq:\n" + l.Dnsmasq.Output()
		if l.Metadata != nil {
			s += "\nmetadata requests: " + formatRequests(l.Metadata.Requests())
		}
		return s
	}
	if err := vm.Wait(ctx); err != nil {
		t.Fatalf("guest power-off: %v\n%s", err, seen())
	}
	t.Logf("boot to power-off: %.1fs", time.Since(start).Seconds())
	serial, _ := vm.Serial()
	if report, ok := qemu.Between(serial, "===CW-E2E-BEGIN===", "===CW-E2E-END==="); ok {
		t.Logf("guest report:\n%s", report)
	}
	g := guestFiles{t: t, ctx: ctx, vm: vm}
	st := g.status()
	if t.Failed() {
		return
	}
	if msg := w.check(st); msg != "" {
		t.Errorf("%s\nstatus: %+v\nhelper log:\n%s\n%s", msg, st, g.read("/var/lib/cw-e2e/helper.log"), seen())
		return
	}
	g.checkWritten(w.address)
}

func formatRequests(rs []neutronlab.Request) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  " + r.Time.Format("15:04:05.000") + " " + r.Remote + " " + r.Path + " " + strconv.Itoa(r.Status))
	}
	return b.String()
}
