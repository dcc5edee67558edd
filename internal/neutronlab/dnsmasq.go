package neutronlab

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// MetadataAddr4 is the metadata service's IPv4 address; MetadataCIDR4 its host route.
const (
	MetadataAddr4 = "169.254.169.254"
	MetadataCIDR4 = "169.254.169.254/32"
	MetadataAddr6 = "fe80::a9fe:a9fe"
)

// leaseSeconds is dhcp_lease_duration's default (86400).
const leaseSeconds = "86400s"

// DnsmasqArgs is the DHCP agent's dnsmasq command line for the spec's network, with conf as
// the network's folder (<dhcp_confs>/<net-id>), in Neutron's order
// (neutron/agent/linux/dhcp.py Dnsmasq._build_cmdline_callback), plus what the test needs to
// own the process and see its log: --keep-in-foreground and the log options that the agent
// adds when dnsmasq_base_log_dir is set, with stderr as the log.
func DnsmasqArgs(s Spec, conf string) []string {
	args := []string{"--no-hosts", "--no-resolv",
		"--pid-file=" + filepath.Join(conf, "pid"),
		"--dhcp-hostsfile=" + filepath.Join(conf, "host"),
		"--addn-hosts=" + filepath.Join(conf, "addn_hosts"),
		"--dhcp-optsfile=" + filepath.Join(conf, "opts"),
		"--dhcp-leasefile=" + filepath.Join(conf, "leases"),
		"--dhcp-match=set:ipxe,175", "--dhcp-userclass=set:ipxe6,iPXE",
		"--local-service", "--bind-dynamic"}
	leaseMax := 0
	if s.IPv4 {
		args = append(args, "--dhcp-range=set:subnet-"+s.subnet4ID()+","+s.subnet4().Addr().String()+",static,255.255.255.0,"+leaseSeconds)
		leaseMax += 256
	}
	// A slaac subnet gets no range: dnsmasq serves it nothing.
	if s.IPv6 == Stateless || s.IPv6 == Stateful {
		args = append(args, "--dhcp-range=set:subnet-"+s.subnet6ID()+","+s.subnet6().Addr().String()+",static,64,"+leaseSeconds)
		leaseMax = 1 << 24 // min(sum of the subnets' sizes, 2**24)
	}
	if leaseMax == 0 {
		leaseMax = 1 << 24 // Neutron counts every subnet, a slaac one included
	}
	args = append(args, fmt.Sprintf("--dhcp-option-force=option:mtu,%d", MTU),
		fmt.Sprintf("--dhcp-lease-max=%d", leaseMax),
		"--conf-file=/dev/null", "--domain=openstacklocal",
		"--keep-in-foreground", "--log-dhcp", "--log-facility=-")
	return args
}

// HostFile is the agent's host file: one line per fixed IP that DHCP hands out. SLAAC and
// stateless addresses are not written.
func HostFile(s Spec) string {
	var b strings.Builder
	if s.IPv4 {
		a := s.GuestIPv4()
		fmt.Fprintf(&b, "%s,%s,%s\n", s.MAC(), fqdn(a), a)
	}
	if s.IPv6 == Stateful {
		a := s.GuestIPv6()
		fmt.Fprintf(&b, "%s,tag:dhcpv6,%s,[%s]\n", s.MAC(), fqdn(a), a)
	}
	return b.String()
}

// fqdn is the port's dns_assignment fqdn for an address: host-<address with - for . and :>
// (2001:db8:1::a5 gives host-2001-db8-1--a5), in openstacklocal, with its trailing dot.
func fqdn(a netip.Addr) string {
	return "host-" + strings.NewReplacer(".", "-", ":", "-").Replace(a.String()) + ".openstacklocal."
}

// OptsFile is the agent's options file for the spec's subnets (Dnsmasq._generate_opts_per_subnet).
// The IPv4 subnet has no dns_nameservers, so it has no dns-server line and dnsmasq offers
// itself; the metadata route goes via the gateway on a routed network, via the DHCP port on an
// isolated one.
func OptsFile(s Spec) string {
	var b strings.Builder
	if s.IPv4 {
		tag := "tag:subnet-" + s.subnet4ID()
		via := s.Gateway4()
		if s.Isolated {
			via = s.DHCPPort4()
		}
		routes := fmt.Sprintf("%s,%s,0.0.0.0/0,%s", MetadataCIDR4, via, s.Gateway4())
		fmt.Fprintf(&b, "%s,option:classless-static-route,%s\n", tag, routes)
		fmt.Fprintf(&b, "%s,249,%s\n", tag, routes)
		fmt.Fprintf(&b, "%s,option:router,%s\n", tag, s.Gateway4())
	}
	// SLAAC subnets get no options.
	if s.IPv6 == Stateless || s.IPv6 == Stateful {
		tag := "tag:subnet-" + s.subnet6ID()
		fmt.Fprintf(&b, "%s,option6:dns-server,[%s]\n", tag, DNS6)
		fmt.Fprintf(&b, "%s,option6:domain-search,openstacklocal\n", tag)
	}
	return b.String()
}

// startDnsmasq writes the network's folder and runs dnsmasq in the DHCP namespace, as the agent
// does; it is killed by PID when the test ends.
func startDnsmasq(t testing.TB, l *Lab) *netnstest.Proc {
	t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		t.Skip("neutronlab: dnsmasq not found (make deps installs dnsmasq-base)")
	}
	// dnsmasq drops root for nobody after it starts and reads the files again on SIGHUP: the
	// folder must be readable to all, as /var/lib/neutron/dhcp is (t.TempDir's is 0700).
	base, err := os.MkdirTemp("", "neutronlab-dhcp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	conf := filepath.Join(base, l.Spec.networkID())
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"host": HostFile(l.Spec), "opts": OptsFile(l.Spec), "addn_hosts": "", "leases": ""} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := l.DHCP.Start(t, bin, DnsmasqArgs(l.Spec, conf)...)
	if err := p.WaitOutput("started, version", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}
