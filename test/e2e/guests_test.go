package e2e

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/status"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// sysvinitCases are the sysvinit image's boots: an IPv4 lab, and a dual-stack lab whose
// user-data forces IPv6. The labs are plain KVM hosts: no metadata service.
var sysvinitCases = []struct {
	name     string
	net      neutronlab.Spec
	userData string
	want     want
}{
	{"sysvinit-ipv4", neutronlab.Spec{Net: 1, IPv4: true, NoMetadata: true}, "ipv4-lab",
		want{family: "ipv4", forceSource: userdata.SourceKey}},
	{"sysvinit-forced-ipv6", neutronlab.Spec{Net: 2, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true}, "ipv6-lab",
		want{family: "ipv6", force: true, forceSource: userdata.SourceKey}},
}

// TestSysvinitBoot builds the example on the sysvinit variant of the Debian base image
// (images/debian/build.sh --init sysvinit) with init_system = "auto", then boots it on each of
// sysvinitCases. Besides what the helper decided and wrote, it checks the LSB integration: PID 1
// is sysvinit, insserv put the helper after the network (rcS) and before a service that reads
// Clearwater's config (a stand-in clearwater-infrastructure with no dependency of its own on
// the helper, which saw the helper's address when it started), and `service clearwater-firstboot
// status` reports the decision.
func TestSysvinitBoot(t *testing.T) {
	requireGuests(t, "sysvinit")
	qemu.RequireTools(t)
	netnstest.Require(t)
	requireRoot(t)
	generateHelpers(t)
	env := packertest.New(t)
	base := baseImage(t, "--init", "sysvinit")

	example := filepath.Join(t.TempDir(), "example")
	copyExample(t, example, filepath.Join(packertest.RepoRoot(), "test", "e2e", "testdata", "standin-reader.sh"))
	report := filepath.Join(packertest.RepoRoot(), "test", "e2e", "testdata", "report-sysvinit-user-data.yaml")
	b, out := guestBuild(t, env, example, base, report)
	if !strings.Contains(out, "Init system: sysvinit (detected: ") {
		t.Errorf("init_system = auto did not pick sysvinit:\n%s", out)
	}
	for _, c := range sysvinitCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // as many at once as qemu.Slot has places
			r := guestBoot{qemu: qemu.Options{Image: b.image}, net: c.net, seed: b.userData[c.userData],
				sysvinit: true, want: c.want}.run(t)
			checkSysvinit(t, r.files, r.st)
		})
	}
}

// guestsEnv opts in to the guest boots that are not in every test run: "1" runs them all (make
// test-guests), a comma-separated list runs those named ("sysvinit", "arm64"); make check sets
// it to the GNUmakefile's CHECK_GUESTS. Unset, they skip, under CI=true too.
const guestsEnv = "CW_TEST_GUESTS"

// requireGuests skips tb unless guestsEnv is 1 or names guest.
func requireGuests(tb testing.TB, guest string) {
	tb.Helper()
	v := os.Getenv(guestsEnv)
	if v == "1" || slices.Contains(strings.Split(v, ","), guest) {
		return
	}
	tb.Skipf("a long guest boot: run it with make test-guests (or %s=1, or %s=%s)", guestsEnv, guestsEnv, guest)
}

// baseImage builds (or takes from the cache) a variant of the Debian base image.
func baseImage(t *testing.T, args ...string) string {
	t.Helper()
	var progress io.Writer
	if testing.Verbose() {
		progress = os.Stderr
	}
	start := time.Now()
	base, err := qemu.DebianImage(t.Context(), progress, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("base image %v %s: %.1fs", args, base, time.Since(start).Seconds())
	return base
}

// copyExample copies example/ to dir, with the shell script extra appended to its Clearwater
// stand-in (the provisioner that runs before clearwater-firstboot's).
func copyExample(t *testing.T, dir, extra string) {
	t.Helper()
	if err := os.CopyFS(dir, os.DirFS(exampleDir())); err != nil {
		t.Fatal(err)
	}
	add, err := os.ReadFile(extra)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "scripts", "clearwater-standin.sh"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(add); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// guestBuild runs packer build on the example in dir from base, with baseUserData as the labs'
// base user-data, and returns the image, the labs' user-data and packer's output.
func guestBuild(t *testing.T, env *packertest.Env, dir, base, baseUserData string, extra ...string) (built, string) {
	t.Helper()
	work := t.TempDir()
	out, ud := filepath.Join(work, "image"), filepath.Join(work, "user-data")
	start := time.Now()
	args := append([]string{keysVarFile(), "-var", "base_image=" + base, "-var", "output_directory=" + out,
		"-var", "user_data_directory=" + ud, "-var", "base_user_data=" + baseUserData,
		"-var", "ipv6_timeout=" + ipv6Timeout}, extra...)
	res := env.Build(t, work, append(args, dir)...)
	if res.ExitCode != 0 {
		t.Fatalf("packer build %s (exit %d):\n%s", dir, res.ExitCode, res.Output)
	}
	t.Logf("packer build (base %s): %.1fs", filepath.Base(base), time.Since(start).Seconds())
	b := built{image: filepath.Join(out, "clearwater-aio.qcow2"), userData: map[string][]byte{}}
	checkSHA256(t, b.image, res.Output)
	for _, name := range []string{"ipv4-lab", "ipv6-lab"} {
		var err error
		if b.userData[name], err = os.ReadFile(filepath.Join(ud, name+".yaml")); err != nil {
			t.Fatalf("packer build wrote no %s user-data: %v", name, err)
		}
	}
	return b, res.Output
}

// startLink finds rcS.d's or rc2.d's start link of script in an `ls /etc/rcS.d /etc/rc2.d`
// listing and returns its sequence number, or -1.
func startLink(listing, dir, script string) int {
	_, section, _ := strings.Cut(listing, "/etc/"+dir+":\n")
	section, _, _ = strings.Cut(section, "\n\n")
	m := regexp.MustCompile(`(?m)^S(\d\d)` + regexp.QuoteMeta(script) + `$`).FindStringSubmatch(section)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkSysvinit checks a sysvinit guest's report: PID 1, the start order insserv made, what
// the stand-in reader saw, and `service clearwater-firstboot status`.
func checkSysvinit(t *testing.T, g guestFiles, st status.Report) {
	t.Helper()
	if pid1 := strings.TrimSpace(g.read("/var/lib/cw-e2e/pid1")); pid1 == "" || strings.Contains(pid1, "systemd") {
		t.Errorf("PID 1 is %q, want sysvinit's init", pid1)
	}
	rc := g.read("/var/lib/cw-e2e/rc.d")
	if startLink(rc, "rcS.d", "networking") < 0 {
		t.Errorf("no start link of networking in /etc/rcS.d (the helper's $network):\n%s", rc)
	}
	helper, reader := startLink(rc, "rc2.d", "clearwater-firstboot"), startLink(rc, "rc2.d", "clearwater-infrastructure")
	if helper < 0 || reader < 0 || helper >= reader {
		t.Errorf("rc2.d: clearwater-firstboot S%02d, clearwater-infrastructure S%02d: want the helper first:\n%s", helper, reader, rc)
	}
	// insserv's make-style order, which startpar follows when it runs scripts in parallel.
	dep := g.read("/var/lib/cw-e2e/depend.start")
	if !regexp.MustCompile(`(?m)^clearwater-infrastructure:.*\bclearwater-firstboot\b`).MatchString(dep) {
		t.Errorf(".depend.start does not start clearwater-infrastructure after clearwater-firstboot:\n%s", dep)
	}
	if got, want := strings.TrimSpace(g.read("/var/lib/cw-e2e/reader")), "local_ip="+st.Address; got != want {
		t.Errorf("the service that reads Clearwater's config saw %q at its start, want %q", got, want)
	}
	svc := g.read("/var/lib/cw-e2e/service-status")
	if !strings.Contains(svc, "exit=0") || !strings.Contains(svc, st.Address) || !strings.Contains(strings.ToLower(svc), st.Family) {
		t.Errorf("service clearwater-firstboot status does not say %s %s (exit 0):\n%s", st.Family, st.Address, svc)
	}
}
