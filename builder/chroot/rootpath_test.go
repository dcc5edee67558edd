package chroot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resolveInRoot is rootfs.Resolve (tested there) on a folder of the host: an absolute symlink
// stays inside the root, the last component is followed only when asked, errors name both.
func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/run/resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loop", filepath.Join(root, "loop")); err != nil {
		t.Fatal(err)
	}
	for follow, want := range map[bool]string{true: "run/resolv.conf", false: "etc/resolv.conf"} {
		if got, err := resolveInRoot(root, "/etc/resolv.conf", follow); err != nil || got != want {
			t.Errorf("resolveInRoot(/etc/resolv.conf, %v) = %q, %v; want %q", follow, got, err, want)
		}
	}
	if _, err := resolveInRoot(root, "/loop/x", true); err == nil || !strings.Contains(err.Error(), root) {
		t.Errorf("a symlink loop: %v, want an error naming the root", err)
	}
}
