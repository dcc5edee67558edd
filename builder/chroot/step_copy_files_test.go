package chroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStepCopyFiles(t *testing.T) {
	root := t.TempDir()
	hostDir := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{"etc", "run"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The image's resolv.conf is a symlink (here to a host path, which
	// must not be written), hosts a regular file, and "new" is missing.
	if err := os.Symlink(filepath.Join(outside, "resolv.conf"), filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/hosts"), []byte("image hosts"), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, name := range []string{"resolv.conf", "hosts", "new"} {
		p := filepath.Join(hostDir, name)
		if err := os.WriteFile(p, []byte("host "+name), 0o640); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// copy_files paths are the same on the host and in the image, so
	// give the image the host directory too.
	if err := os.MkdirAll(filepath.Join(root, hostDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "x"), filepath.Join(root, hostDir, "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, hostDir, "hosts"), []byte("image hosts"), 0o644); err != nil {
		t.Fatal(err)
	}
	state, _ := testState(t, &Config{CopyFiles: files}, &fakeDriver{})
	state.Put("mount_path", root)
	step := &stepCopyFiles{}
	if err := stateErrorAfter(step.Run(context.Background(), state), state); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"resolv.conf", "hosts", "new"} {
		p := filepath.Join(root, hostDir, name)
		assertContent(t, p, "host "+name)
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s is not a regular file during the build", p)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the root: %v", entries)
	}
	step.Cleanup(state)
	if l, err := os.Readlink(filepath.Join(root, hostDir, "resolv.conf")); err != nil || l != filepath.Join(outside, "x") {
		t.Errorf("resolv.conf symlink not restored: %q, %v", l, err)
	}
	assertContent(t, filepath.Join(root, hostDir, "hosts"), "image hosts")
	if _, err := os.Lstat(filepath.Join(root, hostDir, "new")); !os.IsNotExist(err) {
		t.Errorf("new was not removed: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, hostDir))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), origSuffix) {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

func TestStepCopyFilesErrors(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct{ file, want string }{
		{"/nonexistent/clearwater-file", "reading /nonexistent/clearwater-file on the host"},
		{"/etc/hostname", "the image has no directory /etc"},
	} {
		state, _ := testState(t, &Config{CopyFiles: []string{tc.file}}, &fakeDriver{})
		state.Put("mount_path", root)
		err := stateErrorAfter((&stepCopyFiles{}).Run(context.Background(), state), state)
		if err == nil || !strings.Contains(err.Error(), "copy_files:") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.file, err, tc.want)
		}
	}
}
