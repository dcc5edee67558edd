package netconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/dhcpprobe"
)

// mkroot builds an image root holding files (path inside the root -> content).
func mkroot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// unchanged fails the test when any of the operator's files differs from what mkroot wrote.
func unchanged(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil || string(got) != body {
			t.Errorf("%s was changed or removed (%v):\n%s", name, err, got)
		}
	}
}

func read(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeTwice writes req, checks it was written, and checks a second identical write is a no-op.
func writeTwice(t *testing.T, root string, req Request) Result {
	t.Helper()
	res, err := Write(root, req)
	if err != nil || !res.Written {
		t.Fatalf("Write(%+v) = %+v, %v", req, res, err)
	}
	before := read(t, root, res.Path)
	again, err := Write(root, req)
	if err != nil || again.Written || again.Path != res.Path {
		t.Fatalf("second Write(%+v) = %+v, %v; want nothing written", req, again, err)
	}
	if after := read(t, root, res.Path); after != before {
		t.Errorf("second Write changed %s:\n%s\nto\n%s", res.Path, before, after)
	}
	return res
}

// netplanShape decodes the drop-in strictly: any key outside netplan's schema fails.
func netplanShape(t *testing.T, data string) NetplanDoc {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(data))
	dec.KnownFields(true)
	var doc NetplanDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("netplan drop-in does not have netplan's shape: %v\n%s", err, data)
	}
	if doc.Network.Version != 2 {
		t.Errorf("network.version = %d, want 2", doc.Network.Version)
	}
	return doc
}

const cloudInitNetplan = `# This file is generated from information provided by the datasource.
network:
    ethernets:
        eth0:
            dhcp4: true
            match:
                macaddress: 52:54:00:12:34:56
            set-name: eth0
    version: 2
`

func TestNetplanDropIn(t *testing.T) {
	files := map[string]string{"/etc/netplan/50-cloud-init.yaml": cloudInitNetplan}
	root := mkroot(t, files)
	res := writeTwice(t, root, Request{Interface: "eth0", DHCPv6: true, AcceptRA: true})
	if res.Stack != Netplan || res.Path != "/etc/netplan/90-clearwater-firstboot.yaml" {
		t.Fatalf("got %+v", res)
	}
	data := read(t, root, res.Path)
	if !strings.HasPrefix(data, Header) {
		t.Errorf("no header:\n%s", data)
	}
	doc := netplanShape(t, data)
	if got := doc.Network.Ethernets["eth0"]; got != (NetplanDevice{DHCP6: true, AcceptRA: true}) || len(doc.Network.Ethernets) != 1 {
		t.Errorf("ethernets = %+v", doc.Network.Ethernets)
	}
	if st, _ := os.Stat(filepath.Join(root, res.Path)); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (netplan warns otherwise)", st.Mode().Perm())
	}
	// A later request for another family and another interface adds to the file.
	writeTwice(t, root, Request{Interface: "eth1", DHCPv4: true})
	doc = netplanShape(t, read(t, root, res.Path))
	if doc.Network.Ethernets["eth0"] != (NetplanDevice{DHCP6: true, AcceptRA: true}) ||
		doc.Network.Ethernets["eth1"] != (NetplanDevice{DHCP4: true}) {
		t.Errorf("after a second request: %+v", doc.Network.Ethernets)
	}
	unchanged(t, root, files)
}

// The drop-in names the interface as the operator's netplan does: by the ID whose set-name or
// match.name gives the interface, in whichever device type defines it.
func TestNetplanUsesTheOperatorsID(t *testing.T) {
	for _, c := range []struct{ name, config, iface, typ, id string }{
		{"set-name", "network:\n  version: 2\n  ethernets:\n    nic0:\n      match: {macaddress: '52:54:00:00:00:01'}\n      set-name: lan0\n      dhcp4: true\n", "lan0", "ethernets", "nic0"},
		{"match-glob", "network:\n  version: 2\n  ethernets:\n    all-en:\n      match: {name: 'en*'}\n      dhcp4: true\n", "ens3", "ethernets", "all-en"},
		{"bridge", "network:\n  version: 2\n  bridges:\n    br0:\n      interfaces: [ens3]\n      dhcp4: true\n", "br0", "bridges", "br0"},
		{"undefined", "network:\n  version: 2\n  ethernets:\n    eth9: {dhcp4: true}\n", "ens3", "ethernets", "ens3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := mkroot(t, map[string]string{"/lib/netplan/00-base.yaml": c.config})
			res := writeTwice(t, root, Request{Interface: c.iface, AcceptRA: true})
			doc := netplanShape(t, read(t, root, res.Path))
			devs := *doc.devices(c.typ)
			if devs[c.id] != (NetplanDevice{AcceptRA: true}) || len(devs) != 1 {
				t.Errorf("%s = %+v, want only %s with accept-ra", c.typ, devs, c.id)
			}
		})
	}
}

func TestNetplanBrokenOperatorFile(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/netplan/01.yaml": "network: [unclosed\n"})
	_, err := Write(root, Request{Interface: "eth0", DHCPv4: true})
	if err == nil || !strings.Contains(err.Error(), "01.yaml") {
		t.Fatalf("err = %v, want one naming the broken file", err)
	}
	if _, err := os.Stat(filepath.Join(root, NetplanFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("wrote a drop-in next to a file netplan cannot read")
	}
}

const debianNetwork = `[Match]
Name=eth0

[Network]
DHCP=ipv4
`

func TestNetworkdDropIn(t *testing.T) {
	files := map[string]string{
		"/etc/systemd/network/05-other.network": "[Match]\nName=!eth*\n[Network]\nDHCP=yes\n",
		"/etc/systemd/network/10-eth0.network":  debianNetwork,
		"/etc/systemd/network/20-all.network":   "[Match]\nName=*\n[Network]\nDHCP=no\n",
	}
	root := mkroot(t, files)
	res := writeTwice(t, root, Request{Interface: "eth0", DHCPv6: true, AcceptRA: true})
	if res.Stack != Networkd || res.Path != "/etc/systemd/network/10-eth0.network.d/90-clearwater-firstboot.conf" {
		t.Fatalf("got %+v", res)
	}
	ini := mustINI(t, root, res.Path)
	// DHCP=ipv4 in the file plus DHCPv6 asked: a drop-in's DHCP= replaces the file's, so it
	// must say both.
	if v, _ := ini.last("Network", "DHCP"); v != "yes" {
		t.Errorf("DHCP=%q, want yes (the operator's ipv4 plus ipv6)", v)
	}
	if v, _ := ini.last("Network", "IPv6AcceptRA"); v != "yes" {
		t.Errorf("IPv6AcceptRA=%q, want yes", v)
	}
	if len(ini) != 2 {
		t.Errorf("unexpected settings: %+v", ini)
	}
	unchanged(t, root, files)
}

// A vendor file in /usr/lib is extended by a drop-in folder in /etc; a file of the same name in
// /etc shadows it; a glob and an empty Name= reset behave as networkd's.
func TestNetworkdMatching(t *testing.T) {
	root := mkroot(t, map[string]string{
		"/usr/lib/systemd/network/80-ether.network":    "[Match]\nName=en* eth*\n[Network]\nDHCP=yes\n",
		"/usr/lib/systemd/network/70-shadowed.network": "[Match]\nName=ens3\n",
		"/etc/systemd/network/70-shadowed.network":     "[Match]\nName=other\n",
		"/run/systemd/network/60-reset.network":        "[Match]\nName=ens3\nName=\nName=eth9\n",
	})
	res := writeTwice(t, root, Request{Interface: "ens3", DHCPv4: true})
	if res.Path != "/etc/systemd/network/80-ether.network.d/90-clearwater-firstboot.conf" {
		t.Fatalf("path %s, want the drop-in of 80-ether.network", res.Path)
	}
	if v, _ := mustINI(t, root, res.Path).last("Network", "DHCP"); v != "yes" {
		t.Errorf("DHCP=%q, want yes (kept from the vendor file)", v)
	}
	for _, c := range []struct {
		values []string
		want   bool
	}{{nil, true}, {[]string{"ens3"}, true}, {[]string{"!ens*"}, false}, {[]string{"!eth*"}, true},
		{[]string{"eth0 ens[0-9]"}, true}, {[]string{"ens3", ""}, true}, {[]string{"x", "", "y"}, false}} {
		if got := matchNames(c.values, "ens3"); got != c.want {
			t.Errorf("matchNames(%q, ens3) = %t, want %t", c.values, got, c.want)
		}
	}
}

const debianInterfaces = `# This file describes the network interfaces available on your system
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
`

const debianCloudInit = `auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
`

func TestIfupdownDropIn(t *testing.T) {
	files := map[string]string{"/etc/network/interfaces": debianInterfaces,
		"/etc/network/interfaces.d/50-cloud-init": debianCloudInit}
	root := mkroot(t, files)
	res := writeTwice(t, root, Request{Interface: "eth0", DHCPv6: true, AcceptRA: true})
	if res.Stack != Ifupdown || res.Path != IfupdownFile {
		t.Fatalf("got %+v", res)
	}
	// The operator's "auto eth0" already brings it up: no second auto line.
	want := Header + "\niface eth0 inet6 dhcp\n"
	if got := read(t, root, res.Path); got != want {
		t.Errorf("drop-in:\n%s\nwant:\n%s", got, want)
	}
	// IPv4 is the operator's already: a second "iface eth0 inet" would conflict.
	if _, err := Write(root, Request{Interface: "eth0", DHCPv4: true}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("second inet stanza: err = %v, want ErrUnsupported", err)
	}
	// Another interface joins the same file, and is brought up by it.
	writeTwice(t, root, Request{Interface: "eth1", AcceptRA: true})
	want = Header + "\niface eth0 inet6 dhcp\n\nallow-hotplug eth1\niface eth1 inet6 auto\n"
	if got := read(t, root, res.Path); got != want {
		t.Errorf("drop-in:\n%s\nwant:\n%s", got, want)
	}
	unchanged(t, root, files)
}

func TestIfupdownNeedsInterfacesD(t *testing.T) {
	for _, c := range []struct {
		main string
		ok   bool
	}{
		{"auto lo\niface lo inet loopback\n", false},
		{"source /etc/network/interfaces.d/*.cfg\n", false},
		{"source-directory interfaces.d\n", true},
		{"source-directory /etc/network/interfaces.d\n", true},
		{"source interfaces.d/*\n", true},
	} {
		root := mkroot(t, map[string]string{"/etc/network/interfaces": c.main})
		_, err := Write(root, Request{Interface: "eth0", DHCPv4: true})
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, ErrUnsupported)) {
			t.Errorf("interfaces %q: err = %v, want ok=%t", c.main, err, c.ok)
		}
	}
}

// netplan wins over networkd (it renders networkd's config), and networkd over ifupdown.
func TestDetectionOrder(t *testing.T) {
	nd := map[string]string{"/etc/systemd/network/10-eth0.network": debianNetwork}
	all := map[string]string{"/etc/netplan/50-cloud-init.yaml": cloudInitNetplan,
		"/etc/network/interfaces": debianInterfaces}
	for k, v := range nd {
		all[k] = v
	}
	for _, c := range []struct {
		files map[string]string
		want  Stack
	}{{all, Netplan}, {map[string]string{"/etc/network/interfaces": debianInterfaces,
		"/etc/systemd/network/10-eth0.network": debianNetwork}, Networkd},
		{map[string]string{"/etc/network/interfaces": debianInterfaces,
			"/etc/systemd/network/10-eth1.network": "[Match]\nName=eth1\n"}, Ifupdown}} {
		res, err := Write(mkroot(t, c.files), Request{Interface: "eth0", AcceptRA: true})
		if err != nil || res.Stack != c.want {
			t.Errorf("%v: got %+v, %v; want %s", c.files, res, err, c.want)
		}
	}
}

func TestNoStack(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/hostname": "cw-aio\n"})
	res := Configure(context.Background(), root, Request{Interface: "eth0", DHCPv4: true})
	if res.Written || res.Stack != "" || !strings.Contains(res.Reason, "not changed") ||
		!strings.Contains(res.Reason, ErrUnsupported.Error()) {
		t.Errorf("got %+v", res)
	}
	for _, bad := range []Request{{Interface: "eth0"}, {Interface: "", DHCPv4: true}, {Interface: "../x", DHCPv4: true}} {
		if _, err := Write(root, bad); err == nil {
			t.Errorf("Write(%+v): no error", bad)
		}
	}
}

// A drop-in path that the image links outside the root resolves inside it, as in a chroot: the
// file outside is kept.
func TestNoEscapeFromRoot(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("keep\n"), 0o644)
	root := mkroot(t, map[string]string{"/etc/netplan/50-cloud-init.yaml": cloudInitNetplan})
	if err := os.Symlink(outside, filepath.Join(root, NetplanFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(root, Request{Interface: "eth0", DHCPv4: true}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, outside)); err != nil || !strings.Contains(string(b), "dhcp4: true") {
		t.Errorf("the drop-in under the root: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep\n" {
		t.Errorf("the file outside the root changed: %q", b)
	}
}

// fakeCommands puts scripts named names first on PATH; each appends its argv to the returned log.
func fakeCommands(t *testing.T, fail string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	for _, n := range names {
		script := "#!/bin/sh\necho \"" + n + " $*\" >> " + log + "\n"
		if n == fail {
			script += "echo boom >&2; exit 3\n"
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

func TestApply(t *testing.T) {
	for _, c := range []struct {
		stack Stack
		want  string
	}{{Netplan, "netplan apply\n"}, {Networkd, "networkctl reload\nnetworkctl reconfigure eth0\n"}, {Ifupdown, "ifup eth0\n"}} {
		log := fakeCommands(t, "", "netplan", "networkctl", "ifup")
		ran, err := Apply(context.Background(), c.stack, "eth0")
		got, _ := os.ReadFile(log)
		if err != nil || string(got) != c.want || len(ran) != strings.Count(c.want, "\n") {
			t.Errorf("%s: ran %q, log %q, err %v; want %q", c.stack, ran, got, err, c.want)
		}
	}
	log := fakeCommands(t, "networkctl", "networkctl")
	ran, err := Apply(context.Background(), Networkd, "eth0")
	if got, _ := os.ReadFile(log); err == nil || !strings.Contains(err.Error(), "boom") || len(ran) != 1 || string(got) != "networkctl reload\n" {
		t.Errorf("failing command: ran %q, err %v, log %q; want a stop at the first failure", ran, err, got)
	}
}

// Apply runs one stack's commands at a time, though the helper probes interfaces in parallel: a
// second `netplan apply` while one runs is recorded by the fake as an overlap.
func TestApplySerialises(t *testing.T) {
	dir := t.TempDir()
	log, busy := filepath.Join(dir, "log"), filepath.Join(dir, "busy")
	script := "#!/bin/sh\nmkdir " + busy + " 2>/dev/null || echo overlap >> " + log +
		"\nsleep 0.1\nrmdir " + busy + " 2>/dev/null\necho done >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(dir, "netplan"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Apply(context.Background(), Netplan, fmt.Sprintf("eth%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if b, _ := os.ReadFile(log); strings.Contains(string(b), "overlap") || strings.Count(string(b), "done") != 4 {
		t.Errorf("the fake netplan's log: %q; want 4 runs, none overlapping", b)
	}
}

// Configure applies only on the running system; for any other root it writes and says so.
func TestConfigureAppliesOnlyOnSlash(t *testing.T) {
	log := fakeCommands(t, "", "netplan", "networkctl", "ifup")
	root := mkroot(t, map[string]string{"/etc/netplan/50-cloud-init.yaml": cloudInitNetplan})
	res := Configure(context.Background(), root, Request{Interface: "eth0", DHCPv6: true, AcceptRA: true})
	if !res.Written || len(res.Applied) != 0 || !strings.Contains(res.Reason, "not applied (--root is not /)") {
		t.Errorf("got %+v", res)
	}
	if b, err := os.ReadFile(log); err == nil {
		t.Errorf("a command ran for root %s: %s", root, b)
	}
}

func TestFromProbe(t *testing.T) {
	pfx := netip.MustParsePrefix("2001:db8:1::/64")
	for _, c := range []struct {
		offers []dhcpprobe.Offer
		want   Request
	}{
		{[]dhcpprobe.Offer{{Kind: dhcpprobe.KindDHCPv4}}, Request{DHCPv4: true}},
		{[]dhcpprobe.Offer{{Kind: dhcpprobe.KindDHCPv6}}, Request{DHCPv6: true, AcceptRA: true}},
		{[]dhcpprobe.Offer{{Kind: dhcpprobe.KindSLAAC, Address: pfx}}, Request{AcceptRA: true}},
		{[]dhcpprobe.Offer{{Kind: dhcpprobe.KindRA, Managed: true}}, Request{DHCPv6: true, AcceptRA: true}},
		{[]dhcpprobe.Offer{{Kind: dhcpprobe.KindRA, Other: true}}, Request{AcceptRA: true}},
		{nil, Request{}},
	} {
		c.want.Interface = "eth0"
		if got := FromProbe(dhcpprobe.Result{Interface: "eth0", Offers: c.offers}); got != c.want {
			t.Errorf("%+v: got %+v, want %+v", c.offers, got, c.want)
		}
	}
}

func TestINI(t *testing.T) {
	f, err := parseINI("f", []byte("# c\n; c\n[Match]\r\nName=a \\\n  b \\\n c\n[Network]\nDHCP = ipv4\nDHCP=ipv6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := f.all("Match", "Name"); len(v) != 1 || v[0] != "a  b  c" {
		t.Errorf("continued Name = %q, want systemd's \"a  b  c\"", v)
	}
	if v, _ := f.last("Network", "DHCP"); v != "ipv6" {
		t.Errorf("DHCP = %q, want the last", v)
	}
	// An option before any section is skipped, as systemd does.
	if f, err := parseINI("f", []byte("Name=eth0\n[Match]\nName=eth1\n")); err != nil || !slices.Equal(f.all("Match", "Name"), []string{"eth1"}) {
		t.Errorf("option before a section: %v, %v", f, err)
	}
	for _, bad := range []string{"[Match]\nbad line\n", "[Match] x\nName=eth0\n"} {
		if _, err := parseINI("/etc/systemd/network/x.network", []byte(bad)); err == nil || !strings.Contains(err.Error(), "x.network is not in systemd's unit file syntax") {
			t.Errorf("parseINI(%q): err = %v, want one naming the file", bad, err)
		}
	}
	if !bytes.Equal([]byte(parseDHCP("Both").String()), []byte("yes")) || parseDHCP("off").String() != "no" {
		t.Error("parseDHCP")
	}
}

// A .network file that go-systemd cannot read is an error naming it, and nothing is written.
func TestNetworkdBrokenOperatorFile(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/systemd/network/10-eth0.network": "[Match]\nName eth0\n"})
	_, err := Write(root, Request{Interface: "eth0", DHCPv4: true})
	if err == nil || !strings.Contains(err.Error(), "10-eth0.network") {
		t.Fatalf("err = %v, want one naming the broken file", err)
	}
	if d := glob(root, "/etc/systemd/network/10-eth0.network.d", ".conf"); len(d) != 0 {
		t.Errorf("wrote %v next to a file it cannot read", d)
	}
}

func mustINI(t *testing.T, root, name string) ini {
	t.Helper()
	f, err := parseINI(name, []byte(read(t, root, name)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The helper probes interfaces at once: concurrent requests all end up in the one drop-in.
func TestConcurrentWrites(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/netplan/50-cloud-init.yaml": cloudInitNetplan})
	names := []string{"eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7"}
	errs := make(chan error, len(names))
	for _, n := range names {
		go func() {
			_, err := Write(root, Request{Interface: n, DHCPv4: true})
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	doc := netplanShape(t, read(t, root, NetplanFile))
	if len(doc.Network.Ethernets) != len(names) {
		t.Errorf("ethernets = %v, want all of %v", doc.Network.Ethernets, names)
	}
}

// netplan itself as the oracle: `netplan generate --root-dir` reads the operator's files and the
// drop-in together and renders systemd-networkd config, which must now enable what was asked on
// the operator's own definition (the drop-in merges into it, it does not define a second one).
func TestNetplanGenerate(t *testing.T) {
	bin, err := exec.LookPath("netplan")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("netplan not found (CI=true, so this is a failure): apt-get install netplan.io")
		}
		t.Skip("netplan not found (apt-get install netplan.io)")
	}
	for _, c := range []struct{ name, config, iface, id, dhcp string }{
		{"cloud-init", cloudInitNetplan, "eth0", "eth0", "yes"},
		{"set-name", "network:\n  version: 2\n  ethernets:\n    nic0:\n      match: {macaddress: '52:54:00:00:00:01'}\n      set-name: lan0\n      dhcp4: true\n", "lan0", "nic0", "yes"},
		{"match-glob", "network:\n  version: 2\n  ethernets:\n    all-en:\n      match: {name: 'en*'}\n", "ens3", "all-en", "ipv6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := mkroot(t, map[string]string{"/etc/netplan/50-base.yaml": c.config})
			os.Chmod(filepath.Join(root, "etc/netplan/50-base.yaml"), 0o600)
			if _, err := Write(root, Request{Interface: c.iface, DHCPv6: true, AcceptRA: true}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "generate", "--root-dir", root).CombinedOutput()
			if err != nil {
				t.Fatalf("netplan generate: %v: %s", err, out)
			}
			rendered := glob(root, "/run/systemd/network", ".network")
			if len(rendered) != 1 || filepath.Base(rendered[0]) != "10-netplan-"+c.id+".network" {
				t.Fatalf("netplan rendered %v, want only 10-netplan-%s.network", rendered, c.id)
			}
			ini := mustINI(t, root, rendered[0])
			if v, _ := ini.last("Network", "DHCP"); v != c.dhcp {
				t.Errorf("rendered DHCP=%q, want %q", v, c.dhcp)
			}
			if v, _ := ini.last("Network", "IPv6AcceptRA"); v != "yes" {
				t.Errorf("rendered IPv6AcceptRA=%q, want yes", v)
			}
		})
	}
}
