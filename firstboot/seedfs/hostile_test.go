package seedfs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearwater-aio/packer-plugin-clearwater/internal/fuzztest"
)

// fixture returns a committed image from testdata. They were made with the same tools as the
// in-test images: nocloud.iso by `genisoimage -V cidata -J -r -no-pad`, config-2.iso by
// `xorriso -as mkisofs -V config-2 -J -r -no-pad`, cidata.img by `mkfs.vfat -n CIDATA -C img 64`
// and mcopy/mmd; see TestFixtures for their contents.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func openBytes(b []byte) (*FS, error) { return Open(bytes.NewReader(b), int64(len(b))) }

func TestFixtures(t *testing.T) {
	for name, want := range map[string]struct {
		typ, label string
		files      map[string]string
	}{
		"nocloud.iso": {"iso9660", "cidata", map[string]string{
			"user-data": "#cloud-config\nforce_ipv6: true\n", "meta-data": "instance-id: iid-fixture\n"}},
		"config-2.iso": {"iso9660", "config-2", map[string]string{
			"openstack/latest/user_data":      "#cloud-config\nforce_ipv6: false\n",
			"openstack/latest/meta_data.json": `{"uuid":"fixture"}`}},
		"cidata.img": {"vfat", "CIDATA", map[string]string{
			"user-data": "#cloud-config\nforce_ipv6: true\n", "meta-data": "instance-id: iid-fixture\n",
			"openstack/latest/user_data": "#cloud-config\nforce_ipv6: false\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			b := fixture(t, name)
			fsys, err := openBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			if fsys.Type() != want.typ || fsys.Label() != want.label {
				t.Errorf("type %q label %q, want %q %q", fsys.Type(), fsys.Label(), want.typ, want.label)
			}
			checkFiles(t, fsys, want.files)
			if l, err := probeLabel(bytes.NewReader(b), int64(len(b))); err != nil || l != want.label {
				t.Errorf("probeLabel = %q, %v", l, err)
			}
		})
	}
}

// TestTruncated opens every prefix of the fixtures at sector steps: each either fails with an
// error or opens and reads without panicking.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"nocloud.iso", "config-2.iso", "cidata.img"} {
		b := fixture(t, name)
		for n := 0; n < len(b); n += 512 {
			if fsys, err := openBytes(b[:n]); err == nil {
				walkAll(fsys)
			}
		}
	}
}

// isoRootDir returns the offset and size of the primary root directory of an ISO image.
func isoRootDir(b []byte) (off, size int) {
	pvd := b[16*isoSector:]
	return int(binary.LittleEndian.Uint32(pvd[156+2:])) * isoSector, int(binary.LittleEndian.Uint32(pvd[156+10:]))
}

// isoFirstSubdir returns the offset of the first subdirectory record in the root directory.
func isoFirstSubdir(t *testing.T, b []byte) int {
	off, size := isoRootDir(b)
	for pos := off; pos < off+size && b[pos] != 0; pos += int(b[pos]) {
		if b[pos+25]&isoFlagDir != 0 && b[pos+32] == 1 && b[pos+33] <= 1 {
			continue // "." and ".."
		}
		if b[pos+25]&isoFlagDir != 0 {
			return pos
		}
	}
	t.Fatal("no subdirectory in the root directory")
	return 0
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func TestISOHostile(t *testing.T) {
	base := fixture(t, "config-2.iso")
	rootOff, rootSize := isoRootDir(base)
	sub := isoFirstSubdir(t, base)
	cases := map[string]struct {
		patch func(b []byte)
		want  string
	}{
		"subdirectory points at root": {func(b []byte) {
			putBoth32(b[sub+2:], uint32(rootOff/isoSector))
			putBoth32(b[sub+10:], uint32(rootSize))
		}, "loop"},
		"extent past the end":            {func(b []byte) { putBoth32(b[sub+2:], 1<<30) }, "outside"},
		"huge directory":                 {func(b []byte) { putBoth32(b[sub+10:], 1<<31) }, "outside"},
		"record shorter than its fields": {func(b []byte) { b[sub] = 20 }, "record length"},
		"bad block size":                 {func(b []byte) { binary.LittleEndian.PutUint16(b[16*isoSector+128:], 3) }, "block size"},
		"no terminator": {func(b []byte) {
			for i := 17; i < 32; i++ {
				copy(b[i*isoSector:], append([]byte{2}, "CD001"...))
			}
		}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(base)
			tc.patch(b)
			_, err := openBytes(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestISODeep checks the depth bound on a real image nested deeper than it allows.
func TestISODeep(t *testing.T) {
	img := makeISO(t, "xorriso", map[string]string{strings.Repeat("d/", maxDepth+2) + "f": "deep\n"}, "-J", "-r")
	if _, err := OpenPath(img); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("Open: %v, want the depth limit", err)
	}
}

// TestTooManyEntries checks the entry bound on a real image with more files than it allows.
func TestTooManyEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 65537 files")
	}
	need(t, "genisoimage")
	// Graft one file under many names rather than making 65537 files, which is slow.
	dir := t.TempDir()
	var list strings.Builder
	for i := range maxEntries + 1 {
		fmt.Fprintf(&list, "%05x=one\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "one"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "many.iso")
	run(t, dir, "genisoimage", "-quiet", "-o", img, "-graft-points", "-path-list", "list")
	if _, err := OpenPath(img); err == nil || !strings.Contains(err.Error(), "entries") {
		t.Fatalf("Open: %v, want the entry limit", err)
	}
}

// fatDirEntry returns the offset of the root directory entry whose short name starts with prefix.
func fatDirEntry(t *testing.T, b []byte, prefix string) (v *fatVolume, off int) {
	v, err := newFATVolume(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for pos := int(v.rootOff); pos < int(v.rootOff+v.rootSize); pos += fatEntrySize {
		if strings.HasPrefix(string(b[pos:pos+11]), prefix) && b[pos+11] != fatAttrLFN {
			return v, pos
		}
	}
	t.Fatalf("no root entry %q", prefix)
	return nil, 0
}

func TestFATHostile(t *testing.T) {
	base := fixture(t, "cidata.img")
	v, dir := fatDirEntry(t, base, "OPENST")
	_, file := fatDirEntry(t, base, "USER-D")
	dirCluster := binary.LittleEndian.Uint16(base[dir+26:])
	fileCluster := binary.LittleEndian.Uint16(base[file+26:])
	setFAT12 := func(b []byte, c, val uint16) {
		p := int(v.fatOff) + int(c) + int(c)/2
		old := binary.LittleEndian.Uint16(b[p:])
		if c%2 == 1 {
			val = old&0x000F | val<<4
		} else {
			val = old&0xF000 | val&0x0FFF
		}
		binary.LittleEndian.PutUint16(b[p:], val)
	}
	cases := map[string]struct {
		patch func(b []byte)
		want  string
	}{
		"directory chain loops on itself": {func(b []byte) { setFAT12(b, dirCluster, dirCluster) }, "loop"},
		"subdirectory is its own child": {func(b []byte) {
			// openstack's first entry after . and .. is latest; point latest back at openstack
			p := int(v.dataOff) + int(dirCluster-2)*int(v.clusterSize)
			for e := p; e < p+int(v.clusterSize); e += fatEntrySize {
				if string(b[e:e+6]) == "LATEST" {
					binary.LittleEndian.PutUint16(b[e+26:], dirCluster)
				}
			}
		}, "loop"},
		"directory chain to free cluster": {func(b []byte) { setFAT12(b, dirCluster, 0) }, "bad cluster"},
		"directory cluster out of range":  {func(b []byte) { binary.LittleEndian.PutUint16(b[dir+26:], 0xFF0) }, "bad cluster"},
		"file larger than volume":         {func(b []byte) { binary.LittleEndian.PutUint32(b[file+28:], 1<<31) }, "larger"},
		"zero bytes per sector":           {func(b []byte) { binary.LittleEndian.PutUint16(b[11:], 0) }, "not an ISO"},
		"FAT too small":                   {func(b []byte) { binary.LittleEndian.PutUint16(b[22:], 0); binary.LittleEndian.PutUint32(b[36:], 1) }, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(base)
			tc.patch(b)
			_, err := openBytes(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// A file whose chain ends early opens, and reading it fails cleanly.
	b := bytes.Clone(base)
	binary.LittleEndian.PutUint32(b[file+28:], uint32(v.clusterSize)*3)
	setFAT12(b, fileCluster, 0xFFF)
	fsys, err := openBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadFile("user-data"); err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("ReadFile: %v, want a short chain error", err)
	}
}

// walkAll reads every file of fsys, as the fuzz targets do; it returns the bytes read.
func walkAll(fsys *FS) int {
	total := 0
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fsys.ReadFile(p)
			total += len(b)
		}
		return nil
	})
	_ = fsys.Label()
	return total
}

// isoSystemArea is the first 16 sectors of an ISO image, which ISO 9660 leaves to the system.
const isoSystemArea = isoFirstVD * isoSector

// FuzzISO's input is an image without its system area, which holds nothing the reader looks for
// (an extent may point there; it reads zeros): the fuzzer mutates only bytes that matter. The
// seeds are the hand-built images of buildISO, a few KB each; the real tools' images are table
// tests (TestISO, TestFixtures), too big to fuzz well.
func FuzzISO(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	for _, o := range isoSeeds {
		f.Add(buildISO(o)[isoSystemArea:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img := append(make([]byte, isoSystemArea, isoSystemArea+len(b)), b...)
		probeLabel(bytes.NewReader(img), int64(len(img)))
		if fsys, err := openBytes(img); err == nil {
			walkAll(fsys)
		}
	})
}

// FuzzFAT's seeds are the hand-built FAT12 and FAT32 images of buildFAT.
func FuzzFAT(f *testing.F) {
	fuzztest.LimitMinimizing(f)
	f.Add(buildFAT(12))
	f.Add(buildFAT(32))
	f.Fuzz(func(t *testing.T, b []byte) {
		probeLabel(bytes.NewReader(b), int64(len(b)))
		if fsys, err := openBytes(b); err == nil {
			walkAll(fsys)
		}
	})
}

// BenchmarkOpenISOReadUserData opens a genisoimage NoCloud seed held in memory and reads its
// user-data, which is what the helper does at every boot.
func BenchmarkOpenISOReadUserData(b *testing.B) {
	img, err := os.ReadFile(makeISO(b, "genisoimage", nocloudFiles, "-V", "cidata", "-J", "-r"))
	if err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(img)
	b.ReportAllocs()
	for b.Loop() {
		fsys, err := Open(r, int64(len(img)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fsys.ReadFile("user-data"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenPathISOReadUserData is the same from an image file, as from /dev/sr0.
func BenchmarkOpenPathISOReadUserData(b *testing.B) {
	img := makeISO(b, "genisoimage", nocloudFiles, "-V", "cidata", "-J", "-r")
	b.ReportAllocs()
	for b.Loop() {
		fsys, err := OpenPath(img)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fsys.ReadFile("user-data"); err != nil {
			b.Fatal(err)
		}
		fsys.Close()
	}
}
