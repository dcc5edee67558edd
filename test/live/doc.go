// Package live proves the clearwater-firstboot helper on real networks: each test builds a server
// and a client network namespace joined by a veth pair, runs DHCP servers and a router (netnstest,
// or Debian's dnsmasq) in the server namespace, runs the helper binary live in the client
// namespace, and plays the OS's network stack there (a real DHCP client exchange, then `ip addr
// add` as networkd would; SLAAC is the kernel's own).
//
// The TestNeutron* tests run the helper on networks that a guest cannot tell from OpenStack's
// (internal/neutronlab: the DHCP agent's dnsmasq, the L3 agent's radvd, the metadata REDIRECT, a
// Nova-like metadata service, Nova's config drives), the guest's network configured as a Debian
// image does it (Debian's dhclient and dhclient-script, the kernel's SLAAC), one subtest per case
// of the lab spec, its faults, and a reboot on another network.
//
// The package holds only tests and a benchmark: go test ./test/live, go test -bench . ./test/live.
// They need root and iproute2; without them they skip, unless CI=true.
package live
