package chroot

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// runIn runs command in the chroot and returns stdout, stderr and status.
func runIn(t *testing.T, c *Communicator, command string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rc := &packersdk.RemoteCmd{Command: command, Stdout: &stdout, Stderr: &stderr}
	if err := c.Start(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	code := rc.Wait()
	return stdout.String(), stderr.String(), code
}

func TestCommunicatorStartPassesCommandIntact(t *testing.T) {
	requireRoot(t)
	c := &Communicator{Root: busyboxRoot(t)}
	t.Setenv("CLEARWATER_HOST_SECRET", "leaked")
	cases := []struct{ command, want string }{
		{`X=inner; echo "[$X]"`, "[inner]\n"},
		{`echo "$(echo sub) ` + "`echo tick`" + `"`, "sub tick\n"},
		{`printf '%s\n' 'single "double" \back'`, "single \"double\" \\back\n"},
		{"echo a\necho b", "a\nb\n"},
		{`echo 'it'"'"'s'`, "it's\n"},
		{`echo "ünïcødé ✓"`, "ünïcødé ✓\n"},
		{`echo "[$CLEARWATER_HOST_SECRET]"`, "[]\n"},
		{`echo "$PATH|$HOME|$LANG"`, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root|C.UTF-8\n"},
		{`test -f /etc/os-release && echo inside`, "inside\n"},
	}
	for _, tc := range cases {
		out, errOut, code := runIn(t, c, tc.command)
		if out != tc.want || code != 0 {
			t.Errorf("%q: stdout %q (stderr %q, exit %d), want %q", tc.command, out, errOut, code, tc.want)
		}
	}
	if _, errOut, code := runIn(t, c, "echo oops >&2; exit 3"); code != 3 || errOut != "oops\n" {
		t.Errorf("exit %d stderr %q, want 3 and oops", code, errOut)
	}
}

func TestCommunicatorStartCancelKillsProcessGroup(t *testing.T) {
	requireRoot(t)
	root := busyboxRoot(t)
	c := &Communicator{Root: root}
	ctx, cancel := context.WithCancel(context.Background())
	rc := &packersdk.RemoteCmd{Command: "sleep 100 & sleep 100"}
	if err := c.Start(ctx, rc); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until both sleeps run inside the root.
	for i := 0; i < 100 && len(processesIn(root)) < 2; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(processesIn(root)); n < 2 {
		t.Fatalf("%d processes in the root, want two sleeps", n)
	}
	start := time.Now()
	cancel()
	done := make(chan int)
	go func() { done <- rc.Wait() }()
	select {
	case code := <-done:
		if code == 0 {
			t.Errorf("exit status 0 after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("command still running 10s after cancel")
	}
	t.Logf("stopped %v after cancel", time.Since(start))
	for i := 0; i < 50 && len(processesIn(root)) > 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if pids := processesIn(root); len(pids) > 0 {
		t.Errorf("processes %v survived the cancel", pids)
	}
}

func TestCommunicatorUploadModesAndReplace(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Communicator{Root: root}
	src := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o750|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(src)
	if err := c.Upload("/etc/script", strings.NewReader("#!/bin/sh\n"), &fi); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(root, "etc/script"), 0o750|fs.ModeSetuid)
	if err := c.Upload("/etc/plain", strings.NewReader("a"), nil); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(root, "etc/plain"), 0o644)
	// Replacing a file without fi keeps its mode.
	if err := os.Chmod(filepath.Join(root, "etc/plain"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Upload("/etc/plain", strings.NewReader("b"), nil); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(root, "etc/plain"), 0o600)
	assertContent(t, filepath.Join(root, "etc/plain"), "b")
	if err := c.Upload("/nodir/x", strings.NewReader("a"), nil); err == nil {
		t.Error("upload into a missing directory succeeded")
	}
	if err := c.Upload("/etc", strings.NewReader("a"), nil); err == nil {
		t.Error("upload over a directory succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "etc"))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".upload-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	var buf bytes.Buffer
	if err := c.Download("/etc/plain", &buf); err != nil || buf.String() != "b" {
		t.Errorf("download = %q, %v", buf.String(), err)
	}
}

func TestCommunicatorSymlinksStayInsideRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(root, outside) // where the links point, seen from the chroot
	for _, d := range []string{filepath.Join(root, "etc"), inner} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(inner, "secret"), []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"etc/abs":    secret,                                    // absolute, to a host file
		"etc/rel":    "../../../../../../../../../../" + secret, // relative, climbing out
		"etc/absdir": outside,                                   // a directory
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	c := &Communicator{Root: root}
	for _, dst := range []string{"/etc/abs", "/etc/rel", "/etc/absdir/secret", "/etc/absdir/new"} {
		var buf bytes.Buffer
		if err := c.Download(dst, &buf); err == nil && buf.String() == "host" {
			t.Errorf("download %s read the host's file", dst)
		}
		if err := c.Upload(dst, strings.NewReader("written"), nil); err != nil {
			t.Errorf("upload %s: %v", dst, err)
		}
	}
	assertContent(t, secret, "host")
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("upload created a file outside the root")
	}
	assertContent(t, filepath.Join(inner, "secret"), "written")
	assertContent(t, filepath.Join(inner, "new"), "written")
	// The symlinks in the image are still symlinks.
	if fi, err := os.Lstat(filepath.Join(root, "etc/abs")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("upload replaced the symlink /etc/abs")
	}
	// Directory transfers do not escape either.
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadDir("/etc/absdir", src+"/", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "f")); err == nil {
		t.Error("UploadDir wrote outside the root")
	}
	assertContent(t, filepath.Join(inner, "f"), "dir")
	dl := t.TempDir()
	if err := c.DownloadDir("/etc/absdir/", dl, nil); err != nil {
		t.Fatal(err)
	}
	assertContent(t, filepath.Join(dl, "secret"), "written")
}

func TestCommunicatorDirectoriesTrailingSlash(t *testing.T) {
	root := t.TempDir()
	c := &Communicator{Root: root}
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	if err := c.UploadDir("/opt/contents", src+"/", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.UploadDir("/opt/itself", src, []string{"*.skip", "skipdir"}); err != nil {
		t.Fatal(err)
	}
	assertContent(t, filepath.Join(root, "opt/contents/a"), "a")
	assertMode(t, filepath.Join(root, "opt/contents/a"), 0o600)
	assertContent(t, filepath.Join(root, "opt/contents/sub/b"), "b")
	assertMode(t, filepath.Join(root, "opt/contents/sub/b"), 0o755)
	assertMode(t, filepath.Join(root, "opt/contents/sub"), 0o750|fs.ModeDir)
	if l, err := os.Readlink(filepath.Join(root, "opt/contents/link")); err != nil || l != "a" {
		t.Errorf("link = %q, %v", l, err)
	}
	assertContent(t, filepath.Join(root, "opt/itself/tree/a"), "a")
	for _, p := range []string{"opt/itself/tree/x.skip", "opt/itself/tree/skipdir", "opt/contents/tree"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s exists", p)
		}
	}

	dst := t.TempDir()
	if err := c.DownloadDir("/opt/contents/", filepath.Join(dst, "flat"), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DownloadDir("/opt/contents", filepath.Join(dst, "nested"), []string{"sub"}); err != nil {
		t.Fatal(err)
	}
	assertContent(t, filepath.Join(dst, "flat/sub/b"), "b")
	assertMode(t, filepath.Join(dst, "flat/sub/b"), 0o755)
	assertMode(t, filepath.Join(dst, "flat/a"), 0o600)
	assertContent(t, filepath.Join(dst, "nested/contents/a"), "a")
	if _, err := os.Stat(filepath.Join(dst, "nested/contents/sub")); err == nil {
		t.Error("excluded sub was downloaded")
	}
	if l, err := os.Readlink(filepath.Join(dst, "flat/link")); err != nil || l != "a" {
		t.Errorf("downloaded link = %q, %v", l, err)
	}
}

func writeTree(t *testing.T, dir string) {
	t.Helper()
	files := []struct {
		name string
		mode fs.FileMode
	}{{"a", 0o600}, {"sub/b", 0o755}, {"x.skip", 0o644}, {"skipdir/c", 0o644}}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(filepath.Base(f.name)), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}

func assertMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | fs.ModeDir); got != want {
		t.Errorf("%s: mode %v, want %v", p, got, want)
	}
}

func assertContent(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		t.Errorf("%s: %q, %v; want %q", p, b, err, want)
	}
}
