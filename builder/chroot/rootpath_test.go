package chroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveInRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Symlink("/run/resolv.conf", filepath.Join(root, "etc/resolv.conf")))
	must(os.Symlink(outside, filepath.Join(root, "etc/abs")))
	must(os.Symlink("../../../../../../../"+outside, filepath.Join(root, "etc/rel")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	must(os.WriteFile(filepath.Join(root, "file"), nil, 0o644))
	cases := []struct {
		in     string
		follow bool
		want   string
	}{
		{"/", true, "."},
		{"/bin/sh", true, "usr/bin/sh"},
		{"/bin/../etc", true, "usr/etc"}, // as the kernel: /bin/.. is /usr
		{"/../../etc", true, "etc"},
		{"/etc/resolv.conf", true, "run/resolv.conf"},
		{"/etc/resolv.conf", false, "etc/resolv.conf"},
		{"/etc/abs/x", true, outside[1:] + "/x"},
		{"/etc/rel/x", true, outside[1:] + "/x"},
		{"/missing/a/b", true, "missing/a/b"},
	}
	for _, tc := range cases {
		got, err := resolveInRoot(root, tc.in, tc.follow)
		if err != nil || got != tc.want {
			t.Errorf("resolveInRoot(%q, %v) = %q, %v; want %q", tc.in, tc.follow, got, err, tc.want)
		}
	}
	if _, err := resolveInRoot(root, "/loop1/x", true); err == nil {
		t.Error("a symlink loop resolved")
	}
	if _, err := resolveInRoot(root, "/file/x", true); err == nil {
		t.Error("a path through a regular file resolved")
	}
}
