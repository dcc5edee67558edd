package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"strings"
)

// tempInfix is in the name of every temp file: ".<name>" + tempInfix + a random base-36 number.
// The name starts with a dot and ends without an extension, so that no reader of a folder of
// config files (netplan's *.yaml, the helper's firstboot.d) takes a temp file for a config.
const tempInfix = ".clearwater-firstboot-"

// IsTemp reports whether base is the name of a temp file of WriteFile.
func IsTemp(base string) bool {
	i := strings.LastIndex(base, tempInfix)
	if i < 2 || base[0] != '.' {
		return false
	}
	n := base[i+len(tempInfix):]
	if n == "" || len(n) > 13 { // 13: the digits of the largest uint64 in base 36
		return false
	}
	_, err := strconv.ParseUint(n, 36, 64)
	return err == nil && strings.ToLower(n) == n
}

// WriteFile replaces name under r with data: a temp file in the same folder, written and synced,
// renamed over name, and the folder synced; the folders up to it are created as needed. A
// symlink is resolved inside the root (Resolve) and its target written, the symlink kept. A file
// that is replaced keeps its owner and mode; a new one gets perm. On an error, name is as it
// was and no temp file is left. The error is an *fs.PathError naming the file as on the live
// system and why (a read-only file system, no space left, ...).
func WriteFile(r *os.Root, name string, data []byte, perm fs.FileMode) error {
	rel, err := Resolve(r, name)
	if err != nil {
		return err
	}
	old, err := replaceable(r, name, rel)
	if err != nil {
		return err
	}
	if err := write(r, rel, data, perm, old); err != nil {
		return PathError("write", name, err)
	}
	return nil
}

func write(r *os.Root, name string, data []byte, perm fs.FileMode, old fs.FileInfo) error {
	dir := path.Dir(name)
	if err := mkdirs(r, dir); err != nil {
		return err
	}
	f, tmp, err := createTemp(r, dir, path.Base(name))
	if err != nil {
		return err
	}
	err = fill(f, data, perm, old)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		r.Remove(tmp)
		return err
	}
	return syncDir(r, dir)
}

// fill writes data to f, gives f old's owner and mode (or perm), and syncs it.
func fill(f *os.File, data []byte, perm fs.FileMode, old fs.FileInfo) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	mode := perm
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
		tmp := path.Join(dir, "."+base+tempInfix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, tmp, err
	}
	return nil, "", errors.New("no free temp file name")
}

// mkdirs creates dir and its missing parents with DirMode, syncing each parent so that the new
// entries survive a crash.
func mkdirs(r *os.Root, dir string) error {
	if dir == "." {
		return nil
	}
	info, err := r.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return fmt.Errorf("%s is not a directory", abs(dir))
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
	if err := r.Mkdir(dir, DirMode); err != nil {
		return err
	}
	if err := r.Chmod(dir, DirMode); err != nil { // past the umask
		return err
	}
	return syncDir(r, parent)
}

// SyncDir syncs the folder dir under r, its symlinks resolved (Resolve), so that the entries
// created, renamed or removed in it survive a crash.
func SyncDir(r *os.Root, dir string) error {
	rel, err := Resolve(r, dir)
	if err != nil {
		return err
	}
	if err := syncDir(r, rel); err != nil {
		return PathError("sync", dir, err)
	}
	return nil
}

// syncDir syncs the folder rel, a resolved name for os.Root.
func syncDir(r *os.Root, rel string) error {
	d, err := r.Open(rel)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// Sweep removes from each folder dir under r (its symlinks resolved) the temp files of WriteFile
// (IsTemp), which only a run killed mid-write leaves; a missing folder has none. It returns the
// files removed, as inside the root, and what could not be done.
func Sweep(r *os.Root, dirs ...string) ([]string, error) {
	var removed []string
	var errs []error
	for _, dir := range dirs {
		rel, err := Resolve(r, dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d, err := r.Open(rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, PathError("sweep", dir, err))
			continue
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			errs = append(errs, PathError("sweep", dir, err))
			continue
		}
		n := len(removed)
		for _, e := range entries {
			if !e.Type().IsRegular() || !IsTemp(e.Name()) {
				continue
			}
			p := path.Join(rel, e.Name())
			if err := r.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, PathError("remove", p, err))
				continue
			}
			removed = append(removed, abs(p))
		}
		if len(removed) > n {
			if err := syncDir(r, rel); err != nil {
				errs = append(errs, PathError("sync", dir, err))
			}
		}
	}
	return removed, errors.Join(errs...)
}
