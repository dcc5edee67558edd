package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"golang.org/x/crypto/ssh"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/netnstest"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/neutronlab"
	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
	"github.com/clearwater-aio/packer-plugin-clearwater/test/qemu"
)

// qemuBuildTimeout bounds one packer build of example/qemu under TCG: the boot, cloud-init, SSH,
// the provisioners and the shutdown (a few minutes on an idle 2-core host).
const qemuBuildTimeout = 20 * time.Minute

// sudoPassword is the password of the seed's cwpass user (testdata/qemu-seed-user-data.pkrtpl.yaml).
const sudoPassword = "cw-e2e-sudo-password"

// qemuBuild is one packer build of example/qemu: the user packer logs in as, the build
// instance's user-data, and what must come of it.
type qemuBuild struct {
	name     string
	user     string
	password string   // ssh_password: the documented execute_command override when set
	seed     string   // the build instance's user-data template, in testdata
	vars     []string // more -var NAME=VALUE
	removed  []string // files the provisioner's reset must say it removed
	// withoutStandIn builds a copy of example/qemu without its shell provisioner.
	withoutStandIn bool
	fail           []string // when set, the build must fail with all of these in its output
	// boots: the image boots on a dual-stack lab once per entry, with that user-data ("report":
	// the test's own, no toggle; "ipv6-lab": the example's IPv6 lab), and must decide as said.
	boots []qemuBoot
}

type qemuBoot struct {
	userData string
	want     want
}

// The build instances' toggles are in their user-data, as the data source rendered it before
// v0.2 (a write_files marker and drop-in); cloud-init writes them into the build instance.
const (
	seedForced   = "qemu-seed-user-data.pkrtpl.yaml"       // marker and drop-in: force_ipv6 true
	seedUnforced = "qemu-seed-user-data-false.pkrtpl.yaml" // drop-in: force_ipv6 false
	markerFile   = "/etc/clearwater/force_ipv6"
	dataDropIn   = "/etc/clearwater/firstboot.d/90-clearwater-userdata.yaml"
)

var qemuBuilds = []qemuBuild{
	// The provisioner's default execute_command, as on a cloud image's default user. The build
	// instance's user-data forces IPv6; no instance of the image may inherit that: without a
	// toggle of its own it chooses IPv4 on a dual-stack network, and the IPv6 lab's is forced.
	{name: "sudo-nopasswd", user: "cwbuild", seed: seedForced, removed: []string{markerFile, dataDropIn},
		boots: []qemuBoot{
			{"ipv6-lab", want{family: "ipv6", force: true, forceSource: userdata.SourceKey}},
			{"report", want{family: "ipv4", forceSource: userdata.SourceNone, why: res(`^IPv6 not forced \(the default\)$`)}},
		}},
	// The reverse: the build instance's user-data says false, the provisioner bakes true; every
	// instance is forced.
	{name: "sudo-password", user: "cwpass", password: sudoPassword, seed: seedUnforced, vars: []string{"force_ipv6=true"},
		removed: []string{dataDropIn},
		boots: []qemuBoot{
			{"report", want{family: "ipv6", force: true, forceSource: userdata.SourceConfig}},
		}},
	// No sudo at all: the example without its stand-in for Clearwater's install (whose own sudo
	// would fail first), so that the provisioner's words are what the user reads.
	{name: "no-sudo", user: "cwnosudo", seed: seedForced, withoutStandIn: true, fail: []string{
		"sudo: a password is required", "sudo refused the communicator's user (ssh_username)",
		"give it passwordless sudo", `set execute_command = "echo '<password>' | sudo -S -p '' sh {{.Path}}"`}},
}

// TestQemuBuild bakes the image the way most pipelines do: example/qemu with packer's qemu
// builder (TCG) boots the Debian cloud base, logs in over SSH as a user of the test's NoCloud
// seed and provisions through sudo; once per kind of sudo, two builds at a time. Each build
// instance's user-data carries a toggle; each image then boots on a dual-stack lab, where only
// the booting instance's user-data and the baked settings may decide.
func TestQemuBuild(t *testing.T) {
	requireRoot(t)
	qemu.RequireTools(t, "xorriso")
	netnstest.Require(t)
	generateHelpers(t)
	env := packertest.New(t)
	env.InstallPeer(t, "qemu", "github.com/hashicorp/qemu")

	start := time.Now()
	var progress bytes.Buffer
	base, err := qemu.DebianImageVariant(t.Context(), "cloud", &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Logf("cloud base image %s: %.1fs", base, time.Since(start).Seconds())
	key := sshKey(t)
	report, err := os.ReadFile(reportUserData())
	if err != nil {
		t.Fatal(err)
	}
	userData := map[string][]byte{"ipv6-lab": ipv6LabUserData(t, env), "report": report}

	// One guest per core (qemu.Slot), shared with every other test that boots one.
	for _, b := range qemuBuilds {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			image := b.run(t, env, base, key)
			for i, boot := range b.boots {
				if image == "" || t.Failed() {
					return
				}
				// Each boot on a copy: the disk of an instance that never booted before.
				net := neutronlab.Spec{Net: 1, Port: 5 + i, IPv4: true, IPv6: neutronlab.SLAAC, NoMetadata: true}
				t.Run(boot.userData, func(t *testing.T) {
					guestBoot{qemu: qemu.Options{Image: image}, seed: userData[boot.userData], net: net, want: boot.want}.run(t)
				})
			}
		})
	}
}

// run runs packer build on example/qemu as b.user and checks the outcome. It returns the image
// when the build was meant to succeed.
func (b qemuBuild) run(t testing.TB, env *packertest.Env, base, key string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "image")
	ctx, cancel := context.WithTimeout(t.Context(), qemuBuildTimeout)
	defer cancel()
	args := []string{"build", "-color=false", keysVarFile(), "-var", "base_image=" + base, "-var", "output_directory=" + out,
		"-var", "ssh_private_key_file=" + key, "-var", "ssh_username=" + b.user,
		"-var", "seed_user_data=" + filepath.Join(packertest.RepoRoot(), "test", "e2e", "testdata", b.seed),
		"-var", "ipv6_timeout=" + ipv6Timeout}
	if b.password != "" {
		args = append(args, "-var", "ssh_password="+b.password)
	}
	for _, v := range b.vars {
		args = append(args, "-var", v)
	}
	var output bytes.Buffer
	template := qemuExampleDir()
	if b.withoutStandIn {
		template = withoutShell(t, template)
	}
	cmd := env.Command(ctx, dir, append(args, template)...)
	cmd.Stdout, cmd.Stderr = &output, &output
	release, err := qemu.Slot(ctx) // packer's qemu builder boots a guest
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = cmd.Run()
	release()
	t.Logf("packer build example/qemu as %s: %.1fs", b.user, time.Since(start).Seconds())
	if b.fail != nil {
		if err == nil {
			t.Fatalf("packer build as %s succeeded, want a failure:\n%s", b.user, output.String())
		}
		for _, s := range b.fail {
			if !strings.Contains(output.String(), s) {
				t.Errorf("packer build as %s: the output lacks %q:\n%s", b.user, s, output.String())
			}
		}
		// Nothing was left behind: packer removes the output of a failed build.
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("failed build left %s (%v)", out, err)
		}
		return ""
	}
	if err != nil {
		t.Fatalf("packer build example/qemu as %s: %v\n%s", b.user, err, output.String())
	}
	want := []string{"Installing the Clearwater first-boot helper", "Verified: the helper accepts its config"}
	for _, f := range b.removed {
		want = append(want, "removed "+f+": cloud-init wrote it from the user-data of instance clearwater-aio-build")
	}
	for _, s := range want {
		if !strings.Contains(output.String(), s) {
			t.Errorf("packer build as %s: the output lacks %q:\n%s", b.user, s, output.String())
		}
	}
	return filepath.Join(out, "clearwater-aio.qcow2")
}

// BenchmarkQemuExampleBuild prints how long packer build example/qemu takes (s/build): packer's
// qemu builder under TCG on the cached cloud base, over SSH with passwordless sudo. Compare
// BenchmarkExampleBuild, the same image from the clearwater-chroot builder.
func BenchmarkQemuExampleBuild(b *testing.B) {
	requireRoot(b)
	qemu.RequireTools(b, "xorriso")
	generateHelpers(b)
	env := packertest.New(b)
	env.InstallPeer(b, "qemu", "github.com/hashicorp/qemu")
	base, err := qemu.DebianImageVariant(b.Context(), "cloud", nil)
	if err != nil {
		b.Fatal(err)
	}
	key := sshKey(b)
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		image := qemuBuilds[0].run(b, env, base, key)
		total += time.Since(start)
		if err := os.RemoveAll(filepath.Dir(filepath.Dir(image))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/build")
}

// withoutShell copies the .pkr.hcl files of the template folder src with every shell provisioner
// removed, and returns the copy's folder.
func withoutShell(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	files, err := filepath.Glob(filepath.Join(src, "*.pkr.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no templates (%v)", src, err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclwrite.ParseConfig(data, p, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		for _, b := range f.Body().Blocks() {
			for _, p := range b.Body().Blocks() {
				if b.Type() == "build" && p.Type() == "provisioner" && slices.Equal(p.Labels(), []string{"shell"}) {
					b.Body().RemoveBlock(p)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(p)), f.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// qemuExampleDir is example/qemu: the template a user runs with packer's qemu builder.
func qemuExampleDir() string { return filepath.Join(exampleDir(), "qemu") }

// sshKey writes a fresh ed25519 key pair for the test (KEY and KEY.pub, as ssh-keygen would)
// and returns the private key's path.
func sshKey(t testing.TB) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "cw-e2e")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ipv6LabUserData renders the IPv6 lab's user-data with the example's own data source
// (example/userdata.pkr.hcl) and the test's report as the base user-data.
func ipv6LabUserData(t *testing.T, env *packertest.Env) []byte {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(exampleDir(), "userdata.pkr.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	vars := `variable "base_user_data" { type = string }
variable "user_data_directory" { type = string }
`
	for name, text := range map[string]string{"userdata.pkr.hcl": string(src), "variables.pkr.hcl": vars} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "user-data")
	res := env.Build(t, dir, "-only=file.ipv6-lab", "-var", "base_user_data="+reportUserData(), "-var", "user_data_directory="+out, ".")
	if res.ExitCode != 0 {
		t.Fatalf("packer build of example/userdata.pkr.hcl (exit %d):\n%s", res.ExitCode, res.Output)
	}
	data, err := os.ReadFile(filepath.Join(out, "ipv6-lab.yaml"))
	if err != nil {
		t.Fatalf("the IPv6 lab's user-data: %v\n%s", err, res.Output)
	}
	return data
}
