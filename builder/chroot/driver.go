package chroot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Driver runs the host tools that the builder's steps need (qemu-img,
// losetup, blkid, e2fsck, mount, ...). Steps use it through the state bag
// ("driver"), so they can be tested with a fake beside the real tests of
// hostDriver. It is not all that touches the host: the steps also read
// /sys for the kernel's partition devices (stepAttachImage), binfmt_misc
// (checkBinfmt), /proc to kill what a provisioner left running in the root
// (killProcessesIn), and take the loop device lock (withHostLock) directly.
type Driver interface {
	// ImageInfo reports the format and virtual size of an image file.
	ImageInfo(ctx context.Context, path string) (ImageInfo, error)
	// CheckImage verifies a qcow2 image's metadata (raw images have none)
	// and counts its clusters.
	CheckImage(ctx context.Context, path, format string) (ImageCheck, error)
	// ConvertImage writes src (in srcFormat) to dst in dstFormat.
	ConvertImage(ctx context.Context, src, srcFormat, dst, dstFormat string, o ConvertOptions) error
	// ConvertOverBase writes the raw image work to dst, a qcow2 image that
	// starts as a copy of the qcow2 image base: base's clusters stay as they
	// are (compressed) and only those where work differs are written.
	ConvertOverBase(ctx context.Context, work, base, dst string, progress func(float64)) error
	// Trim discards the unused blocks of the filesystem mounted at dir.
	Trim(ctx context.Context, dir string) (string, error)
	// ResizeImage grows a raw image file to size bytes.
	ResizeImage(path string, size int64) error
	// Partitions reads the partition table of a raw image file or device.
	Partitions(ctx context.Context, path string) (PartitionTable, error)
	// GrowPartition grows partition number of a raw image to the end of
	// the disk.
	GrowPartition(ctx context.Context, path string, number int) error
	// Attach attaches a raw image to a loop device with partition scanning.
	Attach(ctx context.Context, path string) (string, error)
	// AttachRange attaches size bytes at offset of a raw image to a loop
	// device.
	AttachRange(ctx context.Context, path string, offset, size int64) (string, error)
	// Detach detaches a loop device.
	Detach(ctx context.Context, device string) error
	// Probe returns the blkid tags (TYPE, UUID, LABEL...) of a device.
	Probe(ctx context.Context, device string) (map[string]string, error)
	// HasFile reports whether an ext2/3/4 filesystem holds path, without
	// mounting it.
	HasFile(ctx context.Context, device, path string) (bool, error)
	// CheckFilesystem runs a forced e2fsck that repairs what it safely can.
	CheckFilesystem(ctx context.Context, device string) error
	// ResizeFilesystem grows an ext2/3/4 filesystem to fill its device.
	ResizeFilesystem(ctx context.Context, device string) error
	// Mount mounts source on target. fstype "bind" makes a private bind
	// mount.
	Mount(ctx context.Context, fstype, source, target, options string) error
	// Unmount unmounts target.
	Unmount(ctx context.Context, target string) error
}

// ImageInfo is what qemu-img reports about an image.
type ImageInfo struct {
	Format      string
	VirtualSize int64
	// The rest is qcow2's: a backing file or an external data file (the
	// image is not standalone), encryption, and the compression type of
	// its compressed clusters ("zlib" or "zstd").
	BackingFile     string
	DataFile        string
	Encrypted       bool
	CompressionType string
}

// ImageCheck counts a qcow2 image's clusters (qemu-img check).
type ImageCheck struct {
	Allocated  int64 `json:"allocated-clusters"`
	Compressed int64 `json:"compressed-clusters"`
}

// PartitionTable is a disk's partition table as sfdisk reports it.
type PartitionTable struct {
	Label      string      // "dos" or "gpt"
	ID         string      // disk identifier
	SectorSize int64       // bytes
	Partitions []Partition // in table order
}

// Partition is one entry of a PartitionTable.
type Partition struct {
	Number int
	Start  int64 // bytes from the start of the disk
	Size   int64 // bytes
	UUID   string
}

// PartUUID returns the PARTUUID that Linux gives p: the GPT entry's UUID,
// or "<disk id>-<number>" on a DOS label.
func (t PartitionTable) PartUUID(p Partition) string {
	if t.Label == "gpt" {
		return strings.ToLower(p.UUID)
	}
	return fmt.Sprintf("%s-%02x", strings.TrimPrefix(strings.ToLower(t.ID), "0x"), p.Number)
}

// Tool names a host tool and the Debian package that ships it.
type Tool struct{ Name, Package string }

// requiredTools are the host tools the builder runs.
var requiredTools = []Tool{
	{"qemu-img", "qemu-utils"},
	{"losetup", "mount"},
	{"mount", "mount"},
	{"umount", "mount"},
	{"sfdisk", "fdisk"},
	{"blkid", "util-linux"},
	{"e2fsck", "e2fsprogs"},
	{"resize2fs", "e2fsprogs"},
	{"debugfs", "e2fsprogs"},
	{"chroot", "coreutils"},
	{"fstrim", "util-linux"},
}

// growTools are needed only when disk_size is set.
var growTools = []Tool{{"growpart", "cloud-guest-utils"}}

// hostDriver is the Driver that runs the host's tools.
type hostDriver struct{}

// cleanEnv is the whole environment of the host tools the builder runs, so
// that nothing leaks in from the Packer host (a LANG that changes what a
// tool prints, which the driver parses).
var cleanEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
}

// run runs a host tool and returns its stdout; the error carries stderr.
func run(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	bin, err := lookTool(name)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = cleanEnv
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(stderr.String(), 1024))
	}
	return stdout.String(), nil
}

// tail returns at most the last n bytes of s, trimmed, marking a cut.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

func (hostDriver) CheckImage(ctx context.Context, path, format string) (ImageCheck, error) {
	if format != "qcow2" {
		return ImageCheck{}, nil
	}
	// Exit status 3 means leaked clusters only, which are harmless; the
	// JSON says whether anything is corrupt.
	out, err := run(ctx, "qemu-img", "check", "-f", format, "--output=json", path)
	var res struct {
		ImageCheck
		Corruptions int `json:"corruptions"`
		CheckErrors int `json:"check-errors"`
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		if err != nil {
			return ImageCheck{}, err
		}
		return ImageCheck{}, fmt.Errorf("qemu-img check %s: %w", path, jerr)
	}
	if res.Corruptions > 0 || res.CheckErrors > 0 {
		return ImageCheck{}, fmt.Errorf("qemu-img check found %d corruptions and %d check errors in %s", res.Corruptions, res.CheckErrors, path)
	}
	return res.ImageCheck, nil
}

func (hostDriver) ImageInfo(ctx context.Context, path string) (ImageInfo, error) {
	out, err := run(ctx, "qemu-img", "info", "--output=json", path)
	if err != nil {
		return ImageInfo{}, err
	}
	return parseImageInfo(path, []byte(out))
}

// parseImageInfo parses `qemu-img info --output=json`.
func parseImageInfo(path string, b []byte) (ImageInfo, error) {
	var doc struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
		BackingFile string `json:"backing-filename"`
		Encrypted   bool   `json:"encrypted"`
		Specific    struct {
			Data struct {
				CompressionType string `json:"compression-type"`
				DataFile        string `json:"data-file"`
			} `json:"data"`
		} `json:"format-specific"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return ImageInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	info := ImageInfo{Format: doc.Format, VirtualSize: doc.VirtualSize, BackingFile: doc.BackingFile,
		DataFile: doc.Specific.Data.DataFile, Encrypted: doc.Encrypted, CompressionType: doc.Specific.Data.CompressionType}
	// A qcow2 of compat 0.10 has no compression type field: its clusters are zlib's.
	if info.Format == "qcow2" && info.CompressionType == "" {
		info.CompressionType = "zlib"
	}
	return info, nil
}

func (hostDriver) ResizeImage(path string, size int64) error {
	return os.Truncate(path, size)
}

func (hostDriver) Partitions(ctx context.Context, path string) (PartitionTable, error) {
	out, err := run(ctx, "sfdisk", "--json", path)
	if err != nil {
		return PartitionTable{}, err
	}
	return parseSfdiskJSON([]byte(out))
}

// parseSfdiskJSON parses the output of `sfdisk --json`.
func parseSfdiskJSON(b []byte) (PartitionTable, error) {
	var doc struct {
		Table struct {
			Label      string `json:"label"`
			ID         string `json:"id"`
			Device     string `json:"device"`
			SectorSize int64  `json:"sectorsize"`
			Partitions []struct {
				Node  string `json:"node"`
				Start int64  `json:"start"`
				Size  int64  `json:"size"`
				UUID  string `json:"uuid"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return PartitionTable{}, fmt.Errorf("reading the partition table: %w", err)
	}
	t := PartitionTable{Label: doc.Table.Label, ID: doc.Table.ID, SectorSize: doc.Table.SectorSize}
	if t.SectorSize == 0 {
		t.SectorSize = 512
	}
	for _, p := range doc.Table.Partitions {
		// The node is the device followed by the number, maybe with a "p".
		num := strings.TrimPrefix(p.Node, doc.Table.Device)
		n, err := strconv.Atoi(strings.TrimPrefix(num, "p"))
		if err != nil {
			return PartitionTable{}, fmt.Errorf("reading the partition table: partition %q has no number", p.Node)
		}
		t.Partitions = append(t.Partitions, Partition{Number: n, Start: p.Start * t.SectorSize, Size: p.Size * t.SectorSize, UUID: p.UUID})
	}
	if len(t.Partitions) == 0 {
		return PartitionTable{}, errors.New("the image has no partitions")
	}
	return t, nil
}

func (hostDriver) GrowPartition(ctx context.Context, path string, number int) error {
	_, err := run(ctx, "growpart", path, strconv.Itoa(number))
	return err
}

func (hostDriver) Attach(ctx context.Context, path string) (string, error) {
	out, err := run(ctx, "losetup", "--partscan", "--find", "--show", path)
	return strings.TrimSpace(out), err
}

func (hostDriver) AttachRange(ctx context.Context, path string, offset, size int64) (string, error) {
	out, err := run(ctx, "losetup", "--find", "--show",
		"--offset", strconv.FormatInt(offset, 10), "--sizelimit", strconv.FormatInt(size, 10), path)
	return strings.TrimSpace(out), err
}

func (hostDriver) Detach(ctx context.Context, device string) error {
	if _, err := run(ctx, "losetup", "--detach", device); err != nil {
		return err
	}
	return waitDetached(ctx, device)
}

func (hostDriver) Probe(ctx context.Context, device string) (map[string]string, error) {
	out, err := run(ctx, "blkid", "-p", "-o", "export", device)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return map[string]string{}, nil // nothing recognised
	}
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			tags[k] = v
		}
	}
	return tags, nil
}

func (hostDriver) HasFile(ctx context.Context, device, path string) (bool, error) {
	// debugfs exits 0 either way; a found inode prints "Inode: N".
	out, err := run(ctx, "debugfs", "-R", "stat "+path, device)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, "Inode:"), nil
}

func (hostDriver) CheckFilesystem(ctx context.Context, device string) error {
	_, err := run(ctx, "e2fsck", "-f", "-p", device)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return nil // errors corrected
	}
	return err
}

func (hostDriver) ResizeFilesystem(ctx context.Context, device string) error {
	_, err := run(ctx, "resize2fs", device)
	return err
}

func (hostDriver) Mount(ctx context.Context, fstype, source, target, options string) error {
	if fstype == "bind" {
		if _, err := run(ctx, "mount", "--bind", source, target); err != nil {
			return err
		}
		// Keep mounts made under the bind (devpts on /dev/pts) from
		// propagating back to the host's tree.
		if _, err := run(ctx, "mount", "--make-private", target); err != nil {
			_, _ = run(ctx, "umount", target)
			return err
		}
		return nil
	}
	args := []string{"-t", fstype}
	if options != "" {
		args = append(args, "-o", options)
	}
	_, err := run(ctx, "mount", append(args, source, target)...)
	return err
}

func (hostDriver) Unmount(ctx context.Context, target string) error {
	_, err := run(ctx, "umount", target)
	return err
}
