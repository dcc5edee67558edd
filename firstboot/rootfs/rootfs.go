// Package rootfs reads and writes the files of the system that the helper configures, under a
// root folder ("/" on a live system, a mounted image in tests and builds), the one way for every
// package of the helper.
//
// Reads are bounded by MaxFileSize and take only regular files, opened without blocking, so that
// a huge file or a FIFO in the place of a config cannot exhaust memory or stall a boot. Writes are
// atomic: a temp file in the same folder, written, synced, renamed over the file, and the folder
// synced, so that a crash at any point leaves the old file or the new one, never a mix. A replaced
// file keeps its mode and owner. Temp files have names that say they are the helper's (IsTemp),
// so that Sweep can remove the ones that a run killed mid-write left, and nothing else.
//
// Paths inside the root are written as on the live system ("/etc/hosts") and resolved as a
// process chrooted into the root would (Resolve): an absolute symlink starts again from the root
// (an image with /var/lib/clearwater-etcd -> /data/etcd works as on the live system), and ".."
// at the root is the root, so no symlink ever leads out of it. A symlink in the place of a file
// that the helper writes is written through: its target gets the new content, atomically, and
// the symlink stays, as the operator who made it expects (a rename over the symlink would replace
// it with a file and cut the file off from where the operator keeps it).
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// MaxFileSize bounds every file the helper reads: far above any real config, user-data or snapshot.
const MaxFileSize = 16 << 20

// The modes of what is created, as upstream's files and folders have.
const (
	FileMode = 0o644
	DirMode  = 0o755
)

// Errors of a read, inside the *fs.PathError that names the file.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
)

// Rel turns a path inside the root ("/etc/hosts") into a name for os.Root ("etc/hosts").
func Rel(name string) string {
	if r := strings.TrimPrefix(path.Clean("/"+name), "/"); r != "" {
		return r
	}
	return "."
}

// abs is the inverse of Rel: the path that an error names, as on the live system.
func abs(name string) string { return path.Clean("/" + name) }

// ReadPath reads the regular file at p, a path of the host (a flag's file, say), of at most
// MaxFileSize bytes. Its errors are *fs.PathError.
func ReadPath(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	return readAll(f, p)
}

// ReadFile reads the regular file name under r, of at most MaxFileSize bytes; a symlink is
// resolved inside the root (Resolve). Its errors are *fs.PathError naming the file as on the live system,
// and match fs.ErrNotExist when it is missing.
func ReadFile(r *os.Root, name string) ([]byte, error) {
	rel, err := Resolve(r, name)
	if err != nil {
		return nil, err
	}
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, PathError("read", name, err)
	}
	return readAll(f, abs(name))
}

func readAll(f *os.File, name string) ([]byte, error) {
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: cause(err)}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrNotRegular}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "read", Path: name, Err: cause(err)}
	case len(data) > MaxFileSize:
		return nil, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	return data, nil
}

// Current returns the content and info of the file that WriteFile would replace, or nil, nil, nil
// when there is none. Only a regular file will do (see replaceable); a symlink is followed.
func Current(r *os.Root, name string) ([]byte, fs.FileInfo, error) {
	rel, err := Resolve(r, name)
	if err != nil {
		return nil, nil, err
	}
	info, err := replaceable(r, name, rel)
	if info == nil || err != nil {
		return nil, nil, err
	}
	data, err := ReadFile(r, name)
	return data, info, err
}

// replaceable returns the info of the file name, resolved to rel, nil when there is none, or why a
// rename must not replace it: a folder in the place of a file is not ours to replace, and a
// symlink (one made after Resolve) would be replaced, not the file it points to.
func replaceable(r *os.Root, name, rel string) (fs.FileInfo, error) {
	info, err := r.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, PathError("read", name, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, PathError("write", name, errors.New("a symlink; refusing to replace it with a file"))
	case !info.Mode().IsRegular():
		return nil, PathError("write", name, fmt.Errorf("%w (mode %v)", ErrNotRegular, info.Mode()))
	}
	return info, nil
}

// PathError is err as an *fs.PathError that names the file as on the live system (name is inside
// the root, as an os.Root name or as on the live system) and says the operation, op.
func PathError(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: abs(name), Err: cause(err)}
}

// cause drops the relative name that an os.Root error carries: the caller names the file.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
