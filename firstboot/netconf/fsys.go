package netconf

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// readFile reads name under root; a missing file is nil, nil.
func readFile(root, name string) ([]byte, error) {
	data, err := rootfs.ReadFileIn(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// glob lists the regular files in dir (under root) whose names end with ext, sorted by name.
// A missing folder is empty.
func glob(root, dir, ext string) []string {
	var out []string
	for _, e := range entries(root, dir) {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ext) && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// entries lists up to 4096 entries of dir under root; none when it cannot be read.
func entries(root, dir string) []fs.DirEntry {
	list, _ := rootfs.ReadDirIn(root, dir, 4096)
	return list
}

// writeFile replaces name under root with data atomically (rootfs.WriteFile); a new file gets
// mode. It reports false when the file already held data.
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
	if err := rootfs.WriteFile(r, name, data, mode); err != nil {
		return false, err
	}
	return true, nil
}

// Folders are the folders under root where Write puts its files: where a run killed mid-write
// may have left a temp file (rootfs.Sweep).
func Folders(root string) []string {
	dirs := []string{path.Dir(NetplanFile), IfupdownDir}
	for _, e := range entries(root, networkdDir) {
		if e.IsDir() && strings.HasSuffix(e.Name(), ".d") {
			dirs = append(dirs, path.Join(networkdDir, e.Name()))
		}
	}
	return dirs
}
