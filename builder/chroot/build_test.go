package chroot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// buildCase is one packer build of the test image.
type buildCase struct {
	env    *packertest.Env
	dir    string // the test's directory: template, output, mount point
	source string // the source image
	sum    string // its sha256 before the build
	out    string // output_directory
	mnt    string // mount_path
}

// newBuildCase makes the test image (as qcow2) and a packer environment.
func newBuildCase(t *testing.T) *buildCase {
	t.Helper()
	return newLabeledBuildCase(t, "dos")
}

// newLabeledBuildCase is newBuildCase with a "dos" or "gpt" label.
func newLabeledBuildCase(t *testing.T, label string) *buildCase {
	t.Helper()
	requireRoot(t)
	requireTools(t, "losetup", "blkid", "e2fsck", "resize2fs", "growpart", "dumpe2fs", "chroot")
	env := packertest.New(t)
	raw := makeLabeledImage(t, label)
	dir := t.TempDir()
	src := filepath.Join(dir, "source.qcow2")
	mustRun(t, "qemu-img", "convert", "-O", "qcow2", raw, src)
	bc := &buildCase{env: env, dir: dir, source: src, sum: fileSHA256(t, src),
		out: filepath.Join(dir, "output"), mnt: filepath.Join(dir, "mnt")}
	t.Cleanup(func() {
		if l := leftovers(t, dir); len(l) > 0 {
			t.Errorf("left behind: %q", l)
		}
		if p := processesIn(bc.mnt); len(p) > 0 {
			t.Errorf("processes left in the chroot: %v", p)
		}
		if got := fileSHA256(t, src); got != bc.sum {
			t.Errorf("the source image changed: sha256 %s, was %s", got, bc.sum)
		}
	})
	return bc
}

// template writes a template using the builder with extra source settings
// and the given provisioner blocks, and returns its file name.
func (bc *buildCase) template(t *testing.T, source, provisioners string) string {
	t.Helper()
	tmpl := fmt.Sprintf(`source "clearwater-chroot" "t" {
  output_directory = %s
  mount_path       = %s
%s
}

build {
  sources = ["source.clearwater-chroot.t"]
%s
}
`, strconv.Quote(bc.out), strconv.Quote(bc.mnt), source, provisioners)
	if err := os.WriteFile(filepath.Join(bc.dir, "t.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	return "t.pkr.hcl"
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestBuildCustomizesImageOffline runs a real packer build with the shell
// and file provisioners and checks the output image without mounting it.
// Its source is zstd-compressed like its output, so the output is written over a copy of
// the source (grown by disk_size).
func TestBuildCustomizesImageOffline(t *testing.T) {
	bc := newBuildCase(t)
	compressed := filepath.Join(bc.dir, "compressed.qcow2")
	mustRun(t, "qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", bc.source, compressed)
	if err := os.Rename(compressed, bc.source); err != nil {
		t.Fatal(err)
	}
	bc.sum = fileSHA256(t, bc.source)
	payload := filepath.Join(bc.dir, "payload.txt")
	if err := os.WriteFile(payload, []byte("payload ✓\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(payload, 0o640); err != nil {
		t.Fatal(err)
	}
	downloaded := filepath.Join(bc.dir, "downloaded.txt")
	tmpl := bc.template(t, fmt.Sprintf(`  source_image = %s
  disk_size    = "96M"
  format       = "qcow2"
  compression  = "zstd"`, strconv.Quote(bc.source)), fmt.Sprintf(`
  provisioner "shell" {
    inline = [
      "echo \"built $((1+2)) 'quoted'\" > /etc/built",
      "cat /boot/bootfile > /etc/from-boot",
      "test -c /dev/null && test -r /proc/self/status && test -d /sys/kernel && test -d /dev/pts",
      "cat /etc/resolv.conf > /etc/resolv-during",
    ]
  }
  provisioner "file" {
    source      = %s
    destination = "/etc/payload.txt"
  }
  provisioner "file" {
    direction   = "download"
    source      = "/etc/built"
    destination = %s
  }`, strconv.Quote(payload), strconv.Quote(downloaded)))
	res := bc.env.Build(t, bc.dir, tmpl)
	if res.ExitCode != 0 {
		t.Fatalf("packer build failed (exit %d):\n%s", res.ExitCode, res.Output)
	}
	image := filepath.Join(bc.out, "t.qcow2")
	sumFile, err := os.ReadFile(image + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if want := fileSHA256(t, image) + "  t.qcow2\n"; string(sumFile) != want {
		t.Errorf("checksum file %q, want %q", sumFile, want)
	}
	if !strings.Contains(res.Output, "qcow2 image "+image) {
		t.Errorf("the artifact is not reported:\n%s", res.Output)
	}
	if info, err := (hostDriver{}).ImageInfo(t.Context(), image); err != nil || info.Format != "qcow2" || info.VirtualSize != 96<<20 {
		t.Errorf("output image info %+v, %v", info, err)
	}
	if ct := mustRun(t, "qemu-img", "info", "--output=json", image); !strings.Contains(ct, `"compression-type": "zstd"`) {
		t.Errorf("compression = \"zstd\" did not reach the image:\n%s", ct)
	}
	for _, w := range []string{"Discarded free blocks: ", "over a copy of the source image", "Writing the image: 100%"} {
		if !strings.Contains(res.Output, w) {
			t.Errorf("the build does not say %q:\n%s", w, res.Output)
		}
	}

	rootFS := extractPartition(t, image, 2)
	for path, want := range map[string]string{
		"/etc/built":       "built 3 'quoted'\n",
		"/etc/from-boot":   "boot\n",
		"/etc/payload.txt": "payload ✓\n",
	} {
		if got := debugfsCat(t, rootFS, path); got != want {
			t.Errorf("%s in the image = %q, want %q", path, got, want)
		}
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	if got := debugfsCat(t, rootFS, "/etc/resolv-during"); got != string(hostResolv) {
		t.Errorf("copy_files: resolv.conf during the build = %q, want the host's %q", got, hostResolv)
	}
	if st := debugfsStat(t, rootFS, "/etc/resolv.conf"); !strings.Contains(st, "Type: symlink") || !strings.Contains(st, "/run/resolvconf/resolv.conf") {
		t.Errorf("copy_files: the image's /etc/resolv.conf symlink was not restored:\n%s", st)
	}
	if st := debugfsStat(t, rootFS, "/etc/payload.txt"); !strings.Contains(st, "Mode:  0640") {
		t.Errorf("payload mode not kept:\n%s", st)
	}
	if b, err := os.ReadFile(downloaded); err != nil || string(b) != "built 3 'quoted'\n" {
		t.Errorf("downloaded /etc/built = %q, %v", b, err)
	}
	// disk_size grew the root filesystem: 40 MiB of 1 KiB blocks before.
	srcFS := extractPartition(t, bc.source, 2)
	before, after := blockCount(t, srcFS), blockCount(t, rootFS)
	if after*1024 < 75<<20 || after <= before {
		t.Errorf("root filesystem has %d blocks after disk_size = 96M (was %d)", after, before)
	}
	t.Logf("root filesystem: %d -> %d blocks", before, after)
}

// TestBuildFailures checks that a failed or interrupted build says why and
// leaves no mount, loop device, process or output behind, and never
// changes the source.
func TestBuildFailures(t *testing.T) {
	cases := []struct {
		name   string
		source func(bc *buildCase) string
		prov   string
		want   []string
	}{
		{
			name:   "failing provisioner",
			source: func(bc *buildCase) string { return "  source_image = " + strconv.Quote(bc.source) },
			prov:   `provisioner "shell" { inline = ["echo about to fail", "exit 7"] }`,
			want:   []string{"non-zero exit status: 7"},
		},
		{
			name: "corrupt source",
			source: func(bc *buildCase) string {
				b, err := os.ReadFile(bc.source)
				if err != nil {
					t.Fatal(err)
				}
				bad := filepath.Join(bc.dir, "corrupt.qcow2")
				if err := os.WriteFile(bad, b[:len(b)/3], 0o644); err != nil {
					t.Fatal(err)
				}
				return "  source_image = " + strconv.Quote(bad)
			},
			prov: `provisioner "shell" { inline = ["true"] }`,
			want: []string{"source_image", "is damaged", "corruptions"},
		},
		{
			name: "garbage source",
			source: func(bc *buildCase) string {
				bad := filepath.Join(bc.dir, "garbage.img")
				if err := os.WriteFile(bad, []byte(strings.Repeat("not a disk image\n", 4096)), 0o644); err != nil {
					t.Fatal(err)
				}
				return "  source_image = " + strconv.Quote(bad)
			},
			prov: `provisioner "shell" { inline = ["true"] }`,
			want: []string{"source_image", "no readable partition table"},
		},
		{
			name: "wrong checksum",
			source: func(bc *buildCase) string {
				return fmt.Sprintf("  source_image = %s\n  source_image_checksum = \"sha256:%s\"",
					strconv.Quote("file://"+bc.source), strings.Repeat("0", 64))
			},
			prov: `provisioner "shell" { inline = ["true"] }`,
			want: []string{"source_image", "checksum"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bc := newBuildCase(t)
			tmpl := bc.template(t, tc.source(bc), tc.prov)
			res := bc.env.Build(t, bc.dir, tmpl)
			if res.ExitCode == 0 {
				t.Fatalf("the build succeeded:\n%s", res.Output)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Output, w) {
					t.Errorf("output lacks %q:\n%s", w, res.Output)
				}
			}
			if _, err := os.Stat(bc.out); err == nil {
				t.Errorf("output directory %s left behind", bc.out)
			}
			if _, err := os.Stat(bc.source); err != nil {
				t.Errorf("the source image is gone: %v", err)
			}
		})
	}
}

// TestBuildInterrupted sends SIGINT to packer while a provisioner sleeps
// in the chroot.
func TestBuildInterrupted(t *testing.T) {
	bc := newBuildCase(t)
	// Empty lists turn the defaults off (checked below).
	tmpl := bc.template(t, "  source_image = "+strconv.Quote(bc.source)+"\n  chroot_mounts = []\n  copy_files = []",
		`provisioner "shell" { inline = ["touch /tmp/started", "sleep 100"] }`)
	var out strings.Builder
	cmd := bc.env.Command(t.Context(), bc.dir, "build", "-color=false", tmpl)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	started := filepath.Join(bc.mnt, "tmp/started")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("the provisioner never started:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("packer ended before the provisioner started (%v):\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	interrupted := time.Now()
	if err := packertest.Interrupt(cmd); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("packer exited 0 after SIGINT:\n%s", out.String())
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("packer still running 2 minutes after SIGINT:\n%s", out.String())
	}
	t.Logf("packer ended %v after SIGINT", time.Since(interrupted))
	if strings.Contains(out.String(), "Copying /etc/resolv.conf") || strings.Contains(out.String(), "Mounting the chroot's filesystems") {
		t.Errorf("copy_files = [] or chroot_mounts = [] did not turn the defaults off:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "cancelled") {
		t.Errorf("output does not say the build was cancelled:\n%s", out.String())
	}
	if _, err := os.Stat(bc.out); err == nil {
		t.Errorf("output directory %s left behind", bc.out)
	}
}

// TestBuildParallel runs two builds of the same source in one packer run
// (packer runs them in parallel): loop device setup must not race.
func TestBuildParallel(t *testing.T) {
	bc := newBuildCase(t)
	var sources, names []string
	for _, n := range []string{"a", "b"} {
		sources = append(sources, fmt.Sprintf(`source "clearwater-chroot" %q {
  source_image     = %s
  output_directory = %s
  mount_path       = %s
}`, n, strconv.Quote(bc.source), strconv.Quote(filepath.Join(bc.dir, "out-"+n)), strconv.Quote(filepath.Join(bc.dir, "mnt-"+n))))
		names = append(names, `"source.clearwater-chroot.`+n+`"`)
	}
	tmpl := strings.Join(sources, "\n") + fmt.Sprintf(`
build {
  sources = [%s]
  provisioner "shell" { inline = ["echo ${source.name} > /etc/which", "sleep 1"] }
}
`, strings.Join(names, ", "))
	if err := os.WriteFile(filepath.Join(bc.dir, "p.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	res := bc.env.Build(t, bc.dir, "p.pkr.hcl")
	if res.ExitCode != 0 {
		t.Fatalf("parallel builds failed:\n%s", res.Output)
	}
	for _, n := range []string{"a", "b"} {
		fs := extractPartition(t, filepath.Join(bc.dir, "out-"+n, n+".qcow2"), 2)
		if got := debugfsCat(t, fs, "/etc/which"); got != n+"\n" {
			t.Errorf("build %s wrote %q", n, got)
		}
	}
}

// TestBuildGPT grows a GPT image as a raw output, with /boot named by
// PARTUUID in its fstab.
func TestBuildGPT(t *testing.T) {
	bc := newLabeledBuildCase(t, "gpt")
	tmpl := bc.template(t, "  source_image = "+strconv.Quote(bc.source)+"\n  disk_size = \"128M\"\n  format = \"raw\"",
		`provisioner "shell" { inline = ["cat /boot/bootfile > /etc/from-boot"] }`)
	res := bc.env.Build(t, bc.dir, tmpl)
	if res.ExitCode != 0 {
		t.Fatalf("packer build failed:\n%s", res.Output)
	}
	image := filepath.Join(bc.out, "t.raw")
	table, err := hostDriver{}.Partitions(t.Context(), image)
	if err != nil {
		t.Fatal(err)
	}
	if table.Label != "gpt" {
		t.Errorf("label %q", table.Label)
	}
	if info, err := (hostDriver{}).ImageInfo(t.Context(), image); err != nil || info.Format != "raw" || info.VirtualSize != 128<<20 {
		t.Errorf("output image info %+v, %v", info, err)
	}
	rootFS := extractPartition(t, image, 2)
	if got := debugfsCat(t, rootFS, "/etc/from-boot"); got != "boot\n" {
		t.Errorf("/boot was not mounted by PARTUUID: /etc/from-boot = %q", got)
	}
	if blocks := blockCount(t, rootFS); blocks*1024 < 100<<20 {
		t.Errorf("root filesystem has %d blocks after disk_size = 128M", blocks)
	}
	// The grown GPT is sound (its backup header moved to the new end).
	if out := mustRun(t, "sfdisk", "--verify", image); !strings.Contains(out, "No errors detected") {
		t.Errorf("sfdisk --verify: %s", out)
	}
}
