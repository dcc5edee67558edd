package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// ipv6Timeout is the image's ipv6_timeout in the test's build: shorter than the example's 45s,
// so the forced boot without IPv6 falls back sooner. Every IPv6 of these labs comes within
// seconds.
const ipv6Timeout = "20s"

// bootTimeout bounds one guest's boot, report and power-off under TCG (about a minute on an
// idle 2-core host; several times that when other VMs share it).
const bootTimeout = 8 * time.Minute

// serialDirEnv names a directory where each guest's serial console is kept, for debugging.
const serialDirEnv = "CW_E2E_SERIAL_DIR"

// bootCase is one boot of the image: the network it gets, the user-data it is given, and what
// the helper must decide.
type bootCase struct {
	name     string
	offer    offer
	userData string // "report" (the test's own), or a lab's user-data rendered by the example
	want     want
}

// want is what the helper's status must say.
type want struct {
	family      string
	address     netip.Addr   // the exact address, or
	prefix      netip.Prefix // any address in this prefix (SLAAC)
	force       bool
	forceSource userdata.Source
	degraded    bool
}

var (
	slaacPrefix  = netip.MustParsePrefix("2001:db8:1::/64")
	dhcpv6Prefix = netip.MustParsePrefix("2001:db8:2::/64")
)

var bootCases = []bootCase{
	{"ipv4-only", offer{dhcpv4: true}, "report",
		want{family: "ipv4", address: lease4.Addr(), forceSource: userdata.SourceNone}},
	{"ipv6-only-slaac", offer{slaac: slaacPrefix}, "report",
		want{family: "ipv6", prefix: slaacPrefix, forceSource: userdata.SourceNone}},
	{"ipv6-only-dhcpv6", offer{dhcpv6: dhcpv6Prefix}, "report",
		want{family: "ipv6", address: dhcpv6Lease(dhcpv6Prefix), forceSource: userdata.SourceNone}},
	// The IPv4 lab's user-data says force_ipv6: false in a drop-in: config, not forced.
	{"dual-stack", offer{dhcpv4: true, slaac: slaacPrefix}, "ipv4-lab",
		want{family: "ipv4", address: lease4.Addr(), forceSource: userdata.SourceConfig}},
	{"dual-stack-forced", offer{dhcpv4: true, slaac: slaacPrefix}, "ipv6-lab",
		want{family: "ipv6", prefix: slaacPrefix, force: true, forceSource: userdata.SourceWriteFiles}},
	{"forced-without-ipv6", offer{dhcpv4: true}, "ipv6-lab",
		want{family: "ipv4", address: lease4.Addr(), force: true, forceSource: userdata.SourceWriteFiles, degraded: true}},
}

// TestBoot builds the example once, then boots the image once per case, one at a time (TCG on
// a shared 2-core host), each on a network of its own.
func TestBoot(t *testing.T) {
	qemu.RequireTools(t)
	netnstest.Require(t)
	b := buildExample(t)
	for _, c := range bootCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // as many at once as qemu.Slot has places
			data, ok := b.userData[c.userData]
			if !ok {
				t.Fatalf("no user-data %q", c.userData)
			}
			boot(t, b.image, c, data)
		})
	}
}

// built is the example as the test's packer build made it.
type built struct {
	image    string
	userData map[string][]byte // "report", "ipv4-lab", "ipv6-lab"
}

// buildExample builds the plugin with freshly generated helpers, the Debian base image (or
// takes it from the cache), then runs packer build on example/ with the test's report as the
// labs' base user-data.
func buildExample(t testing.TB) built {
	t.Helper()
	generateHelpers(t)
	env := packertest.New(t)

	start := time.Now()
	var progress io.Writer
	if testing.Verbose() {
		progress = os.Stderr
	}
	base, err := qemu.DebianImage(t.Context(), progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base image %s: %.1fs", base, time.Since(start).Seconds())

	b, took := packerBuild(t, env, base)
	t.Logf("packer build example/: %.1fs", took.Seconds())
	return b
}

// reportUserData is the test's own user-data: the guest reports and powers off.
func reportUserData() string {
	return filepath.Join(packertest.RepoRoot(), "test", "e2e", "testdata", "report-user-data.yaml")
}

// packerBuild runs packer build on example/ from base into a fresh directory, with the test's
// report as the labs' base user-data and extra packer arguments, and checks the image's
// checksum. It returns how long packer took.
func packerBuild(t testing.TB, env *packertest.Env, base string, extra ...string) (built, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	out, ud := filepath.Join(dir, "image"), filepath.Join(dir, "user-data")
	start := time.Now()
	args := append([]string{"-var", "base_image=" + base, "-var", "output_directory=" + out,
		"-var", "user_data_directory=" + ud, "-var", "base_user_data=" + reportUserData(),
		"-var", "ipv6_timeout=" + ipv6Timeout}, extra...)
	res := env.Build(t, dir, append(args, exampleDir())...)
	took := time.Since(start)
	if res.ExitCode != 0 {
		t.Fatalf("packer build example/ (exit %d):\n%s", res.ExitCode, res.Output)
	}
	b := built{image: filepath.Join(out, "clearwater-aio.qcow2"), userData: map[string][]byte{}}
	checkSHA256(t, b.image, res.Output)
	for name, path := range map[string]string{"report": reportUserData(),
		"ipv4-lab": filepath.Join(ud, "ipv4-lab.yaml"), "ipv6-lab": filepath.Join(ud, "ipv6-lab.yaml")} {
		var err error
		if b.userData[name], err = os.ReadFile(path); err != nil {
			t.Fatalf("packer build wrote no %s user-data: %v", name, err)
		}
	}
	return b, took
}

// BenchmarkExampleBuild prints how long packer build example/ takes on the cached base image
// (s/build), the part of make example that an image pipeline runs on every change.
func BenchmarkExampleBuild(b *testing.B) {
	env, base := benchSetup(b)
	var total time.Duration
	for b.Loop() {
		built, took := packerBuild(b, env, base)
		total += took
		// Each build's 0.5 GB goes at once, not when the benchmark ends.
		if err := os.RemoveAll(filepath.Dir(filepath.Dir(built.image))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/build")
}

// requireRoot skips without root (the builder attaches loop devices and mounts), or fails under
// CI=true.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("needs root (CI=true, so this is a failure)")
	}
	tb.Skip("needs root: the clearwater-chroot builder attaches loop devices and mounts")
}

// generateHelpers runs the provisioner's go generate, as make build does, so that the image
// gets the helper of this source tree and not a stale build.
func generateHelpers(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	gobin := filepath.Join(runtime.GOROOT(), "bin")
	cmd := exec.CommandContext(ctx, filepath.Join(gobin, "go"), "generate", "./provisioner/firstboot")
	cmd.Dir = packertest.RepoRoot()
	// The generator runs go by name.
	cmd.Env = append(os.Environ(), "PATH="+os.Getenv("PATH")+string(os.PathListSeparator)+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate ./provisioner/firstboot: %v\n%s", err, out)
	}
}

// checkSHA256 checks the image against the sha256 that the builder reported and wrote beside it.
func checkSHA256(t testing.TB, image, output string) {
	t.Helper()
	f, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	side, err := os.ReadFile(image + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(output, "sha256 "+sum) || !strings.HasPrefix(string(side), sum+" ") {
		t.Errorf("image sha256 %s: not what packer reported or %s.sha256 says (%q)", sum, filepath.Base(image), side)
	}
}

// boot boots the image on c's network with userData on a NoCloud seed, waits for the guest's
// report and power-off, and checks what the helper decided and wrote.
func boot(t *testing.T, image string, c bootCase, userData []byte) {
	l := newLab(t, c.offer)
	ctx := t.Context()
	opts := qemu.Options{Image: image, TempDir: t.TempDir(), NoCloud: &qemu.NoCloud{UserData: userData},
		Network: qemu.Network{Netns: l.guest.Name, Tap: l.tap}, Timeout: bootTimeout}
	if dir := os.Getenv(serialDirEnv); dir != "" {
		opts.SerialLog = filepath.Join(dir, c.name+".log")
	}
	vm, err := qemu.Boot(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now() // after the wait for a place (qemu.Slot)
	t.Cleanup(func() {
		if err := vm.Stop(); err != nil {
			t.Error(err)
		}
	})
	// The guest powers off once its report is done; the test reads the results from its disk.
	if err := vm.Wait(ctx); err != nil {
		t.Fatalf("guest power-off: %v\nthe lab's servers received: %v", err, l.seen())
	}
	t.Logf("boot to power-off: %.1fs", time.Since(start).Seconds())
	serial, _ := vm.Serial()
	if report, ok := qemu.Between(serial, "===CW-E2E-BEGIN===", "===CW-E2E-END==="); ok {
		t.Logf("guest report:\n%s", report)
	}

	g := guestFiles{t: t, ctx: ctx, vm: vm}
	st := g.status()
	if t.Failed() {
		return
	}
	if msg := c.want.check(st); msg != "" {
		t.Errorf("%s\nstatus: %+v\nhelper log:\n%s\nthe lab's servers received: %v", msg, st, g.read("/var/lib/cw-e2e/helper.log"), l.seen())
		return
	}
	g.checkWritten(netip.MustParseAddr(st.Address))
}

// check returns what is wrong with st, or "".
func (w want) check(st status.Report) string {
	var bad []string
	addr, err := netip.ParseAddr(st.Address)
	switch {
	case err != nil:
		bad = append(bad, fmt.Sprintf("address %q is not an address", st.Address))
	case w.address.IsValid() && addr != w.address:
		bad = append(bad, fmt.Sprintf("address %s, want %s", addr, w.address))
	case w.prefix.IsValid() && !w.prefix.Contains(addr):
		bad = append(bad, fmt.Sprintf("address %s, want one in %s", addr, w.prefix))
	}
	if st.Family != w.family {
		bad = append(bad, fmt.Sprintf("family %q, want %q", st.Family, w.family))
	}
	if st.ForceIPv6 != w.force || st.ForceSource != string(w.forceSource) {
		bad = append(bad, fmt.Sprintf("force_ipv6 %t from %q, want %t from %q", st.ForceIPv6, st.ForceSource, w.force, w.forceSource))
	}
	if st.Degraded != w.degraded {
		bad = append(bad, fmt.Sprintf("degraded %t, want %t", st.Degraded, w.degraded))
	}
	if st.Interface == "" || st.Error != "" || !st.Changed {
		bad = append(bad, fmt.Sprintf("interface %q, error %q, changed %t: want an interface, no error, and a first write", st.Interface, st.Error, st.Changed))
	}
	if v6 := slices.Contains(st.Warnings, policy.WebSocketWarning); v6 != (w.family == "ipv6") {
		bad = append(bad, fmt.Sprintf("WebSocket warning present: %t, want it exactly when IPv6 is chosen", v6))
	}
	return strings.Join(bad, "; ")
}

// guestFiles reads files from the powered-off guest's disk.
type guestFiles struct {
	t   *testing.T
	ctx context.Context
	vm  *qemu.VM
}

func (g guestFiles) read(name string) string {
	g.t.Helper()
	b, err := g.vm.ReadFile(g.ctx, name)
	if err != nil {
		g.t.Errorf("reading the guest's %s: %v", name, err)
	}
	return string(b)
}

// status reads the copy of status.json the report saved, and checks the unit succeeded.
func (g guestFiles) status() status.Report {
	g.t.Helper()
	var st status.Report
	if unit := g.read("/var/lib/cw-e2e/unit"); !strings.Contains(unit, "Result=success") || !strings.Contains(unit, "ExecMainStatus=0") {
		g.t.Errorf("clearwater-firstboot.service did not succeed:\n%s\nhelper log:\n%s", unit, g.read("/var/lib/cw-e2e/helper.log"))
	}
	if err := json.Unmarshal([]byte(g.read("/var/lib/cw-e2e/status.json")), &st); err != nil {
		g.t.Errorf("status.json: %v", err)
	}
	return st
}

// checkWritten checks Clearwater's config, the hosts block and the helper's state against addr,
// and that the operator's keys from the build survived.
func (g guestFiles) checkWritten(addr netip.Addr) {
	g.t.Helper()
	ip, b := addr.String(), addr.String()
	if addr.Is6() {
		b = "[" + ip + "]"
	}
	local := keys(g.read("/etc/clearwater/local_config"))
	for k, v := range map[string]string{"local_ip": ip, "public_ip": ip, "etcd_cluster": ip,
		"public_hostname": "cw-aio", "max_log_directory_size": "52428800"} {
		if local[k] != v {
			g.t.Errorf("local_config: %s=%q, want %q", k, local[k], v)
		}
	}
	shared := keys(g.read("/etc/clearwater/shared_config"))
	for k, v := range map[string]string{"sprout_hostname": "cw-aio", "xdms_hostname": b + ":7888",
		"hs_hostname": b + ":8888", "sprout_registration_store": b, "upstream_hostname": "scscf.cw-aio",
		// The operator's keys, as the example's shell provisioner wrote them.
		"home_domain": "example.com", "signup_key": "secret", "ellis_api_key": "secret"} {
		if shared[k] != v {
			g.t.Errorf("shared_config: %s=%q, want %q", k, shared[k], v)
		}
	}
	hosts := g.read("/etc/hosts")
	if line := ip + " cw-aio scscf.cw-aio bgcf.cw-aio icscf.cw-aio"; !strings.Contains(hosts, "#+clearwater-aio\n"+line+"\n#-clearwater-aio") {
		g.t.Errorf("/etc/hosts has no clearwater-aio block with %q:\n%s", line, hosts)
	}
	var s struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal([]byte(g.read("/var/lib/clearwater-firstboot/state.json")), &s); err != nil || s.Address != ip {
		g.t.Errorf("state.json: address %q (%v), want %s", s.Address, err, ip)
	}
}

// keys parses a shell-style key=value config; a later key wins, as when the file is sourced.
func keys(text string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}
