// Package openstack holds the tests of the scripts that bring a single-node OpenStack up on this
// machine (bringup.sh, e2e.sh, teardown.sh): the parts that must be right before any cloud runs.
package openstack

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bash runs script with bash -euo pipefail (as the scripts run) in this folder, bounded in time.
func bash(t *testing.T, env []string, script string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-euo", "pipefail", "-c", script, "test"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return string(out), 0
}

// A misspelt --until is refused before anything is installed or started.
func TestBringupUntilUnknownPhase(t *testing.T) {
	out, code := bash(t, nil, `exec ./bringup.sh --until nuetron`)
	if code != 2 || !strings.Contains(out, "--until nuetron: no such phase") {
		t.Fatalf("bringup.sh --until nuetron: exit %d, %q; want exit 2 naming the phase", code, out)
	}
}

// no_service_starts removes its policy-rc.d whether the install succeeds or fails (errexit
// ends the script), and keeps a policy-rc.d the host had.
func TestNoServiceStartsRemovesItsPolicy(t *testing.T) {
	for _, c := range []struct {
		name, cmd, want string
		code            int
	}{
		{"success", `test -x "$POLICY_RC_D"`, "after", 0},
		{"failure", `test -x "$POLICY_RC_D" && exit 7`, "", 7},
	} {
		p := filepath.Join(t.TempDir(), "policy-rc.d")
		out, code := bash(t, []string{"POLICY_RC_D=" + p}, `. ./hostops.sh; no_service_starts sh -c "$1"; echo after`, c.cmd)
		if _, err := os.Lstat(p); code != c.code || !strings.Contains(out, c.want) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: exit %d, %q, policy-rc.d left: %v; want exit %d and none left", c.name, code, out, err == nil, c.code)
		}
	}
	p := filepath.Join(t.TempDir(), "policy-rc.d")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := bash(t, []string{"POLICY_RC_D=" + p}, `. ./hostops.sh; no_service_starts true`); code != 0 {
		t.Fatalf("with the host's policy-rc.d: exit %d, %s", code, out)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "#!/bin/sh\nexit 0\n" {
		t.Errorf("the host's policy-rc.d: %q, %v; want it kept", b, err)
	}
}

// stoppid ends the process a PID file names only if it is still the process named: a stale PID
// file's PID may belong to another process by now.
func TestStoppidChecksTheProcess(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when sleep has exited and been reaped
	go func() { _ = sleep.Wait(); close(done) }()
	t.Cleanup(func() { _ = sleep.Process.Kill(); <-done })
	file := filepath.Join(t.TempDir(), "libvirtd.pid")
	write := func() {
		if err := os.WriteFile(file, []byte(strconv.Itoa(sleep.Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	out, code := bash(t, nil, `. ./hostops.sh; stoppid "$1" libvirtd`, file)
	select {
	case <-done:
		t.Fatalf("stoppid killed a sleep that a libvirtd PID file named: exit %d, %s", code, out)
	case <-time.After(500 * time.Millisecond):
	}
	write()
	if out, code := bash(t, nil, `. ./hostops.sh; stoppid "$1" sleep`, file); code != 0 {
		t.Fatalf("stoppid sleep: exit %d, %s", code, out)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stoppid left the process it names running")
	}
}
