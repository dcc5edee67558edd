package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// Extra is what Load merges besides the files under the root.
type Extra struct {
	// DropIns arrived through user-data (soft sources named by their path): each sorts among the
	// on-disk drop-ins by its name and replaces an on-disk file of the same name.
	DropIns []Source
	// Last applies after every drop-in (soft): the settings under the user-data's clearwater key.
	Last []Source
	// Skip names on-disk drop-ins (as DropIn + "/" + name) that must not count, each with why: a
	// warning says so.
	Skip map[string]string
}

// Load reads the config under root (File, then every *.yaml in DropIn) with what extra adds, and
// merges them. A missing file or folder is no error.
func Load(root, file string, extra Extra) (Config, []string, error) {
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
	dropIns, skipped, err := readDropIns(root, extra.Skip)
	if err != nil {
		return Default(), nil, err
	}
	for _, s := range extra.DropIns {
		if strings.HasSuffix(s.Name, ".yaml") {
			s.Soft = true
			dropIns = append(dropIns, s)
		}
	}
	sources = append(sources, SortDropIns(dropIns)...)
	for _, s := range extra.Last {
		s.Soft = true
		sources = append(sources, s)
	}
	c, warnings, err := Merge(sources)
	return c, append(skipped, warnings...), err
}

// readDropIns reads the *.yaml files of DropIn under root but those in skip, which it names in
// a warning each.
func readDropIns(root string, skip map[string]string) ([]Source, []string, error) {
	dir := filepath.Join(root, DropIn)
	entries, err := rootfs.ReadDirIn(root, DropIn, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &Error{File: dir, Msg: err.Error()}
	}
	var dropIns []Source
	var warnings []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		name := path.Join(DropIn, e.Name())
		if why, ok := skip[name]; ok {
			warnings = append(warnings, fmt.Sprintf("ignored %s: %s", name, why))
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := rootfs.ReadFileIn(root, name)
		if err != nil {
			return nil, nil, &Error{File: p, Msg: err.Error()}
		}
		dropIns = append(dropIns, Source{Name: p, Data: data})
	}
	return dropIns, warnings, nil
}
