package aioconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// fileEdit computes a file's new content from its old one (nil when the file is missing).
type fileEdit struct {
	path string
	edit func([]byte) []byte
	// gone, when set, reports whether the new content means that the file should not exist: a
	// file the helper created and no longer needs.
	gone func([]byte) bool
}

// planned is the outcome of plan: the result, and one step to carry out per change.
type planned struct {
	result Result
	steps  []func(r *os.Root) error
}

func (p *planned) add(c Change, step func(r *os.Root) error) {
	p.result.record(c)
	p.steps = append(p.steps, step)
}

func (res *Result) record(c Change) {
	res.Changes = append(res.Changes, c)
	res.Changed = true
	if c.Path == Hosts {
		res.HostsChanged = true
	}
}

// apply carries out the steps in order and stops at the first error.
func (p *planned) apply(root string) (Result, error) {
	res := Result{ClusterReset: p.result.ClusterReset, Warnings: p.result.Warnings}
	if len(p.steps) == 0 {
		return res, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		res.Pending = p.result.Changes
		return res, fmt.Errorf("aioconfig: root: %w", err)
	}
	defer r.Close()
	for i, step := range p.steps {
		if err := step(r); err != nil {
			res.Pending = p.result.Changes[i:]
			return res, err
		}
		res.record(p.result.Changes[i])
	}
	return res, nil
}

// planFile reads fe's file and adds a step to write it when its content changes. It returns
// the old content (nil when the file is missing).
func (p *planned) planFile(r *os.Root, fe fileEdit) ([]byte, error) {
	old, info, err := rootfs.Current(r, fe.path)
	if err != nil {
		return nil, fmt.Errorf("aioconfig: %w", err)
	}
	data := fe.edit(old)
	if fe.gone != nil && fe.gone(data) {
		if info != nil {
			return old, p.planRemove(r, fe.path)
		}
		return old, nil
	}
	if info != nil && bytes.Equal(old, data) {
		return old, nil
	}
	action := Update
	if info == nil {
		action = Create
	}
	p.add(Change{Path: fe.path, Action: action}, func(r *os.Root) error {
		if err := rootfs.WriteFile(r, fe.path, data, rootfs.FileMode); err != nil {
			return fmt.Errorf("aioconfig: %w", err)
		}
		return nil
	})
	return old, nil
}

func syncDir(r *os.Root, dir string) error {
	if err := rootfs.SyncDir(r, dir); err != nil {
		return fmt.Errorf("aioconfig: %w", err)
	}
	return nil
}

// planReset adds the steps that clear the cluster state, where there is any: upstream removes
// cluster_settings (the cluster manager writes it again) and etcd's data, so that a node with a
// new address, a clone included, starts a clean cluster.
func (p *planned) planReset(r *os.Root) error {
	if err := p.planRemove(r, ClusterSettings); err != nil {
		return err
	}
	names, err := entries(r, EtcdData, 1)
	if err != nil || len(names) == 0 {
		return err
	}
	p.add(Change{Path: EtcdData, Action: EmptyDir}, func(r *os.Root) error {
		return emptyDir(r, EtcdData)
	})
	return nil
}

// planRemove adds a step that removes the file name, where there is one. A symlink in its place
// is removed, not its target (rootfs.ResolveParent).
func (p *planned) planRemove(r *os.Root, name string) error {
	resolved, err := rootfs.ResolveParent(r, name)
	if err != nil {
		return fmt.Errorf("aioconfig: %w", err)
	}
	info, err := r.Lstat(resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("aioconfig: %w", rootfs.PathError("read", name, err))
	case info.IsDir():
		return fmt.Errorf("aioconfig: %w", rootfs.PathError("remove", name, errors.New("a directory, not a file")))
	}
	p.add(Change{Path: name, Action: Remove}, func(r *os.Root) error {
		if err := r.Remove(resolved); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("aioconfig: %w", rootfs.PathError("remove", name, err))
		}
		return syncDir(r, path.Dir(name))
	})
	return nil
}

// entries returns up to n names in dir (all when n <= 0); none when dir does not exist.
func entries(r *os.Root, dir string, n int) ([]string, error) {
	d, err := rootfs.Open(r, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aioconfig: %w", err)
	}
	defer d.Close()
	if info, err := d.Stat(); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("aioconfig: %w", rootfs.PathError("read", dir, errors.New("not a directory")))
	}
	names, err := d.Readdirnames(n)
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty dir, when n > 0
		return nil, fmt.Errorf("aioconfig: %w", rootfs.PathError("read", dir, err))
	}
	return names, nil
}

// emptyDir removes what dir holds, not dir itself; dir's symlinks are resolved inside the root.
// RemoveAll removes a symlink in dir, not what it points to.
func emptyDir(r *os.Root, dir string) error {
	names, err := entries(r, dir, 0)
	if err != nil {
		return err
	}
	resolved, err := rootfs.Resolve(r, dir)
	if err != nil {
		return fmt.Errorf("aioconfig: %w", err)
	}
	for _, n := range names {
		if err := r.RemoveAll(path.Join(resolved, n)); err != nil {
			return fmt.Errorf("aioconfig: %w", rootfs.PathError("empty", dir, err))
		}
	}
	return syncDir(r, dir)
}
