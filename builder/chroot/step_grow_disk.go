package chroot

import (
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepGrowDisk grows the raw working copy to disk_size and its partition
// (root_partition, else the last one) to the end of the disk. The
// filesystem is grown later, by stepResizeFilesystem, once it is attached.
//
// Produces: "grown_partition" (int, 0 when nothing was grown).
type stepGrowDisk struct{}

func (s *stepGrowDisk) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, _ := stateOf(state)
	state.Put("grown_partition", 0)
	if c.diskSizeBytes == 0 {
		return multistep.ActionContinue
	}
	work := state.Get("work_image").(string)
	info, err := d.ImageInfo(ctx, work)
	if err != nil {
		return halt(state, err)
	}
	if c.diskSizeBytes < info.VirtualSize {
		return halt(state, fmt.Errorf("disk_size: %s (%d bytes) is smaller than the source image (%d bytes): images are never shrunk; set a larger disk_size or remove it", c.DiskSize, c.diskSizeBytes, info.VirtualSize))
	}
	table, err := d.Partitions(ctx, work)
	if err != nil {
		return halt(state, fmt.Errorf("source_image %s has no readable partition table (a whole-disk image is needed, not a filesystem or an ISO): %w", c.SourceImage, err))
	}
	grow := table.Partitions[len(table.Partitions)-1]
	if c.RootPartition != 0 {
		var ok bool
		if grow, ok = findPartition(table, c.RootPartition); !ok {
			return halt(state, fmt.Errorf("root_partition: the image has no partition %d", c.RootPartition))
		}
	}
	if c.diskSizeBytes == info.VirtualSize {
		return multistep.ActionContinue
	}
	ui.Say(fmt.Sprintf("Growing the disk to %d bytes and partition %d to fill it...", c.diskSizeBytes, grow.Number))
	if err := d.ResizeImage(work, c.diskSizeBytes); err != nil {
		return halt(state, fmt.Errorf("disk_size: growing the disk: %w", err))
	}
	if err := d.GrowPartition(ctx, work, grow.Number); err != nil {
		return halt(state, fmt.Errorf("disk_size: growing partition %d (only the last partition can grow): %w", grow.Number, err))
	}
	state.Put("grown_partition", grow.Number)
	return multistep.ActionContinue
}

// findPartition returns the partition numbered n.
func findPartition(t PartitionTable, n int) (Partition, bool) {
	for _, p := range t.Partitions {
		if p.Number == n {
			return p, true
		}
	}
	return Partition{}, false
}

func (s *stepGrowDisk) Cleanup(multistep.StateBag) {}
