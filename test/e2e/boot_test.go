package e2e

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
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

// TestBoot builds the example, then boots the image once on a platform that is not OpenStack:
// a plain KVM host (no Nova SMBIOS, no config drive, no metadata service) whose user-data is on
// a NoCloud seed, on a dual-stack network. Not forced, the helper must choose IPv4 as soon as it
// is usable, without waiting for a metadata service. TestBootNeutron boots the other cases.
func TestBoot(t *testing.T) {
	// With the other boot test: their guests share qemu.Slot's places, so that none stays idle
	// while one test boots its last guest alone.
	t.Parallel()
	qemu.RequireTools(t)
	netnstest.Require(t)
	b := buildExample(t)
	guestBoot{qemu: qemu.Options{Image: b.image}, seed: b.userData["report"],
		net: neutronlab.Spec{Net: 1, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true},
		want: want{family: "ipv4", forceSource: userdata.SourceNone,
			why: res(`^user-data from the nocloud `, `^IPv6 not forced \(the default\)$`,
				`^waited \d+(\.\d+)?m?s for a usable address`),
			// Never waited for a metadata service: none was asked.
			notWhy: res(`metadata`)},
	}.run(t)
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
	args := append([]string{keysVarFile(), "-var", "base_image=" + base, "-var", "output_directory=" + out,
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
	sum := fileSHA256(t, image)
	side, err := os.ReadFile(image + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(output, "sha256 "+sum) || !strings.HasPrefix(string(side), sum+" ") {
		t.Errorf("image sha256 %s: not what packer reported or %s.sha256 says (%q)", sum, filepath.Base(image), side)
	}
}
