package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Paths resolve as in a chroot: absolute symlinks from the root, ".." at the root is the root.
func TestResolveAsChroot(t *testing.T) {
	r, dir := openRoot(t)
	outside := t.TempDir()
	put(t, outside, "etc/hosts", "the host's", 0o644)
	must(t, os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))
	must(t, os.Symlink("/run/resolv.conf", filepath.Join(dir, "etc/resolv.conf")))
	must(t, os.Symlink(outside, filepath.Join(dir, "etc/abs")))
	must(t, os.Symlink("../../../../../../../"+outside, filepath.Join(dir, "etc/rel")))
	must(t, os.Symlink("loop2", filepath.Join(dir, "loop1")))
	must(t, os.Symlink("loop1", filepath.Join(dir, "loop2")))
	put(t, dir, "file", "", 0o644)
	for _, tc := range []struct {
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
		{"/bin/x", false, "usr/bin/x"},
		{"/etc/abs/x", true, outside[1:] + "/x"},
		{"/etc/rel/x", true, outside[1:] + "/x"},
		{"/missing/a/b", true, "missing/a/b"},
	} {
		got, err := resolve(r, tc.in, tc.follow)
		if err != nil || got != tc.want {
			t.Errorf("resolve(%q, %v) = %q, %v; want %q", tc.in, tc.follow, got, err, tc.want)
		}
	}
	if _, err := Resolve(r, "/loop1/x"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a symlink loop: %v, want ELOOP", err)
	}
	if _, err := Resolve(r, "/file/x"); err == nil {
		t.Error("a path through a regular file resolved")
	}
	// A symlink that climbs out stays inside: the host's file is neither read nor written.
	must(t, os.Symlink("../../../../../../../etc/hosts", filepath.Join(dir, "etc/climb")))
	if _, err := ReadFile(r, "/etc/climb"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile through a climbing symlink = %v, want the root's missing /etc/hosts", err)
	}
	must(t, WriteFile(r, "/etc/climb", []byte("mine"), FileMode))
	assertFile(t, dir, "etc/hosts", "mine", FileMode)
	assertFile(t, outside, "etc/hosts", "the host's", 0o644)
}

// An image that keeps its state on a data volume through absolute symlinks boots as it would
// in a chroot: reads, writes, syncs and sweeps go through them.
func TestAbsoluteSymlinkedFolders(t *testing.T) {
	r, dir := openRoot(t)
	put(t, dir, "data/clearwater/local_config", "local_ip=1\n", 0o644)
	put(t, dir, "data/clearwater/.shared_config.clearwater-firstboot-1z", "x", 0o600)
	must(t, os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755))
	must(t, os.Mkdir(filepath.Join(dir, "etc"), 0o755))
	must(t, os.Symlink("/data/clearwater", filepath.Join(dir, "etc/clearwater")))
	must(t, os.Symlink("/data/etcd", filepath.Join(dir, "var/lib/clearwater-etcd")))
	if b, err := ReadFile(r, "/etc/clearwater/local_config"); err != nil || string(b) != "local_ip=1\n" {
		t.Errorf("ReadFile through /etc/clearwater -> /data/clearwater = %q, %v", b, err)
	}
	must(t, WriteFile(r, "/etc/clearwater/shared_config", []byte("s\n"), FileMode))
	assertFile(t, dir, "data/clearwater/shared_config", "s\n", FileMode)
	must(t, WriteFile(r, "/var/lib/clearwater-etcd/member", []byte("m"), FileMode)) // the target is created
	assertFile(t, dir, "data/etcd/member", "m", FileMode)
	must(t, SyncDir(r, "/var/lib/clearwater-etcd"))
	removed, err := Sweep(r, "/etc/clearwater")
	if err != nil || len(removed) != 1 || removed[0] != "/data/clearwater/.shared_config.clearwater-firstboot-1z" {
		t.Errorf("Sweep = %v, %v", removed, err)
	}
	f, err := Open(r, "/var/lib/clearwater-etcd")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	if len(names) != 1 || names[0] != "member" {
		t.Errorf("Open(/var/lib/clearwater-etcd) lists %v", names)
	}
	if list, err := ReadDirIn(dir, "/etc/clearwater", 0); err != nil || len(list) != 2 || list[0].Name() != "local_config" {
		t.Errorf("ReadDirIn(/etc/clearwater) = %v, %v", list, err)
	}
	if info, err := StatIn(dir, "/etc/clearwater/shared_config"); err != nil || !info.Mode().IsRegular() {
		t.Errorf("StatIn(/etc/clearwater/shared_config) = %v, %v", info, err)
	}
	if b, err := ReadFileIn(dir, "/etc/clearwater/shared_config"); err != nil || string(b) != "s\n" {
		t.Errorf("ReadFileIn = %q, %v", b, err)
	}
	if _, err := ReadDirIn(dir, "/etc/missing", 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDirIn(missing) = %v, want ErrNotExist", err)
	}
	if link, _ := os.Readlink(filepath.Join(dir, "etc/clearwater")); link != "/data/clearwater" {
		t.Errorf("the symlink became %q", link)
	}
}
