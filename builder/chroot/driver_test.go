package chroot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestParseSfdiskJSON(t *testing.T) {
	in := `{"partitiontable": {"label": "gpt", "id": "A1B2", "device": "/dev/loop3", "unit": "sectors", "sectorsize": 512,
	  "partitions": [{"node": "/dev/loop3p1", "start": 2048, "size": 2048, "type": "x", "uuid": "AAAA-1"},
	                 {"node": "/dev/loop3p15", "start": 4096, "size": 100, "uuid": "BBBB-2"}]}}`
	table, err := parseSfdiskJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Partitions) != 2 || table.Partitions[1].Number != 15 || table.Partitions[0].Start != 1<<20 || table.Partitions[1].Size != 51200 {
		t.Errorf("table = %+v", table)
	}
	if got := table.PartUUID(table.Partitions[0]); got != "aaaa-1" {
		t.Errorf("gpt PARTUUID = %q", got)
	}
	dos := PartitionTable{Label: "dos", ID: "0x1234ABCD"}
	if got := dos.PartUUID(Partition{Number: 2}); got != "1234abcd-02" {
		t.Errorf("dos PARTUUID = %q", got)
	}
	for _, bad := range []string{"", "{}", `{"partitiontable":{"device":"/dev/x","partitions":[{"node":"/dev/xa"}]}}`} {
		if _, err := parseSfdiskJSON([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

// TestHostDriver drives every host tool on a real image: info, convert,
// partition table, grow, loop devices, probe, debugfs, fsck, resize, mount.
func TestHostDriver(t *testing.T) {
	requireRoot(t)
	requireTools(t, "growpart", "losetup", "blkid", "e2fsck", "resize2fs", "dumpe2fs")
	ctx := t.Context()
	d := hostDriver{}
	img := makeTestImage(t)
	dir := filepath.Dir(img)
	t.Cleanup(func() {
		if l := leftovers(t, dir); len(l) > 0 {
			t.Errorf("left behind: %q", l)
		}
	})

	qcow := filepath.Join(dir, "disk.qcow2")
	var progress []float64
	if err := d.ConvertImage(ctx, img, "raw", qcow, "qcow2", ConvertOptions{Compression: "zstd", Progress: func(p float64) { progress = append(progress, p) }}); err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Errorf("qemu-img's progress reports %v, want them to end at 100", progress)
	}
	if info, err := d.ImageInfo(ctx, qcow); err != nil || info.Format != "qcow2" || info.VirtualSize != 64<<20 {
		t.Fatalf("ImageInfo = %+v, %v", info, err)
	}
	if _, err := d.ImageInfo(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("ImageInfo of a missing file succeeded")
	}

	if err := d.ResizeImage(img, 96<<20); err != nil {
		t.Fatal(err)
	}
	if err := d.GrowPartition(ctx, img, 2); err != nil {
		t.Fatal(err)
	}
	table, err := d.Partitions(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	p2 := table.Partitions[1]
	// growpart keeps the end aligned, so it may stop a little short.
	if end := p2.Start + p2.Size; end < 95<<20 || end > 96<<20 {
		t.Errorf("partition 2 ends at %d after growpart, want about %d", end, 96<<20)
	}
	if err := d.GrowPartition(ctx, img, 1); err == nil {
		t.Error("growing a partition that is not last succeeded")
	}

	disk, err := d.Attach(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Detach(ctx, disk); err != nil {
		t.Fatal(err)
	}
	dev, err := d.AttachRange(ctx, img, p2.Start, p2.Size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Detach(ctx, dev) })
	tags, err := d.Probe(ctx, dev)
	if err != nil || tags["TYPE"] != "ext4" || tags["UUID"] != testRootUUID {
		t.Fatalf("Probe = %v, %v", tags, err)
	}
	if ok, err := d.HasFile(ctx, dev, "/etc/os-release"); !ok || err != nil {
		t.Errorf("HasFile(/etc/os-release) = %v, %v", ok, err)
	}
	if ok, err := d.HasFile(ctx, dev, "/etc/nothing"); ok || err != nil {
		t.Errorf("HasFile(/etc/nothing) = %v, %v", ok, err)
	}
	if err := d.CheckFilesystem(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := d.ResizeFilesystem(ctx, dev); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Mount(ctx, "ext4", dev, mnt, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "bin/busybox")); err != nil {
		t.Error(err)
	}
	if err := d.Mount(ctx, "bind", "/dev", filepath.Join(mnt, "dev"), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.Unmount(ctx, filepath.Join(mnt, "dev")); err != nil {
		t.Fatal(err)
	}
	if err := d.Unmount(ctx, mnt); err != nil {
		t.Fatal(err)
	}
	if err := d.Detach(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := d.Unmount(ctx, mnt); err == nil {
		t.Error("unmounting a directory that is not mounted succeeded")
	}
}

// TestDetachWaitsForRelease holds a loop device open while Detach runs, as
// udev's probe may: Detach returns only once the kernel has let the device
// go, so a build never ends with it attached.
func TestDetachWaitsForRelease(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	img := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d := hostDriver{}
	dev, err := d.AttachRange(ctx, img, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := os.Open(dev)
	if err != nil {
		_ = d.Detach(ctx, dev)
		t.Fatal(err)
	}
	const hold = 300 * time.Millisecond
	released := time.AfterFunc(hold, func() { holder.Close() })
	defer released.Stop()
	start := time.Now()
	if err := d.Detach(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < hold {
		t.Errorf("Detach returned after %v, while the device was still held open for %v", waited, hold)
	}
	if out, _ := exec.Command("losetup", "-j", img).Output(); len(out) > 0 {
		t.Errorf("still attached after Detach: %s", out)
	}
}

// TestConvertOverBase writes a changed and grown working copy over a copy of a compressed
// qcow2 base: the output holds exactly the working copy's data, stands alone, keeps the
// base's compressed clusters (so it is about the base's size), and the base is not touched.
func TestConvertOverBase(t *testing.T) {
	ctx := t.Context()
	d := hostDriver{}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	mustRun(t, "qemu-img", "convert", "-c", "-O", "qcow2", makeTestImage(t), base)
	sum := fileSHA256(t, base)
	baseChk, err := d.CheckImage(ctx, base, "qcow2")
	if err != nil || baseChk.Compressed == 0 {
		t.Fatalf("base check = %+v, %v; want compressed clusters", baseChk, err)
	}
	workDir := filepath.Join(dir, "work")
	if err := os.Mkdir(workDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(workDir, "disk.raw")
	mustRun(t, "qemu-img", "convert", "-O", "raw", base, work)
	f, err := os.OpenFile(work, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Repeat([]byte("changed!"), 128<<10/8)
	_, err1 := f.WriteAt(changed, 20<<20)            // in the root filesystem
	err2 := f.Truncate(80 << 20)                     // grown, as disk_size does
	_, err3 := f.WriteAt(changed, 70<<20)            // in the new space
	_, err4 := f.WriteAt(make([]byte, 1<<20), 1<<20) // zeroed: the first MiB of /boot
	if err := errors.Join(err1, err2, err3, err4, f.Close()); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(dir, "out.qcow2")
	var progress []float64
	if err := d.ConvertOverBase(ctx, work, base, dst, func(p float64) { progress = append(progress, p) }); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "qcow2", work, dst).CombinedOutput(); err != nil {
		t.Errorf("the output's data is not the working copy's: %v\n%s", err, out)
	}
	info, err := d.ImageInfo(ctx, dst)
	if err != nil || info.Format != "qcow2" || info.VirtualSize != 80<<20 || info.BackingFile != "" || info.CompressionType != "zlib" {
		t.Errorf("output info = %+v, %v; want a standalone zlib qcow2 of 80 MiB", info, err)
	}
	chk, err := d.CheckImage(ctx, dst, "qcow2")
	// The changes touch at most 2 clusters each and the zeroed MiB 16 of them.
	if err != nil || chk.Compressed < baseChk.Compressed-20 {
		t.Errorf("output check = %+v, %v; want about the base's %d compressed clusters", chk, err, baseChk.Compressed)
	}
	if b, o := fileSize(t, base), fileSize(t, dst); o > b+1<<20 {
		t.Errorf("output is %d bytes, base %d: more than the 256 KiB changed and the metadata", o, b)
	}
	if got := fileSHA256(t, base); got != sum {
		t.Errorf("the base changed: sha256 %s, was %s", got, sum)
	}
	if entries, _ := os.ReadDir(workDir); len(entries) != 1 {
		t.Errorf("the working directory holds %v, want only disk.raw", entries)
	}
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Errorf("progress reports %v, want them to end at 100", progress)
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
