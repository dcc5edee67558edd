// Package e2e tests the project end to end: the pinned packer builds example/ with this plugin
// (the clearwater-chroot builder on the Debian base image of images/debian, the
// clearwater-firstboot provisioner, the clearwater-userdata data source), then QEMU boots the
// image on networks the test serves (DHCPv4, DHCPv6 and router advertisements in network
// namespaces) with user-data on a NoCloud seed, and the test checks what the helper decided and
// wrote in the guest.
//
// TestQemuBuild bakes the image the way most pipelines do instead: example/qemu with packer's
// qemu builder (packer-plugin-qemu, pinned in tools/packer-plugin-qemu and built on first use)
// boots the cloud variant of the base image under TCG, logs in over SSH and provisions through
// sudo (passwordless, with a password, and none), then boots the result on an IPv6 lab.
// example/openstack is validated with the real packer-plugin-openstack.
//
// Its tests need root, QEMU and the Debian tools of test/qemu; without them they skip, unless
// CI=true, where they fail. Run them with:
//
//	go test -v -count=1 -timeout 30m ./test/e2e/
//
// With CW_E2E_SERIAL_DIR set to a directory, each guest's serial console is kept there as
// <case>.log.
package e2e
