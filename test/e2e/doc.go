// Package e2e tests the project end to end: the pinned packer builds example/ with this plugin
// (the clearwater-chroot builder on the Debian base image of images/debian, the
// clearwater-firstboot provisioner, the clearwater-userdata data source), then QEMU boots the
// image on Neutron networks of internal/neutronlab (the DHCP agent's dnsmasq, the L3 agent's
// radvd, a Nova-like metadata service, in network namespaces), as a Nova instance (TestBootNeutron:
// the lab spec's cases A-H and their faults, user-data from the metadata service or a config
// drive) or on a plain KVM host with user-data on a NoCloud seed (TestBoot), and the test checks
// what the helper decided, why, and what it wrote in the guest. Every boot goes through one
// function, guestBoot.run.
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
// <test name>.log (slashes made underscores).
package e2e
