package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// RunLock is the file, relative to the root, whose lock a run holds from its sweep to its status.
// Runs on one root must not overlap: each sweeps the temp files that a killed run left, and would
// take those of a run still writing for them (the boot's unit and an operator's run, say).
const RunLock = "/run/clearwater-firstboot/run.lock"

// lockPoll is how often a run that waits for the lock tries it again.
const lockPoll = 50 * time.Millisecond

// lockRun takes the run lock under root, waiting until ctx ends while another run holds it, and
// says on stderr whom it waits for. It returns the func that releases the lock (the lock also
// goes with the process) and, when it waited, a reason that says how long and for whom.
func lockRun(ctx context.Context, root string, stderr io.Writer) (release func(), waited string, err error) {
	f, err := openLock(root)
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	for said := false; ; said = true {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			break
		}
		if !said {
			waited = holder(f)
			fmt.Fprintf(stderr, "clearwater-firstboot: waiting for another run (%s) to finish: it holds %s\n", waited, RunLock)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, "", fmt.Errorf("stopped waiting for another run (%s), which holds %s: %w", waited, RunLock, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("run lock %s: %w", RunLock, err)
	}
	if waited != "" {
		waited = fmt.Sprintf("waited %s for another run (%s) to finish", time.Since(start).Round(time.Millisecond), waited)
	}
	// For the next run that waits: whom it waits for.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, waited, nil
}

// openLock opens the run lock under root, creating it and its folder as needed.
func openLock(root string) (*os.File, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := r.MkdirAll(path.Dir(RunLock[1:]), rootfs.DirMode); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	f, err := r.OpenFile(RunLock[1:], os.O_RDWR|os.O_CREATE, rootfs.FileMode)
	if err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	return f, nil
}

// holder is what the run holding the lock wrote in it: "pid N".
func holder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(string(b[:n])); strings.HasPrefix(s, "pid ") {
		return s
	}
	return "pid unknown"
}
