package chroot

import (
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepResizeFilesystem grows the root filesystem into the partition that
// stepGrowDisk grew (e2fsck -f, then resize2fs), before it is mounted.
type stepResizeFilesystem struct{}

func (s *stepResizeFilesystem) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	_, d, ui, _ := stateOf(state)
	grown := state.Get("grown_partition").(int)
	if grown == 0 {
		return multistep.ActionContinue
	}
	root := state.Get("root_partition").(int)
	if grown != root {
		return halt(state, fmt.Errorf("disk_size: partition %d was grown but the root is partition %d: set root_partition = %d if the root is the last partition, or remove disk_size", grown, root, root))
	}
	dev := state.Get("root_device").(string)
	ui.Say(fmt.Sprintf("Checking and growing the root filesystem on %s...", dev))
	if err := d.CheckFilesystem(ctx, dev); err != nil {
		return halt(state, fmt.Errorf("disk_size: checking the root filesystem before resizing: %w", err))
	}
	if err := d.ResizeFilesystem(ctx, dev); err != nil {
		return halt(state, fmt.Errorf("disk_size: growing the root filesystem: %w", err))
	}
	return multistep.ActionContinue
}

func (s *stepResizeFilesystem) Cleanup(multistep.StateBag) {}
