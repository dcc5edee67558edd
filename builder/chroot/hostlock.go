package chroot

import (
	"context"
	"fmt"
	"os"
	"time"
)

// hostLockPaths are tried in order for the lock that serialises loop
// device setup between concurrent builds on one host. The loop control
// device comes first because locking it leaves no file behind. The file is
// at a fixed path in /run, which only root may write: one path for every
// build whatever its TMPDIR, and not one that another user can plant (a
// symlink to a file of root's) or create first and hold (openLockFile).
var hostLockPaths = []string{"/dev/loop-control", "/run/clearwater-chroot.lock"}

// hostLockTimeout bounds the wait for another build's setup.
const hostLockTimeout = 10 * time.Minute

// withHostLock runs fn while holding an exclusive flock on the first of
// hostLockPaths that opens.
func withHostLock(ctx context.Context, fn func() error) error {
	f, err := os.Open(hostLockPaths[0])
	if err != nil {
		f, err = openLockFile(hostLockPaths[1])
	}
	if err != nil {
		return fmt.Errorf("opening the host lock: %w", err)
	}
	defer f.Close()
	deadline := time.Now().Add(hostLockTimeout)
	for {
		busy, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another build held %s for %v", f.Name(), hostLockTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer unlock(f)
	return fn()
}
