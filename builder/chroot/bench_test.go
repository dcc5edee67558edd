package chroot

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// benchCommand is the customization every side of the benchmarks runs in
// the guest's root; checkBenchImage looks for its result.
const benchCommand = "echo bench > /etc/clearwater-bench"

// benchUserData makes the booted guest do the same customization as the
// chroot build, then power off.
const benchUserData = `#cloud-config
runcmd:
  - echo bench > /etc/clearwater-bench
  - sync
power_state:
  mode: poweroff
  timeout: 30
  condition: true
`

// BenchmarkChrootVersusBoot builds the same customization (a file in
// /etc) of the Debian base image twice in one run: with this builder, and
// by booting the image in QEMU (TCG) with cloud-init doing the work, which
// is what a boot-based tool such as virt-customize or packer-plugin-qemu
// does at its core, without their extra overhead. Both end with a qcow2
// image on disk. It reports both times and their ratio (target: <= 0.25).
//
//	go test -run '^$' -bench ChrootVersusBoot -benchtime 1x ./builder/chroot/
func BenchmarkChrootVersusBoot(b *testing.B) {
	requireRootB(b)
	base := baseImage(b)
	env := packertest.New(b)
	var chroot, boot time.Duration
	for i := 0; i < b.N; i++ {
		took, _ := benchChroot(b, env, base)
		chroot += took
		boot += benchBoot(b, base)
	}
	c, v := chroot.Seconds()/float64(b.N), boot.Seconds()/float64(b.N)
	b.ReportMetric(c, "chroot-s/op")
	b.ReportMetric(v, "boot-s/op")
	b.ReportMetric(c/v, "chroot/boot")
}

func requireRootB(b *testing.B) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			b.Fatal("needs root (CI=true: not skipping)")
		}
		b.Skip("needs root")
	}
}

// baseImage returns the Debian base image, building it (cached) with
// images/debian/build.sh.
func baseImage(b *testing.B) string {
	b.Helper()
	script := filepath.Join(packertest.RepoRoot(), "images/debian/build.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		b.Skipf("no base image: %s: %v\n%s", script, err, tail(stderr.String(), 2000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1]
}

// benchChroot customizes base with a real packer build of this builder (the default
// compression), and returns its time and the output's size.
func benchChroot(b *testing.B, env *packertest.Env, base string) (time.Duration, int64) {
	b.Helper()
	dir := b.TempDir()
	out := filepath.Join(dir, "out")
	tmpl := `source "clearwater-chroot" "bench" {
  source_image     = ` + strconv.Quote(base) + `
  output_directory = ` + strconv.Quote(out) + `
}
build {
  sources = ["source.clearwater-chroot.bench"]
  provisioner "shell" { inline = [` + strconv.Quote(benchCommand) + `] }
}
`
	if err := os.WriteFile(filepath.Join(dir, "b.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	res := env.Build(b, dir, "b.pkr.hcl")
	took := time.Since(start)
	if res.ExitCode != 0 {
		b.Fatalf("chroot build failed:\n%s", res.Output)
	}
	image := filepath.Join(out, "bench.qcow2")
	checkBenchImage(b, image)
	fi, err := os.Stat(image)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("chroot build: %.1fs, %d bytes", took.Seconds(), fi.Size())
	return took, fi.Size()
}

// benchBoot customizes base by booting it with cloud-init user-data on a
// NoCloud seed, then writes the result as a qcow2 image.
func benchBoot(b *testing.B, base string) time.Duration {
	b.Helper()
	dir := b.TempDir()
	seedDir := filepath.Join(dir, "seed")
	if err := os.Mkdir(seedDir, 0o755); err != nil {
		b.Fatal(err)
	}
	files := map[string]string{"user-data": benchUserData, "meta-data": "instance-id: bench-1\nlocal-hostname: bench\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(seedDir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	seed := filepath.Join(dir, "seed.iso")
	overlay := filepath.Join(dir, "overlay.qcow2")
	out := filepath.Join(dir, "out.qcow2")
	steps := [][]string{
		{"genisoimage", "-quiet", "-output", seed, "-volid", "cidata", "-joliet", "-rock", seedDir},
		{"qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay},
		{"qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "1024", "-smp", "2",
			"-nodefaults", "-display", "none", "-no-reboot", "-serial", "file:" + filepath.Join(dir, "serial.log"),
			"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
			"-drive", "file=" + seed + ",if=virtio,format=raw,readonly=on",
			"-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0"},
		{"qemu-img", "convert", "-O", "qcow2", overlay, out},
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			serial, _ := os.ReadFile(filepath.Join(dir, "serial.log"))
			b.Fatalf("boot build: %v\nserial console:\n%s", err, tail(string(serial), 4000))
		}
	}
	took := time.Since(start)
	checkBenchImage(b, out)
	b.Logf("boot build: %.1fs", took.Seconds())
	return took
}

// checkBenchImage checks, offline, that an output image has the file.
func checkBenchImage(b *testing.B, image string) {
	b.Helper()
	raw := filepath.Join(b.TempDir(), "check.raw")
	ctx := context.Background()
	if _, err := run(ctx, "qemu-img", "convert", "-O", "raw", image, raw); err != nil {
		b.Fatal(err)
	}
	table, err := hostDriver{}.Partitions(ctx, raw)
	if err != nil {
		b.Fatal(err)
	}
	d := hostDriver{}
	for _, p := range table.Partitions {
		dev, err := d.AttachRange(ctx, raw, p.Start, p.Size)
		if err != nil {
			b.Fatal(err)
		}
		out, err := run(ctx, "debugfs", "-R", "cat /etc/clearwater-bench", dev)
		if derr := d.Detach(ctx, dev); derr != nil {
			b.Error(derr)
		}
		if err == nil && out == "bench\n" {
			return
		}
	}
	b.Fatalf("%s lacks /etc/clearwater-bench", image)
}
