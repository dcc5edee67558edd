package netconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxFileSize bounds every config file read: far above any real network config.
const maxFileSize = 1 << 20

// rel turns a path inside the image into a name for os.Root.
func rel(name string) string { return strings.TrimPrefix(path.Clean(name), "/") }

// readFile reads name under root; a missing file is nil, nil.
func readFile(root, name string) ([]byte, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Open(rel(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(data) > maxFileSize {
		err = fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	return data, err
}

// glob lists the regular files in dir (under root) whose names end with ext, sorted by name.
// A missing folder is empty.
func glob(root, dir, ext string) []string {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil
	}
	defer r.Close()
	f, err := r.Open(rel(dir))
	if err != nil {
		return nil
	}
	defer f.Close()
	entries, _ := f.ReadDir(4096)
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ext) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// writeFile replaces name under root with data atomically: a temp file in the same folder,
// fsync, rename, fsync the folder. It reports false when the file already held data.
func writeFile(root, name string, data []byte, mode fs.FileMode) (bool, error) {
	old, err := readFile(root, name)
	if err == nil && old != nil && bytes.Equal(old, data) {
		return false, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return false, err
	}
	defer r.Close()
	dir := path.Dir(rel(name))
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	tmp := path.Join(dir, "."+path.Base(name)+".tmp"+strconv.FormatInt(time.Now().UnixNano(), 36))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Sync(), f.Close())
	if err == nil {
		err = r.Rename(tmp, rel(name))
	}
	if err != nil {
		_ = r.Remove(tmp)
		return false, fmt.Errorf("writing %s: %w", name, err)
	}
	if d, err := r.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return true, fmt.Errorf("syncing %s: %w", path.Dir(name), err)
		}
	}
	return true, nil
}
