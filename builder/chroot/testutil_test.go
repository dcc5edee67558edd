package chroot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireRoot skips a test that needs root, unless CI=true (then it fails).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

// requireTools skips a test when a host tool is missing, unless CI=true.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := lookTool(n); err != nil {
			skipOrFail(t, "needs "+n)
		}
	}
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: not skipping)")
	}
	t.Skip(why)
}

// busyboxRoot returns a directory that works as a chroot: a static busybox
// with every applet linked in /bin, /etc/os-release, /tmp and /root.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	requireTools(t, "busybox")
	bb, _ := lookTool("busybox")
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "root", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		// Background jobs of sh read /dev/null.
		if err := syscall.Mknod(filepath.Join(root, "dev/null"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}
	osRelease := "PRETTY_NAME=\"busybox test root\"\nID=busybox\n"
	if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(osRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a host command in a test and returns its stdout.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	// Not t.Context(): this also runs from t.Cleanup.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := run(ctx, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustCommand returns a command for a host tool, failing if it is missing.
func mustCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := lookTool(name)
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, args...)
}
