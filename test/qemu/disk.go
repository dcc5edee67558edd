package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// imageFormat asks qemu-img for the format of an image file.
func imageFormat(ctx context.Context, image string) (string, error) {
	out, err := run(ctx, "qemu-img", "info", "--output=json", image)
	if err != nil {
		return "", err
	}
	var info struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.Format == "" {
		return "", fmt.Errorf("qemu-img info %s: no format in %q", image, out)
	}
	return info.Format, nil
}

// createOverlay makes a qcow2 overlay at path backed by image, which QEMU then only reads.
func createOverlay(ctx context.Context, image, path string) error {
	abs, err := filepath.Abs(image)
	if err != nil {
		return err
	}
	format, err := imageFormat(ctx, abs)
	if err != nil {
		return err
	}
	_, err = run(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", abs, path)
	return err
}

// Disk is a disk image opened for reading files from its root ext4 filesystem, without
// mounting it: a qcow2 image is converted to a raw scratch copy first, and debugfs reads from
// the partition's offset.
type Disk struct {
	raw     string // the raw image debugfs reads
	scratch string // directory to remove on Close, if any
	offset  int64  // byte offset of the root filesystem
}

// OpenDisk opens image (raw or any format qemu-img reads) and finds its root filesystem: the
// largest Linux partition of an MBR or GPT partition table, or the whole disk when it has no
// partition table.
func OpenDisk(ctx context.Context, image, tempDir string) (d *Disk, err error) {
	format, err := imageFormat(ctx, image)
	if err != nil {
		return nil, err
	}
	d = &Disk{raw: image}
	if format != "raw" {
		if d.scratch, err = os.MkdirTemp(tempDir, "qemu-disk-"); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				d.Close()
			}
		}()
		d.raw = filepath.Join(d.scratch, "disk.raw")
		if _, err := run(ctx, "qemu-img", "convert", "-O", "raw", image, d.raw); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(d.raw)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if d.offset, err = rootOffset(f); err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	return d, nil
}

// Close removes the raw scratch copy, if one was made.
func (d *Disk) Close() error {
	if d.scratch == "" {
		return nil
	}
	return os.RemoveAll(d.scratch)
}

// ReadFile returns the content of the file at the absolute path name in the root filesystem.
func (d *Disk) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if !strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\"\n\x00") {
		return nil, fmt.Errorf("read %q: want an absolute path without quotes or newlines", name)
	}
	// debugfs takes I/O options after '?' in the device name: the partition's offset here.
	dev := d.raw + "?offset=" + strconv.FormatInt(d.offset, 10)
	cmd := exec.CommandContext(ctx, "debugfs", "-R", `cat "`+name+`"`, dev)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("debugfs (Debian package e2fsprogs) cat %s: %w: %s", name, err, stderr.Bytes())
	}
	// debugfs exits 0 on a missing file: its complaints are the stderr lines after the banner.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.HasPrefix(line, "debugfs ") {
			return nil, fmt.Errorf("read %s from the image: %s", name, line)
		}
	}
	return stdout.Bytes(), nil
}

// ReadFile reads a file from the guest's disk once QEMU has exited (power the guest off
// first, for example with `systemctl poweroff` at the end of its script). The first call
// converts the overlay to raw; later calls reuse it until Stop.
func (vm *VM) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if !vm.Exited() {
		return nil, errors.New("qemu: ReadFile needs the guest powered off (QEMU still runs)")
	}
	vm.diskMu.Lock()
	defer vm.diskMu.Unlock()
	if vm.disk == nil {
		d, err := OpenDisk(ctx, vm.Overlay, vm.dir)
		if err != nil {
			return nil, err
		}
		vm.disk = d
	}
	return vm.disk.ReadFile(ctx, name)
}

const sector = 512

// rootOffset finds the byte offset of the root filesystem on a raw disk.
func rootOffset(r io.ReaderAt) (int64, error) {
	var mbr [sector]byte
	if _, err := r.ReadAt(mbr[:], 0); err != nil {
		return 0, fmt.Errorf("read the partition table: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return 0, nil // no partition table: a bare filesystem
	}
	var best struct{ start, size int64 }
	for i := range 4 {
		e := mbr[446+16*i : 446+16*(i+1)]
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:]))
		size := int64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0xee {
			return gptRootOffset(r)
		}
		if typ == 0x83 && size > best.size {
			best.start, best.size = start, size
		}
	}
	if best.size == 0 {
		return 0, errors.New("no Linux (type 0x83) partition in the MBR")
	}
	return best.start * sector, nil
}

// linuxFS is the GPT type GUID of a Linux filesystem partition (0FC63DAF-8483-4772-8E79-
// 3D69D8477DE4) as stored on disk (the first three fields little-endian).
var linuxFS = [16]byte{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}

// gptRootOffset finds the largest Linux filesystem partition of a GPT disk.
func gptRootOffset(r io.ReaderAt) (int64, error) {
	var hdr [92]byte
	if _, err := r.ReadAt(hdr[:], sector); err != nil {
		return 0, fmt.Errorf("read the GPT header: %w", err)
	}
	if string(hdr[:8]) != "EFI PART" {
		return 0, errors.New("protective MBR without a GPT header")
	}
	table := int64(binary.LittleEndian.Uint64(hdr[72:]))
	count := binary.LittleEndian.Uint32(hdr[80:])
	size := binary.LittleEndian.Uint32(hdr[84:])
	if count > 1024 || size < 128 || size > 4096 {
		return 0, fmt.Errorf("implausible GPT: %d entries of %d bytes", count, size)
	}
	var bestStart, bestLen int64
	entry := make([]byte, size)
	for i := range int64(count) {
		if _, err := r.ReadAt(entry, table*sector+i*int64(size)); err != nil {
			return 0, fmt.Errorf("read GPT entry %d: %w", i, err)
		}
		if [16]byte(entry[:16]) != linuxFS {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(entry[32:]))
		last := int64(binary.LittleEndian.Uint64(entry[40:]))
		if last-first+1 > bestLen {
			bestStart, bestLen = first, last-first+1
		}
	}
	if bestLen == 0 {
		return 0, errors.New("no Linux filesystem partition in the GPT")
	}
	return bestStart * sector, nil
}

// run runs a command and returns its stdout, or an error carrying its stderr.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}
