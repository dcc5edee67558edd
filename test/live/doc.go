// Package live proves the clearwater-firstboot helper on real networks: each test builds a server
// and a client network namespace joined by a veth pair, runs DHCP servers and a router (netnstest,
// or Debian's dnsmasq) in the server namespace, runs the helper binary live in the client
// namespace, and plays the OS's network stack there (a real DHCP client exchange, then `ip addr
// add` as networkd would; SLAAC is the kernel's own).
//
// The package holds only tests and a benchmark: go test ./test/live, go test -bench . ./test/live.
// They need root and iproute2; without them they skip, unless CI=true.
package live
