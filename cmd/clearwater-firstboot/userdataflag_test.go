package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// seededRoot is an image root whose NoCloud seed forces IPv6: a run that fell back to it after
// failing to read --user-data would decide IPv6 from it.
func seededRoot(t *testing.T) string {
	t.Helper()
	root, err := os.MkdirTemp("", "userdata-flag")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil { // for the unprivileged run
		t.Fatal(err)
	}
	put(t, root, "var/lib/cloud/seed/nocloud/user-data", "#cloud-config\nclearwater:\n  force_ipv6: true\n")
	return root
}

// An unreadable --user-data is bad usage (exit 2) that names the flag, the file and why; the
// run decides nothing from another source and writes no Clearwater config.
func TestUnreadableUserDataIsBadUsage(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large")
	if err := os.WriteFile(large, []byte("#cloud-config\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(large, rootfs.MaxFileSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	check := func(t *testing.T, root, ud, why string, code int, rep Report, stdout, stderr string) {
		t.Helper()
		out := stdout + stderr
		if code != exitcode.Usage || !strings.Contains(out, "--user-data "+ud) || !strings.Contains(out, why) {
			t.Errorf("exit %d; want %d and a message naming --user-data %s and %q:\nstdout: %s\nstderr: %s", code, exitcode.Usage, ud, why, stdout, stderr)
		}
		if rep.Family != "" || rep.ForceIPv6 {
			t.Errorf("decided %q (force_ipv6 %t) from %q after --user-data failed", rep.Family, rep.ForceIPv6, rep.UserData)
		}
		if _, err := os.Stat(filepath.Join(root, "etc/clearwater/local_config")); err == nil {
			t.Error("Clearwater's config was written")
		}
	}
	for _, tc := range []struct{ name, file, why string }{
		{"fifo", fifo, "not a regular file"},
		{"over the size cap", large, rootfs.ErrTooLarge.Error()},
	} {
		for _, verb := range []string{"plan", "run"} {
			t.Run(tc.name+"/"+verb, func(t *testing.T) {
				root := seededRoot(t)
				r := cli(t, decideArgs(verb, root, append(snap("dual-stack"), "--user-data", tc.file)...)...)
				check(t, root, tc.file, tc.why, r.code, r.rep, r.stdout, r.stderr)
			})
		}
	}
	t.Run("permission denied", func(t *testing.T) {
		needRoot(t)
		root := seededRoot(t)
		secret := filepath.Join(root, "user-data")
		if err := os.WriteFile(secret, []byte("#cloud-config\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addrs, routes := snapFiles("dual-stack")
		p := runBinary(t, &syscall.Credential{Uid: 65534, Gid: 65534}, "plan", "--root", root, "--json",
			"--addrs", addrs, "--routes", routes, "--user-data", secret)
		check(t, root, secret, "permission denied", p.code, p.rep, p.stdout, p.stderr)
	})
}
