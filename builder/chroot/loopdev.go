package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// detachWait bounds how long Detach waits for the kernel to let a loop
// device go.
const detachWait = 10 * time.Second

// waitDetached waits until the kernel has released the loop device. When
// the device is still open (udev or blkid probing it, say), LOOP_CLR_FD only
// marks it to be cleared on the last close, and losetup --detach succeeds at
// once: without this wait a build could end with the device still attached
// to a file it has deleted.
func waitDetached(ctx context.Context, device string) error {
	backing := filepath.Join("/sys/class/block", filepath.Base(device), "loop", "backing_file")
	ctx, cancel := context.WithTimeout(ctx, detachWait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(backing); os.IsNotExist(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is still attached %v after losetup --detach: something holds it open (see fuser -v %s)", device, detachWait, device)
		case <-tick.C:
		}
	}
}
