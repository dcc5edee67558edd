package aioconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
)

// maxFileSize bounds what is read into memory: far above any real /etc/hosts or Clearwater config.
const maxFileSize = 64 << 20

// newFileMode and newDirMode are the modes of what we create, as upstream's files have.
const (
	newFileMode = 0o644
	newDirMode  = 0o755
)

// fileEdit computes a file's new content from its old one (nil when the file is missing).
type fileEdit struct {
	path string
	edit func([]byte) []byte
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
	res := Result{ClusterReset: p.result.ClusterReset}
	if len(p.steps) == 0 {
		return res, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return res, fmt.Errorf("aioconfig: root: %w", err)
	}
	defer r.Close()
	for i, step := range p.steps {
		if err := step(r); err != nil {
			return res, err
		}
		res.record(p.result.Changes[i])
	}
	return res, nil
}

// rel turns a path inside the image into a name for os.Root.
func rel(name string) string { return strings.TrimPrefix(name, "/") }

// planFile reads fe's file and adds a step to write it when its content changes.
func (p *planned) planFile(r *os.Root, fe fileEdit) error {
	old, info, err := readFile(r, fe.path)
	if err != nil {
		return err
	}
	data := fe.edit(old)
	if info != nil && bytes.Equal(old, data) {
		return nil
	}
	action := Update
	if info == nil {
		action = Create
	}
	p.add(Change{Path: fe.path, Action: action}, func(r *os.Root) error {
		return writeAtomic(r, fe.path, data, info)
	})
	return nil
}

// readFile returns a file's content and info, or nil and nil when it does not exist. Only a
// regular file will do: a symlink would be replaced by the rename, so it is refused.
func readFile(r *os.Root, name string) ([]byte, fs.FileInfo, error) {
	info, err := r.Lstat(rel(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("aioconfig: read %s: %w", name, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, nil, fmt.Errorf("aioconfig: %s is a symlink; refusing to replace it with a file", name)
	case !info.Mode().IsRegular():
		return nil, nil, fmt.Errorf("aioconfig: %s is not a regular file (mode %v)", name, info.Mode())
	case info.Size() > maxFileSize:
		return nil, nil, fmt.Errorf("aioconfig: %s is %d bytes, more than the %d this reads", name, info.Size(), maxFileSize)
	}
	data, err := r.ReadFile(rel(name))
	if err != nil {
		return nil, nil, fmt.Errorf("aioconfig: read %s: %w", name, err)
	}
	return data, info, nil
}

// writeAtomic replaces name with data: a temp file in the same folder, written and synced with
// the old file's owner and mode (or newFileMode), renamed over name, and the folder synced. On
// an error the temp file is removed and name is as it was.
func writeAtomic(r *os.Root, name string, data []byte, old fs.FileInfo) error {
	name = rel(name)
	dir := path.Dir(name)
	if err := mkdirs(r, dir); err != nil {
		return fmt.Errorf("aioconfig: create %s: %w", "/"+dir, err)
	}
	f, tmp, err := createTemp(r, dir, path.Base(name))
	if err != nil {
		return fmt.Errorf("aioconfig: write /%s: %w", name, err)
	}
	err = fill(f, data, old)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		r.Remove(tmp)
		return fmt.Errorf("aioconfig: write /%s: %w", name, err)
	}
	return syncDir(r, dir)
}

// fill writes data to f, gives f old's owner and mode, and syncs it.
func fill(f *os.File, data []byte, old fs.FileInfo) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	mode := fs.FileMode(newFileMode)
	if old != nil {
		// Owner first: chown clears the set-id bits that chmod then restores.
		if uid, gid, ok := owner(old); ok {
			if err := f.Chown(uid, gid); err != nil {
				return err
			}
		}
		mode = old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	return f.Sync()
}

// createTemp creates a new, empty file beside base in dir.
func createTemp(r *os.Root, dir, base string) (*os.File, string, error) {
	for range 16 {
		tmp := path.Join(dir, "."+base+".aioconfig-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", errors.New("no free temp file name")
}

// mkdirs creates dir and its missing parents with newDirMode, syncing each parent so that the
// new entries survive a crash.
func mkdirs(r *os.Root, dir string) error {
	if dir == "." {
		return nil
	}
	info, err := r.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return fmt.Errorf("/%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := path.Dir(dir)
	if err := mkdirs(r, parent); err != nil {
		return err
	}
	if err := r.Mkdir(dir, newDirMode); err != nil {
		return err
	}
	if err := r.Chmod(dir, newDirMode); err != nil { // past the umask
		return err
	}
	return syncDir(r, parent)
}

func syncDir(r *os.Root, dir string) error {
	d, err := r.Open(dir)
	if err != nil {
		return fmt.Errorf("aioconfig: sync /%s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("aioconfig: sync /%s: %w", dir, err)
	}
	return nil
}

// planReset adds the steps that clear the cluster state, where there is any: upstream removes
// cluster_settings (the cluster manager writes it again) and etcd's data, so that a node with a
// new address, a clone included, starts a clean cluster.
func (p *planned) planReset(r *os.Root) error {
	info, err := r.Lstat(rel(ClusterSettings))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("aioconfig: read %s: %w", ClusterSettings, err)
	case info.IsDir():
		return fmt.Errorf("aioconfig: %s is a directory", ClusterSettings)
	default:
		p.add(Change{Path: ClusterSettings, Action: Remove}, func(r *os.Root) error {
			if err := r.Remove(rel(ClusterSettings)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("aioconfig: remove %s: %w", ClusterSettings, err)
			}
			return syncDir(r, path.Dir(rel(ClusterSettings)))
		})
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

// entries returns up to n names in dir (all when n <= 0); none when dir does not exist.
func entries(r *os.Root, dir string, n int) ([]string, error) {
	d, err := r.Open(rel(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("aioconfig: read %s: %w", dir, err)
	}
	defer d.Close()
	if info, err := d.Stat(); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("aioconfig: %s is not a directory", dir)
	}
	names, err := d.Readdirnames(n)
	if err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty dir, when n > 0
		return nil, fmt.Errorf("aioconfig: read %s: %w", dir, err)
	}
	return names, nil
}

// emptyDir removes what dir holds, not dir itself. os.Root never follows a symlink out of the
// root, and RemoveAll removes a symlink, not what it points to.
func emptyDir(r *os.Root, dir string) error {
	names, err := entries(r, dir, 0)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := r.RemoveAll(path.Join(rel(dir), n)); err != nil {
			return fmt.Errorf("aioconfig: empty %s: %w", dir, err)
		}
	}
	return syncDir(r, rel(dir))
}
