package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func openRoot(t *testing.T) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func put(t *testing.T, dir, name, content string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestRel(t *testing.T) {
	for in, want := range map[string]string{"/etc/hosts": "etc/hosts", "etc/hosts": "etc/hosts", "/": ".",
		"/etc//clearwater/": "etc/clearwater", "/../etc/hosts": "etc/hosts"} {
		if got := Rel(in); got != want {
			t.Errorf("Rel(%q) = %q, want %q", in, got, want)
		}
	}
}

// Reads take regular files of at most MaxFileSize bytes, and name the file when they refuse.
func TestReadRefuses(t *testing.T) {
	r, dir := openRoot(t)
	put(t, dir, "etc/ok", "fine\n", 0o644)
	put(t, dir, "etc/big", "", 0o644)
	if err := os.Truncate(filepath.Join(dir, "etc/big"), MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "etc/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok", filepath.Join(dir, "etc/link")); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(r, "/etc/link"); err != nil || string(b) != "fine\n" {
		t.Errorf("a symlink inside the root: %q, %v", b, err)
	}
	for name, want := range map[string]error{"/etc/big": ErrTooLarge, "/etc/fifo": ErrNotRegular, "/etc": ErrNotRegular,
		"/etc/missing": fs.ErrNotExist} {
		_, err := ReadFile(r, name) // a FIFO must not block: it is opened O_NONBLOCK
		var pe *fs.PathError
		if !errors.Is(err, want) || !errors.As(err, &pe) || pe.Path != name {
			t.Errorf("ReadFile(%s) = %v, want %v naming %s", name, err, want, name)
		}
		_, err = ReadPath(filepath.Join(dir, name))
		if !errors.Is(err, want) || !strings.Contains(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("ReadPath(%s) = %v, want %v naming the file", name, err, want)
		}
	}
}

// A symlink in the place of a file is written through, the symlink kept; a folder is refused.
func TestWriteThroughSymlink(t *testing.T) {
	r, dir := openRoot(t)
	put(t, dir, "data/hosts", "x", 0o640)
	os.Mkdir(filepath.Join(dir, "etc"), 0o755)
	os.Symlink("/data/hosts", filepath.Join(dir, "etc/hosts"))
	os.Symlink("../data/missing/netplan.yaml", filepath.Join(dir, "etc/dangling"))
	if b, info, err := Current(r, "/etc/hosts"); string(b) != "x" || info == nil || err != nil {
		t.Errorf("Current(/etc/hosts) = %q, %v, %v; want the target's", b, info, err)
	}
	if err := WriteFile(r, "/etc/hosts", []byte("y"), FileMode); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dir, "data/hosts", "y", 0o640)
	if link, err := os.Readlink(filepath.Join(dir, "etc/hosts")); err != nil || link != "/data/hosts" {
		t.Errorf("the symlink became %q, %v", link, err)
	}
	if err := WriteFile(r, "/etc/dangling", []byte("z"), FileMode); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dir, "data/missing/netplan.yaml", "z", FileMode)
	os.Mkdir(filepath.Join(dir, "etc/dir"), 0o755)
	if _, _, err := Current(r, "/etc/dir"); err == nil || !strings.Contains(err.Error(), "/etc/dir") {
		t.Errorf("Current(/etc/dir) = %v, want an error naming it", err)
	}
	if err := WriteFile(r, "/etc/dir", []byte("y"), FileMode); err == nil {
		t.Error("WriteFile replaced a folder")
	}
	if b, info, err := Current(r, "/etc/missing"); b != nil || info != nil || err != nil {
		t.Errorf("Current(missing) = %q, %v, %v; want nothing", b, info, err)
	}
	assertNoTemp(t, dir)
}

// A write creates the folders, keeps a replaced file's mode and owner, gives a new one perm, and
// leaves no temp file.
func TestWriteFile(t *testing.T) {
	r, dir := openRoot(t)
	if err := WriteFile(r, "/var/lib/new/state.json", []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dir, "var/lib/new/state.json", "{}\n", 0o600)
	if st, _ := os.Stat(filepath.Join(dir, "var/lib/new")); st.Mode().Perm() != DirMode {
		t.Errorf("new folder mode %v, want %v", st.Mode().Perm(), fs.FileMode(DirMode))
	}
	put(t, dir, "etc/kept", "old", 0o640|fs.ModeSetgid)
	os.Chmod(filepath.Join(dir, "etc/kept"), 0o640|fs.ModeSetgid)
	if os.Geteuid() == 0 {
		os.Chown(filepath.Join(dir, "etc/kept"), 0, 42)
	}
	if err := WriteFile(r, "/etc/kept", []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertFile(t, dir, "etc/kept", "new", 0o640|fs.ModeSetgid)
	if st, _ := os.Stat(filepath.Join(dir, "etc/kept")); os.Geteuid() == 0 && st.Sys().(*syscall.Stat_t).Gid != 42 {
		t.Errorf("group not kept: %d", st.Sys().(*syscall.Stat_t).Gid)
	}
	assertNoTemp(t, dir)
}

func assertFile(t *testing.T, dir, name, content string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil || string(b) != content {
		t.Errorf("%s = %q, %v; want %q", name, b, err, content)
	}
	if st, err := os.Stat(p); err != nil || st.Mode() != mode {
		t.Errorf("%s: %v, %v; want mode %v", name, st, err, mode)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && IsTemp(d.Name()) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}

// A write that fails names the file and why, leaves the old file and removes its temp file.
func TestWriteFailsCleanly(t *testing.T) {
	r, dir := openRoot(t)
	put(t, dir, "etc/clearwater", "a file where a folder should be", 0o644)
	err := WriteFile(r, "/etc/clearwater/local_config", []byte("x"), FileMode)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/etc/clearwater/local_config" || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("WriteFile under a file = %v, want a *PathError naming the file and why", err)
	}
	assertFile(t, dir, "etc/clearwater", "a file where a folder should be", 0o644)
	assertNoTemp(t, dir)
}

func TestIsTemp(t *testing.T) {
	r, dir := openRoot(t)
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, tmp, err := createTemp(r, "etc", "hosts")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !IsTemp(filepath.Base(tmp)) {
		t.Errorf("IsTemp(%q) = false for a name createTemp made", tmp)
	}
	for name, want := range map[string]bool{
		".local_config.clearwater-firstboot-3k9x":      true,
		".hosts.clearwater-firstboot-3w5e11264sgsf":    true,
		"local_config.clearwater-firstboot-3k9x":       false, // not hidden: not ours
		".local_config.clearwater-firstboot-":          false,
		".local_config.clearwater-firstboot-3K9X":      false,
		".local_config.clearwater-firstboot-3k9x.yaml": false,
		".hosts.clearwater-firstboot-3w5e11264sgsfz":   false, // longer than a uint64
		".clearwater-firstboot-3k9x":                   false,
		".local_config.aioconfig-3k9x":                 false,
		"status.json.tmp":                              false,
	} {
		if got := IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v, want %v", name, got, want)
		}
	}
}

// Sweep removes the helper's temp files and nothing else.
func TestSweepRemovesOnlyOurs(t *testing.T) {
	r, dir := openRoot(t)
	ours := []string{"etc/.hosts.clearwater-firstboot-abc", "etc/clearwater/.local_config.clearwater-firstboot-1z"}
	theirs := []string{"etc/hosts", "etc/.hosts.swp", "etc/clearwater/local_config.clearwater-firstboot-1z",
		"etc/clearwater/.shared_config.tmp", "var/.x.clearwater-firstboot-1z"} // var: not swept
	for _, n := range append(append([]string(nil), ours...), theirs...) {
		put(t, dir, n, "x", 0o644)
	}
	os.Mkdir(filepath.Join(dir, "etc/.d.clearwater-firstboot-2a"), 0o755) // a folder: never ours
	removed, err := Sweep(r, "/etc", "/etc/clearwater", "/run/missing")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0] != "/"+ours[0] || removed[1] != "/"+ours[1] {
		t.Errorf("removed %v, want %v", removed, ours)
	}
	for _, n := range ours {
		if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived", n)
		}
	}
	for _, n := range append(theirs, "etc/.d.clearwater-firstboot-2a") {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}
