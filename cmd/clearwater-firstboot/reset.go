package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/exitcode"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/leftover"
	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// resetCommand removes the files of the helper's toggle and config (upstream's marker, the
// helper's drop-ins) that cloud-init wrote from the user-data of any instance it recorded. The
// provisioner's reset_instance_state runs it before cloud-init clean, which forgets the records
// but leaves the files: a build instance's toggle must never reach an instance of its image.
func resetCommand(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("reset", flag.ContinueOnError)
	root := fset.String("root", "/", "take every path under `DIR`")
	fset.Usage = func() {
		fmt.Fprint(stderr, "Usage: clearwater-firstboot reset [--root DIR]\n\n"+
			"Remove what cloud-init wrote into the helper's toggle and config (the marker "+MarkerFile+", firstboot.d drop-ins)\n"+
			"from the user-data of every instance it recorded, before the image is captured.\n\nFlags:\n")
		fset.PrintDefaults()
	}
	if code, ok := parseFlags(fset, args, stderr); !ok {
		return code
	}
	found, notes := leftover.Find(*root, "")
	for _, n := range notes {
		fmt.Fprintf(stderr, "clearwater-firstboot reset: %s\n", n)
	}
	code := exitcode.Decided
	for _, f := range found {
		err := rootfs.RemoveIn(*root, f.Path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "clearwater-firstboot reset: %v\n", err)
			code = exitcode.NotWritten
			continue
		}
		fmt.Fprintf(stdout, "removed %s: cloud-init wrote it from the user-data of instance %s\n", f.Path, f.Instance)
	}
	if len(found) == 0 {
		fmt.Fprintln(stdout, "no file of the toggle or config came from an instance's user-data")
	}
	return code
}
