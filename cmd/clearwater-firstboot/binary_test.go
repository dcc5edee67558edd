package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// The helper binary, built once for the tests that run it as a process of its own (another uid,
// SIGKILL), and removed by TestMain.
var helper struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helper.dir != "" {
		os.RemoveAll(helper.dir)
	}
	os.Exit(code)
}

func helperBinary(t *testing.T) string {
	t.Helper()
	helper.once.Do(func() {
		if helper.dir, helper.err = os.MkdirTemp("", "clearwater-firstboot-test"); helper.err != nil {
			return
		}
		helper.path = filepath.Join(helper.dir, "clearwater-firstboot")
		out, err := exec.Command("go", "build", "-o", helper.path, ".").CombinedOutput()
		if err != nil {
			helper.err = errors.New(string(out))
			return
		}
		helper.err = os.Chmod(helper.dir, 0o755) // for the unprivileged runs
	})
	if helper.err != nil {
		t.Fatalf("building the helper: %v", helper.err)
	}
	return helper.path
}

// proc is one finished run of the helper binary.
type proc struct {
	code           int
	stdout, stderr string
	rep            Report
}

// runBinary runs the helper binary with args, as cred's user when cred is not nil.
func runBinary(t *testing.T, cred *syscall.Credential, args ...string) proc {
	t.Helper()
	cmd := exec.Command(helperBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", args, err)
	}
	p := proc{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	if bytes.HasPrefix(out.Bytes(), []byte("{")) {
		if err := json.Unmarshal(out.Bytes(), &p.rep); err != nil {
			t.Fatalf("%v: output is not one JSON object: %v\n%s", args, err, out.String())
		}
	}
	return p
}

// temps lists the helper's temp files under root.
func temps(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rootfs.IsTemp(d.Name()) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: this test needs root (mounts, another uid)")
		}
		t.Skip("needs root (mounts, another uid)")
	}
}

// mountTmpfs mounts a tmpfs of size bytes on dir, holding what dir held, and unmounts it when
// the test ends. ro remounts it read-only once filled.
func mountTmpfs(t *testing.T, dir string, size int, ro bool) {
	t.Helper()
	saved := t.TempDir()
	if err := os.CopyFS(saved, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	if err := os.CopyFS(dir, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	if ro {
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount %s read-only: %v", dir, err)
		}
	}
}
