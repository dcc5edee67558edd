package chroot

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Fixed UUIDs of the test image's filesystems.
const (
	testBootUUID = "0b0b0b0b-1111-4222-8333-444455556666"
	testRootUUID = "0f0f0f0f-1111-4222-8333-444455556666"
)

// testBootPartUUID is the GPT test image's /boot partition UUID.
const testBootPartUUID = "5a5a5a5a-1111-4222-8333-444455556666"

// makeTestImage writes a raw disk image with a DOS label: partition 1 a
// 16 MiB ext4 /boot holding /bootfile, partition 2 a 40 MiB ext4 root made
// from a busybox root whose fstab mounts partition 1 at /boot by UUID.
func makeTestImage(t *testing.T) string {
	t.Helper()
	return makeLabeledImage(t, "dos")
}

// makeLabeledImage is makeTestImage with a "dos" or "gpt" label; on GPT
// the fstab names /boot by PARTUUID.
func makeLabeledImage(t *testing.T, label string) string {
	t.Helper()
	requireTools(t, "sfdisk", "mkfs.ext4", "qemu-img", "debugfs")
	dir := t.TempDir()
	root := busyboxRoot(t)
	bootSpec := "UUID=" + testBootUUID
	layout := "label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=32768, type=83\nstart=34816, size=81920, type=83\n"
	if label == "gpt" {
		bootSpec = "PARTUUID=" + strings.ToUpper(testBootPartUUID)
		layout = "label: gpt\nstart=2048, size=32768, uuid=" + testBootPartUUID + "\nstart=34816, size=81920\n"
	}
	fstab := fmt.Sprintf("# test image\nUUID=%s / ext4 defaults 0 1\n%s /boot ext4 defaults 0 2\n", testRootUUID, bootSpec)
	if err := os.WriteFile(filepath.Join(root, "etc/fstab"), []byte(fstab), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	// As in cloud images, resolv.conf points into /run.
	if err := os.Symlink("/run/resolvconf/resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	boot := filepath.Join(dir, "bootdir")
	if err := os.MkdirAll(boot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(boot, "bootfile"), []byte("boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.raw")
	const mib = 1 << 20
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64*mib); err != nil {
		t.Fatal(err)
	}
	sfdisk := mustCommand(t, "sfdisk", "--quiet", img)
	sfdisk.Stdin = strings.NewReader(layout)
	if out, err := sfdisk.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	writeFilesystem(t, img, 1*mib, 16*mib, boot, testBootUUID)
	writeFilesystem(t, img, 17*mib, 40*mib, root, testRootUUID)
	return img
}

// writeFilesystem makes an ext4 filesystem of size bytes from dir and
// writes it into img at offset.
func writeFilesystem(t *testing.T, img string, offset, size int64, dir, uuid string) {
	t.Helper()
	part := filepath.Join(t.TempDir(), "part.ext4")
	mustRun(t, "mkfs.ext4", "-q", "-F", "-U", uuid, "-E", "root_owner=0:0", "-d", dir, part, strconv.FormatInt(size/1024, 10)+"k")
	src, err := os.Open(part)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := dst.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

// extractPartition converts any image to raw and copies partition n out of
// it, so it can be read with debugfs without mounting anything.
func extractPartition(t *testing.T, image string, n int) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "whole.raw")
	mustRun(t, "qemu-img", "convert", "-O", "raw", image, raw)
	table, err := hostDriver{}.Partitions(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := findPartition(table, n)
	if !ok {
		t.Fatalf("%s has no partition %d", image, n)
	}
	out := filepath.Join(t.TempDir(), fmt.Sprintf("p%d.ext4", n))
	src, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, io.NewSectionReader(src, p.Start, p.Size)); err != nil {
		t.Fatal(err)
	}
	return out
}

// debugfsCat returns the content of path in an ext4 filesystem file.
func debugfsCat(t *testing.T, fsFile, path string) string {
	t.Helper()
	return mustRun(t, "debugfs", "-R", "cat "+path, fsFile)
}

// debugfsStat returns debugfs's stat of path ("" when it does not exist).
func debugfsStat(t *testing.T, fsFile, path string) string {
	t.Helper()
	out := mustRun(t, "debugfs", "-R", "stat "+path, fsFile)
	if !strings.Contains(out, "Inode:") {
		return ""
	}
	return out
}

// blockCount returns an ext4 filesystem's block count.
func blockCount(t *testing.T, fsFile string) int64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, "dumpe2fs", "-h", fsFile)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Block count:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("dumpe2fs %s: no block count", fsFile)
	return 0
}

// leftovers returns the mounts and loop devices that mention dir, so a
// test can check that the build released everything it made there.
func leftovers(t *testing.T, dirs ...string) []string {
	t.Helper()
	var found []string
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	loops := mustRun(t, "losetup", "-a")
	for _, text := range []string{string(mountinfo), loops} {
		for _, line := range strings.Split(text, "\n") {
			for _, d := range dirs {
				if d != "" && strings.Contains(line, d) {
					found = append(found, line)
				}
			}
		}
	}
	return found
}
