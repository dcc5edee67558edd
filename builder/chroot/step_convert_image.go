package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// stepConvertImage writes the working copy to output_directory/image_name
// in the output format: over a copy of the source image when it can
// (Config.overBaseWhyNot), else converted whole. With -force an existing
// output directory is replaced. When the build fails later, or is cancelled, the output
// directory is removed.
//
// Produces: "image_path" (string).
type stepConvertImage struct {
	created bool
}

func (s *stepConvertImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, _ := stateOf(state)
	if c.PackerForce {
		if err := os.RemoveAll(c.OutputDirectory); err != nil {
			return halt(state, fmt.Errorf("output_directory: removing it for -force: %w", err))
		}
	}
	if err := os.Mkdir(c.OutputDirectory, 0o755); err != nil {
		return halt(state, fmt.Errorf("output_directory: %w (remove it or run packer build with -force)", err))
	}
	s.created = true
	image := filepath.Join(c.OutputDirectory, c.ImageName)
	work := state.Get("work_image").(string)
	info, _ := state.Get("source_info").(ImageInfo)
	chk, _ := state.Get("source_check").(ImageCheck)
	progress := uiProgress(ui, "Writing the image")
	var err error
	if why := c.overBaseWhyNot(info, chk); why == "" {
		ui.Say(fmt.Sprintf("Writing the %s image %s (compression: %s) over a copy of the source image: the clusters the build changed...", c.Format, image, c.Compression))
		err = d.ConvertOverBase(ctx, work, state.Get("source_path").(string), image, progress)
	} else {
		ui.Say(fmt.Sprintf("Writing the %s image %s (compression: %s)...", c.Format, image, c.Compression))
		if c.Compression != "none" {
			ui.Message("Every cluster is compressed again: " + why)
		}
		err = d.ConvertImage(ctx, work, "raw", image, c.Format, ConvertOptions{Compression: c.Compression, Progress: progress})
	}
	if err != nil {
		return halt(state, fmt.Errorf("writing the image: %w", err))
	}
	state.Put("image_path", image)
	return multistep.ActionContinue
}

// Cleanup removes the output of a build that did not finish.
func (s *stepConvertImage) Cleanup(state multistep.StateBag) {
	if !s.created {
		return
	}
	_, cancelled := state.GetOk(multistep.StateCancelled)
	_, halted := state.GetOk(multistep.StateHalted)
	if !cancelled && !halted {
		return
	}
	c := state.Get("config").(*Config)
	if err := os.RemoveAll(c.OutputDirectory); err != nil {
		state.Get("ui").(packersdk.Ui).Error(fmt.Sprintf("removing %s: %v", c.OutputDirectory, err))
	}
}
