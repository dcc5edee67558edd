package chroot

import (
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepReleaseImage undoes, newest first, everything the earlier steps did
// to the host and the image (copied files, leftover processes, mounts,
// loop devices), so the working copy can be converted. The earlier steps'
// Cleanups then find nothing left to do.
type stepReleaseImage struct{}

func (s *stepReleaseImage) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	_, _, ui, undo := stateOf(state)
	ui.Say("Unmounting and detaching the image...")
	if err := undo.runAll(); err != nil {
		return halt(state, fmt.Errorf("releasing the image: %w", err))
	}
	return multistep.ActionContinue
}

func (s *stepReleaseImage) Cleanup(multistep.StateBag) {}
