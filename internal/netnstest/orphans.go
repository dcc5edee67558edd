package netnstest

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

var sweepOnce sync.Once

// sweepOrphans removes the namespaces that an earlier test process of ours left behind when it
// was killed before its cleanups ran: those named Prefix+PID- whose PID no longer runs. What
// still runs inside one (a daemon of that process's) is ended first, by its PID. A namespace
// whose PID runs, another test's, is left alone.
func sweepOrphans(t testing.TB) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return // no namespaces at all
	}
	for _, e := range entries {
		pid, ok := ownerPID(e.Name())
		if !ok || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		out, _ := ip("netns", "pids", e.Name())
		for _, f := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if out, err := ip("netns", "del", e.Name()); err != nil {
			t.Logf("netnstest: removing %s, left by pid %d: %v: %s", e.Name(), pid, err, out)
			continue
		}
		t.Logf("netnstest: removed %s, left by pid %d, which is gone", e.Name(), pid)
	}
}

// ownerPID returns the PID in a namespace name of ours (Prefix + PID + "-" + counter).
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}
