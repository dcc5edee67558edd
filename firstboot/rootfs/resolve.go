package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symlinks followed in one path, as the kernel's ELOOP limit does.
const maxSymlinks = 40

// Resolve returns the name for os.Root of the file that name (a path inside the root, as on the
// live system) is to a process chrooted into the root: every symlink is followed, an absolute
// one from the root, and ".." at the root is the root, so that the result never leaves it and
// holds no symlink. A missing component is kept as it is, so that the result can name a file
// or folder to create. Its errors are *fs.PathError naming name.
func Resolve(r *os.Root, name string) (string, error) {
	return resolve(r, name, true)
}

// ResolveParent is Resolve for the folders of name only: its last component is kept as it is,
// so that a symlink there can be removed or replaced rather than what it points to.
func ResolveParent(r *os.Root, name string) (string, error) {
	return resolve(r, name, false)
}

func resolve(r *os.Root, name string, followFinal bool) (string, error) {
	rest := strings.Split(name, "/")
	var done []string
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := append(done[:len(done):len(done)], c)
		if !followFinal && !hasComponent(rest) {
			done = cand
			continue
		}
		target, isLink, err := readlink(r, path.Join(cand...))
		switch {
		case err != nil:
			return "", PathError("resolve", name, err)
		case !isLink:
			done = cand
			continue
		}
		if links++; links > maxSymlinks {
			return "", PathError("resolve", name, syscall.ELOOP)
		}
		if path.IsAbs(target) {
			done = nil
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// readlink returns the target of the symlink name, or isLink false when name is something else
// or missing. name holds no symlink but in its last component, so os.Root follows none.
func readlink(r *os.Root, name string) (target string, isLink bool, err error) {
	fi, err := r.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case err != nil:
		return "", false, err
	case fi.Mode()&fs.ModeSymlink == 0:
		return "", false, nil
	}
	target, err = r.Readlink(name)
	return target, err == nil, err
}

// hasComponent reports whether parts still name a path component.
func hasComponent(parts []string) bool {
	for _, c := range parts {
		if c != "" && c != "." {
			return true
		}
	}
	return false
}

// Open opens the file or folder name under r for reading, its symlinks resolved (Resolve).
func Open(r *os.Root, name string) (*os.File, error) {
	rel, err := Resolve(r, name)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(rel)
	if err != nil {
		return nil, PathError("open", name, err)
	}
	return f, nil
}

// in opens the folder root and calls f with it: the *In functions, for callers that hold a folder's
// name rather than an *os.Root.
func in[T any](root string, f func(r *os.Root) (T, error)) (T, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		var zero T
		return zero, err
	}
	defer r.Close()
	return f(r)
}

// ReadFileIn reads name under the folder root (ReadFile).
func ReadFileIn(root, name string) ([]byte, error) {
	return in(root, func(r *os.Root) ([]byte, error) { return ReadFile(r, name) })
}

// ReadDirIn lists up to n entries (all when n <= 0) of the folder name under the folder root,
// its symlinks resolved (Resolve), sorted by name. A missing folder matches fs.ErrNotExist.
func ReadDirIn(root, name string, n int) ([]fs.DirEntry, error) {
	return in(root, func(r *os.Root) ([]fs.DirEntry, error) {
		f, err := Open(r, name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		list, err := f.ReadDir(n)
		if err != nil && !(n > 0 && errors.Is(err, io.EOF)) {
			return nil, PathError("read", name, err)
		}
		slices.SortFunc(list, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		return list, nil
	})
}

// StatIn returns the info of name under the folder root, its symlinks resolved (Resolve).
func StatIn(root, name string) (fs.FileInfo, error) {
	return in(root, func(r *os.Root) (fs.FileInfo, error) {
		rel, err := Resolve(r, name)
		if err != nil {
			return nil, err
		}
		info, err := r.Stat(rel)
		if err != nil {
			return nil, PathError("stat", name, err)
		}
		return info, nil
	})
}

// ResolveIn is Resolve for the folder root: the name under root, symlinks resolved as in a
// chroot, of the file that name is on the live system.
func ResolveIn(root, name string) (string, error) {
	return in(root, func(r *os.Root) (string, error) { return Resolve(r, name) })
}

// ReadlinkIn returns the target of the symlink name under the folder root, the folders up to it
// resolved (ResolveParent).
func ReadlinkIn(root, name string) (string, error) {
	return in(root, func(r *os.Root) (string, error) {
		rel, err := ResolveParent(r, name)
		if err != nil {
			return "", err
		}
		t, err := r.Readlink(rel)
		if err != nil {
			return "", PathError("readlink", name, err)
		}
		return t, nil
	})
}

// RemoveIn removes the file name under the folder root, the folders up to it resolved
// (ResolveParent): a symlink there is removed, not what it points to. A missing file matches
// fs.ErrNotExist.
func RemoveIn(root, name string) error {
	_, err := in(root, func(r *os.Root) (struct{}, error) {
		rel, err := ResolveParent(r, name)
		if err != nil {
			return struct{}{}, err
		}
		if err := r.Remove(rel); err != nil {
			return struct{}{}, PathError("remove", name, err)
		}
		return struct{}{}, nil
	})
	return err
}
