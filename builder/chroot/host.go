package chroot

import "fmt"

// buildHostError says why goos cannot run the builder, or is nil on Linux.
// The plugin is released for every OS because its provisioner and data source
// work anywhere; the builder needs loop devices, mount and chroot.
func buildHostError(goos string) error {
	if goos == "linux" {
		return nil
	}
	return fmt.Errorf("clearwater-chroot needs a Linux build host (this one is %s): it attaches loop devices, "+
		"mounts filesystems and calls chroot; run packer on Linux, or use the clearwater-firstboot provisioner "+
		"and the clearwater-userdata data source with another builder", goos)
}
