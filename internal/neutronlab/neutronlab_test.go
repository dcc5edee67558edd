package neutronlab

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/seedfs"
)

// The L3 agent's radvd.conf for a slaac subnet, as the reference renders ra.py's template.
const refRadvdSLAAC = `interface qr-XXXXXXXX-XX
{
   AdvSendAdvert on;
   MinRtrAdvInterval 30;
   MaxRtrAdvInterval 100;
   AdvLinkMTU 1450;
   RDNSS  2001:db8::53  {};
   prefix 2001:db8:1::/64
   {
        AdvOnLink on;
        AdvAutonomous on;
   };
   route fe80::a9fe:a9fe/128 {
   };
};
`

func TestRadvdConf(t *testing.T) {
	if got := RadvdConf(Spec{Net: 1, IPv6: SLAAC}, "qr-XXXXXXXX-XX"); got != refRadvdSLAAC {
		t.Errorf("slaac:\n%s\nwant:\n%s", got, refRadvdSLAAC)
	}
	stateless := RadvdConf(Spec{Net: 1, IPv6: Stateless}, "qr-x")
	stateful := RadvdConf(Spec{Net: 1, IPv6: Stateful}, "qr-x")
	for _, c := range []struct {
		conf       string
		has, lacks []string
	}{
		{stateless, []string{"AdvOtherConfigFlag on;", "AdvAutonomous on;", "route fe80::a9fe:a9fe/128"}, []string{"RDNSS", "AdvManagedFlag"}},
		{stateful, []string{"AdvManagedFlag on;", "AdvAutonomous off;", "route fe80::a9fe:a9fe/128"}, []string{"RDNSS", "AdvOtherConfigFlag"}},
	} {
		for _, s := range c.has {
			if !strings.Contains(c.conf, s) {
				t.Errorf("no %q in\n%s", s, c.conf)
			}
		}
		for _, s := range c.lacks {
			if strings.Contains(c.conf, s) {
				t.Errorf("%q in\n%s", s, c.conf)
			}
		}
	}
}

func TestDnsmasqFiles(t *testing.T) {
	s := Spec{Net: 1, IPv4: true, IPv6: Stateful}
	wantHosts := "fa:16:3e:00:01:05,host-10-0-1-5.openstacklocal.,10.0.1.5\n" +
		"fa:16:3e:00:01:05,tag:dhcpv6,host-2001-db8-1--a5.openstacklocal.,[2001:db8:1::a5]\n"
	if got := HostFile(s); got != wantHosts {
		t.Errorf("host file:\n%s\nwant:\n%s", got, wantHosts)
	}
	v4, v6 := "tag:subnet-"+s.subnet4ID(), "tag:subnet-"+s.subnet6ID()
	wantOpts := v4 + ",option:classless-static-route,169.254.169.254/32,10.0.1.1,0.0.0.0/0,10.0.1.1\n" +
		v4 + ",249,169.254.169.254/32,10.0.1.1,0.0.0.0/0,10.0.1.1\n" +
		v4 + ",option:router,10.0.1.1\n" +
		v6 + ",option6:dns-server,[2001:db8::53]\n" +
		v6 + ",option6:domain-search,openstacklocal\n"
	if got := OptsFile(s); got != wantOpts {
		t.Errorf("opts file:\n%s\nwant:\n%s", got, wantOpts)
	}
	iso := OptsFile(Spec{Net: 1, IPv4: true, Isolated: true})
	if !strings.Contains(iso, "169.254.169.254/32,10.0.1.2,0.0.0.0/0,10.0.1.1") {
		t.Errorf("isolated: no metadata route via the DHCP port:\n%s", iso)
	}
	if got := HostFile(Spec{Net: 1, IPv6: SLAAC}) + OptsFile(Spec{Net: 1, IPv6: SLAAC}); got != "" {
		t.Errorf("a slaac subnet got host or option lines:\n%s", got)
	}
	args := strings.Join(DnsmasqArgs(Spec{Net: 1, IPv4: true, IPv6: SLAAC}, "/d"), " ")
	for _, want := range []string{"--no-hosts --no-resolv --pid-file=/d/pid --dhcp-hostsfile=/d/host --addn-hosts=/d/addn_hosts --dhcp-optsfile=/d/opts --dhcp-leasefile=/d/leases --dhcp-match=set:ipxe,175 --dhcp-userclass=set:ipxe6,iPXE --local-service --bind-dynamic --dhcp-range=set:subnet-" + s.subnet4ID() + ",10.0.1.0,static,255.255.255.0,86400s --dhcp-option-force=option:mtu,1450",
		"--conf-file=/dev/null --domain=openstacklocal"} {
		if !strings.Contains(args, want) {
			t.Errorf("command line lacks %q:\n%s", want, args)
		}
	}
	if strings.Contains(args, "2001:db8") {
		t.Errorf("a slaac subnet got a --dhcp-range:\n%s", args)
	}
}

func TestNetworkData(t *testing.T) {
	var nd struct {
		Links []struct {
			MTU *int   `json:"mtu"`
			MAC string `json:"ethernet_mac_address"`
		} `json:"links"`
		Networks []struct {
			Type      string `json:"type"`
			IPAddress string `json:"ip_address"`
		} `json:"networks"`
	}
	if err := json.Unmarshal(NetworkData(Spec{Net: 2, IPv4: true, IPv6: SLAAC}), &nd); err != nil {
		t.Fatal(err)
	}
	if len(nd.Links) != 1 || nd.Links[0].MTU != nil || nd.Links[0].MAC != "fa:16:3e:00:02:05" {
		t.Errorf("links: %+v", nd.Links)
	}
	if len(nd.Networks) != 2 || nd.Networks[0].Type != "ipv4_dhcp" || nd.Networks[0].IPAddress != "" ||
		nd.Networks[1].Type != "ipv6_slaac" || nd.Networks[1].IPAddress != "2001:db8:2:0:f816:3eff:fe00:205" {
		t.Errorf("networks: %+v", nd.Networks)
	}
	if got := string(NetworkData(Spec{Net: 1, IPv4: true, EmptyNetworkData: true})); got != "{}" {
		t.Errorf("empty network data: %s", got)
	}
}

// Both formats, read back with the helper's own reader (firstboot/seedfs) and, for iso9660,
// with isoinfo for the volume id and publisher Nova sets.
func TestConfigDrive(t *testing.T) {
	s := Spec{Net: 1, IPv4: true, IPv6: SLAAC, UserData: []byte("#cloud-config\nclearwater:\n  force_ipv6: true\n"),
		VendorData: []byte("#cloud-config\nbootcmd: [true]\n")}
	var vendor map[string]string
	if err := json.Unmarshal(ConfigDriveFiles(s)["openstack/latest/vendor_data.json"], &vendor); err != nil || vendor["cloud-init"] != string(s.VendorData) {
		t.Errorf("vendor_data.json: %v, %v; want {\"cloud-init\": %q}", vendor, err, s.VendorData)
	}
	if got := string(ConfigDriveFiles(Spec{Net: 1, IPv4: true})["openstack/latest/vendor_data.json"]); got != "{}" {
		t.Errorf("vendor_data.json without vendor data: %s, want {}", got)
	}
	for _, format := range []string{ISO9660, VFAT} {
		t.Run(format, func(t *testing.T) {
			for _, tool := range map[string][]string{ISO9660: {"genisoimage"}, VFAT: {"mkfs.vfat", "mcopy"}}[format] {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s not found (make deps)", tool)
				}
			}
			root := t.TempDir()
			p := AttachConfigDrive(t, s, format, root)
			dev, err := seedfs.FindByLabel(root, ConfigDriveLabel)
			if err != nil || dev != p {
				t.Fatalf("FindByLabel: %q, %v; want %s", dev, err, p)
			}
			fsys, err := seedfs.OpenPath(dev)
			if err != nil {
				t.Fatal(err)
			}
			defer fsys.Close()
			for name, want := range ConfigDriveFiles(s) {
				got, err := fsys.ReadFile(name)
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: %q, %v; want %q", name, got, err, want)
				}
			}
			if _, err := fsys.ReadFile("openstack/2013-04-04/network_data.json"); err == nil {
				t.Error("network_data.json in a version older than 2015-10-15")
			}
			if format == ISO9660 {
				out, err := exec.Command("isoinfo", "-d", "-i", p).CombinedOutput()
				if err == nil && (!strings.Contains(string(out), "Volume id: config-2") ||
					!strings.Contains(string(out), "Publisher id: "+novaProduct)) {
					t.Errorf("isoinfo -d:\n%s", out)
				}
			}
		})
	}
}

// Nova's EC2 tree, which cloud-init's OpenStack data source reads after the OpenStack one.
func TestMetadataEC2(t *testing.T) {
	m := newMetadata(Spec{Net: 1, IPv4: true})
	for path, want := range map[string]string{
		"/latest/meta-data/":                                "ami-id\nami-launch-index\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nplacement/\nreservation-id\nsecurity-groups",
		"/2009-04-04/meta-data/placement/":                  "availability-zone",
		"/2009-04-04/meta-data/placement/availability-zone": "nova",
		"/latest/meta-data/local-ipv4":                      "10.0.1.5",
		"/latest/meta-data/ami-launch-index":                "0",
		"/latest/meta-data/security-groups":                 "default",
		"/latest/meta-data/nope":                            "404",
		"/latest/meta-data/local-ipv4/x":                    "404",
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		got := rec.Body.String()
		if rec.Code == http.StatusNotFound {
			got = "404"
		}
		if got != want {
			t.Errorf("GET %s: %d %q, want %q", path, rec.Code, got, want)
		}
	}
}

// A routed dual-stack slaac network, live: the guest's real dhclient gets the host file's
// address and the RFC 3442 route to the metadata service via the gateway; the kernel takes the
// EUI-64 address from radvd; the metadata answers through the router's REDIRECT on both
// addresses (the IPv6 one through the RA's route), with Nova's 404 for the missing user-data.
func TestLabRoutedSLAAC(t *testing.T) {
	s := Spec{Net: 1, IPv4: true, IPv6: SLAAC, RouteInfo: true}
	l := Start(t, s)
	l.Boot(t)
	waitAddr(t, l, s.GuestIPv4())
	waitAddr(t, l, s.GuestIPv6())
	waitRoute(t, l, "-4", "169.254.169.254 via 10.0.1.1")
	waitRoute(t, l, "-6", "fe80::a9fe:a9fe via fe80::f816:3eff:fe00:101")
	for _, host := range []string{"169.254.169.254", "[fe80::a9fe:a9fe%25eth0]"} {
		code, body := get(t, l, "http://"+host+"/openstack/latest/user_data")
		if code != 404 {
			t.Errorf("%s user_data: %d %q, want Nova's 404", host, code, body)
		}
		code, body = get(t, l, "http://"+host+"/openstack/latest")
		if code != 200 || body != "meta_data.json\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json" {
			t.Errorf("%s /openstack/latest: %d %q", host, code, body)
		}
	}
	reqs := l.Metadata.Asked("/openstack/latest/user_data")
	if len(reqs) != 2 || !strings.HasSuffix(reqs[0].Local, ":"+ProxyPort) {
		t.Errorf("the proxy behind the REDIRECT saw %+v", reqs)
	}
	if rc := l.ResolvConf(); !strings.Contains(rc, "nameserver 10.0.1.2") {
		t.Errorf("dhclient-script's resolv.conf (dnsmasq offers itself):\n%s", rc)
	}
}

// A dual-stack dhcpv6-stateful network: dnsmasq leases the host file's IPv6 address to the
// guest's dhclient -6 (M flag, no SLAAC address).
func TestLabStateful(t *testing.T) {
	s := Spec{Net: 3, IPv4: true, IPv6: Stateful, UserData: []byte("#cloud-config\n")}
	l := Start(t, s)
	l.Boot(t)
	waitAddr(t, l, s.GuestIPv4())
	waitAddr(t, l, s.GuestIPv6())
	if out := l.Guest.IP(t, "-6", "addr", "show", "dev", GuestDev, "scope", "global"); strings.Contains(out, "f816:3eff") {
		t.Errorf("a SLAAC address with AdvAutonomous off:\n%s", out)
	}
	if code, body := get(t, l, "http://169.254.169.254/openstack/latest/user_data"); code != 200 || body != "#cloud-config\n" {
		t.Errorf("user_data: %d %q", code, body)
	}
}

// An isolated network: the metadata route points at the DHCP port, which serves it.
func TestLabIsolated(t *testing.T) {
	s := Spec{Net: 4, IPv4: true, Isolated: true}
	l := Start(t, s)
	l.Boot(t)
	waitAddr(t, l, s.GuestIPv4())
	waitRoute(t, l, "-4", "169.254.169.254 via 10.0.4.2")
	if code, _ := get(t, l, "http://169.254.169.254/latest/user-data"); code != 404 {
		t.Errorf("EC2 user-data without user-data: %d, want 404", code)
	}
	if code, body := get(t, l, "http://169.254.169.254/openstack/latest/network_data.json"); code != 200 || !strings.Contains(body, `"ipv4_dhcp"`) {
		t.Errorf("network_data.json: %d %s", code, body)
	}
}

// waitAddr waits (at most 15 s) until addr is on the guest's eth0 and past DAD.
func waitAddr(t *testing.T, l *Lab, addr netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := l.Guest.IP(t, "-o", "addr", "show", "dev", GuestDev)
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " "+addr.String()+"/") && !strings.Contains(line, "tentative") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usable %s on the guest after 15 s:\n%s\ndnsmasq:\n%s", addr, out, l.Dnsmasq.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitRoute(t *testing.T, l *Lab, family, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := l.Guest.IP(t, family, "route", "show")
		if strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no route %q on the guest after 15 s:\n%s", want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches url from the guest namespace.
func get(t *testing.T, l *Lab, url string) (int, string) {
	t.Helper()
	var conn net.Conn
	u := strings.TrimPrefix(url, "http://")
	host, _, _ := strings.Cut(u, "/")
	host = strings.Replace(host, "%25", "%", 1)
	err := l.Guest.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(strings.Trim(host, "[]"), "80"), 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("connect %s from the guest: %v", url, err)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A dual-stack dhcpv6-stateless network: the kernel takes the EUI-64 address from the RA (O
// flag) and dhclient -6 -S asks dnsmasq for the other configuration only.
func TestLabStateless(t *testing.T) {
	s := Spec{Net: 5, IPv4: true, IPv6: Stateless}
	l := Start(t, s)
	l.Boot(t)
	waitAddr(t, l, s.GuestIPv6())
	// dnsmasq logs the reply's options after the request.
	if err := l.Dnsmasq.WaitOutput("DHCPINFORMATION-REQUEST", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Dnsmasq.WaitOutput("dns-server  2001:db8::53", 2*time.Second); err != nil {
		t.Errorf("the information-request was not answered with the subnet's DNS server: %v", err)
	}
	if strings.Contains(l.Dnsmasq.Output(), "DHCPSOLICIT") {
		t.Error("the guest solicited an address on a stateless subnet")
	}
}

// The fault switches do what they say.
func TestLabFaults(t *testing.T) {
	t.Run("hold-RA", func(t *testing.T) {
		s := Spec{Net: 6, IPv6: SLAAC, HoldRA: true}
		l := Start(t, s)
		l.Boot(t)
		l.GuestPort.LinkLocal(t, 10*time.Second) // the guest has sent its router solicitations
		if out := l.Guest.IP(t, "-6", "addr", "show", "dev", GuestDev, "scope", "global"); out != "" {
			t.Fatalf("an IPv6 address before radvd started:\n%s", out)
		}
		l.StartRadvd(t)
		waitAddr(t, l, s.GuestIPv6())
	})
	t.Run("block-DHCPv6", func(t *testing.T) {
		s := Spec{Net: 7, IPv6: Stateful, BlockDHCPv6: true}
		l := Start(t, s)
		g := l.Boot(t)
		if err := g.DHCPv6.WaitOutput("Sending on", 5*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // dhclient -6 solicits within 1 s, then again
		if strings.Contains(l.Dnsmasq.Output(), "DHCPSOLICIT") {
			t.Errorf("dnsmasq saw a solicit through the block:\n%s", l.Dnsmasq.Output())
		}
		if out := l.Guest.IP(t, "-6", "addr", "show", "dev", GuestDev, "scope", "global"); strings.Contains(out, s.GuestIPv6().String()) {
			t.Errorf("the guest got its address through the block:\n%s", out)
		}
	})
	// dhclient-script adds the leased address with lifetimes, so the kernel deletes it when its
	// DAD fails (a permanent address would stay, marked dadfailed): either way it never becomes
	// usable, where TestLabStateful's does.
	t.Run("DAD-clash", func(t *testing.T) {
		s := Spec{Net: 8, IPv6: Stateful, DADClash: true}
		l := Start(t, s)
		g := l.Boot(t)
		if err := g.DHCPv6.WaitOutput("Bound to lease", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		for range 60 { // 3 s: past the guest's DAD (1 s) with room
			out := l.Guest.IP(t, "-o", "-6", "addr", "show", "dev", GuestDev)
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, " "+s.GuestIPv6().String()+"/") && !strings.Contains(line, "tentative") {
					t.Fatalf("the clashing address became usable:\n%s", out)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
