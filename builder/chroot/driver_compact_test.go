//go:build linux

package chroot

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// allocated is the space a file takes on disk, holes left out.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// TestHostDriverTrim writes and deletes 16 MiB in a real image's mounted ext4, then checks that
// Trim gives the space back to the backing file as holes.
func TestHostDriverTrim(t *testing.T) {
	requireRoot(t)
	requireTools(t, "losetup", "fstrim")
	ctx := t.Context()
	d := hostDriver{}
	img := makeTestImage(t)
	dir := filepath.Dir(img)
	t.Cleanup(func() {
		// A detached loop device goes once udev's probe of it (after the unmount) closes it.
		var l []string
		for range 50 {
			if l = leftovers(t, dir); len(l) == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("left behind: %q", l)
	})
	table, err := d.Partitions(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	p2 := table.Partitions[1]
	dev, err := d.AttachRange(ctx, img, p2.Start, p2.Size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Detach(ctx, dev) })
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Mount(ctx, "ext4", dev, mnt, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Unmount(ctx, mnt) })
	junk := make([]byte, 16<<20)
	rand.Read(junk)
	if err := os.WriteFile(filepath.Join(mnt, "junk"), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	syscall.Sync()
	before := allocated(t, img)
	if err := os.Remove(filepath.Join(mnt, "junk")); err != nil {
		t.Fatal(err)
	}
	syscall.Sync()
	if got := allocated(t, img); got < before-(1<<20) {
		t.Fatalf("deleting the file alone freed %d bytes of the image: the test cannot tell Trim's work", before-got)
	}
	report, err := d.Trim(ctx, mnt)
	if err != nil {
		t.Fatal(err)
	}
	if freed := before - allocated(t, img); freed < 15<<20 {
		t.Errorf("Trim (%q) gave back %d bytes of the image file, want about 16 MiB", report, freed)
	}
	if _, err := d.Trim(ctx, filepath.Join(dir, "not-mounted")); err == nil {
		t.Error("Trim of a directory that is no mount point succeeded")
	}
	if err := d.Unmount(ctx, mnt); err != nil {
		t.Fatal(err)
	}
	if err := d.Detach(ctx, dev); err != nil {
		t.Fatal(err)
	}
}
