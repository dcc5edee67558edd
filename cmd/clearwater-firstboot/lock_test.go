package main

import (
	"bytes"
	"context"
	"maps"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
)

// Runs started together on one root (the boot's unit and an operator's run, say) never sweep each
// other's temp files or interleave their writes: every run ends decided, and every file is whole.
func TestConcurrentRunsAllSucceed(t *testing.T) {
	bin, root := manyRuns(t, "60 runs of the helper")
	for round := range 10 {
		cmds := make([]*exec.Cmd, 6)
		outs := make([]*bytes.Buffer, len(cmds))
		for i := range cmds {
			addr := []string{addrA, addrB}[(round+i)%2]
			cmds[i] = exec.Command(bin, decideArgs("run", root, snap(snapOf[addr])...)...)
			outs[i] = new(bytes.Buffer)
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
			cmds[i].WaitDelay = 10 * time.Second
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Errorf("round %d, run %d: %v\n%s", round, i, err, outs[i])
			}
		}
		checkWhole(t, root, round, 0)
		if left := temps(t, root); len(left) > 0 {
			t.Fatalf("round %d: temp files left after every run ended: %v", round, left)
		}
	}
}

// holdLock takes the run lock under root as another run would, with its pid note.
func holdLock(t *testing.T, root string) (release func()) {
	t.Helper()
	f, err := openLock(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("pid 4242\n"); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}

// A run waits while another holds the lock, says for whom on stderr and how long in its reasons,
// and writes nothing before it has the lock.
func TestRunWaitsForTheLock(t *testing.T) {
	root := t.TempDir()
	release := holdLock(t, root)
	before := tree(t, root)
	done := make(chan result, 1)
	go func() { done <- cli(t, decideArgs("run", root, snap(snapOf[addrA])...)...) }()
	select {
	case r := <-done:
		t.Fatalf("the run did not wait for the lock: %d %+v", r.code, r.rep)
	case <-time.After(300 * time.Millisecond):
	}
	if after := tree(t, root); !maps.Equal(before, after) {
		t.Errorf("the run wrote before it had the lock: %v, then %v", before, after)
	}
	release()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the run did not end a minute after the lock was released")
	}
	if r.code != exitcode.Decided || r.rep.Address != addrA {
		t.Fatalf("run = %d %+v\nstderr: %s", r.code, r.rep, r.stderr)
	}
	if !strings.Contains(r.stderr, "waiting for another run (pid 4242) to finish") {
		t.Errorf("stderr does not say whom the run waited for:\n%s", r.stderr)
	}
	if len(r.rep.Reasons) == 0 || !regexp.MustCompile(`^waited \d\S* for another run \(pid 4242\) to finish$`).MatchString(r.rep.Reasons[0]) {
		t.Errorf("the first reason does not say how long the run waited: %q", r.rep.Reasons)
	}
}

// A run stopped (SIGTERM, the unit's timeout) while it waits for the lock ends with Stopped (not
// NoAddress: it never looked at the addresses), decided nothing, wrote nothing, and says whom it waited for.
func TestRunStoppedWhileWaitingWritesNothing(t *testing.T) {
	root := t.TempDir()
	defer holdLock(t, root)()
	before := tree(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, decideArgs("run", root, snap(snapOf[addrA])...), &out, &errb)
	if code != exitcode.Stopped {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitcode.Stopped, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "stopped waiting for another run (pid 4242), which holds "+RunLock) {
		t.Errorf("stderr does not say why the run stopped:\n%s", errb.String())
	}
	if after := tree(t, root); !maps.Equal(before, after) {
		t.Errorf("a run that never had the lock wrote: %v, then %v", before, after)
	}
}
