// Package leftover finds the files of the helper's toggle and config (upstream's marker, the
// helper's drop-ins) that cloud-init wrote from the user-data of an instance other than the one
// that is booting: a build instance whose image this is, or the instance that a snapshot was taken
// of. cloud-init's write_files leaves them in the image; they must never decide a later instance.
// The helper ignores them at boot (Find with the booting instance), and the provisioner removes
// them before the image is captured (Find with no instance: every recorded one).
package leftover

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/discover"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/userdata"
)

// File is one file that an instance's user-data wrote.
type File struct {
	// Path is the file's path on the system, such as userdata.MarkerPath.
	Path string
	// Instance is the id of the instance whose user-data wrote it, as cloud-init recorded it.
	Instance string
}

// All lists every file of the helper's toggle and config that exists under root and that
// cloud-init wrote (write_files) from the user-data it recorded, once for each instance that
// wrote it, in the order of the instances' ids; and how many instances it recorded. The notes
// say what could not be read.
func All(root string) (files []File, instances int, notes []string) {
	recorded, notes := discover.Recorded(root)
	for _, rec := range recorded {
		for _, p := range userdata.Parse(rec.Data).Writes() {
			if _, err := rootfs.StatIn(root, p); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					notes = append(notes, fmt.Sprintf("%s: %v", p, err))
				}
				continue
			}
			files = append(files, File{Path: p, Instance: rec.Instance})
		}
	}
	return files, len(recorded), notes
}

// Find lists the files of the helper's toggle and config that exist under root and that
// cloud-init wrote (write_files) from the user-data it recorded for an instance other than
// current; with current "", for every recorded instance. Ids compare without case. A file that
// several instances wrote is listed once, for the last of them. The notes say what could not be
// read.
func Find(root, current string) ([]File, []string) {
	all, _, notes := All(root)
	return Others(all, current), notes
}

// Others keeps the files of all that an instance other than current wrote (every one with
// current ""), each path once, for the last instance that wrote it.
func Others(all []File, current string) []File {
	seen := map[string]int{}
	var out []File
	for _, f := range all {
		if current != "" && strings.EqualFold(f.Instance, current) {
			continue
		}
		if i, ok := seen[f.Path]; ok {
			out[i] = f
			continue
		}
		seen[f.Path] = len(out)
		out = append(out, f)
	}
	return out
}
