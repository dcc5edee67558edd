package neutronlab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// NovaDMI is what a Nova (libvirt) guest reads in /sys/class/dmi/id, with
// `-smbios type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova`; the system UUID is
// the instance's.
func NovaDMI(s Spec) map[string]string {
	return map[string]string{"sys_vendor": "OpenStack Foundation", "product_name": "OpenStack Nova",
		"product_version": "31.1.0", "product_family": "Virtual Machine", "product_uuid": s.InstanceUUID(),
		"chassis_vendor": "QEMU", "chassis_asset_tag": "", "bios_vendor": "SeaBIOS"}
}

// NovaSMBIOS is QEMU's -smbios option as Nova's libvirt driver sets the guest's system
// information: what the guest then reads as NovaDMI.
func NovaSMBIOS(s Spec) []string {
	return []string{"-smbios", "type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova," +
		"version=31.1.0,uuid=" + s.InstanceUUID() + ",family=Virtual Machine"}
}

// PlainDMI is a plain KVM guest's (a lab with DHCP and no metadata service).
func PlainDMI() map[string]string {
	return map[string]string{"sys_vendor": "QEMU", "product_name": "Standard PC (i440FX + PIIX, 1996)",
		"product_uuid": "0badc0de-0000-4000-8000-000000000001", "chassis_vendor": "QEMU",
		"chassis_asset_tag": "", "bios_vendor": "SeaBIOS"}
}

// Cmdline is a cloud image's kernel command line (no ds=).
const Cmdline = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-cloud-amd64 root=PARTUUID=6a0e-01 ro console=tty0 console=ttyS0,115200\n"

// WritePlatform writes what the guest's platform shows under root, where the helper reads it
// with --root: root/sys/class/dmi/id/<dmi keys> and root/proc/cmdline.
func WritePlatform(t testing.TB, root string, dmi map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "sys/class/dmi/id")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range dmi {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/cmdline"), []byte(Cmdline), 0o444); err != nil {
		t.Fatal(err)
	}
}

// AttachConfigDrive writes the spec's config drive in format where the guest finds it under
// root: root/dev/disk/by-label/config-2, as udev names the drive (an image file, not a device:
// the helper reads it the same way, and no loop device is needed). It returns the path.
func AttachConfigDrive(t testing.TB, s Spec, format, root string) string {
	t.Helper()
	p := filepath.Join(root, "dev/disk/by-label", ConfigDriveLabel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteConfigDrive(context.Background(), s, format, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// DetachConfigDrive removes the config drive from root (the instance booted without one).
func DetachConfigDrive(t testing.TB, root string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, "dev/disk/by-label", ConfigDriveLabel)); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// Guest is the instance's OS network stack, as a Debian ifupdown image runs it: dhclient -4 for
// an IPv4 subnet (with Debian's dhclient-script and its hooks: the RFC 3442 routes, the MTU);
// dhclient -6 for a dhcpv6-stateful subnet and dhclient -6 -S for a dhcpv6-stateless one,
// started once the link-local address is past DAD (ifupdown waits for it); SLAAC and the RA's
// default route are the kernel's (accept_ra=1, the default).
type Guest struct {
	DHCPv4, DHCPv6 *netnstest.Proc
}

// Boot starts the guest's DHCP clients; they are killed by PID when the test ends. It returns
// once they run (after the link-local DAD, about 2 s, when DHCPv6 is needed).
func (l *Lab) Boot(t testing.TB) *Guest {
	t.Helper()
	if l.Spec.VM {
		t.Fatal("neutronlab: Boot on a VM's network: the VM's own OS configures it")
	}
	bin, err := exec.LookPath("dhclient")
	if err != nil {
		t.Skip("neutronlab: dhclient not found (make deps installs isc-dhcp-client)")
	}
	dir := t.TempDir()
	l.isolateResolvConf(t)
	g := &Guest{}
	if l.Spec.IPv4 {
		g.DHCPv4 = l.Guest.Start(t, bin, "-4", "-d", "-v", "-pf", filepath.Join(dir, "dhclient.pid"),
			"-lf", filepath.Join(dir, "dhclient.leases"), GuestDev)
	}
	if l.Spec.IPv6 == Stateful || l.Spec.IPv6 == Stateless {
		l.GuestPort.LinkLocal(t, 10*time.Second)
		args := []string{"-6", "-d", "-v", "-pf", filepath.Join(dir, "dhclient6.pid"),
			"-lf", filepath.Join(dir, "dhclient6.leases")}
		if l.Spec.IPv6 == Stateless {
			args = append(args, "-S")
		}
		g.DHCPv6 = l.Guest.Start(t, bin, append(args, GuestDev)...)
	}
	return g
}

// isolateResolvConf gives the guest namespace its own /etc/resolv.conf: `ip netns exec` binds
// /etc/netns/<ns>/resolv.conf over it, so that dhclient-script writes there and never into the
// host's.
func (l *Lab) isolateResolvConf(t testing.TB) {
	t.Helper()
	dir := filepath.Join("/etc/netns", l.Guest.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ResolvConf returns what the guest's DHCP clients wrote to its /etc/resolv.conf.
func (l *Lab) ResolvConf() string {
	b, _ := os.ReadFile(filepath.Join("/etc/netns", l.Guest.Name, "resolv.conf"))
	return string(b)
}
