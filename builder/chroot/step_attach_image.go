package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// cleanupTimeout bounds each undo action run from a Cleanup, which gets no
// context of its own.
const cleanupTimeout = 2 * time.Minute

// stepAttachImage attaches the working copy to a loop device with
// partition scanning. Where the kernel makes no partition devices (some
// kernels are built without partition support), each partition gets a loop
// device of its own at its offset.
//
// Produces: "partition_table" (PartitionTable), "partition_devices"
// (map[int]string, partition number to device).
type stepAttachImage struct {
	undos []*undoAction
	// sysBlock is where the kernel lists partitions; "" means /sys/class/block.
	sysBlock string
}

func (s *stepAttachImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, undo := stateOf(state)
	work := state.Get("work_image").(string)
	table, err := d.Partitions(ctx, work)
	if err != nil {
		return halt(state, fmt.Errorf("source_image %s has no readable partition table (a whole-disk image is needed, not a filesystem or an ISO): %w", c.SourceImage, err))
	}
	ui.Say("Attaching the image to loop devices...")
	devices := map[int]string{}
	err = withHostLock(ctx, func() error {
		disk, err := d.Attach(ctx, work)
		if err != nil {
			return fmt.Errorf("attaching the image: %w (are loop devices free? see losetup -a)", err)
		}
		s.undos = append(s.undos, undo.push("detaching "+disk, detachFunc(d, disk)))
		for _, p := range table.Partitions {
			if dev := s.kernelPartition(disk, p.Number); dev != "" {
				devices[p.Number] = dev
				continue
			}
			dev, err := d.AttachRange(ctx, work, p.Start, p.Size)
			if err != nil {
				return fmt.Errorf("attaching partition %d: %w", p.Number, err)
			}
			s.undos = append(s.undos, undo.push("detaching "+dev, detachFunc(d, dev)))
			devices[p.Number] = dev
		}
		return nil
	})
	if err != nil {
		return halt(state, err)
	}
	state.Put("partition_table", table)
	state.Put("partition_devices", devices)
	return multistep.ActionContinue
}

// kernelPartition returns the device the kernel made for partition n of
// disk, or "" if it made none.
func (s *stepAttachImage) kernelPartition(disk string, n int) string {
	sys := s.sysBlock
	if sys == "" {
		sys = "/sys/class/block"
	}
	name := fmt.Sprintf("%sp%d", filepath.Base(disk), n)
	if _, err := os.Stat(filepath.Join(sys, name)); err != nil {
		return ""
	}
	dev := filepath.Join(filepath.Dir(disk), name)
	// devtmpfs creates the node shortly after the kernel lists it.
	for i := 0; i < 20; i++ {
		if _, err := os.Stat(dev); err == nil {
			return dev
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ""
}

func detachFunc(d Driver, dev string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		return d.Detach(ctx, dev)
	}
}

// Cleanup detaches what Run attached, if stepReleaseImage has not.
func (s *stepAttachImage) Cleanup(state multistep.StateBag) {
	runUndos(state, s.undos)
}
