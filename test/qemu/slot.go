package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// MaxVMs is how many guests the tests run at once on this machine: one TCG guest per core,
// however many test processes (go test runs packages side by side) want one.
var MaxVMs = max(1, runtime.NumCPU())

// slotDir holds one lock file per place; a place is held by an flock, which the kernel drops
// when the holder dies, so a killed test never keeps one.
var slotDir = filepath.Join(os.TempDir(), "clearwater-vm-slots")

// Slot waits for one of the machine's MaxVMs places for a guest and takes it; release gives it
// back. Boot takes one for each VM; a test that runs a guest by other means (packer's qemu
// builder) takes one around it. A test must not hold two at once.
func Slot(ctx context.Context) (release func(), err error) {
	if err := os.MkdirAll(slotDir, 0o755); err != nil {
		return nil, fmt.Errorf("qemu: slots: %w", err)
	}
	for {
		for i := range MaxVMs {
			f, err := os.OpenFile(filepath.Join(slotDir, fmt.Sprint(i)), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				return nil, fmt.Errorf("qemu: slots: %w", err)
			}
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				return func() { f.Close() }, nil // closing the file drops the lock
			}
			f.Close()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: waiting for one of %d places for a guest: %w", MaxVMs, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
