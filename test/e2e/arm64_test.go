package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// aarch64Firmware is the UEFI firmware of Debian's qemu-efi-aarch64 for -M virt.
const aarch64Firmware = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

// arm64BootTimeout bounds the arm64 guest's boot: a whole aarch64 system emulated by TCG on an
// amd64 host (UEFI, GRUB, the kernel, cloud-init's Python) runs several times slower than the
// amd64 guests.
const arm64BootTimeout = 20 * time.Minute

// TestArm64Boot builds the example on the arm64 Debian base image (images/debian/build.sh --arch
// arm64) on this amd64 host, through qemu-user-static and binfmt_misc: the shell provisioner
// runs as aarch64, the provisioner installs the arm64 helper and its verify runs it in the
// guest. It then boots the image in qemu-system-aarch64 (TCG, -M virt -cpu max, UEFI) on the
// IPv6-only lab: the helper must choose IPv6 and write the config.
func TestArm64Boot(t *testing.T) {
	requireGuests(t, "arm64")
	qemu.RequireTools(t, "qemu-system-aarch64", "qemu-aarch64-static")
	netnstest.Require(t)
	requireRoot(t)
	if _, err := os.Stat(aarch64Firmware); err != nil {
		t.Skipf("no UEFI firmware for qemu-system-aarch64 (Debian package qemu-efi-aarch64): %v", err)
	}
	generateHelpers(t)
	env := packertest.New(t)
	base := baseImage(t, "--arch", "arm64")
	b, out := guestBuild(t, env, exampleDir(), base, reportUserData())
	for _, want := range []string{"Guest architecture: aarch64: installing the linux/arm64 helper", "Verified: the helper accepts its config"} {
		if !strings.Contains(out, want) {
			t.Errorf("packer's output lacks %q: the arm64 helper was not installed and run in the guest:\n%s", want, out)
		}
	}
	opts := qemu.Options{Image: b.image, QEMU: "qemu-system-aarch64", CPUs: 2,
		ExtraArgs: []string{"-M", "virt", "-bios", aarch64Firmware}}
	guestBoot{qemu: opts, seed: mustRead(t, reportUserData()), timeout: arm64BootTimeout,
		net:  neutronlab.Spec{Net: 1, IPv6: neutronlab.SLAAC, NoMetadata: true},
		want: want{family: "ipv6", forceSource: userdata.SourceNone}}.run(t)
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
