package firstboot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

func TestMain(m *testing.M) { os.Exit(packertest.Run(m)) }

// These tests run `packer build` with the pinned packer, the clearwater-chroot builder and this
// provisioner on a small partitioned ext4 image made here, then read the output image offline
// (qemu-img + debugfs) and run the installed helper against the extracted filesystem.

var accTools = []string{"chroot", "busybox", "qemu-img", "mke2fs", "sfdisk", "debugfs"}

// generateHelpers builds the embedded helpers (what `go generate` does) before packertest
// builds the plugin, so that the plugin under test has them.
func generateHelpers(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./internal/buildhelpers", "-out", "helpers")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the helpers: %v\n%s", err, out)
	}
}

// run runs a host tool and fails the test on error.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

const (
	partStart   = 2048   // sectors
	partSectors = 131072 // 64 MiB
)

// makeImage writes the tree at root as the ext4 root partition of a GPT disk, as qcow2.
func makeImage(t *testing.T, root, dir string) string {
	t.Helper()
	part, disk, img := filepath.Join(dir, "part.ext4"), filepath.Join(dir, "disk.raw"), filepath.Join(dir, "source.qcow2")
	if err := os.WriteFile(part, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(part, partSectors*512); err != nil {
		t.Fatal(err)
	}
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-L", "cw-root", "-d", root, part)
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, (partStart+partSectors+2048)*512); err != nil {
		t.Fatal(err)
	}
	sfdisk := exec.Command("sfdisk", "-q", disk)
	sfdisk.Stdin = strings.NewReader(fmt.Sprintf("label: gpt\nstart=%d, size=%d, type=0FC63DAF-8483-4772-8E3D-693D7DE47709\n", partStart, partSectors))
	if out, err := sfdisk.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	copyAt(t, part, disk, partStart*512)
	run(t, "qemu-img", "convert", "-O", "qcow2", disk, img)
	for _, f := range []string{part, disk} {
		os.Remove(f)
	}
	return img
}

// copyAt writes the file src into dst at offset.
func copyAt(t *testing.T, src, dst string, offset int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(io.NewOffsetWriter(out, offset), in); err != nil {
		t.Fatal(err)
	}
}

// extractRoot reads the root partition of the qcow2 image img into a folder, offline.
func extractRoot(t *testing.T, img, dir string) (tree, part string) {
	t.Helper()
	raw, part, tree := filepath.Join(dir, "out.raw"), filepath.Join(dir, "out.ext4"), filepath.Join(dir, "tree")
	run(t, "qemu-img", "convert", "-O", "raw", img, raw)
	var table struct {
		PartitionTable struct {
			Partitions []struct{ Start, Size int64 } `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(run(t, "sfdisk", "-J", raw), &table); err != nil || len(table.PartitionTable.Partitions) != 1 {
		t.Fatalf("output partition table: %v %+v", err, table)
	}
	p := table.PartitionTable.Partitions[0]
	in, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(part)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(in, p.Start*512, p.Size*512)); err != nil {
		t.Fatal(err)
	}
	os.Remove(raw)
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "debugfs", "-R", "rdump / "+tree, part)
	return tree, part
}

// inode is what debugfs says of a path in the filesystem image.
type inode struct {
	typ, mode string
	uid, gid  string
}

var statLine = regexp.MustCompile(`Type: (\S+)\s+Mode:\s+(\d+)[\s\S]*?User:\s+(\d+)\s+Group:\s+(\d+)`)

func debugfsStat(t *testing.T, part, path string) inode {
	t.Helper()
	out := run(t, "debugfs", "-R", "stat "+path, part)
	m := statLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("debugfs stat %s:\n%s", path, out)
	}
	return inode{typ: string(m[1]), mode: string(m[2]), uid: string(m[3]), gid: string(m[4])}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

const accTemplate = `
source "clearwater-chroot" "aio" {
  source_image     = "source.qcow2"
  format           = "qcow2"
  output_directory = "output"
}

build {
  sources = ["source.clearwater-chroot.aio"]

  provisioner "clearwater-firstboot" {
    force_ipv6      = true
    on_missing_ipv6 = "fallback"
    ipv6_timeout    = "45s"
    hostname        = "lab-aio"
  }
}
`

func TestAccPackerBuild(t *testing.T) {
	needRoot(t, accTools...)
	generateHelpers(t)
	env := packertest.New(t)

	c := busyboxRoot(t) // upstream auto-config enabled, cloud-init, machine-id, old helper state
	c.write(t, "/lib/systemd/systemd", "", 0o755)
	c.link(t, "/lib/systemd/systemd", "/sbin/init")
	dir := t.TempDir()
	src := makeImage(t, c.root, dir)
	srcSum := fileSum(t, src)
	if err := os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(accTemplate), 0o644); err != nil {
		t.Fatal(err)
	}

	res := env.Build(t, dir, "build.pkr.hcl")
	if res.ExitCode != 0 {
		t.Fatalf("packer build exited %d:\n%s", res.ExitCode, res.Output)
	}
	for _, want := range []string{
		"Guest architecture: x86_64: installing the linux/amd64 helper",
		"Init system: systemd (detected: /sbin/init -> /lib/systemd/systemd)",
		"clearwater-firstboot: disabled clearwater-auto-config-generic",
		"Verified: the helper accepts its config",
	} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("packer output lacks %q", want)
		}
	}
	if fileSum(t, src) != srcSum {
		t.Error("the build changed the source image")
	}

	tree, part := extractRoot(t, filepath.Join(dir, "output", "aio.qcow2"), dir)
	out := chrootComm{root: tree}
	helper, err := os.ReadFile(filepath.Join("helpers", helperName("amd64")))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out.path(DefaultInstallPath)); !bytes.Equal(got, helper) {
		t.Errorf("%s in the image is not the embedded amd64 helper", DefaultInstallPath)
	}
	for path, want := range map[string]inode{
		DefaultInstallPath:                                                         {"regular", "0755", "0", "0"},
		"/etc/clearwater/firstboot.yaml":                                           {"regular", "0644", "0", "0"},
		"/etc/systemd/system/clearwater-firstboot.service":                         {"regular", "0644", "0", "0"},
		"/etc/systemd/system/multi-user.target.wants/clearwater-firstboot.service": {"symlink", "0777", "0", "0"},
		"/etc/systemd/system/clearwater-auto-config-generic.service":               {"symlink", "0777", "0", "0"},
		"/etc/rc2.d/K20clearwater-auto-config-generic":                             {"symlink", "0777", "0", "0"},
		"/etc/machine-id":                                                          {"regular", "0444", "0", "0"},
	} {
		if got := debugfsStat(t, part, path); got != want {
			t.Errorf("%s: %+v, want %+v", path, got, want)
		}
	}
	checkFiles(t, out, []fileCheck{
		{"/etc/clearwater/firstboot.yaml", 0o644, "# Options set: force_ipv6, on_missing_ipv6, hostname, ipv6_timeout.\n"},
		{"/etc/systemd/system/clearwater-firstboot.service", 0o644, "\nExecStart=/usr/local/sbin/clearwater-firstboot run --start-timeout 183s\n"},
		{"/etc/systemd/system/clearwater-firstboot.service", 0o644, "\nBefore=clearwater-infrastructure.service dnsmasq.service clearwater-etcd.service"},
		{"/etc/systemd/system/clearwater-firstboot.service", 0o644, "\nTimeoutStartSec=183\n"}, // 10s + 45s + 3s + 5s + 2m
		{"/etc/systemd/system/multi-user.target.wants/clearwater-firstboot.service", 0o777 | os.ModeSymlink, "/etc/systemd/system/clearwater-firstboot.service"},
		{"/etc/systemd/system/clearwater-auto-config-generic.service", 0o777 | os.ModeSymlink, "/dev/null"},
		{"/etc/machine-id", 0o444, "-"},
	})
	checkGone(t, out, "/tmp/clearwater-firstboot.*", "/etc/rc?.d/S*", "/var/lib/clearwater-firstboot", "/var/lib/cloud/*",
		"/etc/init.d/clearwater-firstboot", "/etc/clearwater/*.cw-new", "/usr/local/sbin/*.cw-new")

	// The installed helper, run on the output filesystem with a dual-stack snapshot, reads
	// the baked settings: forced to IPv6 by the config.
	snap := filepath.Join(packertest.RepoRoot(), "firstboot", "netstate", "testdata", "dual-stack")
	cmd := exec.CommandContext(t.Context(), out.path(DefaultInstallPath), "plan", "--root", tree, "--json",
		"--addrs", filepath.Join(snap, "addrs.json"), "--routes", filepath.Join(snap, "routes.json"))
	planOut, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("installed helper's plan: %v\n%s", err, planOut)
	}
	var plan struct {
		Family      string `json:"family"`
		ForceIPv6   bool   `json:"force_ipv6"`
		ForceSource string `json:"force_source"`
		Degraded    bool   `json:"degraded"`
	}
	if err := json.Unmarshal(planOut, &plan); err != nil || plan.Family != "ipv6" || !plan.ForceIPv6 || plan.ForceSource != "config" || plan.Degraded {
		t.Errorf("installed helper's plan on the output: %v %+v\n%s", err, plan, planOut)
	}
}

// A config the helper refuses, already in the image, fails the packer build at verify, with
// the helper's message; and a build that fails leaves no staging folder behind in packer's
// output.
func TestAccPackerBuildVerifyFails(t *testing.T) {
	needRoot(t, accTools...)
	generateHelpers(t)
	env := packertest.New(t)

	c := busyboxRoot(t)
	c.write(t, "/sbin/init", "#!/bin/sh\n", 0o755)
	c.write(t, "/etc/clearwater/firstboot.d/50-site.yaml", "ipv6_timeout: forever\n", 0o644)
	dir := t.TempDir()
	makeImage(t, c.root, dir)
	if err := os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(accTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	res := env.Build(t, dir, "build.pkr.hcl")
	if res.ExitCode == 0 {
		t.Fatalf("packer build with a bad drop-in in the image succeeded:\n%s", res.Output)
	}
	for _, want := range []string{"Init system: sysvinit", "the helper rejects its config (exit 2)", "50-site.yaml"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("packer output lacks %q:\n%s", want, res.Output)
		}
	}
}
