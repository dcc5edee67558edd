package live

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
)

// forceUserData is the instance's user-data that forces IPv6.
const forceUserData = "#cloud-config\nclearwater:\n  force_ipv6: true\n"

// neutronConfig is the helper's config baked in the image: short waits, and the default
// metadata_service and metadata_timeout.
const neutronConfig = "ipv4_wait: 3s\nipv6_timeout: 10s\nprobe_after: 2s\n"

// instance is one instance's disk: the image root the helper runs on, across boots.
type instance struct {
	root, fakes string
}

func newInstance(t testing.TB) *instance {
	t.Helper()
	in := &instance{root: t.TempDir(), fakes: fakeApply(t)}
	in.put(t, "/etc/clearwater/firstboot.yaml", neutronConfig)
	return in
}

func (in *instance) put(t testing.TB, name, body string) {
	t.Helper()
	p := filepath.Join(in.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(in.root, name))
	return string(b)
}

// booted is what one boot gave.
type booted struct {
	lab      *neutronlab.Lab
	r        report
	code     int
	h        *helper
	metaPath time.Time // when the guest first had a route to 169.254.169.254 (zero: never)
	ipv4     time.Time // when the guest first had its IPv4 address (zero: never)
}

// bootOpts vary a boot.
type bootOpts struct {
	drive  string                // the config drive's format; "" for none
	dmi    map[string]string     // the platform; nil means Nova's (neutronlab.NovaDMI)
	during func(*neutronlab.Lab) // runs once the OS is booting (a late RA, say)
	// linkLocalFirst starts the OS's DHCP clients only once the guest's link-local address is
	// past DAD (a DHCP server slower than DAD): the helper can then reach out over IPv6
	// link-local from its first IPv4 address on, and a connect there waits for an answer
	// instead of failing at once.
	linkLocalFirst bool
}

// boot boots the instance once on a new lab of spec, as Nova and the image do: the platform's
// DMI and the config drive under the root, /run emptied (a tmpfs), the helper started before
// the network is configured (its place at boot), then the OS's DHCP clients.
func (in *instance) boot(t testing.TB, spec neutronlab.Spec, o bootOpts) booted {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(in.root, "run")); err != nil {
		t.Fatal(err)
	}
	if o.dmi == nil {
		o.dmi = neutronlab.NovaDMI(spec)
	}
	neutronlab.WritePlatform(t, in.root, o.dmi)
	neutronlab.DetachConfigDrive(t, in.root)
	if o.drive != "" {
		neutronlab.AttachConfigDrive(t, spec, o.drive, in.root)
	}
	l := neutronlab.Start(t, spec)
	b := booted{lab: l}
	stop := make(chan struct{})
	events := watchIP(t, l.Guest, stop, neutronlab.MetadataAddr4+" via", "inet "+spec.GuestIPv4().String()+"/")
	b.h = startHelper(t, l.Guest, in.root, in.fakes)
	if o.linkLocalFirst {
		l.GuestPort.LinkLocal(t, 10*time.Second)
	}
	l.Boot(t)
	if o.during != nil {
		o.during(l)
	}
	b.r, b.code = b.h.wait(t)
	close(stop)
	seen := <-events
	b.metaPath, b.ipv4 = seen[0], seen[1]
	if _, bench := t.(*testing.B); !bench && !b.metaPath.IsZero() {
		t.Logf("helper exit %s after the route to the metadata service", b.h.ended.Sub(b.metaPath).Round(time.Millisecond))
	}
	return b
}

// watchIP runs `ip -n ns -ts monitor address route` until stop and sends, for each match,
// the kernel event time (ip's timestamp of the netlink message) of the first line holding it;
// zero for a match never seen. It returns once the monitor listens (it saw a marker address
// come and go on lo).
func watchIP(t testing.TB, ns *netnstest.NS, stop <-chan struct{}, matches ...string) <-chan []time.Time {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns.Name, "-ts", "monitor", "address", "route")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := make([]time.Time, len(matches))
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The monitor subscribes some time after it starts: show it a marker until it sees one.
	const marker = "127.0.0.2/8"
	for ready, try := false, 0; !ready; try++ {
		if try == 50 {
			_ = cmd.Process.Kill()
			t.Fatal("ip monitor: no event for the marker address after 50 tries")
		}
		ns.IP(t, "addr", "add", marker, "dev", "lo")
		ns.IP(t, "addr", "del", marker, "dev", "lo")
		ready = awaitLine(lines, marker, 200*time.Millisecond)
	}
	first := make(chan []time.Time, 1)
	go func() {
		defer func() { first <- seen }()
		for {
			select {
			case <-stop:
				_ = cmd.Process.Kill() // our own ip monitor, by PID
				for range lines {
				}
				_ = cmd.Wait()
				return
			case line, ok := <-lines:
				if !ok {
					_ = cmd.Wait()
					return
				}
				stamp, rest, _ := strings.Cut(strings.TrimPrefix(line, "["), "] ")
				at, err := time.ParseInLocation("2006-01-02T15:04:05.000000", stamp, time.Local)
				for i, m := range matches {
					if err == nil && seen[i].IsZero() && strings.Contains(rest, m) {
						seen[i] = at
					}
				}
			}
		}
	}()
	return first
}

// awaitLine reads lines until one holds s (true) or timeout passes (false).
func awaitLine(lines <-chan string, s string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return false
			}
			if strings.Contains(line, s) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// want is what a boot must decide.
type want struct {
	family   string // ipv4 or ipv6
	degraded bool
	toggle   string // where the force_ipv6 toggle comes from: "metadata", "config-drive", "" (not forced)
}

// check checks the boot's decision, its status file, the files written and the toggle.
func (in *instance) check(t *testing.T, b booted, w want) {
	t.Helper()
	s := b.lab.Spec
	addr := s.GuestIPv4()
	if w.family == "ipv6" {
		addr = s.GuestIPv6()
	}
	r := b.r
	if b.code != 0 || r.Family != w.family || r.Address != addr.String() || r.Degraded != w.degraded || r.Interface != neutronlab.GuestDev {
		t.Errorf("exit %d, %s %s on %q degraded=%t; want %s %s on eth0 degraded=%t (error %q)",
			b.code, r.Family, r.Address, r.Interface, r.Degraded, w.family, addr, w.degraded, r.Error)
	}
	st, err := status.Read(in.root)
	if err != nil || st.Family != r.Family || st.Address != r.Address || st.ForceIPv6 != r.ForceIPv6 || st.Time == "" {
		t.Errorf("status file: %+v, %v; the run printed %s %s force=%t", st, err, r.Family, r.Address, r.ForceIPv6)
	}
	if got := in.read(aioconfig.LocalConfig); b.code == 0 && !strings.Contains(got, "local_ip="+r.Address+"\n") {
		t.Errorf("local_config does not hold local_ip=%s:\n%s", r.Address, got)
	}
	switch w.toggle {
	case "":
		if r.ForceIPv6 || r.ForceSource != "none" {
			t.Errorf("force_ipv6=%t from %q, want not forced", r.ForceIPv6, r.ForceSource)
		}
	default:
		if !r.ForceIPv6 || r.ForceSource != "user-data:clearwater" || !strings.HasPrefix(r.UserData, w.toggle+":") {
			t.Errorf("force_ipv6=%t from %q (user-data %q): the toggle in the %s user-data was missed",
				r.ForceIPv6, r.ForceSource, r.UserData, w.toggle)
		}
	}
	if w.toggle == "metadata" {
		if asked := b.lab.Metadata.Asked("/openstack/latest/user_data"); len(asked) == 0 || asked[len(asked)-1].Status != 200 {
			t.Errorf("the metadata service served no user_data (requests %+v)", b.lab.Metadata.Requests())
		}
	}
	if t.Failed() {
		t.Logf("guest addresses:\n%s\nroutes:\n%s%s", b.lab.Guest.IP(t, "-o", "addr"), b.lab.Guest.IP(t, "route"), b.lab.Guest.IP(t, "-6", "route"))
	}
}

// The lab spec's cases A to H, each on a network that Neutron would build, with the toggle in
// the instance's user-data (from the metadata service, or from the config drive in H).
func TestNeutronLab(t *testing.T) {
	force := []byte(forceUserData)
	for _, c := range []struct {
		name  string
		spec  neutronlab.Spec
		drive string
		want  want
	}{
		{"A-v4-only-routed", neutronlab.Spec{Net: 1, IPv4: true, UserData: force}, "", want{"ipv4", true, "metadata"}},
		{"B-dual-slaac", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, UserData: force}, "", want{"ipv6", false, "metadata"}},
		{"C-dual-stateless", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.Stateless, UserData: force}, "", want{"ipv6", false, "metadata"}},
		{"D-dual-stateful", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.Stateful, UserData: force}, "", want{"ipv6", false, "metadata"}},
		{"E-v6-only-slaac", neutronlab.Spec{Net: 1, IPv6: neutronlab.SLAAC, RouteInfo: true, UserData: force}, "", want{"ipv6", false, "metadata"}},
		{"F-v6-only-stateful", neutronlab.Spec{Net: 1, IPv6: neutronlab.Stateful, RouteInfo: true, UserData: force}, "", want{"ipv6", false, "metadata"}},
		{"G-isolated", neutronlab.Spec{Net: 1, IPv4: true, Isolated: true, UserData: force}, "", want{"ipv4", true, "metadata"}},
		{"H-config-drive-only-iso9660", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true, UserData: force}, neutronlab.ISO9660, want{"ipv6", false, "config-drive"}},
		{"H-config-drive-only-vfat", neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true, UserData: force}, neutronlab.VFAT, want{"ipv6", false, "config-drive"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newInstance(t)
			in.check(t, in.boot(t, c.spec, bootOpts{drive: c.drive}), c.want)
		})
	}
}

// The lab spec's faults.
func TestNeutronLabFaults(t *testing.T) {
	force := []byte(forceUserData)
	dualSLAAC := neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, UserData: force}
	dualStateful := neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.Stateful, UserData: force}

	// radvd starts 3 s after the OS: forced, the helper waits for the SLAAC address.
	t.Run("late-RA", func(t *testing.T) {
		spec := dualSLAAC
		spec.HoldRA = true
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{during: func(l *neutronlab.Lab) {
			time.Sleep(3 * time.Second)
			l.StartRadvd(t)
		}})
		in.check(t, b, want{"ipv6", false, "metadata"})
	})
	// A firewall eats DHCPv6: forced, the port has IPv6 but it never comes; fall back.
	t.Run("udp-547-blocked", func(t *testing.T) {
		spec := dualStateful
		spec.BlockDHCPv6 = true
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{})
		in.check(t, b, want{"ipv4", true, "metadata"})
	})
	// Another port holds the instance's address: its DAD fails, the address is never usable.
	t.Run("dad-clash", func(t *testing.T) {
		spec := dualStateful
		spec.DADClash = true
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{})
		in.check(t, b, want{"ipv4", true, "metadata"})
		if strings.Contains(b.r.Address, spec.GuestIPv6().String()) {
			t.Errorf("chose the dadfailed %s", spec.GuestIPv6())
		}
	})
	// No user-data: Nova's 404 is an answer. The helper asks, takes the 404, and decides IPv4
	// at once: well under metadata_timeout (5 s) after the route to the service exists.
	t.Run("no-user-data", func(t *testing.T) {
		spec := dualSLAAC
		spec.UserData = nil
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{})
		in.check(t, b, want{"ipv4", false, ""})
		asked := b.lab.Metadata.Asked("/openstack/latest/user_data")
		if len(asked) == 0 || asked[len(asked)-1].Status != 404 {
			t.Errorf("the helper never got Nova's 404 for user_data (requests %+v)", b.lab.Metadata.Requests())
		}
		if b.r.Reason("404") == "" {
			t.Errorf("the status does not say the metadata service had no user-data (404): %q", b.r.Reasons)
		}
		if b.metaPath.IsZero() {
			t.Fatal("the guest never had a route to the metadata service")
		}
		if d := b.h.ended.Sub(b.metaPath); d > time.Second {
			t.Errorf("decided %s after the route to the metadata service existed, want under 1 s", d.Round(time.Millisecond))
		}
	})
	// network_data.json is {} (Nova without network info), in the metadata service and on the
	// config drive: nothing to learn from it, and nothing breaks.
	// A plain KVM host (no OpenStack DMI, no config drive, no metadata service) with DHCP and
	// SLAAC, no user-data: nothing to ask, so the helper decides IPv4 as soon as it is usable.
	t.Run("plain-platform-no-metadata", func(t *testing.T) {
		spec := dualSLAAC
		spec.UserData, spec.NoMetadata = nil, true
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{dmi: neutronlab.PlainDMI(), linkLocalFirst: true})
		in.check(t, b, want{"ipv4", false, ""})
		if b.ipv4.IsZero() {
			t.Fatal("the guest never had its IPv4 address")
		}
		if d := b.h.ended.Sub(b.ipv4); d > time.Second {
			t.Errorf("exited %s after the IPv4 address was there, on a platform without a metadata service; want under 1 s", d.Round(time.Millisecond))
		}
	})
	// IPv6 only, and the image ignores the RA's route to fe80::a9fe:a9fe (the kernel's default,
	// ifupdown images): the metadata service cannot be reached, so the toggle cannot be read.
	// The helper takes the SLAAC address within metadata_timeout and its status says why.
	t.Run("v6-only-route-info-ignored", func(t *testing.T) {
		spec := dualSLAAC
		spec.IPv4 = false
		in := newInstance(t)
		b := in.boot(t, spec, bootOpts{})
		if b.code != 0 || b.r.Family != "ipv6" || b.r.Address != spec.GuestIPv6().String() {
			t.Errorf("exit %d, %s %s; want ipv6 %s", b.code, b.r.Family, b.r.Address, spec.GuestIPv6())
		}
		if b.r.Reason("metadata") == "" {
			t.Errorf("the status does not say what became of the metadata service: %q", b.r.Reasons)
		}
		if d := b.h.ended.Sub(b.h.started); d > 3*time.Second+5*time.Second+time.Second {
			t.Errorf("took %s: more than ipv4_wait + metadata_timeout", d.Round(time.Millisecond))
		}
	})
	empty := dualSLAAC
	empty.EmptyNetworkData = true
	t.Run("network-data-empty-metadata", func(t *testing.T) {
		in := newInstance(t)
		in.check(t, in.boot(t, empty, bootOpts{}), want{"ipv6", false, "metadata"})
	})
	t.Run("network-data-empty-config-drive", func(t *testing.T) {
		spec := empty
		spec.NoMetadata = true
		in := newInstance(t)
		in.check(t, in.boot(t, spec, bootOpts{drive: neutronlab.ISO9660}), want{"ipv6", false, "config-drive"})
	})
}

// The same disk booted on one Neutron network, then as a snapshot on another (a new port: a
// new MAC, a new prefix): the helper writes the new address and clears the cluster state; then
// rebooted on that network: not a byte under the root changes (/run is a tmpfs, left out).
func TestNeutronRebootOnAnotherNetwork(t *testing.T) {
	force := []byte(forceUserData)
	in := newInstance(t)
	first := neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, UserData: force}
	in.check(t, in.boot(t, first, bootOpts{}), want{"ipv6", false, "metadata"})

	// The node joined a cluster meanwhile.
	in.put(t, aioconfig.ClusterSettings, "etcd_cluster=\"cluster\"\n")
	in.put(t, aioconfig.EtcdData+"/member/snap/db", "etcd data")

	second := neutronlab.Spec{Net: 2, Port: 7, IPv4: true, IPv6: neutronlab.SLAAC, UserData: force}
	b := in.boot(t, second, bootOpts{})
	in.check(t, b, want{"ipv6", false, "metadata"})
	if !b.r.Changed {
		t.Error("moved to a new network: the report says nothing changed")
	}
	if _, err := os.Stat(filepath.Join(in.root, aioconfig.ClusterSettings)); !os.IsNotExist(err) {
		t.Errorf("cluster_settings kept on the new address (%v)", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(in.root, aioconfig.EtcdData)); len(ents) != 0 {
		t.Errorf("the etcd data kept on the new address: %v", ents)
	}
	for _, f := range []string{aioconfig.LocalConfig, aioconfig.SharedConfig, aioconfig.Hosts} {
		if got := in.read(f); strings.Contains(got, first.GuestIPv6().String()) {
			t.Errorf("%s still holds the first network's %s:\n%s", f, first.GuestIPv6(), got)
		}
	}

	before := snapshot(t, in.root)
	b = in.boot(t, second, bootOpts{})
	in.check(t, b, want{"ipv6", false, "metadata"})
	if b.r.Changed || len(b.r.Changes) != 0 {
		t.Errorf("rebooted on the same network: changed=%t %+v", b.r.Changed, b.r.Changes)
	}
	if after := snapshot(t, in.root); !bytes.Equal(before, after) {
		t.Errorf("rebooted on the same network: the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshot lists every file under root outside /run with its mode, size, mtime and content.
func snapshot(t *testing.T, root string) []byte {
	t.Helper()
	var b bytes.Buffer
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (rel == "run" || rel == "sys" || rel == "proc" || rel == "dev") {
			return filepath.SkipDir // tmpfs, sysfs, procfs, devtmpfs in the instance
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(rel + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			b.WriteString(" " + info.ModTime().UTC().Format(time.RFC3339Nano))
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" " + string(bytes.ReplaceAll(data, []byte("\n"), []byte(`\n`))))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkNeutronNoUserData prints, on a Neutron network (real dnsmasq, dhclient, radvd) with
// no user-data, the time from the moment that makes the decision possible to the helper's exit
// (config written), median and max over the runs (the moment is the kernel's netlink event, as
// `ip monitor` timestamps it):
//   - openstack-404: Nova's platform, a metadata service answering 404; from the guest's route
//     to 169.254.169.254 (added by dhclient-script) to the exit; 404/op is how often the helper
//     got Nova's answer (issue 11: it should be 1);
//   - plain-platform: a KVM host without a metadata service; from the guest's IPv4 address to
//     the exit.
//
// In both, the guest's link-local address is past DAD before DHCP starts (bootOpts
// linkLocalFirst), the case where a metadata request over IPv6 can hang rather than fail.
//
// Run with: go test -run '^$' -bench NeutronNoUserData -benchtime 5x ./test/live
func BenchmarkNeutronNoUserData(b *testing.B) {
	spec := neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC}
	b.Run("openstack-404", func(b *testing.B) {
		var lat []time.Duration
		got404 := 0
		for b.Loop() {
			in := newInstance(b)
			r := in.boot(b, spec, bootOpts{linkLocalFirst: true})
			if r.r.Family != "ipv4" {
				b.Fatalf("decided %s %s, want ipv4", r.r.Family, r.r.Address)
			}
			if asked := r.lab.Metadata.Asked("/openstack/latest/user_data"); len(asked) > 0 && asked[len(asked)-1].Status == 404 {
				got404++
			}
			if !r.metaPath.IsZero() {
				lat = append(lat, r.h.ended.Sub(r.metaPath))
			}
		}
		b.ReportMetric(float64(got404)/float64(b.N), "404/op")
		reportMedians(b, lat, "ms-route-to-exit")
	})
	b.Run("plain-platform", func(b *testing.B) {
		plain := spec
		plain.NoMetadata = true
		var lat []time.Duration
		for b.Loop() {
			in := newInstance(b)
			r := in.boot(b, plain, bootOpts{dmi: neutronlab.PlainDMI(), linkLocalFirst: true})
			if r.r.Family != "ipv4" || r.ipv4.IsZero() {
				b.Fatalf("decided %s %s (IPv4 seen at %v), want ipv4", r.r.Family, r.r.Address, r.ipv4)
			}
			lat = append(lat, r.h.ended.Sub(r.ipv4))
		}
		reportMedians(b, lat, "ms-ipv4-to-exit")
	})
}
