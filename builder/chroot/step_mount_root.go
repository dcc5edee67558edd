package chroot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// stepMountRoot mounts the root filesystem at mount_path (a new temporary
// directory by default), then /boot and /boot/efi when the image's fstab
// puts them on partitions of the image, and makes the communicator.
//
// Produces: "mount_path" (string), "communicator" (*Communicator).
type stepMountRoot struct {
	undos []*undoAction
}

func (s *stepMountRoot) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c, d, ui, undo := stateOf(state)
	mountPath, err := s.makeMountPath(c, undo)
	if err != nil {
		return halt(state, err)
	}
	dev := state.Get("root_device").(string)
	tags := state.Get("partition_tags").(map[int]map[string]string)
	root := state.Get("root_partition").(int)
	ui.Say(fmt.Sprintf("Mounting the root filesystem at %s...", mountPath))
	if err := d.Mount(ctx, tags[root]["TYPE"], dev, mountPath, ""); err != nil {
		return halt(state, fmt.Errorf("mounting the root filesystem (partition %d) of source_image %s: is the image damaged? %w", root, c.SourceImage, err))
	}
	s.undos = append(s.undos, undo.push("unmounting "+mountPath, unmountFunc(d, mountPath)))
	state.Put("mount_path", mountPath)
	state.Put("image_mounts", []string{mountPath})
	comm := &Communicator{Root: mountPath}
	state.Put("communicator", comm)
	if err := s.mountBoot(ctx, state, comm); err != nil {
		return halt(state, err)
	}
	return multistep.ActionContinue
}

// makeMountPath creates the mount point. A given mount_path must be empty.
func (s *stepMountRoot) makeMountPath(c *Config, undo *undoStack) (string, error) {
	if c.MountPath == "" {
		dir, err := os.MkdirTemp("", "clearwater-chroot-")
		if err != nil {
			return "", fmt.Errorf("creating the mount point: %w", err)
		}
		s.undos = append(s.undos, undo.push("removing "+dir, func() error { return os.Remove(dir) }))
		return dir, nil
	}
	dir := filepath.Clean(c.MountPath)
	entries, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("mount_path: %w", err)
		}
		s.undos = append(s.undos, undo.push("removing "+dir, func() error { return os.Remove(dir) }))
	case err != nil:
		return "", fmt.Errorf("mount_path: %w", err)
	case len(entries) > 0:
		return "", fmt.Errorf("mount_path: %s is not empty (is another build using it?): choose another mount_path or leave it unset", dir)
	}
	return dir, nil
}

// mountBoot mounts /boot and /boot/efi as the image's fstab says.
func (s *stepMountRoot) mountBoot(ctx context.Context, state multistep.StateBag, comm *Communicator) error {
	_, d, ui, undo := stateOf(state)
	var fstab bytes.Buffer
	if err := comm.Download("/etc/fstab", &fstab); err != nil {
		return nil // no fstab: nothing else to mount
	}
	table := state.Get("partition_table").(PartitionTable)
	tags := state.Get("partition_tags").(map[int]map[string]string)
	devices := state.Get("partition_devices").(map[int]string)
	for _, e := range parseFstab(fstab.String(), "/boot", "/boot/efi") {
		n := matchSpec(e.Spec, table, tags)
		if n == 0 {
			ui.Say(fmt.Sprintf("Not mounting %s: fstab names %s, which is no partition of the image", e.Dir, e.Spec))
			continue
		}
		rel, err := resolveInRoot(comm.Root, e.Dir, true)
		if err != nil {
			return err
		}
		target := filepath.Join(comm.Root, rel)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("creating %s in the image: %w", e.Dir, err)
		}
		ui.Say(fmt.Sprintf("Mounting partition %d at %s...", n, e.Dir))
		if err := d.Mount(ctx, tags[n]["TYPE"], devices[n], target, ""); err != nil {
			return fmt.Errorf("mounting %s from the image's fstab: %w", e.Dir, err)
		}
		s.undos = append(s.undos, undo.push("unmounting "+target, unmountFunc(d, target)))
		state.Put("image_mounts", append(state.Get("image_mounts").([]string), target))
	}
	return nil
}

// Cleanup unmounts what Run mounted, if stepReleaseImage has not.
func (s *stepMountRoot) Cleanup(state multistep.StateBag) { runUndos(state, s.undos) }
