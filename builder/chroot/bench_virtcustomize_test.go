package chroot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/packertest"
)

// applianceKernelPackage is the Debian metapackage whose kernel the
// libguestfs appliance boots: the host has none in /boot, and the cloud
// flavour boots fastest under TCG.
const applianceKernelPackage = "linux-image-cloud-amd64"

// BenchmarkChrootVersusVirtCustomize builds the same customization
// (benchCommand, run as a shell command in the guest's root) of the Debian
// base image twice in one run: with this builder through bin/packer, and
// with libguestfs' virt-customize, the boot-based peer. Both start from the
// cached base image and end with a new qcow2 image on disk; neither uses
// the network. It reports both times and their ratio (target: <= 0.15), and the chroot
// build's output over the base image (out/base; target: <= 1.1).
//
// libguestfs runs its appliance with the direct backend under TCG (KVM
// hangs guests on this host), booting a Debian cloud kernel that the
// benchmark fetches with apt once into .cache/libguestfs. The appliance is
// built, untimed, before the first timed run, as a warm cache would have it.
//
//	go test -run '^$' -bench ChrootVersusVirtCustomize -benchtime 1x ./builder/chroot/
func BenchmarkChrootVersusVirtCustomize(b *testing.B) {
	requireRootB(b)
	requireToolB(b, "virt-customize")
	requireToolB(b, "guestfish")
	env := packertest.New(b)
	base := baseImage(b)
	genv := guestfsEnv(b)
	warmAppliance(b, genv)
	var chroot, peer time.Duration
	var size int64
	for i := 0; i < b.N; i++ {
		took, n := benchChroot(b, env, base)
		chroot, size = chroot+took, n
		peer += benchVirtCustomize(b, genv, base)
	}
	c, v := chroot.Seconds()/float64(b.N), peer.Seconds()/float64(b.N)
	b.ReportMetric(c, "chroot-s/op")
	b.ReportMetric(v, "virt-customize-s/op")
	b.ReportMetric(c/v, "chroot/virt-customize")
	fi, err := os.Stat(base)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size)/float64(fi.Size()), "out/base")
}

func requireToolB(b *testing.B, name string) {
	b.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("needs %s (CI=true: not skipping): %v", name, err)
		}
		b.Skipf("needs %s (apt-get install libguestfs-tools)", name)
	}
}

// benchVirtCustomize customizes base with virt-customize on a qcow2 overlay,
// then writes the result as a qcow2 image, as benchBoot does.
func benchVirtCustomize(b *testing.B, genv []string, base string) time.Duration {
	b.Helper()
	dir := b.TempDir()
	overlay := filepath.Join(dir, "overlay.qcow2")
	out := filepath.Join(dir, "out.qcow2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := run(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay); err != nil {
		b.Fatal(err)
	}
	if err := runGuestfs(ctx, genv, "virt-customize", "-a", overlay, "--no-network", "--run-command", benchCommand); err != nil {
		b.Fatal(err)
	}
	if _, err := run(ctx, "qemu-img", "convert", "-O", "qcow2", overlay, out); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	checkBenchImage(b, out)
	b.Logf("virt-customize build: %.1fs", took.Seconds())
	return took
}

// guestfsEnv returns the environment for libguestfs tools: direct backend,
// TCG only, the cached appliance kernel, and private temporary files.
func guestfsEnv(b *testing.B) []string {
	b.Helper()
	cache := filepath.Join(packertest.RepoRoot(), ".cache", "libguestfs")
	kernel, modules, version := applianceKernel(b, filepath.Join(cache, "kernel"))
	hostModulesDir(b)
	appliance := filepath.Join(cache, "appliance")
	if err := os.MkdirAll(appliance, 0o755); err != nil {
		b.Fatal(err)
	}
	return append(os.Environ(),
		"LIBGUESTFS_BACKEND=direct",
		"LIBGUESTFS_BACKEND_SETTINGS=force_tcg",
		"LIBGUESTFS_CACHEDIR="+appliance,
		"TMPDIR="+b.TempDir(),
		"SUPERMIN_KERNEL="+kernel,
		"SUPERMIN_MODULES="+modules,
		"SUPERMIN_KERNEL_VERSION="+version,
	)
}

// hostModulesDir makes /lib/modules exist while the benchmark runs:
// supermin copies its metadata into the appliance even when
// SUPERMIN_MODULES points elsewhere, and this host has no such directory.
func hostModulesDir(b *testing.B) {
	b.Helper()
	const dir = "/lib/modules"
	if _, err := os.Lstat(dir); err == nil {
		return
	} else if !errors.Is(err, os.ErrNotExist) {
		b.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			b.Errorf("removing %s: %v", dir, err)
		}
	})
}

// applianceKernel returns the kernel, module directory and version of the
// appliance kernel under cache, fetching and unpacking it first if missing.
func applianceKernel(b *testing.B, cache string) (kernel, modules, version string) {
	b.Helper()
	found, err := filepath.Glob(filepath.Join(cache, "*", "boot", "vmlinuz-*"))
	if err != nil {
		b.Fatal(err)
	}
	if len(found) == 0 {
		fetchApplianceKernel(b, cache)
		if found, err = filepath.Glob(filepath.Join(cache, "*", "boot", "vmlinuz-*")); err != nil || len(found) == 0 {
			b.Fatalf("no kernel in %s after fetching it (%v)", cache, err)
		}
	}
	kernel = found[0]
	version = filepath.Base(filepath.Dir(filepath.Dir(kernel)))
	return kernel, filepath.Join(filepath.Dir(filepath.Dir(kernel)), "lib", "modules", version), version
}

var kernelDepends = regexp.MustCompile(`(?m)^\s*Depends: linux-image-(\d\S*)$`)

// fetchApplianceKernel downloads the kernel package that
// applianceKernelPackage points to and unpacks it to cache/<version>, with
// a modules.dep (the .deb has none, and supermin needs one).
func fetchApplianceKernel(b *testing.B, cache string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	deps, err := run(ctx, "apt-cache", "depends", applianceKernelPackage)
	if err != nil {
		b.Fatal(err)
	}
	m := kernelDepends.FindStringSubmatch(deps)
	if m == nil {
		b.Fatalf("apt-cache depends %s names no kernel:\n%s", applianceKernelPackage, deps)
	}
	version := m[1]
	if err := os.MkdirAll(cache, 0o755); err != nil {
		b.Fatal(err)
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	steps := [][]string{
		// apt-get download writes to the working directory.
		{"sh", "-c", `cd "$1" && apt-get download "$2"`, "sh", tmp, "linux-image-" + version},
		{"sh", "-c", `dpkg-deb -x "$1"/*.deb "$2"`, "sh", tmp, root},
		{"depmod", "-b", root, version},
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			b.Fatalf("fetching the appliance kernel: %v", err)
		}
	}
	if err := os.Rename(root, filepath.Join(cache, version)); err != nil {
		b.Fatal(err)
	}
}

// warmAppliance builds (or checks) the cached libguestfs appliance by
// launching it once on no disk, so that timed runs start warm.
func warmAppliance(b *testing.B, genv []string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	if err := runGuestfs(ctx, genv, "guestfish", "-a", "/dev/null", "run"); err != nil {
		b.Fatalf("libguestfs appliance does not start: %v", err)
	}
	b.Logf("libguestfs appliance warm-up: %.1fs", time.Since(start).Seconds())
}

// runGuestfs runs a libguestfs tool with env in its own process group, so
// that a timeout also ends the QEMU it started.
func runGuestfs(ctx context.Context, env []string, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, tail(out.String(), 4000))
	}
	return nil
}
