package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// stepCopyImage converts the source image into a raw working file in a
// temporary directory beside the output directory, so the source is never
// written and loop devices can attach the copy.
//
// Produces: "work_dir", "work_image" (string), "source_info" (ImageInfo), "source_check"
// (ImageCheck).
type stepCopyImage struct {
	workDir string
}

func (s *stepCopyImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, _ := stateOf(state)
	src := state.Get("source_path").(string)
	info, err := d.ImageInfo(ctx, src)
	if err != nil {
		return halt(state, fmt.Errorf("source_image %s is not a readable disk image: %w", c.SourceImage, err))
	}
	if info.Format != "qcow2" && info.Format != "raw" {
		return halt(state, fmt.Errorf("source_image %s is in %s format: only qcow2 and raw are supported", c.SourceImage, info.Format))
	}
	ui.Say(fmt.Sprintf("Checking the %s source image...", info.Format))
	chk, err := d.CheckImage(ctx, src, info.Format)
	if err != nil {
		return halt(state, fmt.Errorf("source_image %s is damaged: %w", c.SourceImage, err))
	}
	state.Put("source_info", info)
	state.Put("source_check", chk)
	parent := filepath.Dir(filepath.Clean(c.OutputDirectory))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return halt(state, fmt.Errorf("output_directory: %w", err))
	}
	s.workDir, err = os.MkdirTemp(parent, ".clearwater-chroot-work-")
	if err != nil {
		return halt(state, fmt.Errorf("creating the working directory: %w", err))
	}
	work := filepath.Join(s.workDir, "disk.raw")
	ui.Say(fmt.Sprintf("Copying the %s source image (%d bytes) to a raw working copy...", info.Format, info.VirtualSize))
	if err := d.ConvertImage(ctx, src, info.Format, work, "raw", ConvertOptions{Progress: uiProgress(ui, "Copying")}); err != nil {
		return halt(state, fmt.Errorf("copying source_image %s: %w", c.SourceImage, err))
	}
	state.Put("work_dir", s.workDir)
	state.Put("work_image", work)
	return multistep.ActionContinue
}

// Cleanup removes the working copy.
func (s *stepCopyImage) Cleanup(state multistep.StateBag) {
	if s.workDir == "" {
		return
	}
	if err := os.RemoveAll(s.workDir); err != nil {
		state.Get("ui").(packersdk.Ui).Error(fmt.Sprintf("removing the working copy: %v", err))
	}
}
