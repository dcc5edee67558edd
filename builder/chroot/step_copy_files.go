package chroot

import (
	"context"
	"fmt"
	"os"
	"path"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// origSuffix names the image's own copy of a copy_files path while the
// host's copy is in place.
const origSuffix = ".clearwater-chroot-orig"

// stepCopyFiles copies copy_files (/etc/resolv.conf by default) from the
// host to the same path in the image, for the provisioners' sake, and puts
// the image's own entry back afterwards. The image's entry is often a
// symlink (/etc/resolv.conf -> /run/...); it is moved aside as it is, and
// the path's directories are resolved inside the root, so nothing outside
// the root is written.
type stepCopyFiles struct {
	undos []*undoAction
}

func (s *stepCopyFiles) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	c, _, ui, undo := stateOf(state)
	root := state.Get("mount_path").(string)
	for _, f := range c.CopyFiles {
		ui.Say(fmt.Sprintf("Copying %s from the host...", f))
		restore, err := copyIntoRoot(root, f)
		if err != nil {
			return halt(state, fmt.Errorf("copy_files: %w", err))
		}
		s.undos = append(s.undos, undo.push("restoring "+f+" in the image", restore))
	}
	return multistep.ActionContinue
}

// copyIntoRoot copies the host file name into root and returns the undo.
func copyIntoRoot(root, name string) (func() error, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s on the host: %w", name, err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	rel, err := resolveInRoot(root, name, false)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := r.Stat(path.Dir(rel)); err != nil {
		return nil, fmt.Errorf("%s: the image has no directory %s", name, path.Dir(name))
	}
	orig := rel + origSuffix
	_, err = r.Lstat(rel)
	had := err == nil
	if had {
		if err := r.Rename(rel, orig); err != nil {
			return nil, fmt.Errorf("moving the image's %s aside: %w", name, err)
		}
	}
	if err := r.WriteFile(rel, data, fileMode(fi.Mode())); err != nil {
		return nil, fmt.Errorf("writing %s in the image: %w", name, err)
	}
	return func() error {
		r, err := os.OpenRoot(root)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := r.Remove(rel); err != nil && !os.IsNotExist(err) {
			return err
		}
		if had {
			return r.Rename(orig, rel)
		}
		return nil
	}, nil
}

// Cleanup restores the image's files, if stepReleaseImage has not.
func (s *stepCopyFiles) Cleanup(state multistep.StateBag) { runUndos(state, s.undos) }
