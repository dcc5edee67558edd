package chroot

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
)

// stepFetchImage makes the source image available as a local file and
// verifies its checksum, through the SDK's download step (with progress,
// the Packer cache and go-getter's checksum formats). Local files and
// file:// URLs are used in place and never written; a local path without a
// checksum skips the download step altogether.
//
// Produces: "source_path" (string).
type stepFetchImage struct {
	download commonsteps.StepDownload
}

func (s *stepFetchImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, _, ui, _ := stateOf(state)
	src := c.SourceImage
	if !isURL(src) {
		abs, err := filepath.Abs(src)
		if err != nil {
			return halt(state, fmt.Errorf("source_image: %w", err))
		}
		src = abs
		if c.SourceImageChecksum == "" {
			// Nothing to fetch or verify: use the file in place.
			ui.Say(fmt.Sprintf("Using the source image %s", src))
			state.Put("source_path", src)
			return multistep.ActionContinue
		}
	}
	checksum := c.SourceImageChecksum
	if checksum == "" {
		checksum = "none"
	}
	s.download = commonsteps.StepDownload{
		Checksum:    checksum,
		Description: "source image",
		ResultKey:   "source_path",
		Url:         []string{src},
		Extension:   "img",
	}
	action := s.download.Run(ctx, state)
	if action != multistep.ActionContinue {
		if _, ok := state.GetOk("error"); !ok {
			return halt(state, fmt.Errorf("source_image: fetching %s was cancelled", c.SourceImage))
		}
		err := state.Get("error").(error)
		state.Put("error", fmt.Errorf("source_image: %w (check the URL and source_image_checksum)", err))
	}
	return action
}

func (s *stepFetchImage) Cleanup(state multistep.StateBag) { s.download.Cleanup(state) }
