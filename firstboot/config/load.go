package config

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// Load reads the config under root (File, then every *.yaml in DropIn) and the drop-ins that
// arrived through user-data (soft sources, named by their path), and merges them. A missing file or
// folder is no error. extra drop-ins replace an on-disk file of the same name.
func Load(root, file string, extra []Source) (Config, []string, error) {
	if file == "" {
		file = File
	}
	var sources []Source
	main := filepath.Join(root, file)
	data, err := rootfs.ReadFileIn(root, file)
	switch {
	case err == nil:
		sources = append(sources, Source{Name: main, Data: data})
	case !errors.Is(err, fs.ErrNotExist):
		return Default(), nil, &Error{File: main, Msg: err.Error()}
	}
	dir := filepath.Join(root, DropIn)
	entries, err := rootfs.ReadDirIn(root, DropIn, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Default(), nil, &Error{File: dir, Msg: err.Error()}
	}
	var dropIns []Source
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := rootfs.ReadFileIn(root, path.Join(DropIn, e.Name()))
		if err != nil {
			return Default(), nil, &Error{File: p, Msg: err.Error()}
		}
		dropIns = append(dropIns, Source{Name: p, Data: data})
	}
	for _, s := range extra {
		if strings.HasSuffix(s.Name, ".yaml") {
			s.Soft = true
			dropIns = append(dropIns, s)
		}
	}
	return Merge(append(sources, SortDropIns(dropIns)...))
}
