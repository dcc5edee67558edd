package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/aioconfig"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// lateRA is how long after the helper's first DHCPv6 probe the router sends its first RA in the
// late RA fault: well within ipv6_timeout.
const lateRA = 3 * time.Second

// neutronCase is one boot of TestBootNeutron: a case of the lab spec (openstack-lab.md) with
// the faults it carries, the example's user-data it is given, and what the helper must decide.
type neutronCase struct {
	name     string
	net      neutronlab.Spec
	userData string // the example's: "report", "ipv4-lab", "ipv6-lab", "ipv6-lab+marker"; "" for none (Nova's 404s)
	drive    string
	during   func(context.Context, testing.TB, *neutronlab.Lab)
	want     want
}

// The reasons that say why a boot waited as long as it did.
const (
	waitedForAddress = `^waited \d+(\.\d+)?m?s for a usable address \(\d+ network changes\)$`
	ipv6Timeout20    = `^no usable IPv6 after waiting 20(\.\d+)?s \(ipv6_timeout\)$`
	noIPv4Coming     = `^no usable IPv4 after \d+(\.\d+)?m?s, and none is coming: an IPv6-only port$`
)

// neutronCases are the lab spec's cases A to H, each booted once with Nova's SMBIOS, with the
// faults spread over them: late RA (B), UDP 547 blocked (C), DAD clash (D), network_data.json =
// {} (a second E), no user-data (G: Nova's 404s; the report then comes as Nova's vendor data),
// and a vfat config drive (E). They also make the decisions TestBoot made on our own servers: forced without
// IPv6 (A), dual stack forced (B), dual stack with the IPv4 lab's user-data (C), IPv6 only SLAAC
// (E) and DHCPv6 (F), IPv4 only (G).
var neutronCases = []neutronCase{
	// The port has no IPv6. The helper takes its user-data from cloud-init's copy, and the
	// port's network_data.json from cloud-init's record of what the metadata service said: no
	// IPv6 is coming, so it falls back at once instead of waiting ipv6_timeout.
	{"A-v4-only-forced", neutronlab.Spec{Net: 1, IPv4: true}, "ipv6-lab", "", nil,
		want{family: "ipv4", force: true, forceSource: userdata.SourceKey, degraded: true,
			why: res(`^user-data from cloud-init's copy `,
				`^network_data\.json from cloud-init's /run/cloud-init/instance-data\.json \(ds\.network_json\): IPv4 ipv4_dhcp; IPv6 no IPv6 network`,
				`^no usable IPv6 after \d+(\.\d+)?m?s, and none is coming$`),
			notWhy: res(ipv6Timeout20)}},
	// The first RA comes lateRA after the helper's first probe: forced, the helper waits for it.
	// The probe sees that RA while the kernel's SLAAC address from it is still tentative: the
	// node is configuring IPv6, so the status must not say it has not, and the helper must not
	// touch the image's network config.
	// Its user-data also writes upstream's marker (upstream_marker): a snapshot of it then boots as
	// a new instance (snapshotBoot).
	{"B-dual-slaac-late-RA", neutronlab.Spec{Net: 2, IPv4: true, IPv6: neutronlab.SLAAC, HoldRA: true}, "ipv6-lab+marker", "",
		startRadvdLate, want{family: "ipv6", force: true, forceSource: userdata.SourceKey,
			why:    res(`^user-data from cloud-init's copy `, `^waited \d+(\.\d+)?s for a usable address \([1-9]\d* network changes\)$`),
			notWhy: res(`has not configured it`, ` drop-in \S+ (now|already) asks for `)}},
	// A firewall eats DHCPv6; the stateless subnet's SLAAC address comes all the same. Not
	// forced (the IPv4 lab's drop-in): IPv4, as soon as it is usable.
	{"C-dual-stateless-udp547-blocked", neutronlab.Spec{Net: 3, IPv4: true, IPv6: neutronlab.Stateless, BlockDHCPv6: true}, "ipv4-lab", "", nil,
		want{family: "ipv4", forceSource: userdata.SourceKey,
			why: res(`^IPv6 not forced \(the user-data key clearwater\.force_ipv6\)$`, waitedForAddress)}},
	// Another port holds the instance's DHCPv6 address: its DAD fails, no IPv6 is usable within
	// ipv6_timeout; fall back.
	{"D-dual-stateful-DAD-clash", neutronlab.Spec{Net: 4, IPv4: true, IPv6: neutronlab.Stateful, DADClash: true}, "ipv6-lab", "", nil,
		want{family: "ipv4", force: true, forceSource: userdata.SourceKey, degraded: true,
			why: res(ipv6Timeout20)}},
	// IPv6 only: cloud-init (22.4) cannot reach the metadata service without IPv4, so the
	// instance has a config drive, vfat. Its network_data.json says the port has no IPv4, so the
	// helper does not wait ipv4_wait for one.
	{"E-v6-only-slaac-vfat", neutronlab.Spec{Net: 5, IPv6: neutronlab.SLAAC}, "report", neutronlab.VFAT, nil,
		want{family: "ipv6", forceSource: userdata.SourceNone,
			why: res(`^user-data from the config-drive `,
				`^network_data\.json from config drive \S+: IPv4 no IPv4 network; IPv6 ipv6_slaac`, noIPv4Coming)}},
	// network_data.json is {} on the config drive (Nova without network info): cloud-init (22.4)
	// renders no network from it, so the NIC stays down. The helper must say so, write nothing,
	// and fail its unit.
	{"E-network-data-empty", neutronlab.Spec{Net: 5, Port: 6, IPv6: neutronlab.SLAAC, EmptyNetworkData: true}, "report", neutronlab.ISO9660, nil,
		want{noAddress: true, forceSource: userdata.SourceNone,
			why:    res(`^ignored ens\d+: link is administratively down$`, `^no usable address after waiting \d+(\.\d+)?s$`),
			notWhy: res(`^network_data\.json from `)}},
	// IPv6 only, DHCPv6: network_data.json on the config drive says the port has no IPv4, so
	// the helper does not wait ipv4_wait for one.
	{"F-v6-only-stateful", neutronlab.Spec{Net: 6, IPv6: neutronlab.Stateful}, "report", neutronlab.ISO9660, nil,
		want{family: "ipv6", forceSource: userdata.SourceNone,
			why: res(`^network_data\.json from config drive \S+: IPv4 no IPv4 network; IPv6 ipv6_dhcpv6-stateful`,
				noIPv4Coming)}},
	// No router: the metadata service is the DHCP namespace's. The instance has no user-data
	// (Nova's 404s); the report comes as vendor data. Nothing to wait for: IPv4 at once.
	{"G-isolated-no-user-data", neutronlab.Spec{Net: 7, IPv4: true, Isolated: true}, "", "", nil,
		want{family: "ipv4", forceSource: userdata.SourceNone,
			why: res(`(\(0 bytes\)|\(HTTP 404\))`, `^IPv6 not forced \(the default\)$`, waitedForAddress)}},
	// No metadata service: the config drive (iso9660) is the only source.
	{"H-config-drive-only-iso9660", neutronlab.Spec{Net: 8, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true}, "ipv6-lab", neutronlab.ISO9660, nil,
		want{family: "ipv6", force: true, forceSource: userdata.SourceKey,
			why: res(`^user-data from the config-drive `,
				`^network_data\.json from config drive \S+: IPv4 ipv4_dhcp; IPv6 ipv6_slaac; IPv6 was usable$`, waitedForAddress)}},
}

// TestBootNeutron boots the example's image as a Nova instance (Nova's SMBIOS, its port a tap on
// a Neutron network of internal/neutronlab) in each of neutronCases, as many at once as
// qemu.Slot has places, and checks each boot's status: the family, the exact address, the
// toggle and its source, and why the helper waited as long as it did. Case C's disk is then
// booted on another network and again on that one (TestNeutronReboot's steps).
func TestBootNeutron(t *testing.T) {
	// With the other boot test: their guests share qemu.Slot's places, so that none stays idle
	// while one test boots its last guest alone.
	t.Parallel()
	qemu.RequireTools(t)
	netnstest.Require(t)
	b := buildExample(t)
	for _, c := range neutronCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // as many at once as qemu.Slot has places
			g := guestBoot{qemu: qemu.Options{Image: b.image}, net: c.net, nova: true, drive: c.drive,
				during: c.during, want: c.want}
			if c.userData != "" {
				g.net.UserData = labUserData(t, b, c.userData)
			} else {
				g.net.VendorData = b.userData["report"]
			}
			first := g.run(t)
			if c.userData == "" {
				checkNoUserData(t, first.lab)
			}
			if strings.HasPrefix(c.name, "C-") {
				rebootElsewhere(t, g, first)
			}
			if strings.HasPrefix(c.name, "B-") {
				snapshotBoot(t, g, first, b.userData["report"])
			}
		})
	}
}

// labUserData is the user-data of a case: the example's, or, for "ipv6-lab+marker", the IPv6
// lab's with upstream's marker added as the data source's upstream_marker renders it, which makes
// cloud-init write /etc/clearwater/force_ipv6 into the instance.
func labUserData(t *testing.T, b built, name string) []byte {
	t.Helper()
	lab, marker := strings.CutSuffix(name, "+marker")
	if !marker {
		return b.userData[name]
	}
	r, err := userdata.Render(b.userData[lab], userdata.Addition{ForceIPv6: ptr(true), UpstreamMarker: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	return r.Data
}

func ptr[T any](v T) *T { return &v }

// snapshotBoot boots the disk that first left (an instance forced by its user-data, whose
// cloud-init wrote upstream's marker) as a Nova snapshot booted as a new instance with no toggle
// in its user-data, on a dual-stack network: it must choose IPv4, never the snapshotted
// instance's toggle, and say which file it ignored and why.
func snapshotBoot(t *testing.T, g guestBoot, first booted, report []byte) {
	t.Helper()
	g.qemu.Image = keepDisk(t, first.vm)
	g.net = neutronlab.Spec{Net: first.lab.Spec.Net, Port: 9, IPv4: true, IPv6: neutronlab.SLAAC, VendorData: report} // a new port: a new instance
	g.during = nil
	g.want = want{family: "ipv4", forceSource: userdata.SourceNone,
		why:    res(`^IPv6 not forced \(the default\)$`),
		warned: res(`^ignored /etc/clearwater/force_ipv6: cloud-init wrote it from the user-data of instance ` + first.lab.Spec.InstanceUUID() + `, not of this one \(` + g.net.InstanceUUID())}
	g.run(t)
}

// startRadvdLate starts the router's radvd lateRA after the helper's probe first asks for
// DHCPv6: its Solicit to ff02::1:2 reaching the router's port says the helper runs and waits
// for the IPv6 that force_ipv6 needs (networkd sends none before an RA, cloud-init none at all).
// The guest's first lease is no such sign: cloud-init takes it a minute or more before the
// helper starts.
func startRadvdLate(ctx context.Context, t testing.TB, l *neutronlab.Lab) {
	if !l.RouterPort.AwaitDHCPv6(ctx, t) {
		return // the guest powered off first: the check of its status says what went wrong
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(lateRA):
	}
	l.StartRadvd(t)
}

// checkNoUserData checks that the metadata service answered the instance's user-data requests
// with Nova's 404.
func checkNoUserData(t *testing.T, l *neutronlab.Lab) {
	t.Helper()
	var asked []neutronlab.Request
	for _, r := range l.Metadata.Requests() {
		// cloud-init asks a dated version (the newest it knows), the helper latest.
		if strings.HasPrefix(r.Path, "/openstack/") && strings.HasSuffix(r.Path, "/user_data") {
			asked = append(asked, r)
		}
	}
	if len(asked) == 0 || slices.ContainsFunc(asked, func(r neutronlab.Request) bool { return r.Status != 404 }) {
		t.Errorf("want the instance's user_data asked and answered 404 only: %+v\n%s", asked, labSeen(l))
	}
}

// helperFiles are the files the helper writes, and the cluster state (the report's cluster
// join) it clears when the address changes.
var helperFiles = []string{aioconfig.LocalConfig, aioconfig.SharedConfig, aioconfig.Hosts,
	"/var/lib/clearwater-firstboot/state.json", aioconfig.ClusterSettings, aioconfig.EtcdData + "/member/joined"}

// rebootElsewhere boots the disk that first left on another Neutron network (a snapshot booted
// as a new instance: a new port, MAC and prefixes): the helper must write the new address and
// clear the cluster state that the first boot's report left. It then boots that disk again on
// the same network: not a byte of the helper's files may change.
func rebootElsewhere(t *testing.T, g guestBoot, first booted) {
	t.Helper()
	before := hashFiles(first.files)
	disk := keepDisk(t, first.vm)
	g.qemu.Image, g.net.Net, g.net.Port, g.net.IPv6, g.net.BlockDHCPv6 = disk, 9, 7, neutronlab.SLAAC, false
	g.during, g.want.why = nil, nil

	moved := g.run(t)
	if !slices.ContainsFunc(moved.st.Changes, func(c aioconfig.Change) bool {
		return c.Path == aioconfig.ClusterSettings && c.Action == aioconfig.Remove
	}) {
		t.Errorf("booted on another network: cluster_settings not removed; changes %+v", moved.st.Changes)
	}
	after := hashFiles(moved.files)
	if after[aioconfig.ClusterSettings] == before[aioconfig.ClusterSettings] {
		t.Errorf("booted on another network: cluster_settings is the first network's (the report joins only when the helper cleared it)")
	}

	again := g
	again.qemu.Image, again.want.unchanged = keepDisk(t, moved.vm), true
	still := again.run(t)
	if same := hashFiles(still.files); !maps.Equal(same, after) {
		t.Errorf("booted again on the same network: the helper's files changed:\nbefore %v\nafter  %v", after, same)
	}
}

// keepDisk copies a powered-off guest's overlay (backed by the image it booted) where it
// outlives the VM: the same disk, for the next boot.
func keepDisk(t *testing.T, vm *qemu.VM) string {
	t.Helper()
	src, err := os.Open(vm.Overlay)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := filepath.Join(t.TempDir(), "disk.qcow2")
	dst, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// hashFiles reads helperFiles from the guest's disk and returns their SHA-256 by name.
func hashFiles(g guestFiles) map[string]string {
	g.t.Helper()
	m := map[string]string{}
	for _, name := range helperFiles {
		sum := sha256.Sum256([]byte(g.read(name)))
		m[name] = hex.EncodeToString(sum[:])
	}
	return m
}
