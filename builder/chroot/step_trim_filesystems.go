package chroot

import (
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepTrimFilesystems discards the blocks that the build freed in the image's filesystems, so
// that the working copy stays sparse and the output holds only what the image uses. A host
// whose filesystem cannot punch holes only gets a warning: the output is right, just larger.
//
// Needs: "image_mounts" ([]string, the image's own filesystems, root first).
type stepTrimFilesystems struct{}

func (s *stepTrimFilesystems) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	_, d, ui, _ := stateOf(state)
	mounts, _ := state.Get("image_mounts").([]string)
	for _, dir := range mounts {
		out, err := d.Trim(ctx, dir)
		if err != nil {
			if ctx.Err() != nil {
				return halt(state, err)
			}
			ui.Error(fmt.Sprintf("Warning: not discarding the free blocks of %s, so the output keeps their old data and is larger: %v", dir, err))
			continue
		}
		ui.Say(fmt.Sprintf("Discarded free blocks: %s", out))
	}
	return multistep.ActionContinue
}

func (s *stepTrimFilesystems) Cleanup(multistep.StateBag) {}
