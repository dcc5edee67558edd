package seedfs

import (
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/clearwater-aio/packer-plugin-clearwater/firstboot/rootfs"
)

// byLabel is udev's folder of links named by filesystem label.
const byLabel = "/dev/disk/by-label"

// maxBlockDevices bounds the devices FindByLabel probes under sys/class/block.
const maxBlockDevices = 4096

// FindByLabel returns the device (or image file) under root that carries one of labels, compared
// case-insensitively. It looks first in root/dev/disk/by-label, where an entry may be a symbolic
// link to a device (an absolute target is taken under root) or a regular image file, then at the
// /dev node under root of every block device listed in root/sys/class/block, reading each one's
// label from its superblock. Every candidate's label is read from the disk, so a stale link is
// passed over. An earlier label wins over a later one; devices are tried in name order. It
// returns an error wrapping fs.ErrNotExist when no device matches.
func FindByLabel(root string, labels ...string) (string, error) {
	if root == "" {
		root = "/"
	}
	for _, label := range labels {
		if p := findInByLabel(root, label); p != "" {
			return p, nil
		}
	}
	if p := findInSysBlock(root, labels); p != "" {
		return p, nil
	}
	return "", &fs.PathError{Op: "find label", Path: strings.Join(labels, ","), Err: fs.ErrNotExist}
}

// findInByLabel looks for label among udev's by-label links.
func findInByLabel(root, label string) string {
	ents, err := rootfs.ReadDirIn(root, byLabel, 0)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if !strings.EqualFold(unescapeUdev(e.Name()), label) {
			continue
		}
		p := resolveUnder(root, path.Join(byLabel, e.Name()))
		if p != "" && labelMatches(p, []string{label}) >= 0 {
			return p
		}
	}
	return ""
}

// findInSysBlock probes every block device the kernel lists and returns the one whose label
// comes earliest in labels. At most maxBlockDevices entries are read from the folder, and each
// device's /dev node is resolved inside root (resolveUnder), so that under --root a link such as
// dev/sr0 -> /dev/sda names the root's device, never the host's.
func findInSysBlock(root string, labels []string) string {
	ents, err := rootfs.ReadDirIn(root, "/sys/class/block", maxBlockDevices)
	if err != nil {
		return ""
	}
	best, bestRank := "", len(labels)
	for _, e := range ents {
		p := resolveUnder(root, path.Join("/dev", e.Name()))
		if p == "" {
			continue
		}
		if rank := labelMatches(p, labels[:bestRank]); rank >= 0 {
			best, bestRank = p, rank
		}
	}
	return best
}

// resolveUnder follows the symbolic links of name (a path inside root) as in a chroot into root
// (rootfs.ResolveIn), so that neither an absolute target nor ".." leaves it; it returns the path
// on the host, or "" if the links do not lead to an existing file.
func resolveUnder(root, name string) string {
	rel, err := rootfs.ResolveIn(root, name)
	if err != nil {
		return ""
	}
	p := filepath.Join(root, rel)
	if _, err := os.Lstat(p); err != nil {
		return ""
	}
	return p
}

// labelMatches reads the label of the device or image at path and returns the index in labels of
// the first one it matches, or -1.
func labelMatches(path string, labels []string) int {
	if len(labels) == 0 {
		return -1
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() && fi.Mode().Type() != fs.ModeDevice { // block device
		return -1
	}
	f, size, err := openDevice(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	label, err := probeLabel(f, size)
	if err != nil {
		return -1
	}
	return slices.IndexFunc(labels, func(l string) bool { return strings.EqualFold(l, label) })
}

// probeLabel reads just the label of an ISO 9660 or FAT filesystem.
func probeLabel(r io.ReaderAt, size int64) (string, error) {
	if isISO(r, size) {
		pvd, joliet, err := isoDescriptors(r, size)
		if err != nil {
			return "", err
		}
		return isoLabel(pvd, joliet), nil
	}
	v, err := newFATVolume(r, size)
	if err != nil {
		return "", err
	}
	return fatLabel(v)
}

// unescapeUdev undoes udev's \xNN escaping of link names (a space in a label becomes \x20).
func unescapeUdev(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
