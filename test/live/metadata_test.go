package live

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/metadata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
)

// forcingUserData is user-data that forces IPv6 with the clearwater key.
const forcingUserData = "#cloud-config\nclearwater:\n  force_ipv6: true\n"

// metadataConfig asks the metadata service with the default bound; the other waits are short.
const metadataConfig = "ipv4_wait: 2s\nipv6_timeout: 3s\nprobe_after: 500ms\nmetadata_timeout: 5s\n"

// openStackDMI makes the image root look like a Nova guest to the helper, as QEMU's
// -smbios type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova does.
func (n *network) openStackDMI(t testing.TB) {
	n.put(t, "/sys/class/dmi/id/sys_vendor", "OpenStack Foundation\n")
	n.put(t, "/sys/class/dmi/id/product_name", "OpenStack Nova\n")
}

// novaService serves Nova's metadata paths on 169.254.169.254:80 in the server namespace (the
// server end holds the address, as Neutron's qdhcp port does on an isolated network): the
// user-data (404 when userData is ""), network_data.json (404 when networkData is ""), 404
// elsewhere. It returns a counter of the user-data requests.
func (n *network) novaService(t testing.TB, userData, networkData string) *atomic.Int32 {
	t.Helper()
	n.srv.AddAddr(t, "169.254.169.254/32")
	return n.novaServiceOn(t, "169.254.169.254:80", userData, networkData)
}

// novaServiceV6 serves the same on [fe80::a9fe:a9fe%rtr0]:80 only, as on an IPv6-only network.
func (n *network) novaServiceV6(t testing.TB, userData, networkData string) *atomic.Int32 {
	t.Helper()
	n.srv.AddAddr(t, "fe80::a9fe:a9fe/64")
	return n.novaServiceOn(t, "[fe80::a9fe:a9fe%"+n.srv.Name+"]:80", userData, networkData)
}

func (n *network) novaServiceOn(t testing.TB, addr, userData, networkData string) *atomic.Int32 {
	t.Helper()
	var l net.Listener
	if err := n.srv.NS.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	asked := new(atomic.Int32)
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == metadata.Path:
			asked.Add(1)
			if userData == "" {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(userData))
		case r.URL.Path == metadata.NetworkDataPath && networkData != "":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(networkData))
		default:
			http.NotFound(w, r)
		}
	})}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return asked
}

// The helper starts before the network, as at boot: the address comes first, the route to
// 169.254.169.254 some hundreds of milliseconds later (dhclient-script adds the classless static
// routes after the address). The toggle that the metadata service serves must still be taken.
func TestMetadataRouteAfterAddress(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, metadataConfig)
	n.openStackDMI(t)
	asked := n.novaService(t, forcingUserData, "")
	h := n.start(t)
	time.Sleep(300 * time.Millisecond)
	n.cli.NS.IP(t, "addr", "add", lease4.String(), "dev", "eth0")
	n.cli.NS.IP(t, "addr", "add", "2001:db8:1::100/64", "dev", "eth0")
	time.Sleep(400 * time.Millisecond)
	n.cli.NS.IP(t, "route", "add", "169.254.169.254/32", "via", srv4.Addr().String())
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv6", netip.MustParseAddr("2001:db8:1::100"), false)
	if !r.ForceIPv6 || r.ForceSource != "user-data:clearwater" || r.Reason("deciding again") == "" {
		t.Errorf("force_ipv6=%t from %q; reasons %q", r.ForceIPv6, r.ForceSource, r.Reasons)
	}
	if asked.Load() != 1 || r.Reason("metadata service asked (metadata_service is auto and SMBIOS sys_vendor") == "" {
		t.Errorf("the service answered %d requests; reasons %q", asked.Load(), r.Reasons)
	}
}

// Without a metadata platform (no SMBIOS, no config drive, no ds=), the helper does not wait
// metadata_timeout (5 s) for a service that is not there.
func TestMetadataNotAOpenStackGuest(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, metadataConfig)
	n.startDHCPv4(t)
	h := n.start(t)
	addr, usable := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, false)
	if r.Reason("metadata service not asked: metadata_service is auto and not an OpenStack guest") == "" {
		t.Errorf("reasons do not say why the service was not asked: %q", r.Reasons)
	}
	// Not a speed target (BenchmarkNoMetadataPlatform is): a helper that asked would be 5 s late.
	if late := h.ended.Sub(usable); late > 2*time.Second {
		t.Errorf("the helper exited %s after the address was usable", late)
	}
}

// On a Nova guest whose instance has no user-data, Nova's 404 ends the wait at once.
func TestMetadata404EndsTheWait(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, metadataConfig)
	n.openStackDMI(t)
	n.novaService(t, "", "{}")
	n.startDHCPv4(t)
	h := n.start(t)
	addr, usable := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, false)
	if r.Reason("no user-data for this instance (HTTP 404)") == "" {
		t.Errorf("reasons do not name the 404: %q", r.Reasons)
	}
	if late := h.ended.Sub(usable); late > 2*time.Second {
		t.Errorf("the helper exited %s after the address was usable", late)
	}
}

// A config drive's network_data.json shapes a forced wait: a port without IPv6 falls back at
// once instead of waiting ipv6_timeout (8 s here); a port with IPv6 is waited for.
func TestNetworkDataFromConfigDrive(t *testing.T) {
	const forcedConfig = "ipv4_wait: 2s\nipv6_timeout: 8s\nprobe_after: 300ms\nmetadata_timeout: 5s\n"
	t.Run("no-ipv6-network", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, forcedConfig)
		n.forceIPv6(t)
		n.configDrive(t, `{"links":[{"id":"tap1","type":"ovs"}],"networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap1"}],"services":[]}`)
		n.startDHCPv4(t)
		h := n.start(t)
		addr, usable := dhcp4(t, n.cli)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv4", addr, true)
		if r.Reason("no port has IPv6, so it was not waited for") == "" {
			t.Errorf("reasons do not say that network_data.json ended the wait: %q", r.Reasons)
		}
		if late := h.ended.Sub(usable); late > 3*time.Second {
			t.Errorf("the helper exited %s after IPv4 was usable: it waited for IPv6", late)
		}
	})
	t.Run("slaac-network", func(t *testing.T) {
		n := newNetwork(t, netnstest.DADOff, forcedConfig)
		n.forceIPv6(t)
		n.configDrive(t, `{"links":[{"id":"tap1","type":"ovs"}],"networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap1"},`+
			`{"id":"network1","type":"ipv6_slaac","link":"tap1"}],"services":[]}`)
		n.startDHCPv4(t)
		h := n.start(t)
		dhcp4(t, n.cli)
		time.Sleep(time.Second) // the router's first advertisement comes late
		n.startSLAAC(t)
		r, code := h.wait(t)
		decided(t, n, r, code, "ipv6", slaacAddr(t, n.cli, slaac), false)
		if r.Reason("network_data.json from config drive") == "" || r.Reason("IPv6 was usable") == "" {
			t.Errorf("reasons do not name network_data.json: %q", r.Reasons)
		}
	})
}

// configDrive puts a config drive as Nova writes it (genisoimage -V config-2, no user_data) at
// ROOT/dev/sr0, linked from ROOT/dev/disk/by-label/config-2.
func (n *network) configDrive(t testing.TB, networkData string) {
	t.Helper()
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		t.Skip("genisoimage not installed (make deps)")
	}
	src := t.TempDir()
	for name, body := range map[string]string{"openstack/latest/meta_data.json": `{"uuid":"6f1c3a4e-0000-4000-8000-000000000001"}`,
		"openstack/latest/network_data.json": networkData} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.put(t, "/dev/disk/by-label/.keep", "")
	iso := filepath.Join(n.root, "dev/sr0")
	if b, err := exec.Command(tool, "-o", iso, "-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-quiet",
		"-J", "-r", "-V", "config-2", src).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v: %s", err, b)
	}
	if err := os.Symlink("/dev/sr0", filepath.Join(n.root, "dev/disk/by-label/config-2")); err != nil {
		t.Fatal(err)
	}
}

// The metadata service's user-data forces IPv6 and its network_data.json says the port has no
// IPv6: deciding again, the helper falls back at once instead of waiting ipv6_timeout (8 s).
func TestNetworkDataFromMetadata(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 2s\nipv6_timeout: 8s\nprobe_after: 300ms\nmetadata_timeout: 5s\n")
	n.openStackDMI(t)
	n.novaService(t, forcingUserData, v4OnlyPort)
	n.startDHCPv4(t)
	h := n.start(t)
	addr, usable := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, true)
	if r.ForceSource != "user-data:clearwater" || r.Reason("network_data.json from the metadata service: IPv4 ipv4_dhcp; IPv6 no IPv6 network: no port has IPv6") == "" {
		t.Errorf("force from %q; reasons %q", r.ForceSource, r.Reasons)
	}
	if late := h.ended.Sub(usable); late > 3*time.Second {
		t.Errorf("the helper exited %s after IPv4 was usable: it waited for IPv6", late)
	}
}

// network_data.json for a port with one IPv4 (DHCP) network, and for one with IPv6 (SLAAC) only.
const (
	v4OnlyPort = `{"links":[{"id":"tap1","type":"ovs"}],"networks":[{"id":"network0","type":"ipv4_dhcp","link":"tap1"}],"services":[]}`
	v6OnlyPort = `{"links":[{"id":"tap1","type":"ovs"}],"networks":[{"id":"network0","type":"ipv6_slaac","link":"tap1"}],"services":[]}`
)

// An IPv6-only Neutron port (the lab's case E), no config drive: the metadata service, asked over
// fe80::a9fe:a9fe while the helper waits, says the port has no IPv4, so the helper settles on
// IPv6 without waiting ipv4_wait (8 s here).
func TestMetadataIPv6OnlyPort(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 8s\nipv6_timeout: 9s\nprobe_after: 500ms\nmetadata_timeout: 5s\n")
	n.openStackDMI(t)
	n.novaServiceV6(t, "", v6OnlyPort)
	n.startSLAAC(t)
	h := n.start(t)
	addr := slaacAddr(t, n.cli, slaac)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv6", addr, false)
	if r.Reason("network_data.json from the metadata service: IPv4 no IPv4 network; IPv6 ipv6_slaac: no port has IPv4") == "" {
		t.Errorf("reasons do not say that network_data.json ended the wait: %q", r.Reasons)
	}
	if took := h.ended.Sub(h.started); took > 6*time.Second {
		t.Errorf("the helper took %s: it waited ipv4_wait", took)
	}
}

// Forced in the image, on a port without IPv6: the metadata service's network_data.json, asked
// while the helper waits for IPv6, makes it fall back at once instead of waiting ipv6_timeout.
func TestMetadataForcedPortWithoutIPv6(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 2s\nipv6_timeout: 8s\nprobe_after: 500ms\nmetadata_timeout: 5s\n")
	n.openStackDMI(t)
	n.forceIPv6(t)
	n.novaService(t, "", v4OnlyPort)
	n.startDHCPv4(t)
	h := n.start(t)
	addr, usable := dhcp4(t, n.cli)
	r, code := h.wait(t)
	decided(t, n, r, code, "ipv4", addr, true)
	if r.Reason("network_data.json from the metadata service: IPv4 ipv4_dhcp; IPv6 no IPv6 network: no port has IPv6") == "" {
		t.Errorf("reasons do not say that network_data.json ended the wait: %q", r.Reasons)
	}
	if late := h.ended.Sub(usable); late > 3*time.Second {
		t.Errorf("the helper exited %s after IPv4 was usable: it waited for IPv6", late)
	}
}

// A run stopped (SIGTERM, the unit's timeout) while it decides again with the metadata service's
// user-data exits Stopped, and its status says it was stopped: it is no config error.
func TestStoppedWhileDecidingAgain(t *testing.T) {
	n := newNetwork(t, netnstest.DADOff, "ipv4_wait: 1s\nipv6_timeout: 1s\nprobe_after: 500ms\nmetadata_timeout: 5s\n")
	n.openStackDMI(t)
	// The service forces IPv6, which this IPv4-only network never gives: the second decision
	// waits ipv6_timeout (60 s), and the run is stopped in that wait.
	asked := n.novaService(t, "#cloud-config\nclearwater:\n  force_ipv6: true\n  ipv6_timeout: 60s\n", "")
	n.cli.NS.IP(t, "addr", "add", lease4.String(), "dev", "eth0")
	n.cli.NS.IP(t, "route", "add", "169.254.169.254/32", "via", srv4.Addr().String())
	h := n.start(t)
	for deadline := time.Now().Add(15 * time.Second); asked.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the metadata service was not asked within 15 s; stderr:\n%s", h.stderr.String())
		}
	}
	// The first decision takes ipv4_wait at most; the second wait, 60 s, is then under way.
	time.Sleep(3 * time.Second)
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r, code := h.wait(t)
	if r.Reason("deciding again with the metadata service's user-data") == "" {
		t.Fatalf("stopped before the second decision; reasons %q", r.Reasons)
	}
	if code != exitcode.Stopped || r.Family != "" || strings.HasPrefix(r.Error, "bad config") || !strings.Contains(r.Error, "stopped before deciding") {
		t.Errorf("exit %d, family %q, error %q; want exit %d, no family, stopped before deciding", code, r.Family, r.Error, exitcode.Stopped)
	}
	if got := n.clearwaterFiles(t); len(got) > 0 {
		t.Errorf("a stopped run wrote %v", got)
	}
}
