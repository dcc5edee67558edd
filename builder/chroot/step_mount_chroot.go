package chroot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepMountChroot mounts chroot_mounts (proc, sysfs, /dev, devpts by
// default) inside the root. Its undo first kills any process a provisioner
// left running in the chroot, so the unmounts are not busy.
type stepMountChroot struct {
	undos []*undoAction
}

func (s *stepMountChroot) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, undo := stateOf(state)
	root := state.Get("mount_path").(string)
	if len(c.ChrootMounts) > 0 {
		ui.Say("Mounting the chroot's filesystems...")
	}
	for _, m := range c.ChrootMounts {
		fstype, source, dir := m[0], m[1], m[2]
		rel, err := resolveInRoot(root, dir, true)
		if err != nil {
			return halt(state, fmt.Errorf("chroot_mounts: %w", err))
		}
		target := filepath.Join(root, rel)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return halt(state, fmt.Errorf("chroot_mounts: creating %s in the image: %w", dir, err))
		}
		if err := d.Mount(ctx, fstype, source, target, ""); err != nil {
			return halt(state, fmt.Errorf("chroot_mounts: mounting %s on %s: %w", source, dir, err))
		}
		s.undos = append(s.undos, undo.push("unmounting "+target, unmountFunc(d, target)))
	}
	s.undos = append(s.undos, undo.push("stopping processes left in the chroot", func() error { return killProcessesIn(root) }))
	return multistep.ActionContinue
}

// Cleanup stops leftover processes and unmounts, if stepReleaseImage has not.
func (s *stepMountChroot) Cleanup(state multistep.StateBag) { runUndos(state, s.undos) }
