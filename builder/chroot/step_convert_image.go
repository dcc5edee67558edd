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
// in the output format. With -force an existing output directory is
// replaced. When the build fails later, or is cancelled, the output
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
	ui.Say(fmt.Sprintf("Writing the %s image %s (compression: %s)...", c.Format, image, c.Compression))
	o := ConvertOptions{Compression: c.Compression, Progress: uiProgress(ui, "Writing the image")}
	if err := d.ConvertImage(ctx, state.Get("work_image").(string), "raw", image, c.Format, o); err != nil {
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
