package chroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// hostBinfmt is the host's binfmt_misc, which `make deps` mounts and fills
// with Debian's qemu-user-static handlers.
const hostBinfmt = "/proc/sys/fs/binfmt_misc"

// TestCheckBinfmtHost checks the check against what Debian's qemu-user-static
// really registers: a real aarch64 executable, run by the kernel through the
// handler from inside a chroot, and checkBinfmt agreeing that it can.
func TestCheckBinfmtHost(t *testing.T) {
	if os.Geteuid() != 0 || runtime.GOARCH != "amd64" {
		t.Skip("needs root on an amd64 host (chroot; binfmt_misc set up by make deps)")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "hello")
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello from aarch64\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building an arm64 executable: %v: %s", err, out)
	}
	header, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkBinfmt(hostBinfmt, root, header[:64], "aarch64"); err != nil {
		t.Fatalf("checkBinfmt on this host: %v (run make deps)", err)
	}
	cmd := exec.Command("/hello")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello from aarch64") {
		t.Fatalf("the kernel did not run the aarch64 executable in the chroot: %v: %s", err, out)
	}
	// And a machine no handler is registered for is refused, naming the fix.
	fake := append([]byte(nil), header[:64]...)
	fake[18], fake[19] = 0x34, 0x12
	if err := checkBinfmt(hostBinfmt, root, fake, "m4660"); err == nil || !strings.Contains(err.Error(), "qemu-user-static") {
		t.Fatalf("checkBinfmt of an unknown machine = %v, want the fix", err)
	}
}
