package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// Each way the disk can refuse a write gives exit 3, a status that names the file and the cause,
// a summary that says nothing was written, the old files as they were, and no temp file.
func TestWriteFailures(t *testing.T) {
	needRoot(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		cred  *syscall.Credential
		cause string
	}{
		{"read-only", func(t *testing.T, root string) {
			mountTmpfs(t, filepath.Join(root, "etc/clearwater"), 1<<20, true)
		}, nil, "read-only file system"},
		{"full", func(t *testing.T, root string) {
			dir := filepath.Join(root, "etc/clearwater")
			mountTmpfs(t, dir, 64<<10, false)
			fill(t, filepath.Join(dir, "filler"))
		}, nil, "no space left on device"},
		{"file replaced by a folder", func(t *testing.T, root string) {
			lc := filepath.Join(root, "etc/clearwater/local_config")
			if err := os.Remove(lc); err != nil {
				t.Fatal(err)
			}
			put(t, root, "etc/clearwater/local_config/keep", "an operator's file\n")
		}, nil, "not a regular file"},
		{"permission denied", func(t *testing.T, root string) {
			// The helper runs as nobody: it may write its status and state, not /etc.
			for _, d := range []string{filepath.Dir(root), root} {
				os.Chmod(d, 0o755)
			}
			for _, d := range []string{"run/clearwater-firstboot", "var/lib/clearwater-firstboot"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
				os.Chown(filepath.Join(root, d), 65534, 65534)
				os.Chown(filepath.Join(root, d, "status.json"), 65534, 65534)
				os.Chown(filepath.Join(root, d, "state.json"), 65534, 65534)
			}
		}, nobody, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			runAt(t, root, addrA)
			buildCluster(t, root)
			tt.setup(t, root)
			before := runTree(t, root)
			p := runBinary(t, tt.cred, decideArgs("run", root, snap(snapOf[addrB])...)...)
			if p.code != exitcode.NotWritten {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", p.code, exitcode.NotWritten, p.stdout, p.stderr)
			}
			const file = "/etc/clearwater/local_config"
			if !strings.Contains(p.rep.Error, file) || !strings.Contains(p.rep.Error, tt.cause) || p.rep.Address != addrB {
				t.Errorf("report error %q for %s: want it to name %s and %q", p.rep.Error, p.rep.Address, file, tt.cause)
			}
			if !strings.Contains(p.stderr, file) {
				t.Errorf("stderr (the journal) does not name %s:\n%s", file, p.stderr)
			}
			st := runBinary(t, tt.cred, "status", "--root", root)
			if st.code != exitcode.NotWritten || !strings.Contains(st.stdout, "error: could not ") || !strings.Contains(st.stdout, tt.cause) ||
				!strings.Contains(st.stdout, "nothing written") || strings.Contains(st.stdout, "up to date") {
				t.Errorf("status = %d\n%s%s", st.code, st.stdout, st.stderr)
			}
			sameTree(t, before, runTree(t, root)) // the old config, the state and the cluster, as they were
			if left := temps(t, root); len(left) > 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// fill writes to p until its file system is full.
func fill(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 1 << 10 {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling %s: %v, want ENOSPC", p, err)
	}
}

// A run whose status cannot be recorded says so on stderr, and still exits with its own status.
func TestStatusThatCannotBeWrittenIsSaidOnStderr(t *testing.T) {
	root := t.TempDir()
	put(t, root, "run/clearwater-firstboot", "a file where the status folder should be\n")
	r := cli(t, decideArgs("run", root, snap("dual-stack")...)...)
	if r.code != exitcode.Decided || !strings.Contains(r.stderr, "could not record the status") || !strings.Contains(r.stderr, "/run/clearwater-firstboot") {
		t.Errorf("run = %d\nstderr: %s", r.code, r.stderr)
	}
	if !hasSubstring(r.rep.Warnings, "status of this run could not be recorded") {
		t.Errorf("the printed report does not say so: %q", r.rep.Warnings)
	}
}

// A failure that happens before a decision is recorded too: status tells what went wrong.
func TestBadConfigIsRecorded(t *testing.T) {
	root := t.TempDir()
	put(t, root, "etc/clearwater/firstboot.yaml", "ipv6_timeout: forever\n")
	if r := cli(t, decideArgs("run", root, snap("dual-stack")...)...); r.code != exitcode.Usage {
		t.Fatalf("run = %d %+v", r.code, r.rep)
	}
	st := cli(t, "status", "--root", root)
	if st.code != exitcode.NoAddress || !strings.Contains(st.stdout, "bad config") || !strings.Contains(st.stdout, "ipv6_timeout") {
		t.Errorf("status = %d\n%s%s", st.code, st.stdout, st.stderr)
	}
}
