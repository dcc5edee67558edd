// Package chroot is the clearwater-chroot builder: it customizes a qcow2 or
// raw disk image offline, by attaching it to loop devices, mounting its root
// filesystem and running the provisioners in a chroot. No VM is booted.
package chroot

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// Builder is the clearwater-chroot builder.
type Builder struct {
	config Config
	// driver is the host driver; nil means the real one.
	driver Driver
	// goos is the build host's OS; empty means runtime.GOOS.
	goos string
}

var _ packersdk.Builder = (*Builder)(nil)

// ConfigSpec returns the HCL2 spec of Config.
func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and validates the configuration.
func (b *Builder) Prepare(raws ...interface{}) ([]string, []string, error) {
	goos := b.goos
	if goos == "" {
		goos = runtime.GOOS
	}
	if err := buildHostError(goos); err != nil {
		return nil, nil, err
	}
	warnings, err := b.config.Prepare(raws...)
	if err != nil {
		return nil, warnings, err
	}
	return nil, warnings, nil
}

// Run builds the image. Whatever happens (a failing step, a cancel, a
// panic in a step), every mount and loop device it made is released.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, hook packersdk.Hook) (packersdk.Artifact, error) {
	driver := b.driver
	if driver == nil {
		driver = hostDriver{}
	}
	state := new(multistep.BasicStateBag)
	state.Put("config", &b.config)
	state.Put("driver", driver)
	state.Put("hook", hook)
	state.Put("ui", ui)
	state.Put("undo", new(undoStack))
	state.Put("generated_data", map[string]interface{}{})

	runner := commonsteps.NewRunner(guard(b.steps()), b.config.PackerConfig, ui)
	runner.Run(ctx, state)

	if err, ok := state.GetOk("error"); ok {
		return nil, err.(error)
	}
	if _, ok := state.GetOk(multistep.StateCancelled); ok {
		return nil, errors.New("build was cancelled")
	}
	if _, ok := state.GetOk(multistep.StateHalted); ok {
		return nil, errors.New("build was halted")
	}
	return newArtifact(b.config.OutputDirectory, state.Get("image_path").(string), state.Get("checksum_path").(string),
		b.config.Format, state.Get("image_size").(int64), state.Get("image_sha256").(string), state.Get("generated_data")), nil
}

// steps returns the build's steps in order.
func (b *Builder) steps() []multistep.Step {
	return []multistep.Step{
		&stepCheckHost{},
		&stepFetchImage{},
		&stepCopyImage{},
		&stepGrowDisk{},
		&stepAttachImage{},
		&stepFindRoot{},
		&stepResizeFilesystem{},
		&stepMountRoot{},
		&stepCheckArch{},
		&stepMountChroot{},
		&stepCopyFiles{},
		&commonsteps.StepProvision{},
		&stepTrimFilesystems{},
		&stepReleaseImage{},
		&stepConvertImage{},
		&stepChecksumImage{},
	}
}

// guardedStep turns a panic in a step into a build error, so the runner
// goes on to run every Cleanup and the plugin process survives.
type guardedStep struct{ multistep.Step }

func guard(steps []multistep.Step) []multistep.Step {
	out := make([]multistep.Step, len(steps))
	for i, s := range steps {
		out[i] = &guardedStep{s}
	}
	return out
}

// Run runs the step and recovers a panic as an error.
func (g *guardedStep) Run(ctx context.Context, state multistep.StateBag) (action multistep.StepAction) {
	defer func() {
		if r := recover(); r != nil {
			action = halt(state, fmt.Errorf("internal error in %T: %v\n%s", g.Step, r, debug.Stack()))
		}
	}()
	return g.Step.Run(ctx, state)
}

// Cleanup runs the step's Cleanup and recovers a panic, so the remaining
// cleanups still run.
func (g *guardedStep) Cleanup(state multistep.StateBag) {
	defer func() {
		if r := recover(); r != nil {
			state.Get("ui").(packersdk.Ui).Error(fmt.Sprintf("internal error cleaning up %T: %v", g.Step, r))
		}
	}()
	g.Step.Cleanup(state)
}

// halt records err as the build's error, shows it and stops the build.
func halt(state multistep.StateBag, err error) multistep.StepAction {
	state.Put("error", err)
	state.Get("ui").(packersdk.Ui).Error(err.Error())
	return multistep.ActionHalt
}

// stateOf returns the collaborators every step reads from the state.
func stateOf(state multistep.StateBag) (*Config, Driver, packersdk.Ui, *undoStack) {
	return state.Get("config").(*Config), state.Get("driver").(Driver),
		state.Get("ui").(packersdk.Ui), state.Get("undo").(*undoStack)
}
