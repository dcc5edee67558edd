package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/policy"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// guestBoot is one boot of an image on a network of internal/neutronlab (real dnsmasq and
// radvd, as Neutron's agents run them) and what the helper must decide.
type guestBoot struct {
	// qemu says how to run the image: Image, and the emulator, its machine and CPUs (QEMU,
	// CPUs, ExtraArgs). The disk, the network card, the seeds and the serial log are filled in.
	qemu qemu.Options
	// net is the network and the instance's port. On Nova's platform, net.UserData and
	// net.VendorData are what the metadata service (unless net.NoMetadata) and the config drive
	// hand the instance.
	net neutronlab.Spec
	// nova boots the image as a Nova instance: Nova's SMBIOS. Without it the platform is a plain
	// KVM host, and the user-data comes from seed.
	nova bool
	// drive attaches a config drive of this format (neutronlab.ISO9660, VFAT) as Nova does.
	drive string
	// seed is user-data on a NoCloud seed (nil: none).
	seed []byte
	// sysvinit: the guest has no systemd unit to check (its report saves no unit state).
	sysvinit bool
	// timeout bounds the boot, report and power-off from QEMU's start; 0 means bootTimeout.
	timeout time.Duration
	// during runs, on its own goroutine, while the guest boots (a late RA, say); its context
	// ends when the guest has powered off. Its t is netnstest.OffGoroutine's: a Fatal there ends
	// only that goroutine.
	during func(context.Context, testing.TB, *neutronlab.Lab)
	want   want
}

// want is what the helper's status must say.
type want struct {
	family      string // the address is then the port's of that family: net.GuestIPv4 or GuestIPv6
	force       bool
	forceSource userdata.Source
	degraded    bool
	unchanged   bool // a boot that keeps the address: the helper writes nothing
	// noAddress: the guest has no usable address; the helper must say so, fail its unit and
	// write nothing (family is then "").
	noAddress bool
	// why: each must match one of the status's reasons. They say why the helper waited as long
	// as it did, and where its toggle and user-data came from.
	why []*regexp.Regexp
	// notWhy: none may match a reason.
	notWhy []*regexp.Regexp
	// warned: each must match one of the status's warnings.
	warned []*regexp.Regexp
}

// address is the address w's family gets on the port of spec.
func (w want) address(spec neutronlab.Spec) netip.Addr {
	if w.family == "ipv6" {
		return spec.GuestIPv6()
	}
	return spec.GuestIPv4()
}

// booted is a powered-off guest and what its helper reported.
type booted struct {
	vm    *qemu.VM
	lab   *neutronlab.Lab
	files guestFiles
	st    status.Report
}

// run builds b's network, boots the image on it, waits for the guest's report and power-off,
// prints how long that took, and checks what the helper decided (the status the report saved)
// and wrote. The VM is stopped when t ends; its disk can be read until then.
func (b guestBoot) run(t *testing.T) booted {
	t.Helper()
	spec := b.net
	spec.VM = true
	l := neutronlab.Start(t, spec)
	timeout := b.timeout
	if timeout == 0 {
		timeout = bootTimeout
	}
	// timeout bounds QEMU from its start (Options.Timeout), not the wait for a place before it
	// (qemu.Slot is machine-wide: other tests' guests may hold both places for minutes).
	ctx := t.Context()
	opts := b.qemu
	opts.TempDir, opts.Timeout = t.TempDir(), timeout
	opts.Network = qemu.Network{Netns: l.Switch.Name, Tap: l.Tap, MAC: spec.MAC().String()}
	if b.nova {
		opts.ExtraArgs = append(slices.Clone(opts.ExtraArgs), neutronlab.NovaSMBIOS(spec)...)
	}
	if b.seed != nil {
		opts.NoCloud = &qemu.NoCloud{UserData: b.seed}
	}
	if b.drive != "" {
		p := filepath.Join(opts.TempDir, "disk.config")
		if err := neutronlab.WriteConfigDrive(ctx, spec, b.drive, p); err != nil {
			t.Fatal(err)
		}
		// Read-only on virtio, as test/qemu attaches every seed (libvirt puts an iso9660 drive on
		// an IDE CD-ROM): the guest finds it by its label either way.
		opts.ExtraArgs = append(slices.Clone(opts.ExtraArgs), "-drive", "file="+p+",if=virtio,format=raw,readonly=on")
	}
	if dir := os.Getenv(serialDirEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("%s: %v", serialDirEnv, err)
		}
		opts.SerialLog = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".log")
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
	// QEMU is killed at its Timeout; Wait, whose default bound is shorter than some boots', then
	// returns.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	dctx, dcancel := context.WithCancel(ctx)
	during := make(chan struct{})
	go func() {
		defer close(during)
		if b.during != nil {
			b.during(dctx, netnstest.OffGoroutine(t), l)
		}
	}()
	// The guest powers off once its report is done; the test reads the results from its disk.
	err = vm.Wait(ctx)
	dcancel()
	<-during
	if err != nil {
		t.Fatalf("guest power-off: %v\n%s", err, labSeen(l))
	}
	t.Logf("boot to power-off: %.1fs", time.Since(start).Seconds())
	serial, _ := vm.Serial()
	if report, ok := qemu.Between(serial, "===CW-E2E-BEGIN===", "===CW-E2E-END==="); ok {
		t.Logf("guest report:\n%s", report)
	}
	g := guestFiles{t: t, ctx: t.Context(), vm: vm}
	st := g.status(!b.sysvinit && !b.want.noAddress)
	if t.Failed() {
		t.FailNow()
	}
	if b.want.noAddress {
		g.checkNothingWritten(st, b.want)
		return booted{vm: vm, lab: l, files: g, st: st}
	}
	if msg := b.want.check(st, b.want.address(spec)); msg != "" {
		t.Fatalf("%s\nstatus: %+v\nhelper log:\n%s\n%s", msg, st, g.read("/var/lib/cw-e2e/helper.log"), labSeen(l))
	}
	g.checkWritten(b.want.address(spec))
	return booted{vm: vm, lab: l, files: g, st: st}
}

// labSeen says what the lab's dnsmasq and metadata service saw, for failure messages.
func labSeen(l *neutronlab.Lab) string {
	s := "dnsmasq:\n" + l.Dnsmasq.Output()
	if l.Metadata != nil {
		s += "\nmetadata requests:"
		for _, r := range l.Metadata.Requests() {
			s += "\n  " + r.Time.Format("15:04:05.000") + " " + r.Remote + " " + r.Path + " " + strconv.Itoa(r.Status)
		}
	}
	return s
}

// check returns what is wrong with st, or "".
func (w want) check(st status.Report, addr netip.Addr) string {
	var bad []string
	if st.Address != addr.String() {
		bad = append(bad, fmt.Sprintf("address %s, want %s", st.Address, addr))
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
	if st.Interface == "" || st.Error != "" || st.Changed == w.unchanged {
		bad = append(bad, fmt.Sprintf("interface %q, error %q, changed %t: want an interface, no error, and changed %t", st.Interface, st.Error, st.Changed, !w.unchanged))
	}
	if v6 := slices.Contains(st.Warnings, policy.WebSocketWarning); v6 != (w.family == "ipv6") {
		bad = append(bad, fmt.Sprintf("WebSocket warning present: %t, want it exactly when IPv6 is chosen", v6))
	}
	return strings.Join(append(bad, w.badReasons(st)...), "; ")
}

// badReasons says which of w.why no reason of st matches, and which reasons match w.notWhy.
func (w want) badReasons(st status.Report) []string {
	var bad []string
	for _, re := range w.why {
		if !slices.ContainsFunc(st.Reasons, re.MatchString) {
			bad = append(bad, fmt.Sprintf("no reason matches %q", re))
		}
	}
	for _, re := range w.warned {
		if !slices.ContainsFunc(st.Warnings, re.MatchString) {
			bad = append(bad, fmt.Sprintf("no warning matches %q (warnings %q)", re, st.Warnings))
		}
	}
	for _, re := range w.notWhy {
		if i := slices.IndexFunc(st.Reasons, re.MatchString); i >= 0 {
			bad = append(bad, fmt.Sprintf("reason %q matches %q", st.Reasons[i], re))
		}
	}
	return bad
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

// status reads the copy of status.json the report saved and, with unit, checks that the
// systemd unit succeeded.
func (g guestFiles) status(unit bool) status.Report {
	g.t.Helper()
	var st status.Report
	if u := ""; unit {
		if u = g.read("/var/lib/cw-e2e/unit"); !strings.Contains(u, "Result=success") || !strings.Contains(u, "ExecMainStatus=0") {
			g.t.Errorf("clearwater-firstboot.service did not succeed:\n%s\nhelper log:\n%s", u, g.read("/var/lib/cw-e2e/helper.log"))
		}
		// The image has no dnsmasq: nothing to restart, and nothing to say about it.
		if l := g.read("/var/lib/cw-e2e/helper.log"); strings.Contains(l, "restarting dnsmasq") {
			g.t.Errorf("the helper logged a dnsmasq restart on an image without dnsmasq:\n%s", l)
		}
	}
	if err := json.Unmarshal([]byte(g.read("/var/lib/cw-e2e/status.json")), &st); err != nil {
		g.t.Errorf("status.json: %v", err)
	}
	return st
}

// checkNothingWritten checks a boot without a usable address: the helper's unit failed, its
// status says why, and Clearwater's config is the image's template.
func (g guestFiles) checkNothingWritten(st status.Report, w want) {
	g.t.Helper()
	if u := g.read("/var/lib/cw-e2e/unit"); !strings.Contains(u, "Result=exit-code") {
		g.t.Errorf("clearwater-firstboot.service did not fail without an address:\n%s", u)
	}
	if st.Family != "" || st.Address != "" || st.Error == "" || st.Changed {
		g.t.Errorf("status %+v: want no family, no address, an error and nothing changed", st)
	}
	if bad := w.badReasons(st); len(bad) > 0 {
		g.t.Errorf("%s\nstatus: %+v", strings.Join(bad, "; "), st)
	}
	if local := keys(g.read("/etc/clearwater/local_config")); local["local_ip"] != "" {
		g.t.Errorf("local_config: local_ip=%q written without an address", local["local_ip"])
	}
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
	// On IPv6, etcd and its clients on loopback IPv4, where Clearwater's unchanged scripts can
	// reach them (firstboot/aioconfig, ipv6.go); on IPv4 the address, and no management key.
	want := map[string]string{"local_ip": ip, "public_ip": ip, "etcd_cluster": ip, "management_local_ip": "",
		"public_hostname": "cw-aio", "max_log_directory_size": "52428800"}
	if addr.Is6() {
		want["etcd_cluster"], want["management_local_ip"] = "127.0.0.1", "127.0.0.1"
	}
	for k, v := range want {
		if local[k] != v {
			g.t.Errorf("local_config: %s=%q, want %q", k, local[k], v)
		}
	}
	shared := keys(g.read("/etc/clearwater/shared_config"))
	for k, v := range map[string]string{"sprout_hostname": "cw-aio", "xdms_hostname": b + ":7888",
		"hs_hostname": b + ":8888", "sprout_registration_store": b, "upstream_hostname": "scscf.cw-aio",
		// The operator's keys, as the example's shell provisioner wrote them.
		"home_domain": "example.com", "signup_key": suiteSignupKey, "ellis_api_key": suiteEllisAPIKey} {
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

// res compiles reason patterns.
func res(patterns ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = regexp.MustCompile(p)
	}
	return out
}
