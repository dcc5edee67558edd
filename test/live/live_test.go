package live

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/netconf"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// Short waits: each case is over in a few seconds. The metadata service is never asked (there is
// none on these links).
const (
	fastConfig   = "ipv4_wait: 2s\nipv6_timeout: 3s\nprobe_after: 500ms\nmetadata_timeout: 0s\n"
	failConfig   = fastConfig + "on_missing_ipv6: fail\n"
	lateV4Config = "ipv4_wait: 5s\nipv6_timeout: 6s\nprobe_after: 4s\nmetadata_timeout: 0s\n"
)

// decided checks the report and the files of a run that chose want.
func decided(t *testing.T, n *network, r report, code int, family string, want netip.Addr, degraded bool) {
	t.Helper()
	if code != 0 || r.Family != family || r.Address != want.String() || r.Degraded != degraded || r.Interface != "eth0" {
		t.Fatalf("exit %d, %+v; want %s %s on eth0, degraded=%t", code, r, family, want, degraded)
	}
	if got := n.read("/etc/clearwater/local_config"); !strings.Contains(got, "local_ip="+want.String()+"\n") {
		t.Errorf("local_config does not hold local_ip=%s:\n%s", want, got)
	}
	bracketed := want.String()
	if want.Is6() {
		bracketed = "[" + bracketed + "]"
	}
	if got := n.read("/etc/clearwater/shared_config"); !strings.Contains(got, "xdms_hostname="+bracketed+":7888") {
		t.Errorf("shared_config does not use %s:\n%s", bracketed, got)
	}
	if got := n.read("/var/lib/clearwater-firstboot/state.json"); !strings.Contains(got, `"`+want.String()+`"`) {
		t.Errorf("state.json does not record %s: %s", want, got)
	}
}

// nothingWritten checks a run that decided nothing: exit 1 and no Clearwater file.
func nothingWritten(t *testing.T, n *network, r report, code int) {
	t.Helper()
	if code != 1 || r.Family != "" || r.Address != "" {
		t.Fatalf("exit %d, %+v; want exit 1 and no address", code, r)
	}
	if f := n.clearwaterFiles(t); len(f) > 0 {
		t.Errorf("wrote %v although nothing was decided", f)
	}
}

func TestIPv4Only(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.startDHCPv4(t)
	h := n.start(t)
	addr, _ := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, false)
	if addr != lease4.Addr() {
		t.Errorf("the OS got %s, want %s", addr, lease4.Addr())
	}
}

func TestIPv6OnlyDHCPv6(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.startDHCPv6(t)
	n.startManagedRA(t)
	h := n.start(t)
	addr, _ := dhcp6(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv6", lease6, false)
	if addr != lease6 {
		t.Errorf("the OS got %s, want %s", addr, lease6)
	}
	// It waited ipv4_wait for IPv4, and the probe found that the network has none.
	if r.Reason("ipv4_wait") == "" || r.Reason("the network offers no IPv4 here") == "" {
		t.Errorf("reasons do not say it waited for IPv4 and none is offered: %q", r.Reasons)
	}
}

func TestIPv6OnlySLAAC(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.startSLAAC(t)
	r, code := n.runHelper(t)
	decided(t, n, r, code, "ipv6", slaacAddr(t, n.cli, slaac), false)
}

func TestDualStack(t *testing.T) {
	// probe_after well past the test's own DHCP exchange, which a loaded machine slows down: the
	// point is that the helper neither waits nor probes once IPv4 is there.
	n := newNetwork(t, netnstest.DADOff, lateV4Config)
	n.startDHCPv4(t)
	n.startSLAAC(t)
	h := n.start(t)
	slaacAddr(t, n.cli, slaac)
	addr, _ := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, false)
	if r.Reason("ipv4_wait") != "" || r.Reason("probe") != "" {
		t.Errorf("not forced with IPv4 there: no wait and no probe expected: %q", r.Reasons)
	}
}

// Forced on a dual-stack network: IPv6 wins over the IPv4 that is there first. With the kernel's
// DAD on, the SLAAC address is tentative for a while: the helper must wait past it.
func TestDualStackForced(t *testing.T) {
	for _, c := range []struct {
		name string
		dad  netnstest.DAD
	}{{"dad-off", netnstest.DADOff}, {"dad", netnstest.DADDefault}} {
		t.Run(c.name, func(t *testing.T) {
			n := newNetwork(t, c.dad, "ipv4_wait: 2s\nipv6_timeout: 8s\nprobe_after: 5s\nmetadata_timeout: 0s\n")
			n.forceIPv6(t)
			n.startDHCPv4(t)
			h := n.start(t)
			dhcp4(t, n.cli)
			n.startSLAAC(t)
			usable := usableIPv6(t, n.cli, slaac.Contains)
			r, code := h.wait(t)
			decided(t, n, r, code, "ipv6", slaacAddr(t, n.cli, slaac), false)
			if !r.ForceIPv6 || r.ForceSource != "marker" {
				t.Errorf("force_ipv6=%t from %q, want true from marker", r.ForceIPv6, r.ForceSource)
			}
			if len(r.Warnings) == 0 {
				t.Error("IPv6 chosen without the WebSockets warning")
			}
			// usable is when this test saw the address past DAD (it polls every 5 ms): a helper
			// that took it while tentative would have exited well before. Without DAD there is no
			// tentative phase, and which of the two saw the address first is up to the scheduler.
			if c.dad != netnstest.DADOff && h.ended.Before(usable.Add(-20*time.Millisecond)) {
				t.Errorf("the helper exited %s before the address was usable", usable.Sub(h.ended))
			}
		})
	}
}

// Forced, and the network offers no IPv6 at all: fallback takes IPv4, degraded; fail decides
// nothing and writes nothing.
func TestForcedWithoutIPv6(t *testing.T) {
	t.Run("fallback", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		n.forceIPv6(t)
		n.startDHCPv4(t)
		h := n.start(t)
		addr, _ := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		if r.Reason("the network offers no IPv6 here") == "" {
			t.Errorf("no probe verdict for IPv6: %q", r.Reasons)
		}
	})
	// The IPv4 lease comes after ipv6_timeout: the helper waits up to ipv4_wait more for it and
	// falls back, instead of deciding nothing.
	t.Run("fallback to a late IPv4", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 20s\nipv6_timeout: 2s\nprobe_after: 500ms\nmetadata_timeout: 0s\n")
		n.forceIPv6(t)
		n.startDHCPv4(t)
		h := n.start(t)
		time.Sleep(3 * time.Second)
		addr, _ := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		if r.Reason("no usable IPv4 to fall back to when IPv6 was given up: one came") == "" {
			t.Errorf("the wait for IPv4 is not in the reasons: %q", r.Reasons)
		}
	})
	t.Run("fail", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, failConfig)
		n.forceIPv6(t)
		n.startDHCPv4(t)
		h := n.start(t)
		dhcp4(t, n.cli)
		r, code := h.wait(t)
		nothingWritten(t, n, r, code)
		if r.Error == "" {
			t.Error("no error in the report")
		}
	})
}

// IPv4 arrives 2 s after IPv6 is usable: not forced, the helper must still choose IPv4 (it waits
// ipv4_wait, 5 s here, before settling on IPv6).
func TestIPv4LateOnDualStack(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, lateV4Config)
	n.startDHCPv4(t)
	n.startSLAAC(t)
	h := n.start(t)
	slaacAddr(t, n.cli, slaac)
	time.Sleep(2 * time.Second)
	addr, _ := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, false)
}

const cloudInitNetplan = "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"

const debianInterfaces = "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n"

// The network offers a family that the image's network stack never asked for: the status says
// so from the probe, and the helper writes a drop-in for the image's stack, without applying it
// (the root is not /: the fake apply commands on its PATH must not run).
func TestOfferedButNotConfigured(t *testing.T) {
	t.Run("dhcpv6-netplan", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		n.put(t, "/etc/netplan/50-cloud-init.yaml", cloudInitNetplan)
		n.forceIPv6(t)
		n.startDHCPv4(t)
		n.startDHCPv6(t)
		n.startManagedRA(t)
		h := n.start(t)
		addr, _ := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		if s := r.Reason("offers IPv6 but this node has not configured it"); s == "" || !strings.Contains(s, "dhcpv6 "+lease6.String()) {
			t.Errorf("no offered-but-not-configured verdict naming the DHCPv6 lease: %q", r.Reasons)
		}
		want := "netplan drop-in /etc/netplan/90-clearwater-firstboot.yaml now asks for DHCPv6 + router advertisements on eth0; not applied (--root is not /)"
		if r.Reason(want) == "" {
			t.Errorf("no reason %q in %q", want, r.Reasons)
		}
		var doc netconf.NetplanDoc
		got := n.read("/etc/netplan/90-clearwater-firstboot.yaml")
		if err := yaml.Unmarshal([]byte(got), &doc); err != nil || doc.Network.Version != 2 ||
			doc.Network.Ethernets["eth0"] != (netconf.NetplanDevice{DHCP6: true, AcceptRA: true}) {
			t.Errorf("netplan drop-in (%v):\n%s", err, got)
		}
		if got := n.read("/etc/netplan/50-cloud-init.yaml"); got != cloudInitNetplan {
			t.Errorf("the image's netplan file changed:\n%s", got)
		}
		if ran := n.applied(); ran != "" {
			t.Errorf("applied with --root %s: %s", n.root, ran)
		}
	})
	t.Run("slaac-networkd", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		const base = "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\n"
		n.put(t, "/etc/systemd/network/10-eth0.network", base)
		// What networkd does with IPv6AcceptRA=no: the kernel ignores router advertisements.
		n.cli.NS.Sysctl(t, "net/ipv6/conf/eth0/accept_ra", "0")
		n.forceIPv6(t)
		n.startDHCPv4(t)
		n.startSLAAC(t)
		h := n.start(t)
		addr, _ := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		if s := r.Reason("offers IPv6 but this node has not configured it"); s == "" || !strings.Contains(s, "slaac "+slaac.String()) {
			t.Errorf("no offered-but-not-configured verdict naming the SLAAC prefix: %q", r.Reasons)
		}
		dropin := "/etc/systemd/network/10-eth0.network.d/90-clearwater-firstboot.conf"
		if got := n.read(dropin); got != netconf.Header+"[Network]\nDHCP=ipv4\nIPv6AcceptRA=yes\n" {
			t.Errorf("networkd drop-in %s:\n%s", dropin, got)
		}
		if got := n.read("/etc/systemd/network/10-eth0.network"); got != base {
			t.Errorf("the image's .network changed:\n%s", got)
		}
		if ran := n.applied(); ran != "" {
			t.Errorf("applied with --root %s: %s", n.root, ran)
		}
	})
	t.Run("dhcpv4-ifupdown", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		n.put(t, "/etc/network/interfaces", debianInterfaces)
		n.startDHCPv4(t)
		n.startSLAAC(t)
		r, code := n.runHelper(t)
		decided(t, n, r, code, "ipv6", slaacAddr(t, n.cli, slaac), false)
		if s := r.Reason("offers IPv4 but this node has not configured it"); s == "" || !strings.Contains(s, "dhcpv4 "+lease4.String()) {
			t.Errorf("no offered-but-not-configured verdict naming the DHCPv4 lease: %q", r.Reasons)
		}
		if got := n.read("/etc/network/interfaces.d/90-clearwater-firstboot"); !strings.Contains(got, "allow-hotplug eth0\niface eth0 inet dhcp\n") {
			t.Errorf("ifupdown drop-in:\n%s", got)
		}
		if ran := n.applied(); ran != "" {
			t.Errorf("applied with --root %s: %s", n.root, ran)
		}
	})
}

// radvdSLAAC is radvd's config for the router's rtr0: the SLAAC prefix, autonomous.
var radvdSLAAC = "interface rtr0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n" +
	"  prefix " + slaac.String() + " {\n    AdvOnLink on;\n    AdvAutonomous on;\n  };\n};\n"

// The Neutron lab's case B as a real boot saw it: dual stack, SLAAC, the router's first RA after
// the helper's first probe. The kernel takes that RA at once, but its SLAAC address stays
// tentative for DAD (5 probes 1 s apart here) while the probe sees the RA: the status must say
// that the node is configuring IPv6, not that it has not configured it, and the helper must
// leave the image's network config alone (no drop-in, nothing applied).
func TestOfferedWhileConfiguring(t *testing.T) {
	for _, c := range []struct {
		name, optimistic, words string
	}{{"dad", "0", "is tentative (DAD not finished)"}, {"optimistic-dad", "1", "is tentative (optimistic DAD not finished)"}} {
		t.Run(c.name, func(t *testing.T) {
			n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 2s\nipv6_timeout: 20s\nprobe_after: 500ms\nmetadata_timeout: 0s\n")
			n.put(t, "/etc/netplan/50-cloud-init.yaml", cloudInitNetplan)
			// The link-local address passed DAD at link up (DAD was off); the SLAAC address to come
			// gets a long one. The kernel accepts RAs (accept_ra=1, forwarding=0: the defaults).
			conf := "net/ipv6/conf/eth0/"
			n.cli.NS.Sysctl(t, conf+"accept_dad", "1")
			n.cli.NS.Sysctl(t, conf+"dad_transmits", "5")
			n.cli.NS.Sysctl(t, conf+"optimistic_dad", c.optimistic)
			n.cli.NS.Sysctl(t, "net/ipv6/neigh/eth0/retrans_time_ms", "1000")
			n.forceIPv6(t)
			n.startDHCPv4(t)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			solicited := make(chan bool, 1)
			go func() { solicited <- n.srv.AwaitDHCPv6(ctx, t) }()
			h := n.start(t)
			dhcp4(t, n.cli)
			if !<-solicited {
				t.Fatal("the helper's probe never solicited DHCPv6")
			}
			time.Sleep(time.Second)
			netnstest.StartRadvd(t, n.srv, radvdSLAAC)
			r, code := h.wait(t)
			decided(t, n, r, code, "ipv6", slaacAddr(t, n.cli, slaac), false)
			if s := r.Reason("has not configured it"); s != "" {
				t.Errorf("a reason says IPv6 is not configured while the kernel was configuring it: %q", s)
			}
			if s := r.Reason("this node is configuring it: "); s == "" || !strings.Contains(s, "slaac "+slaac.String()) || !strings.Contains(s, c.words) {
				t.Errorf("no reason says the SLAAC address %s was being configured: %q", c.words, r.Reasons)
			}
			if f := dropIns(t, n.root); len(f) > 0 {
				t.Errorf("drop-ins written while the OS was configuring IPv6: %v", f)
			}
			if ran := n.applied(); ran != "" {
				t.Errorf("applied: %s", ran)
			}
		})
	}
}

// dropIns lists the files netconf wrote under root.
func dropIns(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), netconf.Name) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Debian's dnsmasq as the DHCPv4, DHCPv6 and RA server of a dual-stack network; the OS takes
// both leases; forced, the helper chooses dnsmasq's DHCPv6 address.
func TestDnsmasqDualStackForced(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.forceIPv6(t)
	n.srv.LinkLocal(t, 5*time.Second)
	netnstest.StartDnsmasq(t, netnstest.DnsmasqConfig{Link: n.srv, RA: true, Ranges: []string{
		"192.0.2.100,192.0.2.150,255.255.255.0,1h", "2001:db8:1::100,2001:db8:1::1ff,64,1h"}})
	h := n.start(t)
	v4, _ := dhcp4(t, n.cli)
	v6, _ := dhcp6(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv6", v6, false)
	pool := netip.MustParsePrefix("2001:db8:1::/64")
	if !pool.Contains(v6) || !netip.MustParsePrefix("192.0.2.0/24").Contains(v4) {
		t.Errorf("dnsmasq leased %s and %s", v4, v6)
	}
}

// Debian's dnsmasq offers IPv6 that the image never asked for: the probe sees it.
func TestDnsmasqOfferedButNotConfigured(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.forceIPv6(t)
	n.srv.LinkLocal(t, 5*time.Second)
	netnstest.StartDnsmasq(t, netnstest.DnsmasqConfig{Link: n.srv, RA: true, Ranges: []string{
		"192.0.2.100,192.0.2.150,255.255.255.0,1h", "2001:db8:1::100,2001:db8:1::1ff,64,1h"}})
	h := n.start(t)
	addr, _ := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, true)
	if s := r.Reason("offers IPv6 but this node has not configured it"); s == "" || !strings.Contains(s, "dhcpv6 2001:db8:1::") {
		t.Errorf("no offered-but-not-configured verdict naming dnsmasq's DHCPv6 offer: %q", r.Reasons)
	}
}

// Hostile servers: every malformed or invalid reply is ignored with its reason in the status; the
// helper applies nothing, writes no drop-in, and does not crash.
func TestHostileServers(t *testing.T) {
	t.Run("dhcpv4", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		n.put(t, "/etc/netplan/50-cloud-init.yaml", cloudInitNetplan)
		netnstest.StartDHCPv4(t, netnstest.DHCPv4Config{Link: n.srv, Server: srv4.Addr(), Hostile: netnstest.HostileV4})
		r, code := n.runHelper(t)
		nothingWritten(t, n, r, code)
		hostileChecks(t, n, r, "IPv4")
	})
	t.Run("dhcpv6-ra", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, fastConfig)
		n.put(t, "/etc/netplan/50-cloud-init.yaml", cloudInitNetplan)
		n.forceIPv6(t)
		n.startDHCPv4(t)
		netnstest.StartDHCPv6(t, netnstest.DHCPv6Config{Link: n.srv, Hostile: netnstest.HostileV6})
		// Unspecified (::/64) is left out here: see TestHostileRAUnspecifiedPrefix.
		var ra []netnstest.Hostile
		for _, m := range netnstest.HostileRA {
			if m != netnstest.Unspecified {
				ra = append(ra, m)
			}
		}
		netnstest.StartRA(t, netnstest.RAConfig{Link: n.srv, Hostile: ra, Lifetime: -1})
		h := n.start(t)
		addr, _ := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		hostileChecks(t, n, r, "IPv6")
	})
}

func hostileChecks(t *testing.T, n *network, r report, family string) {
	t.Helper()
	s := r.Reason("probe eth0")
	if s == "" || !strings.Contains(s, "the network offers no "+family+" here") || !strings.Contains(s, "invalid replies ignored") {
		t.Errorf("no probe verdict with ignored replies for %s: %q", family, r.Reasons)
	}
	if got := n.read("/etc/netplan/90-clearwater-firstboot.yaml"); got != "" {
		t.Errorf("a drop-in was written for hostile offers:\n%s", got)
	}
	// Nothing the servers offered is on the interface: only what the test itself configured.
	out := n.cli.NS.IP(t, "addr", "show", "dev", "eth0")
	for _, bad := range []string{"127.0.0.1", "224.0.0.1", "169.254.1.1", "240.0.0.1", "192.0.2.77", "2001:db8:77::", "::1/", "2001:db8:66:", "2001:db8:48:"} {
		if strings.Contains(out, bad) {
			t.Errorf("a hostile offer (%s) is on eth0:\n%s", bad, out)
		}
	}
}

// A router advertising the prefix ::/64 with the A flag: the Linux kernel configures an address
// in ::/64 (::xxxx:xxff:fexx:xxxx, scope global) from it. That is not a routable address (::/8 is
// reserved), so the helper must not choose it; forced, it falls back to IPv4.
func TestHostileRAUnspecifiedPrefix(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, fastConfig)
	n.forceIPv6(t)
	n.startDHCPv4(t)
	netnstest.StartRA(t, netnstest.RAConfig{Link: n.srv, Hostile: []netnstest.Hostile{netnstest.Unspecified}, Lifetime: -1})
	h := n.start(t)
	addr, _ := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, true)
}

// No local user-data: the helper asks the metadata service (here over IPv6 link-local, as
// OpenStack serves it on fe80::a9fe:a9fe) once an address is usable; its user-data forces IPv6,
// so the helper decides again and takes the SLAAC address instead of the IPv4 it chose first.
func TestMetadataUserDataForcesIPv6(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 2s\nipv6_timeout: 3s\nprobe_after: 500ms\nmetadata_timeout: 3s\n")
	n.openStackDMI(t)
	n.srv.AddAddr(t, "fe80::a9fe:a9fe/64")
	var l net.Listener
	if err := n.srv.NS.Do(func() (err error) { l, err = net.Listen("tcp", "[fe80::a9fe:a9fe%rtr0]:80"); return err }); err != nil {
		t.Fatal(err)
	}
	asked := make(chan string, 4)
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		w.Write([]byte("#cloud-config\nclearwater:\n  force_ipv6: true\n"))
	})}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	n.startDHCPv4(t)
	n.startSLAAC(t)
	h := n.start(t)
	v6 := slaacAddr(t, n.cli, slaac)
	dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv6", v6, false)
	if !r.ForceIPv6 || r.ForceSource != "user-data:clearwater" || r.Reason("deciding again") == "" {
		t.Errorf("force_ipv6=%t from %q; reasons %q", r.ForceIPv6, r.ForceSource, r.Reasons)
	}
	select {
	case p := <-asked:
		if p != "/openstack/latest/user_data" {
			t.Errorf("asked for %s", p)
		}
	default:
		t.Error("the metadata service was never asked")
	}
}

// The NIC gets its carrier only after probe_after (slow autonegotiation, a late driver): the
// helper must still probe once the link is up, not give up on "no interface to probe".
func TestProbeAfterLateCarrier(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 2s\nipv6_timeout: 3s\nprobe_after: 300ms\nmetadata_timeout: 0s\n")
	n.startDHCPv4(t)
	n.cli.Down(t)
	h := n.start(t)
	time.Sleep(800 * time.Millisecond)
	n.cli.Up(t)
	r, code := h.wait(t)
	nothingWritten(t, n, r, code)
	if s := r.Reason("offers IPv4 but this node has not configured it"); s == "" || !strings.Contains(s, "dhcpv4 "+lease4.String()) {
		t.Errorf("no probe of eth0 once it came up: %q", r.Reasons)
	}
}
